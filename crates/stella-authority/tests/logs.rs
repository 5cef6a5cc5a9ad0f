//! Secrets never reach logs; alone in its binary so no other test's thread shares tracing's
//! callsite cache with the thread-local subscriber.

mod common;

use std::sync::{Arc, Mutex};

use common::*;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs on the test's single thread (current-thread runtime), so the thread-local subscriber
/// sees the server's logs too.
#[tokio::test]
async fn secrets_never_reach_logs_or_debug_output() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let h = start().await;
    let key = DpopKey::p256();
    let token = h.token(&key).await;
    h.token_request(
        ClientAuth::Basic(&h.client_id, "wrong-secret-value"),
        "",
        None,
    )
    .await;
    h.token_request(
        ClientAuth::Form(&h.client_id, h.secret.expose()),
        "&scope=nope",
        None,
    )
    .await;
    let proof = h.resource_proof(&key, &token).await;
    h.call("GET", "DPoP", &token, Some(proof)).await;

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("token issued"), "logging is captured: {logs}");
    assert!(!logs.contains(h.secret.expose()));
    assert!(!logs.contains("wrong-secret-value"));
    assert!(!logs.contains(&token));
    assert!(!format!("{:?}", h.secret).contains(h.secret.expose()));
    assert!(!format!("{:?}", h.authority).contains("PRIVATE"));
}
