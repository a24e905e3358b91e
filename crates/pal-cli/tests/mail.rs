//! One-time codes by mail, against a real SMTP server on loopback (aiosmtpd, as
//! a child of each test): the code a mail carries is the only way to the code
//! (codes are not exposed), so a confirmed enrollment proves the mail right.
//! Also STARTTLS with AUTH, TLS from the first byte, a relay that answers 451
//! and then accepts, one that refuses for good, one that is down or hangs (the
//! answer does not wait, the failure is counted), and every bad setting refused
//! at start-up without printing the password.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use support::http::Api;
use support::serve::Serve;
use support::service::unique_email;
use support::smtp::{Sink, body, code_in, header};

const FROM: &str = "pal test <no-reply@pal.test>";
const WAIT: Duration = Duration::from_secs(20);

/// `pal serve` on the embedded providers, codes not exposed, with `vars` on top.
fn serve(vars: &[(&str, &str)], dir: &Path) -> Serve {
    let db = format!("sqlite://{}/pal.db?mode=rwc", dir.display());
    let spool = dir.join("spool").display().to_string();
    let mut all = vec![
        ("CACHE_PROVIDER", "memory"),
        ("DB_PROVIDER", "sqlite"),
        ("DATABASE_URL", db.as_str()),
        ("DB_AUTO_MIGRATE", "true"),
        ("AUDIT_SPOOL_DIR", spool.as_str()),
        ("SMTP_FROM", FROM),
        ("RUST_LOG", "info"),
    ];
    all.retain(|(name, _)| !vars.iter().any(|(n, _)| n == name));
    all.extend_from_slice(vars);
    Serve::start(&all)
}

/// Starts an enrollment for `email`: its id. The answer never holds the code.
fn start_enrollment(api: Api, email: &str) -> String {
    let started = api.post("/v1/enrollments", None, json!({ "email": email }));
    assert_eq!(started.status, 202, "{}", started.text());
    let body = started.json();
    assert!(body.get("code").is_none(), "codes are not exposed: {body}");
    body["enrollment_id"].as_str().unwrap().to_string()
}

fn confirm(api: Api, id: &str, code: &str) -> Value {
    let confirmed = api.post(&format!("/v1/enrollments/{id}/confirm"), None, json!({ "code": code }));
    assert_eq!(confirmed.status, 201, "{}", confirmed.text());
    confirmed.json()
}

