//! Sealing cost, in one run, seal + open of the same value: pal's `Sealer`
//! (format 2: AES-256-GCM-SIV on AWS-LC, a nonce from the thread's CSPRNG, one
//! allocation each way); the same construction on RustCrypto's pure-Rust
//! `aes-gcm-siv`; what pal did before (format 1: RustCrypto's AES-256-GCM, a
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

criterion_group!(benches, bench);
criterion_main!(benches);
