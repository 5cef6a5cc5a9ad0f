//! The small part of JOSE this crate needs: base64url, compact JWS splitting, public JWKs with
//! RFC 7638 thumbprints, and the issuer's ES256 signing key.
//!
//! Written by hand rather than through a JWT library because DPoP proofs carry their own key in
//! the header (`jwk`), which general JWT libraries treat as untrusted input to be avoided; the
//! checks RFC 9449 asks for are ours to write anyway.
//!
//! Keys are read, written and thumbprinted with RustCrypto (`p256`, `ed25519-dalek`); ES256
//! signatures are made and checked with aws-lc-rs, which rustls already links: every API call
//! costs the client one signature and the server one check, and aws-lc's P-256 does each
//! several times faster than the pure-Rust one (`cargo bench -p stella-authority`).

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _,
    UnparsedPublicKey,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Errors from reading keys and compact JWS values.
#[derive(Debug, thiserror::Error)]
pub enum JoseError {
    #[error("not a compact JWS: {0}")]
    Malformed(&'static str),
    #[error("invalid JWK: {0}")]
    InvalidJwk(&'static str),
    #[error("JWK contains private key material")]
    PrivateKey,
    #[error("invalid PEM key: {0}")]
    Pem(String),
}

pub(crate) fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) fn b64_decode(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s).ok()
}

pub(crate) fn sha256_b64(bytes: impl AsRef<[u8]>) -> String {
    b64(Sha256::digest(bytes.as_ref()))
}

/// A compact JWS split into its parts, header and payload decoded as JSON objects.
pub(crate) struct CompactJws<'a> {
    pub header: serde_json::Map<String, Value>,
    pub payload: serde_json::Map<String, Value>,
    /// `BASE64URL(header) '.' BASE64URL(payload)`: the bytes the signature covers.
    pub signing_input: &'a str,
    pub signature: Vec<u8>,
}

impl<'a> CompactJws<'a> {
    pub fn parse(token: &'a str) -> Result<Self, JoseError> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JoseError::Malformed("expected three dot-separated parts"));
        };
        let object =
            |part: &str, what: &'static str| -> Result<serde_json::Map<String, Value>, JoseError> {
                let bytes = b64_decode(part).ok_or(JoseError::Malformed(what))?;
                match serde_json::from_slice(&bytes) {
                    Ok(Value::Object(map)) => Ok(map),
                    _ => Err(JoseError::Malformed(what)),
                }
            };
        let header = object(h, "header is not base64url JSON object")?;
        let payload = object(p, "payload is not base64url JSON object")?;
        let signature = b64_decode(s).ok_or(JoseError::Malformed("signature is not base64url"))?;
        Ok(CompactJws {
            header,
            payload,
            signing_input: &token[..h.len() + 1 + p.len()],
            signature,
        })
    }
}

/// A public key taken from a JWK, with the JWS algorithm it verifies.
#[derive(Clone, Debug)]
pub enum PublicKey {
    /// `kty: EC`, `crv: P-256`, used with `ES256`.
    P256(p256::ecdsa::VerifyingKey),
    /// `kty: OKP`, `crv: Ed25519`, used with `EdDSA`.
    Ed25519(ed25519_dalek::VerifyingKey),
}

