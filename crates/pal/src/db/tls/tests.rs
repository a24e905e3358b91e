use super::*;

const PG: UrlTls = UrlTls {
    mode: &["sslmode"],
    ca: &["sslrootcert"],
    cert: &["sslcert"],
    key: &["sslkey"],
    modes: &[("disable", TlsMode::Disable), ("require", TlsMode::Require), ("verify-full", TlsMode::VerifyFull)],
    default: TlsMode::Prefer,
    require_with_ca_verifies: true,
};

fn read(url: &str) -> Result<UrlTlsSettings, String> {
    PG.read(&ConnUrl::parse(url, &[]).unwrap())
}

fn files() -> (tempfile::TempDir, String, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["db".to_string()]).unwrap().self_signed(&key).unwrap();
    let (ca, crt, k) = (dir.path().join("ca.pem"), dir.path().join("c.pem"), dir.path().join("c.key"));
    std::fs::write(&ca, cert.pem()).unwrap();
    std::fs::write(&crt, cert.pem()).unwrap();
    std::fs::write(&k, key.serialize_pem()).unwrap();
    let s = |p: std::path::PathBuf| p.to_str().unwrap().to_string();
    (dir, s(ca), s(crt), s(k))
}

#[test]
fn modes_are_read_as_documented() {
    assert_eq!(read("postgres://h.example.com/db").unwrap().mode, TlsMode::Prefer);
    assert_eq!(read("postgres://h/db?sslmode=REQUIRE").unwrap().mode, TlsMode::Require);
    assert_eq!(read("postgres://db.example.com/db?sslmode=verify-full").unwrap().mode, TlsMode::VerifyFull);
    let err = read("postgres://h/db?sslmode=sometimes").unwrap_err();
    assert!(err.contains("sslmode=sometimes") && err.contains("verify-full"), "{err}");
}

#[test]
fn verification_that_cannot_succeed_is_refused() {
    let err = read("postgres://127.0.0.1/db?sslmode=verify-full").unwrap_err();
    assert!(err.contains("sslrootcert=") && err.contains("127.0.0.1"), "{err}");
    let (_dir, ca, cert, key) = files();
    let ok = read(&format!("postgres://127.0.0.1/db?sslmode=verify-full&sslrootcert={ca}")).unwrap();
    assert_eq!(ok.ca.as_deref(), Some(ca.as_str()));
    // As libpq does: a root certificate turns require into verify-ca.
    let upgraded = read(&format!("postgres://127.0.0.1/db?sslmode=require&sslrootcert={ca}")).unwrap();
    assert_eq!(upgraded.mode, TlsMode::VerifyCa);
    let both = read(&format!("postgres://h/db?sslmode=require&sslcert={cert}&sslkey={key}")).unwrap();
    assert!(both.client_cert);
    assert!(read(&format!("postgres://h/db?sslcert={cert}")).unwrap_err().contains("without sslkey"));
    let err = read(&format!("postgres://h/db?sslmode=disable&sslrootcert={ca}")).unwrap_err();
    assert!(err.contains("turns TLS off"), "{err}");
    let err = read("postgres://h/db?sslmode=require&sslrootcert=/nonexistent/ca.pem").unwrap_err();
    assert!(err.starts_with("sslrootcert: cannot read /nonexistent/ca.pem"), "{err}");
}

#[test]
fn the_transport_says_what_was_verified() {
    let settings = UrlTlsSettings { mode: TlsMode::VerifyFull, ca: Some("/ca.pem".into()), client_cert: false };
    assert_eq!(settings.transport(true, Some("TLSv1.3".into())).to_string(), "tls verify-full (TLSv1.3, CA /ca.pem)");
    assert_eq!(settings.transport(false, None), Transport::Plaintext);
}
