//! Test harness: the authority and a resource route on 127.0.0.1, and a DPoP client.
#![allow(dead_code)]

use std::sync::Arc;

use axum::extract::FromRef;
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use p256::ecdsa::signature::Signer;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use stella_authority::*;

pub const NOW: u64 = 1_800_000_000;
pub const READ: &str = "scanner.scans.read";
pub const ENQUEUE: &str = "scanner.scans.enqueue";

pub fn b64(b: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

/// The client's DPoP key and a proof signer.
pub enum DpopKey {
    P256(p256::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
}

#[derive(Default)]
pub struct Proof<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub nonce: Option<&'a str>,
    pub token: Option<&'a str>,
    pub iat: Option<u64>,
    pub jti: Option<&'a str>,
}

impl DpopKey {
    pub fn p256() -> Self {
        use p256::elliptic_curve::Generate;
        DpopKey::P256(p256::ecdsa::SigningKey::generate())
    }
    pub fn ed25519() -> Self {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).unwrap();
        DpopKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&seed))
    }
    pub fn public(&self) -> PublicKey {
        match self {
            DpopKey::P256(k) => PublicKey::P256(*k.verifying_key()),
            DpopKey::Ed25519(k) => PublicKey::Ed25519(k.verifying_key()),
        }
    }
    pub fn sign_with(&self, header: Value, claims: Value) -> String {
        let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
        let sig = match self {
            DpopKey::P256(k) => {
                let s: p256::ecdsa::Signature = k.sign(input.as_bytes());
                s.to_bytes().to_vec()
            }
            DpopKey::Ed25519(k) => {
                use ed25519_dalek::Signer as _;
                k.sign(input.as_bytes()).to_bytes().to_vec()
            }
        };
        format!("{input}.{}", b64(sig))
    }
    pub fn header(&self) -> Value {
        json!({"typ": "dpop+jwt", "alg": self.public().alg(), "jwk": self.public().to_jwk()})
    }
    pub fn claims(&self, p: &Proof) -> Value {
        let mut jti = [0u8; 16];
        getrandom::fill(&mut jti).unwrap();
        let mut c = json!({
            "jti": p.jti.map(str::to_owned).unwrap_or_else(|| b64(jti)),
            "htm": p.method,
            "htu": p.url,
            "iat": p.iat.unwrap_or(NOW),
        });
        if let Some(n) = p.nonce {
            c["nonce"] = json!(n);
        }
        if let Some(t) = p.token {
            c["ath"] = json!(b64(Sha256::digest(t.as_bytes())));
        }
        c
    }
    pub fn proof(&self, p: Proof) -> String {
        self.sign_with(self.header(), self.claims(&p))
    }
}

pub struct ScansRead;
impl RequiredScope for ScansRead {
    const SCOPE: &'static str = READ;
}
pub struct ScansEnqueue;
impl RequiredScope for ScansEnqueue {
    const SCOPE: &'static str = ENQUEUE;
}

#[derive(Clone)]
pub struct AppState {
    pub guard: Arc<ResourceGuard>,
}
impl FromRef<AppState> for Arc<ResourceGuard> {
    fn from_ref(s: &AppState) -> Self {
        s.guard.clone()
    }
}

pub struct Harness {
    pub base: String,
    pub clock: Arc<ManualClock>,
    pub http: reqwest::Client,
    pub client_id: String,
    pub secret: ClientSecret,
    pub authority: Arc<Authority>,
}

