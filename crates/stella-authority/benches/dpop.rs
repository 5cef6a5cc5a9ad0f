//! The per-request cost of DPoP on both sides: a client signing a proof, the resource server
//! checking one (every RFC 9449 §4.3 step, with the `jti` recorded), and the bare ES256
//! signature check inside it, with RustCrypto's P-256 beside aws-lc-rs for comparison. Each
//! API call pays one proof signature and one proof check, so these bound how much of the API's
//! latency authentication can take. `cargo bench -p stella-authority`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use stella_authority::{
    DpopConfig, DpopKey, DpopVerifier, MemoryReplayCache, ProofContext, PublicKey, SystemClock,
};

const URL: &str = "http://127.0.0.1:8080/api/v1/scans/scan-0123456789abcdef";
const TOKEN: &str = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJiZW5jaCJ9.c2lnbmF0dXJl";

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

fn bench(c: &mut Criterion) {
    let key = DpopKey::generate();
    let jkt = key.thumbprint();
    let clock = Arc::new(SystemClock);
    let verifier = DpopVerifier::new(
        DpopConfig {
            require_nonce: false,
            ..DpopConfig::default()
        },
        Arc::new(MemoryReplayCache::new(clock.clone())),
        clock,
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");

    c.bench_function("dpop/sign proof (client)", |b| {
        b.iter(|| black_box(key.proof_at("GET", URL, None, Some(TOKEN), now())))
    });

    // Each check needs a proof never seen before (the jti cache refuses repeats): signed in
    // the untimed setup.
    c.bench_function("dpop/check proof (server, all steps)", |b| {
        b.iter_batched(
            || key.proof_at("GET", URL, None, Some(TOKEN), now()),
            |proof| {
                let proofs = [proof.as_str()];
                rt.block_on(verifier.verify(ProofContext {
                    proofs: &proofs,
                    method: "GET",
                    uri: URL,
                    access_token: Some((TOKEN, &jkt)),
                }))
                .expect("a valid proof")
            },
            BatchSize::SmallInput,
        )
    });

    let proof = key.proof_at("GET", URL, None, Some(TOKEN), now());
    let (input, signature) = proof.rsplit_once('.').expect("compact JWS");
    let signature = base64_url(signature);
    let public = PublicKey::from_jwk(&key.public_jwk()).expect("own key");
    c.bench_function("dpop/ES256 signature check (aws-lc-rs)", |b| {
        b.iter(|| assert!(public.verify("ES256", black_box(input.as_bytes()), &signature)))
    });

    // The same check and a signature with RustCrypto's pure-Rust P-256, which did both before:
    // the numbers behind choosing aws-lc-rs for them.
    use p256::ecdsa::signature::{Signer, Verifier};
    use p256::elliptic_curve::Generate;
    let rc_signing = p256::ecdsa::SigningKey::generate();
    let rc_sig: p256::ecdsa::Signature = rc_signing.sign(input.as_bytes());
    let rc_public = *rc_signing.verifying_key();
    c.bench_function("dpop/ES256 signature check (RustCrypto p256)", |b| {
        b.iter(|| {
            assert!(
                rc_public
                    .verify(black_box(input.as_bytes()), &rc_sig)
                    .is_ok()
            )
        })
    });
    c.bench_function("dpop/ES256 signature (RustCrypto p256)", |b| {
        b.iter(|| {
            let sig: p256::ecdsa::Signature = rc_signing.sign(black_box(input.as_bytes()));
            sig
        })
    });
}

/// Base64url without padding (the crate already depends on `base64`).
fn base64_url(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .expect("base64url")
}

criterion_group!(benches, bench);
criterion_main!(benches);
