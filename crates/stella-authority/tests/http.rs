//! End-to-end over real HTTP on 127.0.0.1: the authority router and a resource route served by
//! axum, called by a client that signs real DPoP proofs with p256 (and Ed25519).

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::*;
use serde_json::json;
use stella_authority::PublicKey;

// ---- token endpoint ----

#[tokio::test]
async fn token_via_basic_is_bound_to_the_dpop_key() {
    let h = start().await;
    let key = DpopKey::p256();
    let r = h.token_with(&key, "").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["token_type"], "DPoP");
    assert_eq!(r.body["expires_in"], 300);
    assert_eq!(r.header("cache-control"), "no-store");
    let claims = claims_of(r.body["access_token"].as_str().unwrap());
    assert_eq!(claims["cnf"]["jkt"], key.public().thumbprint());
    assert_eq!(claims["sub"], h.client_id);
    assert_eq!(claims["tid"], "tenant-a");
    assert_eq!(claims["iss"], h.base);
    assert_eq!(claims["aud"], "stella-api");
    assert_eq!(claims["scope"], "scanner.scans.read scanner.scans.other");
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        300
    );
}

#[tokio::test]
async fn token_via_form_post_with_narrowed_scope() {
    let h = start().await;
    let key = DpopKey::p256();
    let nonce = h.nonce().await;
    let proof = key.proof(Proof {
        method: "POST",
        url: &h.token_url(),
        nonce: Some(&nonce),
        ..Default::default()
    });
    let r = h
        .token_request(
            ClientAuth::Form(&h.client_id, h.secret.expose()),
            "&scope=scanner.scans.read",
            Some(proof),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["scope"], READ);
}

#[tokio::test]
async fn token_accepts_an_ed25519_proof() {
    let h = start().await;
    let key = DpopKey::ed25519();
    let token = h.token(&key).await;
    assert_eq!(claims_of(&token)["cnf"]["jkt"], key.public().thumbprint());
    let proof = h.resource_proof(&key, &token).await;
    assert_eq!(h.call("GET", "DPoP", &token, Some(proof)).await.status, 200);
}

#[tokio::test]
async fn wrong_secret_is_invalid_client_with_basic_challenge() {
    let h = start().await;
    let r = h
        .token_request(ClientAuth::Basic(&h.client_id, "not-the-secret"), "", None)
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.error(), "invalid_client");
    assert!(r.header("www-authenticate").starts_with("Basic"));
}

#[tokio::test]
async fn unknown_client_is_invalid_client() {
    let h = start().await;
    let r = h
        .token_request(ClientAuth::Form("nobody", "whatever"), "", None)
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.error(), "invalid_client");
    assert!(r.header("www-authenticate").starts_with("Basic"));
}

#[tokio::test]
async fn scope_beyond_the_clients_is_invalid_scope() {
    let h = start().await;
    let r = h
        .token_with(
            &DpopKey::p256(),
            "&scope=scanner.scans.read%20scanner.scans.enqueue",
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error(), "invalid_scope");
}

#[tokio::test]
async fn missing_dpop_proof_is_refused() {
    let h = start().await;
    let r = h.token_request(h.auth(), "", None).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error(), "invalid_dpop_proof");
}

#[tokio::test]
async fn wrong_grant_type_and_missing_grant_type() {
    let h = start().await;
    let basic = format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", h.client_id, h.secret.expose()))
    );
    for (body, code) in [
        ("grant_type=password", "unsupported_grant_type"),
        ("scope=x", "invalid_request"),
    ] {
        let r = reply(
            h.http
                .post(h.token_url())
                .header("content-type", "application/x-www-form-urlencoded")
                .header("authorization", &basic)
                .body(body),
        )
        .await;
        assert_eq!((r.status, r.error()), (400, code));
    }
}

#[tokio::test]
async fn token_nonce_flow_first_use_dpop_nonce_then_success() {
    let h = start().await;
    let key = DpopKey::p256();
    let proof = key.proof(Proof {
        method: "POST",
        url: &h.token_url(),
        ..Default::default()
    });
    let r = h.token_request(h.auth(), "", Some(proof)).await;
    assert_eq!((r.status, r.error()), (400, "use_dpop_nonce"));
    let nonce = r.header("dpop-nonce").to_owned();
    assert!(!nonce.is_empty());
    let proof = key.proof(Proof {
        method: "POST",
        url: &h.token_url(),
        nonce: Some(&nonce),
        ..Default::default()
    });
    assert_eq!(h.token_request(h.auth(), "", Some(proof)).await.status, 200);
}

