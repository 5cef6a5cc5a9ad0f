//! `stella auth client create` against the embedded database: credentials printed once, the
//! secret stored only hashed, and the record readable by the server's Db port.

mod common;

use common::run;

#[test]
fn a_created_client_is_stored_with_a_hashed_secret_and_its_scopes() {
    let data = tempfile::tempdir().unwrap();
    let out = run(
        data.path(),
        &[
            "auth",
            "client",
            "create",
            "--tenant",
            "acme",
            "--scopes",
            "scanner.scans.read,scanner.scans.enqueue",
            "--format",
            "json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let creds: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let keys: Vec<&String> = creds.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["client_id", "client_secret"]);
    let id = creds["client_id"].as_str().unwrap().to_string();
    let secret = creds["client_secret"].as_str().unwrap().to_string();
    assert!(secret.len() >= 43, "a 256-bit secret");

    let db_path = data.path().join("stella.sqlite");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = rt
        .block_on(async {
            let db = stella_store::db::open_db(&format!("sqlite://{}", db_path.display()))
                .await
                .unwrap();
            db.get_client(&id).await.unwrap()
        })
        .expect("the client is in the database");
    assert_eq!(client.tenant, "acme");
    assert_eq!(
        client.scopes,
        ["scanner.scans.enqueue", "scanner.scans.read"]
    );
    assert!(stella_authority::verify_secret(
        &secret,
        &client.secret_hash
    ));
    assert!(!stella_authority::verify_secret(
        "not-the-secret",
        &client.secret_hash
    ));
    // The secret itself is nowhere in the database files.
    for entry in std::fs::read_dir(data.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap_or_default();
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "the secret is stored in clear"
        );
    }
    // A second client of the same tenant gets other credentials.
    let again = run(
        data.path(),
        &[
            "auth",
            "client",
            "create",
            "--tenant",
            "acme",
            "--scopes",
            "scanner.scans.read",
            "-f",
            "json",
        ],
    );
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_ne!(again["client_id"], creds["client_id"]);
    assert_ne!(again["client_secret"], creds["client_secret"]);
}

#[test]
fn unknown_scopes_and_bad_tenants_are_usage_errors() {
    let data = tempfile::tempdir().unwrap();
    let out = run(
        data.path(),
        &[
            "auth",
            "client",
            "create",
            "--tenant",
            "acme",
            "--scopes",
            "root.everything",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("root.everything"));
    let out = run(
        data.path(),
        &[
            "auth",
            "client",
            "create",
            "--tenant",
            "../x",
            "--scopes",
            "scanner.scans.read",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        !data.path().join("stella.sqlite").exists(),
        "nothing written"
    );
}
