use std::collections::HashSet;

use super::*;
use crate::crypto::generate_key_lines;

fn key(byte: u8) -> Zeroizing<[u8; KEY_LEN]> {
    Zeroizing::new([byte; KEY_LEN])
}

fn sealer(ids: &[(&str, u8)]) -> Sealer {
    let keys: Vec<_> = ids.iter().map(|(id, b)| (id.to_string(), key(*b))).collect();
    Sealer::new(&[1u8; 32], &keys).unwrap()
}

#[test]
fn round_trip_including_empty_values() {
    let s = sealer(&[("k1", 1)]);
    for plain in [&b""[..], b"x", &[0u8, 255, 7][..], &vec![9u8; 100_000][..]] {
        let sealed = s.seal("session:abc", plain).unwrap();
        assert!(Sealer::is_sealed(&sealed));
        assert_eq!(sealed.len(), plain.len() + s.overhead(), "the value limit counts on this");
        assert_eq!(s.open("session:abc", &sealed).unwrap(), plain);
    }
}

#[test]
fn rotation_reads_old_values_and_writes_with_the_new_key() {
    let old = sealer(&[("k1", 1)]);
    let written_before = old.seal("k", b"before").unwrap();
    let rotated = sealer(&[("k2", 2), ("k1", 1)]);
    assert_eq!(rotated.open("k", &written_before).unwrap(), b"before");
    let written_after = rotated.seal("k", b"after").unwrap();
    assert_eq!(Sealer::header(&written_after).unwrap().key_id, "k2", "new values carry the new key id");
    assert_eq!(&written_after[6..8], b"k2", "after the format byte, the fingerprint and the id's length");
    let err = old.open("k", &written_after).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity);
    assert!(err.message().contains("\"k2\""), "the error names the unknown key id: {err}");
}

#[test]
fn flipping_any_bit_is_detected() {
    let s = sealer(&[("k1", 1)]);
    let sealed = s.seal("key", b"attack at dawn").unwrap();
    for byte in 0..sealed.len() {
        for bit in 0..8 {
            let mut tampered = sealed.clone();
            tampered[byte] ^= 1 << bit;
            let err = s.open("key", &tampered).expect_err("tampering must not open");
            assert_eq!(err.kind(), ErrorKind::Integrity);
        }
    }
    for len in 0..sealed.len() {
        assert_eq!(s.open("key", &sealed[..len]).unwrap_err().kind(), ErrorKind::Integrity, "truncated to {len}");
    }
}

#[test]
fn wrong_key_foreign_value_or_other_storage_key_fail() {
    let a = sealer(&[("k1", 1)]);
    let b = sealer(&[("k1", 2)]);
    let sealed = a.seal("key", b"secret").unwrap();
    assert_eq!(b.open("key", &sealed).unwrap_err().kind(), ErrorKind::Integrity);
    assert_eq!(a.open("other-key", &sealed).unwrap_err().kind(), ErrorKind::Integrity, "bound to its key");
    assert_eq!(a.open("key", b"{\"plain\":\"json\"}").unwrap_err().kind(), ErrorKind::Integrity);
}

#[test]
fn nonces_never_repeat() {
    let s = sealer(&[("k1", 1)]);
    let mut seen = HashSet::new();
    for _ in 0..100_000 {
        let sealed = s.seal("k", b"v").unwrap();
        assert!(seen.insert(sealed[8..8 + NONCE_LEN].to_vec()), "a nonce repeated");
    }
}

#[test]
fn key_hashing_is_keyed_deterministic_and_keeps_the_namespace() {
    let s = sealer(&[("k1", 1)]);
    let h = s.hash_key("session:ana@example.com");
    assert!(h.starts_with("session:") && !h.contains("ana") && !h.contains("example"), "{h}");
    assert_eq!(h, s.hash_key("session:ana@example.com"));
    assert_ne!(h, s.hash_key("session:bob@example.com"));
    let other = Sealer::new(&[2u8; 32], &[("k1".into(), key(1))]).unwrap();
    assert_ne!(h, other.hash_key("session:ana@example.com"), "the hash depends on CACHE_KEY_SECRET");
    assert!(!s.hash_key("ana@example.com").contains('@'), "no namespace: fully hashed");
    assert!(!s.hash_key("user 42:x").contains("42"), "a namespace must look like one to stay readable");
}