#[tokio::test]
async fn malformed_proofs_are_refused_with_invalid_dpop_proof() {
    let h = start().await;
    let key = DpopKey::p256();
    let nonce = h.nonce().await;
    let url = h.token_url();
    let p = Proof {
        method: "POST",
        url: &url,
        nonce: Some(&nonce),
        ..Default::default()
    };
    let claims = key.claims(&p);
    let mut private_jwk = key.public().to_jwk();
    private_jwk["d"] = json!(b64([7u8; 32]));
    let unsigned = format!(
        "{}.{}.",
        b64(json!({"typ":"dpop+jwt","alg":"none","jwk":key.public().to_jwk()}).to_string()),
        b64(claims.to_string())
    );
    let cases = [
        key.sign_with(
            json!({"typ": "JWT", "alg": "ES256", "jwk": key.public().to_jwk()}),
            claims.clone(),
        ),
        key.sign_with(
            json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": key.public().to_jwk()}),
            claims.clone(),
        ),
        key.sign_with(
            json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": private_jwk}),
            claims.clone(),
        ),
        key.sign_with(json!({"typ": "dpop+jwt", "alg": "ES256"}), claims.clone()),
        key.sign_with(
            json!({"typ": "dpop+jwt", "alg": "EdDSA", "jwk": key.public().to_jwk()}),
            claims.clone(),
        ),
        unsigned,
        "not-a-jwt".to_owned(),
    ];
    for proof in cases {
        let r = h.token_request(h.auth(), "", Some(proof.clone())).await;
        assert_eq!(
            (r.status, r.error()),
            (400, "invalid_dpop_proof"),
            "{proof}: {:?}",
            r.body
        );
    }
    // Two DPoP headers.
    let r = reply(
        h.http
            .post(h.token_url())
            .header("content-type", "application/x-www-form-urlencoded")
            .header(
                "authorization",
                format!(
                    "Basic {}",
                    STANDARD.encode(format!("{}:{}", h.client_id, h.secret.expose()))
                ),
            )
            .header(
                "dpop",
                key.proof(Proof {
                    method: "POST",
                    url: &url,
                    nonce: Some(&nonce),
                    ..Default::default()
                }),
            )
            .header(
                "dpop",
                key.proof(Proof {
                    method: "POST",
                    url: &url,
                    nonce: Some(&nonce),
                    ..Default::default()
                }),
            )
            .body("grant_type=client_credentials"),
    )
    .await;
    assert_eq!((r.status, r.error()), (400, "invalid_dpop_proof"));
}

#[tokio::test]
async fn discovery_and_jwks_are_served() {
    let h = start().await;
    let conf = reply(
        h.http
            .get(format!("{}/.well-known/openid-configuration", h.base)),
    )
    .await;
    assert_eq!(conf.body["issuer"], h.base);
    assert_eq!(conf.body["token_endpoint"], h.token_url());
    assert_eq!(
        conf.body["grant_types_supported"],
        json!(["client_credentials"])
    );
    assert_eq!(
        conf.body["dpop_signing_alg_values_supported"],
        json!(["ES256", "EdDSA"])
    );
    let jwks = reply(h.http.get(format!("{}/jwks", h.base))).await;
    let jwk = &jwks.body["keys"][0];
    assert_eq!(jwk["alg"], "ES256");
    assert!(jwk.get("d").is_none());
    let key = PublicKey::from_jwk(jwk).unwrap();
    assert_eq!(jwk["kid"], key.thumbprint());
}

// ---- resource side ----

#[tokio::test]
async fn resource_call_with_token_and_proof_succeeds() {
    let h = start().await;
    let key = DpopKey::p256();
    let token = h.token(&key).await;
    let r = h
        .call(
            "GET",
            "DPoP",
            &token,
            Some(h.resource_proof(&key, &token).await),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["tenant"], "tenant-a");
    assert_eq!(r.body["client_id"], h.client_id);
}

#[tokio::test]
async fn replayed_proof_is_refused() {
    let h = start().await;
    let key = DpopKey::p256();
    let token = h.token(&key).await;
    let proof = h.resource_proof(&key, &token).await;
    assert_eq!(
        h.call("GET", "DPoP", &token, Some(proof.clone()))
            .await
            .status,
        200
    );
    let r = h.call("GET", "DPoP", &token, Some(proof)).await;
    assert_dpop_challenge(&r, 401, "invalid_dpop_proof");
}

