//! Credential redaction for anything that may reach a log, an error or a terminal.
//! It works on text rather than parsed URLs because the inputs that most need it
//! (malformed URLs, driver error messages) are exactly the ones that do not parse.

const MASK: &str = "***";
const SECRET_PARAMS: &[&str] = &["password", "passwd", "pwd", "secret", "token", "sslpassword"];

/// Replaces the password of every `scheme://user:password@host` in `text`, and the
/// value of password-like query parameters, with `***`.
pub fn redact_text(text: &str) -> String {
    redact_query_params(&redact_userinfo(text))
}

fn redact_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("://") {
        let (head, tail) = rest.split_at(pos + 3);
        out.push_str(head);
        let authority_end = tail
            .find(|c: char| matches!(c, '/' | '?' | '#' | '"' | '\'' | '`' | ',' | ';') || c.is_whitespace())
            .unwrap_or(tail.len());
        let authority = &tail[..authority_end];
        match authority.rfind('@') {
            Some(at) => {
                let userinfo = &authority[..at];
                match userinfo.find(':') {
                    Some(colon) => {
                        out.push_str(&userinfo[..=colon]);
                        out.push_str(MASK);
                    }
                    None => out.push_str(userinfo),
                }
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[authority_end..];
    }
    out.push_str(rest);
    out
}

fn redact_query_params(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let found = SECRET_PARAMS.iter().filter_map(|name| find_param(rest, name).map(|i| (i, name.len()))).min();
        let Some((start, len)) = found else { break };
        let value_start = start + len + 1;
        out.push_str(&rest[..value_start]);
        out.push_str(MASK);
        let value_len = rest[value_start..]
            .find(|c: char| c == '&' || c == '#' || c.is_whitespace())
            .unwrap_or(rest.len() - value_start);
        rest = &rest[value_start + value_len..];
    }
    out.push_str(rest);
    out
}

/// Finds `name=` where it starts a query parameter (after `?`, `&` or a space).
fn find_param(text: &str, name: &str) -> Option<usize> {
    let lower = text.to_ascii_lowercase();
    let needle = format!("{name}=");
    let mut from = 0;
    while let Some(i) = lower[from..].find(&needle) {
        let at = from + i;
        let starts_param = at == 0 || matches!(lower.as_bytes()[at - 1], b'?' | b'&' | b' ');
        if starts_param {
            return Some(at);
        }
        from = at + needle.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::redact_text;

    #[test]
    fn masks_url_passwords() {
        assert_eq!(redact_text("redis://user:s3cret@127.0.0.1:1/0"), "redis://user:***@127.0.0.1:1/0");
        assert_eq!(redact_text("redis://:s3cret@h"), "redis://:***@h");
        assert_eq!(redact_text("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_text("a=redis://u:p@x, b=mysql://v:q@y/z"), "a=redis://u:***@x, b=mysql://v:***@y/z");
    }

    #[test]
    fn masks_passwords_containing_at_signs_and_malformed_urls() {
        assert_eq!(redact_text("redis://u:p@ss@h:6379"), "redis://u:***@h:6379");
        assert_eq!(redact_text("redis://u:s3cret@:notaport"), "redis://u:***@:notaport");
    }

    #[test]
    fn masks_password_query_parameters() {
        assert_eq!(
            redact_text("postgres://h/db?user=a&password=s3cret&sslmode=disable"),
            "postgres://h/db?user=a&password=***&sslmode=disable"
        );
        assert_eq!(redact_text("x?Token=abc"), "x?Token=***");
        assert_eq!(redact_text("nopassword=here"), "nopassword=here");
    }

    #[test]
    fn leaves_plain_text_alone() {
        assert_eq!(redact_text("connection refused"), "connection refused");
        assert_eq!(redact_text(""), "");
    }
}