pub async fn start() -> Harness {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let clock = Arc::new(ManualClock::new(NOW));
    let clients = Arc::new(MemoryClientStore::new());
    let (client_id, secret, secret_hash) = new_client_credentials();
    clients.insert(ClientRecord {
        client_id: client_id.clone(),
        tenant: "tenant-a".into(),
        secret_hash,
        scopes: vec![READ.into(), "scanner.scans.other".into()],
    });
    let dpop = DpopVerifier::new(
        DpopConfig::default(),
        Arc::new(MemoryReplayCache::new(clock.clone())),
        clock.clone(),
    );
    let authority = Arc::new(Authority::new(
        AuthorityConfig::new(base.clone(), "stella-api"),
        SigningKey::generate(),
        clients,
        dpop,
        clock.clone(),
    ));
    let state = AppState {
        guard: Arc::new(authority.resource_guard(base.clone())),
    };
    let api = Router::new()
        .route(
            "/api/v1/scans",
            get(|a: Authorized<ScansRead>| async move {
                Json(json!({"client_id": a.principal.client_id, "tenant": a.principal.tenant}))
            })
            .post(|_: Authorized<ScansEnqueue>| async { "queued" }),
        )
        .with_state(state);
    let app = authority.clone().router().merge(api);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Harness {
        base,
        clock,
        http: reqwest::Client::new(),
        client_id,
        secret,
        authority,
    }
}

pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or_default()
    }
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or_default()
    }
}

pub async fn reply(r: reqwest::RequestBuilder) -> Reply {
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    Reply {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
    }
}

pub enum ClientAuth<'a> {
    Basic(&'a str, &'a str),
    Form(&'a str, &'a str),
}

impl Harness {
    pub fn token_url(&self) -> String {
        format!("{}/token", self.base)
    }
    pub fn scans_url(&self) -> String {
        format!("{}/api/v1/scans", self.base)
    }
    pub fn auth(&self) -> ClientAuth<'_> {
        ClientAuth::Basic(&self.client_id, self.secret.expose())
    }
    pub async fn token_request(
        &self,
        auth: ClientAuth<'_>,
        extra: &str,
        proof: Option<String>,
    ) -> Reply {
        let mut form = format!("grant_type=client_credentials{extra}");
        let mut req = self
            .http
            .post(self.token_url())
            .header("content-type", "application/x-www-form-urlencoded");
        match auth {
            ClientAuth::Basic(id, secret) => {
                req = req.header(
                    "authorization",
                    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))),
                );
            }
            ClientAuth::Form(id, secret) => {
                form.push_str(&format!("&client_id={id}&client_secret={secret}"))
            }
        }
        if let Some(p) = proof {
            req = req.header("dpop", p);
        }
        reply(req.body(form)).await
    }
    /// A fresh server nonce: every token endpoint answer carries one.
    pub async fn nonce(&self) -> String {
        let r = reply(self.http.post(self.token_url())).await;
        r.header("dpop-nonce").to_owned()
    }
    pub async fn token_with(&self, key: &DpopKey, scope: &str) -> Reply {
        let nonce = self.nonce().await;
        let proof = key.proof(Proof {
            method: "POST",
            url: &self.token_url(),
            nonce: Some(&nonce),
            ..Default::default()
        });
        self.token_request(self.auth(), scope, Some(proof)).await
    }
    pub async fn token(&self, key: &DpopKey) -> String {
        let r = self.token_with(key, "").await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body["access_token"].as_str().unwrap().to_owned()
    }
    pub async fn call(
        &self,
        method: &str,
        scheme: &str,
        token: &str,
        proof: Option<String>,
    ) -> Reply {
        let mut req = self
            .http
            .request(method.parse().unwrap(), self.scans_url())
            .header("authorization", format!("{scheme} {token}"));
        if let Some(p) = proof {
            req = req.header("dpop", p);
        }
        reply(req).await
    }
    /// A proof for GET /api/v1/scans with a fresh nonce, bound to `token`.
    pub async fn resource_proof(&self, key: &DpopKey, token: &str) -> String {
        let nonce = self.nonce().await;
        let url = self.scans_url();
        key.proof(Proof {
            method: "GET",
            url: &url,
            nonce: Some(&nonce),
            token: Some(token),
            ..Default::default()
        })
    }
}

pub fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

pub fn assert_dpop_challenge(r: &Reply, status: u16, code: &str) {
    assert_eq!(r.status, status, "{:?}", r.body);
    assert_eq!(r.error(), code, "{:?}", r.body);
    let challenge = r.header("www-authenticate");
    assert!(challenge.starts_with("DPoP "), "{challenge}");
    assert!(
        challenge.contains(&format!("error=\"{code}\"")),
        "{challenge}"
    );
}
