"""An SMTP server for the mail tests of `pal serve`, on one loopback port.

Every message that reaches DATA is written to OUT as one JSON line, with the
answer it got: {"mail_from", "rcpt_tos", "data", "starttls", "login", "answer"}.
Options make it offer STARTTLS (and refuse mail without it), or TLS from the
first byte; require AUTH with one user and password; and answer the first N
messages with a given code (451 to test retries, 550 to test giving up).

Runs on Debian's python3-aiosmtpd, under /usr/bin/python3 (the interpreter that
package installs for); `scripts/services install` installs it. Prints "ready"
once it accepts connections, then serves until its standard input closes.
"""

import argparse
import json
import ssl
import sys

try:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword
except ImportError:
    sys.exit("aiosmtpd is missing: run scripts/services install (Debian package python3-aiosmtpd)")


class Sink:
    def __init__(self, out, refuse_first, refuse_code):
        self.out = out
        self.refusals_left = refuse_first
        self.refuse_code = refuse_code

    async def handle_DATA(self, server, session, envelope):
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        answer = 250
        if self.refusals_left > 0:
            self.refusals_left -= 1
            answer = self.refuse_code
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "data": envelope.original_content.decode("utf-8", "replace"),
            "starttls": session.ssl is not None,
            "login": login,
            "answer": answer,
        }
        # Appended and flushed per message: the test reads the file while this runs.
        with open(self.out, "a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")
        if answer == 250:
            return "250 2.0.0 OK"
        return f"{answer} {'4.3.0 Try again later' if answer < 500 else '5.7.1 Refused'}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--tls", choices=["none", "starttls", "implicit"], default="none")
    parser.add_argument("--cert", help="server certificate chain (PEM), for --tls")
    parser.add_argument("--key", help="its private key (PEM)")
    parser.add_argument("--auth", help="USER:PASSWORD that AUTH must give")
    parser.add_argument("--refuse-first", type=int, default=0, help="answer the first N messages with --refuse-code")
    parser.add_argument("--refuse-code", type=int, default=451)
    args = parser.parse_args()

    options = {}
    if args.tls != "none":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
        if args.tls == "starttls":
            options.update(tls_context=context, require_starttls=True)
        else:
            options.update(ssl_context=context)
    if args.auth:
        user, password = args.auth.split(":", 1)

        def authenticate(server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and auth_data == (user.encode(), password.encode())
            return AuthResult(success=ok, auth_data=auth_data)

        # Plaintext AUTH only when the test asked for no TLS at all.
        options.update(authenticator=authenticate, auth_required=True, auth_require_tls=args.tls != "none")

    handler = Sink(args.out, args.refuse_first, args.refuse_code)
    controller = Controller(handler, hostname="127.0.0.1", port=args.port, **options)
    controller.start()
    print("ready", flush=True)
    # Standard input closes when the test ends, however it ends: no sink outlives it.
    sys.stdin.read()
    controller.stop()


if __name__ == "__main__":
    main()
