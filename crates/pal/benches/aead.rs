//! Sealing cost, in one run, seal + open of the same value: pal's `Sealer`
//! (format 3: AES-256-GCM-SIV on AWS-LC, a nonce from the thread's CSPRNG, one
//! allocation each way, the secret's fingerprint in the header and in the
//! associated data); format 2, which it replaced (the same without the
//! fingerprint: the storage key alone as associated data); the same construction
//! on RustCrypto's pure-Rust `aes-gcm-siv`; format 1 (RustCrypto's AES-256-GCM, a
//! `getrandom` system call per nonce, two allocations); and `ring`'s AES-256-GCM.
//! Also the keyed hash of a key, which every call pays.
//! `cargo bench -p pal --bench aead && scripts/bench-ratios` (`pal` in each group).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pal::crypto::Sealer;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce as RingNonce, UnboundKey};
use zeroize::Zeroizing;

const STORAGE_KEY: &str = "session:Yc2Vq3f4m1h8tqY0mUQpXf7a0Zr9bTqk8u6Pp2s1nWc";

fn bench(c: &mut Criterion) {
    let key = [7u8; 32];
    let sealer = Sealer::new(&[3u8; 32], &[("k1".to_string(), Zeroizing::new(key))]).unwrap();
    let gcm = Aes256Gcm::new_from_slice(&key).unwrap();
    let siv = aes_gcm_siv::Aes256GcmSiv::new_from_slice(&key).unwrap();
    let ring_key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key).unwrap());
    let format_2 = format_2_key(&key);
    let aad = STORAGE_KEY.as_bytes();
    for size in [256usize, 16 * 1024] {
        let plain = vec![42u8; size];
        let mut group = c.benchmark_group(format!("seal_open_{size}B"));
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function("pal", |b| {
            b.iter(|| {
                let sealed = sealer.seal(STORAGE_KEY, &plain).unwrap();
                sealer.open(STORAGE_KEY, &sealed).unwrap()
            })
        });
        group.bench_function("format_2_before", |b| {
            b.iter(|| {
                let sealed = format_2_seal(&format_2, &plain);
                format_2_open(&format_2, &sealed)
            })
        });
        group.bench_function("rustcrypto_gcm_siv", |b| {
            b.iter(|| {
                let mut nonce = [0u8; 12];
                rand::RngCore::fill_bytes(&mut rand::rng(), &mut nonce);
                let nonce = aes_gcm_siv::Nonce::from(nonce);
                let sealed = siv.encrypt(&nonce, Payload { msg: &plain, aad }).unwrap();
                siv.decrypt(&nonce, Payload { msg: &sealed, aad }).unwrap()
            })
        });
        group.bench_function("format_1_gcm_getrandom", |b| {
            b.iter(|| {
                let mut nonce = [0u8; 12];
                getrandom::fill(&mut nonce).unwrap();
                let ciphertext = gcm.encrypt(&Nonce::from(nonce), Payload { msg: &plain, aad }).unwrap();
                let mut sealed = Vec::with_capacity(16 + ciphertext.len());
                sealed.extend_from_slice(&[0xA7, 2, b'k', b'1']);
                sealed.extend_from_slice(&nonce);
                sealed.extend_from_slice(&ciphertext);
                gcm.decrypt(&Nonce::from(nonce), Payload { msg: &sealed[16..], aad }).unwrap()
            })
        });
        group.bench_function("ring_gcm", |b| {
            b.iter(|| {
                let nonce = [9u8; 12];
                let mut buf = plain.clone();
                ring_key
                    .seal_in_place_append_tag(RingNonce::assume_unique_for_key(nonce), Aad::from(aad), &mut buf)
                    .unwrap();
                let opened =
                    ring_key.open_in_place(RingNonce::assume_unique_for_key(nonce), Aad::from(aad), &mut buf).unwrap();
                opened.len()
            })
        });
        group.finish();
    }
    let mut group = c.benchmark_group("hash_key");
    group.bench_function("pal", |b| b.iter(|| sealer.hash_key("session:0f8e7d6c5b4a39281706f5e4d3c2b1a0")));
    group.finish();
}

/// Format 2's key: AES-256-GCM-SIV under a key derived with HKDF-SHA-256, as
/// pal's `Sealer` derives it.
fn format_2_key(key: &[u8; 32]) -> aws_lc_rs::aead::LessSafeKey {
    let mut derived = [0u8; 32];
    hkdf::Hkdf::<sha2::Sha256>::new(None, key).expand(b"pal sealed values: AES-256-GCM-SIV", &mut derived).unwrap();
    aws_lc_rs::aead::LessSafeKey::new(
        aws_lc_rs::aead::UnboundKey::new(&aws_lc_rs::aead::AES_256_GCM_SIV, &derived).unwrap(),
    )
}

/// Format 2 as pal sealed before fingerprints: one allocation, the storage key
/// alone as associated data.
fn format_2_seal(key: &aws_lc_rs::aead::LessSafeKey, plain: &[u8]) -> Vec<u8> {
    use aws_lc_rs::aead::{Aad, Nonce};
    let mut nonce = [0u8; 12];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut nonce);
    let mut out = Vec::with_capacity(16 + plain.len() + 16);
    out.extend_from_slice(&[0xA8, 2, b'k', b'1']);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plain);
    let tag = key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(STORAGE_KEY.as_bytes()),
            &mut out[16..],
        )
        .unwrap();
    out.extend_from_slice(tag.as_ref());
    out
}

/// Format 2 opened as pal opened it: the key found by its id, one copy, opened in place.
fn format_2_open(key: &aws_lc_rs::aead::LessSafeKey, sealed: &[u8]) -> Vec<u8> {
    use aws_lc_rs::aead::{Aad, Nonce};
    assert_eq!(&sealed[..4], &[0xA8, 2, b'k', b'1']);
    let nonce = Nonce::try_assume_unique_for_key(&sealed[4..16]).unwrap();
    let mut plain = sealed[16..].to_vec();
    let len = key.open_in_place(nonce, Aad::from(STORAGE_KEY.as_bytes()), &mut plain).unwrap().len();
    plain.truncate(len);
    plain
}

criterion_group!(benches, bench);
criterion_main!(benches);