#[test]
fn debug_shows_key_ids_only() {
    let s = sealer(&[("k1", 0xAB)]);
    let shown = format!("{s:?}");
    assert!(shown.contains("k1") && !shown.contains("171") && !shown.contains("ab"), "{shown}");
}

#[test]
fn keygen_lines_parse_back() {
    let lines = generate_key_lines().unwrap();
    let vars: Vec<(String, String)> =
        lines.lines().map(|l| l.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())).unwrap()).collect();
    let mut env = crate::env::Env::new(vars.into_iter().collect(), crate::crypto::config::VARS.to_vec());
    let keys = crate::crypto::config::read(&mut env, Some("a cache outside the process")).expect("the keys parse");
    env.finish().unwrap();
    assert_eq!(keys.encryption_keys.len(), 1);
    keys.sealer().unwrap();
}

#[test]
fn keys_made_the_same_day_rotate_without_clashing_ids() {
    let id =
        |lines: &str| lines.lines().nth(1).unwrap().split_once('=').unwrap().1.split(':').next().unwrap().to_string();
    let (first, second) = (generate_key_lines().unwrap(), generate_key_lines().unwrap());
    assert_ne!(id(&first), id(&second), "two keys made in a row have different ids");
    assert!(id(&first).len() <= 16);
    let key = |lines: &str| lines.lines().nth(1).unwrap().split_once('=').unwrap().1.to_string();
    let rotated = format!("{},{}", key(&second), key(&first));
    let secret = first.lines().next().unwrap().split_once('=').unwrap().1.to_string();
    let vars = [("CACHE_KEY_SECRET".to_string(), secret), ("CACHE_ENCRYPTION_KEYS".to_string(), rotated)];
    let mut env = crate::env::Env::new(vars.into_iter().collect(), crate::crypto::config::VARS.to_vec());
    let keys = crate::crypto::config::read(&mut env, Some("a cache")).expect("the rotated pair parses");
    env.finish().unwrap();
    assert_eq!(keys.encryption_keys.len(), 2);
}

fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
}

/// Values written by format 1 (AES-256-GCM), sealed here by another implementation
/// (Python's `cryptography`, on OpenSSL) with key `[1; 32]` as `k1`: they still open.
#[test]
fn format_1_values_still_open() {
    let v1 =
        unhex("a7026b31000102030405060708090a0bccd4fc52549b68599c13c7a24f1ba5c2dae65a6a1186dfd6dd5d05a8971b44cd30780e");
    let s = sealer(&[("k2", 2), ("k1", 1)]);
    assert!(Sealer::is_sealed(&v1));
    assert_eq!(s.open("session:abc", &v1).unwrap(), b"written by format 1");
    assert_eq!(s.open("session:abd", &v1).unwrap_err().kind(), ErrorKind::Integrity);
    for byte in 0..v1.len() {
        let mut tampered = v1.clone();
        tampered[byte] ^= 0x10;
        assert_eq!(s.open("session:abc", &tampered).unwrap_err().kind(), ErrorKind::Integrity, "byte {byte}");
    }
}

/// Format 2 matches another implementation of AES-256-GCM-SIV with the same HKDF
/// derivation (Python's `cryptography`): a value it sealed opens here.
#[test]
fn format_2_is_aes_256_gcm_siv_under_an_hkdf_derived_key() {
    let v2 =
        unhex("a8026b31000102030405060708090a0b91cfb4d9c4a128a382ba26233351abb5806a92a437e7c2164e7a3784b635b110c2c738");
    let s = sealer(&[("k1", 1)]);
    assert_eq!(s.open("session:abc", &v2).unwrap(), b"written by format 2");
    let header = Sealer::header(&v2).unwrap();
    assert_eq!((header.format, header.fingerprint, header.key_id), (Format::GcmSiv, None, "k1"));
}

