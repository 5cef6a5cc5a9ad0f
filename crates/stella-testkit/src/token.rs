//! A token service for the token-auth registry: signs ES256 JWTs the registry accepts.

use crate::http::{HttpServer, Reply};
use crate::registry::Registries;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Issues ES256 JWTs for `auth.token`, signed with the key `start-registries.sh` wrote and
/// carrying its certificate in `x5c`. Grants `pull` on every requested repository to the
/// registries' Basic user (and, with [`IssuerConfig::anonymous_pull`], to requests without
/// credentials); requests without credentials otherwise get a token with no access, as real
/// token services do. Started by [`Registries::start_token_issuer`]; stops on drop.
pub struct TokenIssuer {
    /// The issuer's HTTP server; its requests are the token requests clients made.
    pub server: HttpServer,
    issued: Arc<AtomicUsize>,
}

#[derive(Debug, Clone, Default)]
pub struct IssuerConfig {
    /// Grant pull to requests without credentials.
    pub anonymous_pull: bool,
    /// Answer with `access_token` instead of `token`.
    pub oauth_field: bool,
}

impl TokenIssuer {
    pub(crate) fn start(
        listener: TcpListener,
        regs: &Registries,
        config: IssuerConfig,
    ) -> TokenIssuer {
        use p256::ecdsa::SigningKey;
        use p256::pkcs8::DecodePrivateKey;
        let key_pem = std::fs::read_to_string(regs.var("STELLA_REGISTRY_TOKEN_KEY")).unwrap();
        let key = SigningKey::from_pkcs8_pem(&key_pem).expect("PKCS#8 P-256 key");
        let cert_pem = std::fs::read_to_string(regs.var("STELLA_REGISTRY_TOKEN_CERT")).unwrap();
        let cert_b64: String = cert_pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let issuer = regs.var("STELLA_REGISTRY_TOKEN_ISSUER").to_string();
        let service = regs.var("STELLA_REGISTRY_TOKEN_SERVICE").to_string();
        let (user, password) = regs.credentials();
        let user = user.to_string();
        let expected_auth = format!("Basic {}", STANDARD.encode(format!("{user}:{password}")));
        let issued = Arc::new(AtomicUsize::new(0));
        let counter = issued.clone();
        let server = HttpServer::start_on(listener, move |req| {
            if req.path() != "/token" {
                return Reply::new(404);
            }
            let authorized = match req.header("authorization") {
                Some(a) if a == expected_auth => true,
                Some(_) => {
                    return Reply::new(401)
                        .header("Content-Type", "application/json")
                        .body(r#"{"details":"incorrect username or password"}"#);
                }
                None => config.anonymous_pull,
            };
            if req.query("service").first().map(String::as_str) != Some(service.as_str()) {
                return Reply::new(400).body("wrong service");
            }
            let access: Vec<serde_json::Value> = if authorized {
                req.query("scope")
                    .iter()
                    .flat_map(|s| s.split(' ').map(str::to_string).collect::<Vec<_>>())
                    .filter_map(|scope| {
                        let mut parts = scope.splitn(3, ':');
                        let (kind, name) = (parts.next()?, parts.next()?);
                        Some(serde_json::json!({"type": kind, "name": name, "actions": ["pull"]}))
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let header = serde_json::json!({"alg": "ES256", "typ": "JWT", "x5c": [cert_b64]});
            let claims = serde_json::json!({
                "iss": issuer, "sub": if authorized { user.as_str() } else { "" },
                "aud": service, "exp": now + 300, "nbf": now - 10, "iat": now,
                "jti": format!("stella-test-{n}"), "access": access,
            });
            let jwt = sign_jwt(&key, &header, &claims);
            let field = if config.oauth_field {
                "access_token"
            } else {
                "token"
            };
            Reply::new(200)
                .header("Content-Type", "application/json")
                .body(serde_json::json!({ field: jwt, "expires_in": 300 }).to_string())
        });
        TokenIssuer { server, issued }
    }

    /// How many tokens were issued so far.
    pub fn issued(&self) -> usize {
        self.issued.load(Ordering::SeqCst)
    }
}

fn sign_jwt(
    key: &p256::ecdsa::SigningKey,
    header: &serde_json::Value,
    claims: &serde_json::Value,
) -> String {
    use p256::ecdsa::Signature;
    use p256::ecdsa::signature::Signer;
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature: Signature = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}