impl PublicKey {
    /// Reads a public JWK. A JWK carrying private material (`d`, or any RSA private member) is
    /// refused: a client that sends its private key has leaked it, and accepting it would let the
    /// mistake pass silently.
    pub fn from_jwk(jwk: &Value) -> Result<Self, JoseError> {
        let obj = jwk
            .as_object()
            .ok_or(JoseError::InvalidJwk("not an object"))?;
        if ["d", "p", "q", "dp", "dq", "qi", "k"]
            .iter()
            .any(|m| obj.contains_key(*m))
        {
            return Err(JoseError::PrivateKey);
        }
        let field = |name: &'static str| -> Result<Vec<u8>, JoseError> {
            obj.get(name)
                .and_then(Value::as_str)
                .and_then(b64_decode)
                .ok_or(JoseError::InvalidJwk(name))
        };
        match (
            obj.get("kty").and_then(Value::as_str),
            obj.get("crv").and_then(Value::as_str),
        ) {
            (Some("EC"), Some("P-256")) => {
                let (x, y) = (field("x")?, field("y")?);
                if x.len() != 32 || y.len() != 32 {
                    return Err(JoseError::InvalidJwk("P-256 coordinates must be 32 bytes"));
                }
                let mut sec1 = Vec::with_capacity(65);
                sec1.push(4);
                sec1.extend_from_slice(&x);
                sec1.extend_from_slice(&y);
                p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1)
                    .map(PublicKey::P256)
                    .map_err(|_| JoseError::InvalidJwk("point not on P-256"))
            }
            (Some("OKP"), Some("Ed25519")) => {
                let x: [u8; 32] = field("x")?
                    .try_into()
                    .map_err(|_| JoseError::InvalidJwk("Ed25519 key must be 32 bytes"))?;
                ed25519_dalek::VerifyingKey::from_bytes(&x)
                    .map(PublicKey::Ed25519)
                    .map_err(|_| JoseError::InvalidJwk("invalid Ed25519 key"))
            }
            _ => Err(JoseError::InvalidJwk(
                "unsupported kty/crv (want EC P-256 or OKP Ed25519)",
            )),
        }
    }

    /// The JWS `alg` this key verifies.
    pub fn alg(&self) -> &'static str {
        match self {
            PublicKey::P256(_) => "ES256",
            PublicKey::Ed25519(_) => "EdDSA",
        }
    }

    /// The public JWK with only the members RFC 7638 requires, in its lexicographic order.
    fn required_members(&self) -> Value {
        match self {
            PublicKey::P256(key) => {
                let point = key.to_sec1_point(false);
                let bytes = point.as_bytes();
                json!({"crv": "P-256", "kty": "EC", "x": b64(&bytes[1..33]), "y": b64(&bytes[33..65])})
            }
            PublicKey::Ed25519(key) => {
                json!({"crv": "Ed25519", "kty": "OKP", "x": b64(key.as_bytes())})
            }
        }
    }

    /// The public JWK (the RFC 7638 members).
    pub fn to_jwk(&self) -> Value {
        self.required_members()
    }

    /// RFC 7638 thumbprint: base64url(SHA-256(JSON of the required members, sorted, no spaces)).
    /// serde_json writes objects in insertion order here (`preserve_order`), and
    /// `required_members` inserts them already sorted.
    pub fn thumbprint(&self) -> String {
        sha256_b64(self.required_members().to_string())
    }

    /// Verifies a JWS signature; `alg` must be the one this key is for, so a key cannot be
    /// used with an algorithm chosen by the attacker.
    pub fn verify(&self, alg: &str, message: &[u8], signature: &[u8]) -> bool {
        if alg != self.alg() {
            return false;
        }
        match self {
            // Fixed-width r||s (64 bytes), as JWS writes ES256 signatures (RFC 7518 §3.4).
            PublicKey::P256(key) => {
                signature.len() == 64
                    && UnparsedPublicKey::new(
                        &ECDSA_P256_SHA256_FIXED,
                        key.to_sec1_point(false).as_bytes(),
                    )
                    .verify(message, signature)
                    .is_ok()
            }
            PublicKey::Ed25519(key) => ed25519_dalek::Signature::from_slice(signature)
                .is_ok_and(|sig| key.verify_strict(message, &sig).is_ok()),
        }
    }
}

/// The issuer's ES256 signing key. Its `kid` is its RFC 7638 thumbprint, so it is derived
/// from the key and stable across restarts. `Debug` shows only the `kid`.
#[derive(Clone)]
pub struct SigningKey {
    /// The key as RustCrypto holds it: PEM in and out, the public half.
    inner: p256::ecdsa::SigningKey,
    /// The same key for aws-lc-rs, which signs.
    signer: Arc<EcdsaKeyPair>,
    kid: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A fresh random P-256 key from the operating system's RNG.
    pub fn generate() -> Self {
        use p256::elliptic_curve::Generate;
        Self::from_inner(p256::ecdsa::SigningKey::generate())
    }