/// A counter's value for the series that has every one of `labels`; 0 when absent.
fn metric(port: u16, name: &str, labels: &[(&str, &str)]) -> f64 {
    let (status, text) = support::http_get(port, "/metrics").expect("/metrics answers");
    assert_eq!(status, 200);
    text.lines()
        .filter(|line| line.starts_with(&format!("{name}{{")))
        .find(|line| labels.iter().all(|(k, v)| line.contains(&format!("{k}=\"{v}\""))))
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

fn deliveries(port: u16, purpose: &str, outcome: &str) -> f64 {
    metric(port, "pal_code_deliveries_total", &[("purpose", purpose), ("outcome", outcome)])
}

/// Waits until `check` holds, or fails the test with `what`.
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !check() {
        assert!(Instant::now() < deadline, "{what} did not happen within {WAIT:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A CA, and a certificate it signed for 127.0.0.1 and localhost: the CA file,
/// the certificate and its key, as files of `dir`.
fn certificates(dir: &Path) -> [String; 3] {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name.push(rcgen::DnType::CommonName, "pal mail test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let server = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let cert = server.signed_by(&key, &rcgen::Issuer::from_params(&ca, &ca_key)).unwrap();
    let files = [("ca.pem", ca_cert.pem()), ("server.pem", cert.pem()), ("server.key", key.serialize_pem())];
    files.map(|(name, pem)| {
        let path = dir.join(name);
        std::fs::write(&path, pem).unwrap();
        path.display().to_string()
    })
}

#[test]
fn the_mailed_code_confirms_the_enrollment_and_signs_in() {
    let sink = Sink::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("smtp://127.0.0.1:{}?tls=none", sink.port);
    let serve = serve(&[("SMTP_URL", &url)], dir.path());
    let api = Api { port: serve.port };
    let email = unique_email();

    let id = start_enrollment(api, &email);
    let mail = sink.wait_for(1, WAIT).remove(0);
    assert_eq!(mail["rcpt_tos"], json!([email]));
    assert_eq!(mail["mail_from"], "no-reply@pal.test");
    let data = mail["data"].as_str().unwrap();
    assert!(header(data, "From").unwrap().contains("<no-reply@pal.test>"), "{data}");
    assert_eq!(header(data, "To").unwrap(), email);
    assert_eq!(header(data, "Subject").unwrap(), "Confirm your email address");
    let text = body(data);
    assert!(text.contains("valid for 10 minutes"), "CODE_TTL_S=600: {text}");
    let code = code_in(&text).unwrap_or_else(|| panic!("no code in {text}"));
    assert_eq!(confirm(api, &id, &code)["email"], email);

    let started = api.post("/v1/verifications", None, json!({ "email": email }));
    assert_eq!(started.status, 202, "{}", started.text());
    let verification = started.json()["verification_id"].as_str().unwrap().to_string();
    let mail = sink.wait_for(2, WAIT).remove(1);
    let data = mail["data"].as_str().unwrap();
    assert_eq!(header(data, "Subject").unwrap(), "Your sign-in code");
    let code = code_in(&body(data)).unwrap();
    let done = api.post(&format!("/v1/verifications/{verification}/complete"), None, json!({ "code": code }));
    assert_eq!(done.status, 200, "{}", done.text());

    assert_eq!(deliveries(serve.port, "enrollment", "sent"), 1.0);
    assert_eq!(deliveries(serve.port, "verification", "sent"), 1.0);
    assert_eq!(deliveries(serve.port, "enrollment", "failed"), 0.0, "counted from zero");
    let (_, metrics) = support::http_get(serve.port, "/metrics").unwrap();
    assert!(metrics.contains("# HELP pal_code_deliveries_total"), "described");
}

#[test]
fn starttls_with_a_login_and_templates_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let [ca, cert, key] = certificates(dir.path());
    let password = "s3cret/:@%pw";
    let auth = format!("mailer@pal.test:{password}");
    let sink = Sink::start(&["--tls", "starttls", "--cert", &cert, "--key", &key, "--auth", &auth]);
    let templates = dir.path().join("templates");
    std::fs::create_dir(&templates).unwrap();
    std::fs::write(templates.join("enrollment.subject"), "Welcome to pal: {code}\n").unwrap();
    std::fs::write(templates.join("enrollment.txt"), "Code {code}, for {minutes} min.\n").unwrap();
    let url = format!("smtp://mailer%40pal.test:s3cret%2F%3A%40%25pw@127.0.0.1:{}", sink.port);
    let templates = templates.display().to_string();
    let vars = [
        ("SMTP_URL", url.as_str()),
        ("SMTP_CA_FILE", ca.as_str()),
        ("SMTP_TEMPLATE_DIR", templates.as_str()),
        ("CODE_TTL_S", "300"),
    ];
    let serve = serve(&vars, dir.path());
    let api = Api { port: serve.port };
    let email = unique_email();

    let id = start_enrollment(api, &email);
    let mail = sink.wait_for(1, WAIT).remove(0);
    assert_eq!(mail["starttls"], true, "the mail went after STARTTLS");
    assert_eq!(mail["login"], "mailer@pal.test", "the login was percent-decoded");
    let data = mail["data"].as_str().unwrap();
    let text = body(data);
    let code = code_in(&text).unwrap();
    assert_eq!(header(data, "Subject").unwrap(), format!("Welcome to pal: {code}"));
    assert_eq!(text.trim_end(), format!("Code {code}, for 5 min."));
    confirm(api, &id, &code);
    let (_, output) = serve.stop();
    assert!(output.contains("one-time codes are mailed") && output.contains("starttls"), "{output}");
    assert!(!output.contains("s3cret"), "the password was logged:\n{output}");
}

#[test]
fn a_certificate_that_does_not_verify_is_not_tried_again() {
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    let [ca, _, _] = certificates(dir.path());
    let [_, cert, key] = certificates(&other);
    let sink = Sink::start(&["--tls", "starttls", "--cert", &cert, "--key", &key]);
    let url = format!("smtp://127.0.0.1:{}", sink.port);
    let serve = serve(&[("SMTP_URL", &url), ("SMTP_CA_FILE", &ca)], dir.path());
    start_enrollment(Api { port: serve.port }, &unique_email());
    eventually("the refused handshake counted", || deliveries(serve.port, "enrollment", "failed") == 1.0);
    assert_eq!(metric(serve.port, "pal_code_delivery_retries_total", &[("purpose", "enrollment")]), 0.0);
    assert!(sink.received().is_empty(), "{:?}", sink.received());
    assert!(serve.output().contains("code not mailed"), "{}", serve.output());
}

#[test]
fn smtps_is_tls_from_the_first_byte() {
    let dir = tempfile::tempdir().unwrap();
    let [ca, cert, key] = certificates(dir.path());
    let sink = Sink::start(&["--tls", "implicit", "--cert", &cert, "--key", &key]);
    let url = format!("smtps://127.0.0.1:{}", sink.port);
    let serve = serve(&[("SMTP_URL", &url), ("SMTP_CA_FILE", &ca)], dir.path());
    let api = Api { port: serve.port };
    let id = start_enrollment(api, &unique_email());
    let mail = sink.wait_for(1, WAIT).remove(0);
    assert_eq!(mail["starttls"], false, "no STARTTLS: the sink speaks TLS only, from the first byte");
    confirm(api, &id, &code_in(&body(mail["data"].as_str().unwrap())).unwrap());
}

#[test]
fn a_451_is_tried_again_and_the_retry_is_counted() {
    let sink = Sink::start(&["--refuse-first", "1", "--refuse-code", "451"]);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("smtp://127.0.0.1:{}?tls=none", sink.port);
    let serve = serve(&[("SMTP_URL", &url)], dir.path());
    let api = Api { port: serve.port };

    let id = start_enrollment(api, &unique_email());
    let received = sink.wait_for(2, WAIT);
    assert_eq!(received[0]["answer"], 451);
    assert_eq!(received[1]["answer"], 250);
    assert_eq!(received[0]["data"], received[1]["data"], "the same mail, again");
    confirm(api, &id, &code_in(&body(received[1]["data"].as_str().unwrap())).unwrap());
    eventually("the sent mail counted", || deliveries(serve.port, "enrollment", "sent") == 1.0);
    let retries = metric(serve.port, "pal_code_delivery_retries_total", &[("purpose", "enrollment")]);
    assert_eq!(retries, 1.0);
    assert_eq!(deliveries(serve.port, "enrollment", "failed"), 0.0);
}

#[test]
fn a_mail_waiting_for_its_retry_at_sigterm_is_still_sent() {
    let sink = Sink::start(&["--refuse-first", "1", "--refuse-code", "451"]);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("smtp://127.0.0.1:{}?tls=none", sink.port);
    let serve = serve(&[("SMTP_URL", &url)], dir.path());
    start_enrollment(Api { port: serve.port }, &unique_email());
    sink.wait_for(1, WAIT);
    // The retry is 0.5 to 1 s away: the process waits for it before it exits.
    let (code, output) = serve.stop();
    assert_eq!(code, Some(0), "{output}");
    let received = sink.received();
    assert_eq!(received.len(), 2, "{received:?}\n{output}");
    assert_eq!(received[1]["answer"], 250);
}

#[test]
fn a_550_is_not_tried_again() {
    let sink = Sink::start(&["--refuse-first", "1", "--refuse-code", "550"]);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("smtp://127.0.0.1:{}?tls=none", sink.port);
    let serve = serve(&[("SMTP_URL", &url)], dir.path());
    start_enrollment(Api { port: serve.port }, &unique_email());
    eventually("the refused mail counted", || deliveries(serve.port, "enrollment", "failed") == 1.0);
    // Past the first retry's wait (0.5 to 1 s): none came.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(sink.received().len(), 1, "{:?}", sink.received());
    assert_eq!(metric(serve.port, "pal_code_delivery_retries_total", &[("purpose", "enrollment")]), 0.0);
}

#[test]
fn a_relay_that_is_down_is_counted_and_the_answer_does_not_wait() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("smtp://127.0.0.1:{}?tls=none", support::free_port());
    let serve = serve(&[("SMTP_URL", &url), ("SMTP_MAX_ATTEMPTS", "3")], dir.path());
    let api = Api { port: serve.port };
    let started = Instant::now();
    start_enrollment(api, &unique_email());
    let answered = started.elapsed();
    // Three attempts wait at least 0.5 s and 1 s between them: an answer that waited
    // for the relay would take 1.5 s at least.
    assert!(answered < Duration::from_secs(1), "the 202 waited for the relay: {answered:?}");
    eventually("the failure counted", || deliveries(serve.port, "enrollment", "failed") == 1.0);
    assert!(started.elapsed() >= Duration::from_millis(1500), "{:?}", started.elapsed());
    assert_eq!(metric(serve.port, "pal_code_delivery_retries_total", &[("purpose", "enrollment")]), 2.0);
    assert_eq!(deliveries(serve.port, "enrollment", "sent"), 0.0);
}

#[test]
fn a_relay_that_never_answers_does_not_slow_the_answer() {
    // Accepts connections and never says a word: each attempt waits for SMTP_TIMEOUT_MS.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("smtp://127.0.0.1:{}?tls=none", silent.local_addr().unwrap().port());
    let vars = [("SMTP_URL", url.as_str()), ("SMTP_TIMEOUT_MS", "2500"), ("SMTP_MAX_ATTEMPTS", "1")];
    let serve = serve(&vars, dir.path());
    let api = Api { port: serve.port };
    let started = Instant::now();
    start_enrollment(api, &unique_email());
    assert!(started.elapsed() < Duration::from_secs(1), "the 202 waited: {:?}", started.elapsed());
    eventually("the time-out counted", || deliveries(serve.port, "enrollment", "failed") == 1.0);
    assert!(started.elapsed() >= Duration::from_millis(2500), "{:?}", started.elapsed());
}

#[test]
fn without_smtp_url_codes_go_to_the_log_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let serve = serve(&[("SMTP_FROM", "")], dir.path());
    let (_, output) = serve.stop();
    assert!(output.contains("WARN") && output.contains("SMTP_URL is not set"), "{output}");
}

/// Variables set for one start, and what its error message must say.
type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);

