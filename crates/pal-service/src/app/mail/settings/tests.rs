use super::*;
use crate::app::codes::Purpose;
use crate::app::mail::VARS;
use secrecy::ExposeSecret;

/// What `vars` read to, or every problem recorded, as one message.
fn read(vars: &[(&str, &str)]) -> Result<Option<MailSettings>, String> {
    let vars = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let mut env = Env::new(vars, VARS.iter().cloned());
    let settings = MailSettings::read(&mut env);
    match env.finish() {
        Ok(_) => Ok(settings),
        Err(errors) => Err(errors.to_string()),
    }
}

fn settings(vars: &[(&str, &str)]) -> MailSettings {
    read(vars).unwrap().expect("SMTP_URL is set")
}

fn error(vars: &[(&str, &str)]) -> String {
    let message = read(vars).unwrap_err();
    assert!(!message.contains("hunter2"), "the password leaked: {message}");
    message
}

const FROM: (&str, &str) = ("SMTP_FROM", "pal <no-reply@example.com>");

fn ca_pem(dir: &tempfile::TempDir) -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, params.self_signed(&key).unwrap().pem()).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn unset_means_the_log_and_nothing_else_may_be_set() {
    assert!(read(&[]).unwrap().is_none());
    let message = error(&[FROM]);
    assert!(message.contains("SMTP_FROM is set but SMTP_URL is not"), "{message}");
}

#[test]
fn each_scheme_has_its_protection_and_default_port() {
    let starttls = settings(&[("SMTP_URL", "smtp://mail.example.com"), FROM]);
    assert_eq!((starttls.security, starttls.port), (Security::StartTls, 587));
    assert!(starttls.login.is_none());
    let implicit = settings(&[("SMTP_URL", "smtps://mail.example.com"), FROM]);
    assert_eq!((implicit.security, implicit.port), (Security::Implicit, 465));
    assert_eq!(implicit.relay(), "smtps://mail.example.com:465");
    let plain = settings(&[("SMTP_URL", "smtp://127.0.0.1:2525?tls=none"), FROM]);
    assert_eq!((plain.security, plain.port, plain.host.as_str()), (Security::Plaintext, 2525, "127.0.0.1"));
    let v6 = settings(&[("SMTP_URL", "smtp://[::1]:2525?tls=none"), FROM]);
    assert_eq!((v6.host.as_str(), v6.relay()), ("::1", "smtp://[::1]:2525".to_string()));
    assert_eq!(settings(&[("SMTP_URL", "smtp://localhost:25?tls=none"), FROM]).security, Security::Plaintext);
}

#[test]
fn the_login_is_percent_decoded_and_never_shown() {
    let url = "smtp://ops%40example.com:hunter2%3A%2F@mail.example.com:587";
    let settings = settings(&[("SMTP_URL", url), FROM]);
    let login = settings.login.as_ref().unwrap();
    assert_eq!(login.user, "ops@example.com");
    assert_eq!(login.password.expose_secret(), "hunter2:/");
    let shown = format!("{settings:?} {}", settings.relay());
    assert!(!shown.contains("hunter2") && !shown.contains("ops"), "{shown}");
    for half in ["smtp://user@mail.example.com", "smtp://:hunter2@mail.example.com"] {
        let message = error(&[("SMTP_URL", half), FROM]);
        assert!(message.contains("SMTP_URL") && message.contains("user name"), "{message}");
    }
}

#[test]
fn plaintext_is_refused_to_any_other_machine() {
    for host in ["mail.example.com", "10.0.0.5", "[2001:db8::1]"] {
        let url = format!("smtp://user:hunter2@{host}:25?tls=none");
        let message = error(&[("SMTP_URL", &url), FROM]);
        assert!(message.contains("SMTP_URL") && message.contains("loopback"), "{message}");
    }
    let message = error(&[("SMTP_URL", "smtps://127.0.0.1?tls=none"), FROM]);
    assert!(message.contains("smtp:// only"), "{message}");
}