    fn from_inner(inner: p256::ecdsa::SigningKey) -> Self {
        use p256::pkcs8::EncodePrivateKey;
        let kid = PublicKey::P256(*inner.verifying_key()).thumbprint();
        // A valid P-256 scalar always encodes, and aws-lc reads back what RustCrypto writes.
        let der = inner.to_pkcs8_der().expect("a P-256 key encodes as PKCS#8");
        let signer = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der.as_bytes())
            .expect("aws-lc reads a PKCS#8 P-256 key");
        debug_assert_eq!(
            signer.public_key().as_ref(),
            inner.verifying_key().to_sec1_point(false).as_bytes()
        );
        SigningKey {
            inner,
            signer: Arc::new(signer),
            kid,
        }
    }

    /// PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), for the caller to persist.
    pub fn to_pem(&self) -> Result<String, JoseError> {
        use p256::pkcs8::{EncodePrivateKey, LineEnding};
        self.inner
            .to_pkcs8_pem(LineEnding::LF)
            .map(|pem| pem.to_string())
            .map_err(|e| JoseError::Pem(e.to_string()))
    }

    /// Reads a PKCS#8 PEM P-256 key.
    pub fn from_pem(pem: &str) -> Result<Self, JoseError> {
        use p256::pkcs8::DecodePrivateKey;
        p256::ecdsa::SigningKey::from_pkcs8_pem(pem)
            .map(Self::from_inner)
            .map_err(|e| JoseError::Pem(e.to_string()))
    }

    /// The key id: the RFC 7638 thumbprint of the public key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        PublicKey::P256(*self.inner.verifying_key())
    }

    /// The public JWK as published in `/jwks`.
    pub fn public_jwk(&self) -> Value {
        let mut jwk = self.public_key().to_jwk();
        let obj = jwk.as_object_mut().expect("object");
        obj.insert("kid".into(), Value::String(self.kid.clone()));
        obj.insert("use".into(), Value::String("sig".into()));
        obj.insert("alg".into(), Value::String("ES256".into()));
        jwk
    }

    /// Signs `header.payload` and returns the compact JWS.
    pub(crate) fn sign_compact(&self, header: &Value, payload: &Value) -> String {
        let input = format!("{}.{}", b64(header.to_string()), b64(payload.to_string()));
        let sig = self
            .signer
            .sign(&aws_lc_rs::rand::SystemRandom::new(), input.as_bytes())
            .expect("aws-lc signs with a valid key");
        format!("{input}.{}", b64(sig.as_ref()))
    }
}

/// Random bytes from the operating system.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).expect("operating system RNG");
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7638 §3.1 gives an RSA example only; this pins the EC member order and encoding
    /// with the P-256 example key of RFC 7517 appendix A.1.
    #[test]
    fn thumbprint_uses_sorted_required_members() {
        let jwk = json!({"kty":"EC","crv":"P-256",
            "x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
            "y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM","use":"enc","kid":"1"});
        let key = PublicKey::from_jwk(&jwk).unwrap();
        let canonical = r#"{"crv":"P-256","kty":"EC","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}"#;
        assert_eq!(key.thumbprint(), sha256_b64(canonical));
    }

    #[test]
    fn private_jwk_is_refused() {
        let jwk = json!({"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
            "y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM","d":"870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE"});
        assert!(matches!(
            PublicKey::from_jwk(&jwk),
            Err(JoseError::PrivateKey)
        ));
    }

    /// Signatures cross between the two libraries: what aws-lc signs, RustCrypto accepts, and
    /// what RustCrypto signs, the check here accepts; a flipped bit or a DER signature does not.
    #[test]
    fn es256_signatures_agree_with_rustcrypto() {
        use p256::ecdsa::signature::{Signer, Verifier};
        let key = SigningKey::generate();
        let public = key.public_key();
        let jws = key.sign_compact(&json!({"alg": "ES256"}), &json!({"n": 1}));
        let (input, sig) = jws.rsplit_once('.').unwrap();
        let sig = b64_decode(sig).unwrap();
        let rc_sig = p256::ecdsa::Signature::from_slice(&sig).unwrap();
        assert!(
            key.inner
                .verifying_key()
                .verify(input.as_bytes(), &rc_sig)
                .is_ok()
        );
        assert!(public.verify("ES256", input.as_bytes(), &sig));

        let theirs: p256::ecdsa::Signature = key.inner.sign(b"message");
        assert!(public.verify("ES256", b"message", &theirs.to_bytes()));
        assert!(!public.verify("ES256", b"messagf", &theirs.to_bytes()));
        let mut flipped = theirs.to_bytes().to_vec();
        flipped[10] ^= 1;
        assert!(!public.verify("ES256", b"message", &flipped));
        assert!(!public.verify("ES256", b"message", theirs.to_der().as_bytes()));
        assert!(!public.verify("EdDSA", b"message", &theirs.to_bytes()));
    }

    #[test]
    fn signing_key_round_trips_through_pem() {
        let key = SigningKey::generate();
        let again = SigningKey::from_pem(&key.to_pem().unwrap()).unwrap();
        assert_eq!(key.kid(), again.kid());
        assert!(!format!("{key:?}").contains("PRIVATE"));
    }
}