#[tokio::test]
async fn proof_for_another_url_is_refused() {
    let h = start().await;
    let key = DpopKey::p256();
    let token = h.token(&key).await;
    let nonce = h.nonce().await;
    let other = format!("{}/api/v1/other", h.base);
    let proof = key.proof(Proof {
        method: "GET",
        url: &other,
        nonce: Some(&nonce),
        token: Some(&token),
        ..Default::default()
    });
    assert_dpop_challenge(
        &h.call("GET", "DPoP", &token, Some(proof)).await,
        401,
        "invalid_dpop_proof",
    );
}

#[tokio::test]
async fn proof_url_matches_after_normalization_and_ignores_query() {
    let h = start().await;
    let key = DpopKey::p256();
    let token = h.token(&key).await;
    let nonce = h.nonce().await;
    let url = format!("{}?page=2", h.scans_url().replace("http://", "HTTP://"));
    let proof = key.proof(Proof {
        method: "GET",
        url: &url,
        nonce: Some(&nonce),
        token: Some(&token),
        ..Default::default()
    });
    assert_eq!(h.call("GET", "DPoP", &token, Some(proof)).await.status, 200);
}

#[tokio::test]
async fn proof_for_another_method_is_refused() {
    let h = start().await;
    let key = DpopKey::p256();
    let token = h.token(&key).await;
    let nonce = h.nonce().await;
    let url = h.scans_url();
    let proof = key.proof(Proof {
        method: "POST",
        url: &url,
        nonce: Some(&nonce),
        token: Some(&token),
        ..Default::default()
    });
    assert_dpop_challenge(
        &h.call("GET", "DPoP", &token, Some(proof)).await,
        401,
        "invalid_dpop_proof",
    );
}

#[tokio::test]
async fn bound_token_with_bearer_scheme_is_refused() {
    let h = start().await;
    let key = DpopKey::p256();
    let token = h.token(&key).await;
    let proof = h.resource_proof(&key, &token).await;
    assert_dpop_challenge(
        &h.call("GET", "Bearer", &token, Some(proof)).await,
        401,
        "invalid_token",
    );
    assert_dpop_challenge(
        &h.call("GET", "Bearer", &token, None).await,
        401,
        "invalid_token",
    );
}

#[tokio::test]
async fn missing_token_gets_a_bare_challenge() {
    let h = start().await;
    let r = reply(h.http.get(h.scans_url())).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.header("www-authenticate"), "DPoP algs=\"ES256 EdDSA\"");
}

#[tokio::test]
async fn expired_token_is_refused() {
    let h = start().await;
    let key = DpopKey::p256();
    let token = h.token(&key).await;
    h.clock.advance(301);
    let nonce = h.nonce().await;
    let url = h.scans_url();
    let proof = key.proof(Proof {
        method: "GET",
        url: &url,
        nonce: Some(&nonce),
        token: Some(&token),
        iat: Some(NOW + 301),
        ..Default::default()
    });
    assert_dpop_challenge(
        &h.call("GET", "DPoP", &token, Some(proof)).await,
        401,
        "invalid_token",
    );
}

#[tokio::test]
async fn tampered_token_is_refused() {
    let h = start().await;
    let key = DpopKey::p256();
    let token = h.token(&key).await;
    let mut claims = claims_of(&token);
    claims["scope"] = json!("scanner.scans.read scanner.scans.enqueue");
    let parts: Vec<&str> = token.split('.').collect();
    let tampered = format!("{}.{}.{}", parts[0], b64(claims.to_string()), parts[2]);
    let proof = h.resource_proof(&key, &tampered).await;
    assert_dpop_challenge(
        &h.call("GET", "DPoP", &tampered, Some(proof)).await,
        401,
        "invalid_token",
    );
}

#[tokio::test]
async fn missing_scope_is_insufficient_scope_403() {
    let h = start().await;
    let key = DpopKey::p256();
    let token = h.token(&key).await;
    let nonce = h.nonce().await;
    let url = h.scans_url();
    let proof = key.proof(Proof {
        method: "POST",
        url: &url,
        nonce: Some(&nonce),
        token: Some(&token),
        ..Default::default()
    });
    let r = h.call("POST", "DPoP", &token, Some(proof)).await;
    assert_dpop_challenge(&r, 403, "insufficient_scope");
    assert!(
        r.header("www-authenticate")
            .contains("scope=\"scanner.scans.enqueue\"")
    );
}