/// Format 3 carries the secret's fingerprint, authenticated: the same keys under
/// another secret write another fingerprint, and the value still opens there (the
/// associated data is the stored key as it is), so a sample tells who wrote it.
#[test]
fn format_3_names_the_secret_and_authenticates_the_name() {
    let s = sealer(&[("k1", 1)]);
    let written = s.seal("session:abc", b"x").unwrap();
    assert_eq!(written[0], 0xA9, "new values use format 3");
    assert_eq!(written.len(), 1 + 4 + 1 + 2 + 12 + 1 + 16);
    let header = Sealer::header(&written).unwrap();
    assert_eq!(header.format, Format::Fingerprinted);
    assert_eq!(hex(&header.fingerprint.unwrap()), s.fingerprint());
    assert_eq!(s.fingerprint().len(), 8);

    let other = Sealer::new(&[2u8; 32], &[("k1".into(), key(1))]).unwrap();
    assert_ne!(other.fingerprint(), s.fingerprint(), "the fingerprint depends on CACHE_KEY_SECRET");
    assert_eq!(other.open("session:abc", &written).unwrap(), b"x", "same encryption keys: it opens");
    let mut renamed = written.clone();
    renamed[1..5].copy_from_slice(&Sealer::header(&other.seal("k", b"").unwrap()).unwrap().fingerprint.unwrap());
    assert_eq!(s.open("session:abc", &renamed).unwrap_err().kind(), ErrorKind::Integrity, "fingerprint swapped");
    let mut as_format_2 = written.clone();
    as_format_2[0] = 0xA8;
    assert_eq!(s.open("session:abc", &as_format_2).unwrap_err().kind(), ErrorKind::Integrity);
}

#[test]
fn associated_data_too_long_for_the_stack_still_works() {
    let long_id = "k".repeat(200);
    let s = sealer(&[(long_id.as_str(), 1)]);
    let storage_key = "n".repeat(300);
    let written = s.seal(&storage_key, b"long").unwrap();
    assert_eq!(s.open(&storage_key, &written).unwrap(), b"long");
    assert_eq!(&s.open_bytes(&storage_key, Bytes::from(written.clone())).unwrap()[..], b"long");
    assert!(s.open(&storage_key[1..], &written).is_err());
    let too_long = "k".repeat(256);
    assert_eq!(Sealer::new(&[1; 32], &[(too_long, key(1))]).unwrap_err().kind(), ErrorKind::Config);
}

#[test]
fn headers_that_cannot_be_read_are_integrity_errors() {
    for bytes in [&b""[..], &[0xA9], &[0xA9, 1, 2, 3, 4], &[0xA9, 1, 2, 3, 4, 2, b'k'], &[0xA8, 0], b"12"] {
        assert_eq!(Sealer::header(bytes).unwrap_err().kind(), ErrorKind::Integrity, "{bytes:?}");
    }
}

#[test]
fn opening_in_the_read_buffer_gives_the_same_answers() {
    let s = sealer(&[("k1", 1)]);
    let sealed = s.seal("key", b"in place").unwrap();
    assert_eq!(&s.open_bytes("key", Bytes::from(sealed.clone())).unwrap()[..], b"in place");
    // A buffer someone else holds is copied, not changed.
    let shared = Bytes::from(sealed.clone());
    let other = shared.clone();
    assert_eq!(&s.open_bytes("key", shared).unwrap()[..], b"in place");
    assert_eq!(&other[..], &sealed[..]);
    let mut tampered = sealed.clone();
    *tampered.last_mut().unwrap() ^= 1;
    assert_eq!(s.open_bytes("key", Bytes::from(tampered)).unwrap_err().kind(), ErrorKind::Integrity);
    assert_eq!(s.open_bytes("other", Bytes::from(sealed)).unwrap_err().kind(), ErrorKind::Integrity);
}
