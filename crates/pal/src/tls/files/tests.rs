use super::*;

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

fn pair(name: &str) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap().self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem())
}

#[test]
fn a_ca_file_must_exist_and_hold_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.pem");
    let err = check_ca(missing.to_str().unwrap()).unwrap_err();
    assert!(err.contains("cannot read") && err.contains("nope.pem"), "{err}");
    let junk = write(&dir, "junk.pem", "not a certificate at all\n");
    assert!(check_ca(&junk).unwrap_err().contains("holds no PEM certificate"));
    let broken = write(&dir, "broken.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n");
    assert!(check_ca(&broken).unwrap_err().contains("not a PEM certificate file"));
    let (cert, _) = pair("ca.test");
    assert!(check_ca(&write(&dir, "ca.pem", &cert)).is_ok());
}

#[test]
fn a_key_must_belong_to_its_certificate_and_is_never_quoted() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = pair("client");
    let (_, other_key) = pair("other");
    let cert_path = write(&dir, "client.pem", &cert);
    let good = check_client_pair(&cert_path, &write(&dir, "client.key", &key)).unwrap();
    assert_eq!(good.cert, cert.as_bytes());
    let err = check_client_pair(&cert_path, &write(&dir, "other.key", &other_key)).unwrap_err();
    assert!(err.contains("does not belong"), "{err}");
    assert!(!err.contains("PRIVATE KEY"), "{err}");
    let err = check_client_pair(&cert_path, &cert_path).unwrap_err();
    assert!(err.contains("not a PEM private key"), "{err}");
    assert!(!format!("{good:?}").contains("PRIVATE"));
}

#[test]
fn public_roots_never_cover_addresses_or_local_names() {
    for host in ["127.0.0.1", "[::1]", "::1", "localhost", "db.localhost", "postgres"] {
        assert!(public_roots_cannot_apply(host), "{host}");
    }
    assert!(!public_roots_cannot_apply("db.example.com"));
}