#[test]
fn a_malformed_url_names_the_variable_without_the_password() {
    let cases = [
        ("smtp//user:hunter2@mail.example.com", "SMTP_URL"),
        ("http://user:hunter2@mail.example.com", "scheme"),
        ("smtp://user:hunter2@mail.example.com/inbox", "nothing may follow"),
        ("smtp://user:hunter2@mail.example.com?tls=maybe", "tls=maybe"),
        ("smtp://user:hunter2@mail.example.com?starttls=1", "starttls= is not known"),
    ];
    for (url, expected) in cases {
        let message = error(&[("SMTP_URL", url), FROM]);
        assert!(message.contains("SMTP_URL") && message.contains(expected), "{url}: {message}");
    }
}

#[test]
fn the_sender_is_required_and_must_be_an_address() {
    let message = error(&[("SMTP_URL", "smtp://mail.example.com")]);
    assert!(message.contains("SMTP_FROM must be set"), "{message}");
    let message = error(&[("SMTP_URL", "smtp://mail.example.com"), ("SMTP_FROM", "pal at example")]);
    assert!(message.contains("SMTP_FROM") && message.contains("not a mail address"), "{message}");
}

#[test]
fn tls_to_a_host_no_public_ca_certifies_needs_a_ca_file() {
    let message = error(&[("SMTP_URL", "smtps://127.0.0.1:2465"), FROM]);
    assert!(message.contains("SMTP_CA_FILE"), "{message}");
    let dir = tempfile::tempdir().unwrap();
    let ca = ca_pem(&dir);
    let settings = settings(&[("SMTP_URL", "smtp://127.0.0.1:2587"), FROM, ("SMTP_CA_FILE", &ca)]);
    assert_eq!(settings.ca.as_ref().map(|(file, _)| file.as_str()), Some(ca.as_str()));
    let message = error(&[("SMTP_URL", "smtp://127.0.0.1:2525?tls=none"), FROM, ("SMTP_CA_FILE", &ca)]);
    assert!(message.contains("SMTP_CA_FILE is set but SMTP_URL has tls=none"), "{message}");
    let message = error(&[("SMTP_URL", "smtps://mail.example.com"), FROM, ("SMTP_CA_FILE", "/no/such/ca.pem")]);
    assert!(message.contains("SMTP_CA_FILE") && message.contains("cannot read"), "{message}");
}

#[test]
fn templates_override_the_built_in_ones_file_by_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("enrollment.subject"), "Welcome, code {code}\n").unwrap();
    let path = dir.path().to_str().unwrap();
    let settings = settings(&[("SMTP_URL", "smtp://mail.example.com"), FROM, ("SMTP_TEMPLATE_DIR", path)]);
    let (subject, body) = settings.templates.render(Purpose::Enrollment, "042137", 10);
    assert_eq!(subject, "Welcome, code 042137");
    assert!(body.contains("042137"), "the built-in body stays: {body}");
    assert_eq!(settings.templates.get(Purpose::Verification), Templates::default().get(Purpose::Verification));

    std::fs::write(dir.path().join("verification.txt"), "Hello, your code is below.\n").unwrap();
    let message = error(&[("SMTP_URL", "smtp://mail.example.com"), FROM, ("SMTP_TEMPLATE_DIR", path)]);
    assert!(message.contains("SMTP_TEMPLATE_DIR") && message.contains("verification.txt"), "{message}");
    assert!(message.contains("{code}"), "{message}");
}

#[test]
fn a_template_folder_that_is_missing_or_empty_is_an_error() {
    let empty = tempfile::tempdir().unwrap();
    for dir in ["/no/such/folder", empty.path().to_str().unwrap()] {
        let message = error(&[("SMTP_URL", "smtp://mail.example.com"), FROM, ("SMTP_TEMPLATE_DIR", dir)]);
        assert!(message.contains("SMTP_TEMPLATE_DIR"), "{message}");
    }
}

#[test]
fn every_problem_is_reported_at_once() {
    let message = error(&[("SMTP_URL", "smtp://u:hunter2@mail.example.com?tls=none"), ("SMTP_MAX_ATTEMPTS", "0")]);
    for expected in ["loopback", "SMTP_FROM must be set", "SMTP_MAX_ATTEMPTS"] {
        assert!(message.contains(expected), "{expected}: {message}");
    }
}