#[tokio::test]
async fn proof_by_another_key_than_cnf_jkt_is_refused() {
    let h = start().await;
    let key = DpopKey::p256();
    let token = h.token(&key).await;
    let thief = DpopKey::p256();
    let proof = h.resource_proof(&thief, &token).await;
    assert_dpop_challenge(
        &h.call("GET", "DPoP", &token, Some(proof)).await,
        401,
        "invalid_dpop_proof",
    );
}

#[tokio::test]
async fn proof_without_ath_or_for_another_token_is_refused() {
    let h = start().await;
    let key = DpopKey::p256();
    let token = h.token(&key).await;
    let other = h.token(&key).await;
    let proof = h.resource_proof(&key, &other).await;
    assert_dpop_challenge(
        &h.call("GET", "DPoP", &token, Some(proof)).await,
        401,
        "invalid_dpop_proof",
    );
    let nonce = h.nonce().await;
    let url = h.scans_url();
    let proof = key.proof(Proof {
        method: "GET",
        url: &url,
        nonce: Some(&nonce),
        ..Default::default()
    });
    assert_dpop_challenge(
        &h.call("GET", "DPoP", &token, Some(proof)).await,
        401,
        "invalid_dpop_proof",
    );
}

#[tokio::test]
async fn proof_iat_outside_window_is_refused() {
    let h = start().await;
    let key = DpopKey::p256();
    let token = h.token(&key).await;
    let url = h.scans_url();
    for iat in [NOW - 61, NOW + 6] {
        let nonce = h.nonce().await;
        let proof = key.proof(Proof {
            method: "GET",
            url: &url,
            nonce: Some(&nonce),
            token: Some(&token),
            iat: Some(iat),
            ..Default::default()
        });
        assert_dpop_challenge(
            &h.call("GET", "DPoP", &token, Some(proof)).await,
            401,
            "invalid_dpop_proof",
        );
    }
    // The edges of the window are inside it.
    for iat in [NOW - 60, NOW + 5] {
        let nonce = h.nonce().await;
        let proof = key.proof(Proof {
            method: "GET",
            url: &url,
            nonce: Some(&nonce),
            token: Some(&token),
            iat: Some(iat),
            ..Default::default()
        });
        assert_eq!(h.call("GET", "DPoP", &token, Some(proof)).await.status, 200);
    }
}

#[tokio::test]
async fn resource_nonce_flow_use_dpop_nonce_then_retry_succeeds() {
    let h = start().await;
    let key = DpopKey::p256();
    let token = h.token(&key).await;
    let url = h.scans_url();
    let proof = key.proof(Proof {
        method: "GET",
        url: &url,
        token: Some(&token),
        ..Default::default()
    });
    let r = h.call("GET", "DPoP", &token, Some(proof)).await;
    assert_dpop_challenge(&r, 401, "use_dpop_nonce");
    let nonce = r.header("dpop-nonce").to_owned();
    assert!(!nonce.is_empty());
    let proof = key.proof(Proof {
        method: "GET",
        url: &url,
        nonce: Some(&nonce),
        token: Some(&token),
        ..Default::default()
    });
    assert_eq!(h.call("GET", "DPoP", &token, Some(proof)).await.status, 200);
    // A stale nonce is answered the same way.
    h.clock.advance(121);
    let proof = key.proof(Proof {
        method: "GET",
        url: &url,
        nonce: Some(&nonce),
        token: Some(&token),
        iat: Some(NOW + 121),
        ..Default::default()
    });
    assert_dpop_challenge(
        &h.call("GET", "DPoP", &token, Some(proof)).await,
        401,
        "use_dpop_nonce",
    );
}

#[tokio::test]
async fn challenge_stays_a_valid_quoted_string_for_attacker_chosen_alg() {
    let h = start().await;
    let key = DpopKey::p256();
    let token = h.token(&key).await;
    let url = h.scans_url();
    let claims = key.claims(&Proof {
        method: "GET",
        url: &url,
        token: Some(&token),
        ..Default::default()
    });
    let proof = key.sign_with(
        json!({"typ": "dpop+jwt", "alg": "HS256\"x", "jwk": key.public().to_jwk()}),
        claims,
    );
    let r = h.call("GET", "DPoP", &token, Some(proof)).await;
    assert_dpop_challenge(&r, 401, "invalid_dpop_proof");
    let challenge = r.header("www-authenticate");
    assert_eq!(challenge.matches('"').count() % 2, 0, "{challenge}");
    assert!(!challenge.contains('\\'), "{challenge}");
}