#[test]
fn bad_settings_stop_the_start_naming_what_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let no_code = dir.path().join("templates");
    std::fs::create_dir(&no_code).unwrap();
    std::fs::write(no_code.join("verification.txt"), "Your code is on its way.\n").unwrap();
    let no_code = no_code.display().to_string();
    let port = support::free_port().to_string();
    let base = [
        ("CACHE_PROVIDER", "memory"),
        ("DB_PROVIDER", "sqlite"),
        ("DATABASE_URL", "sqlite::memory:"),
        ("PORT", port.as_str()),
        ("SMTP_FROM", FROM),
    ];
    let cases: &[Case] = &[
        (&[("SMTP_URL", "smtp://ops:hunter2pw@mail.example.com:25?tls=none")], &["SMTP_URL", "loopback"]),
        (&[("SMTP_URL", "smtp//ops:hunter2pw@mail.example.com")], &["SMTP_URL"]),
        (&[("SMTP_URL", "smtps://ops:hunter2pw@127.0.0.1:2465")], &["SMTP_CA_FILE"]),
        (&[("SMTP_URL", "smtp://ops:hunter2pw@mail.example.com"), ("SMTP_FROM", "")], &["SMTP_FROM must be set"]),
        (
            &[("SMTP_URL", "smtp://ops:hunter2pw@mail.example.com"), ("SMTP_TEMPLATE_DIR", &no_code)],
            &["SMTP_TEMPLATE_DIR", "verification.txt", "{code}"],
        ),
        (&[("SMTP_URL", ""), ("SMTP_CA_FILE", "/etc/ssl/ca.pem")], &["SMTP_CA_FILE is set but SMTP_URL is not"]),
    ];
    for (vars, expected) in cases {
        let mut all = base.to_vec();
        all.retain(|(name, _)| !vars.iter().any(|(n, _)| n == name));
        all.extend_from_slice(vars);
        let out = support::pal_with_input(&all, &["serve"], Vec::new(), true).expect("pal serve stops at once");
        let stderr = support::text(&out);
        assert_eq!(out.status.code(), Some(2), "{vars:?}: {stderr}");
        for word in *expected {
            assert!(stderr.contains(word), "{vars:?}: {word:?} not in {stderr}");
        }
        assert!(!stderr.contains("hunter2pw"), "{vars:?}: the password was printed: {stderr}");
    }
}
