//! AES-256-GCM seal and open through RustCrypto's `aes-gcm` and through `ring`,
//! same keys, nonces and sizes, in one run: the measurement behind pal's choice
//! of AEAD crate. `cargo bench -p pal --bench aead && scripts/bench-ratios`
//! (`pal` in each group is the crate pal uses).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce as RingNonce, UnboundKey};

fn bench(c: &mut Criterion) {
    let key = [7u8; 32];
    let nonce = [9u8; 12];
    let aad = b"session:abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
    let rust = Aes256Gcm::new_from_slice(&key).unwrap();
    let ring_key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key).unwrap());
    for size in [256usize, 16 * 1024] {
        let plain = vec![42u8; size];
        let mut group = c.benchmark_group(format!("seal_open_{size}B"));
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function("pal", |b| {
            b.iter(|| {
                let sealed = rust.encrypt(&Nonce::from(nonce), Payload { msg: &plain, aad }).unwrap();
                rust.decrypt(&Nonce::from(nonce), Payload { msg: &sealed, aad }).unwrap()
            })
        });
        group.bench_function("ring", |b| {
            b.iter(|| {
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
}

criterion_group!(benches, bench);
criterion_main!(benches);
