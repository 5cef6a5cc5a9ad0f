//! `stella auth login|status|logout` and `stella scan --server` against a real `stella serve`
//! process on loopback (embedded defaults): the credentials file is private and holds the only
//! copy of the secret, refused credentials write nothing, and a remote scan prints the same
//! bytes and exits with the same code as a local scan over the same advisory store.

mod serve_support;

use serve_support::{Client, create_client, free_port, start_server, write_rootfs};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A client machine: the data directory (shared with the server, so both match against the
/// same advisory store) and a config directory of its own.
struct Machine {
    data: PathBuf,
    config: PathBuf,
}

impl Machine {
    fn stella(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_stella"));
        c.args(args)
            .env("STELLA_DATA_DIR", &self.data)
            .env("STELLA_CONFIG_DIR", &self.config)
            .env_remove("STELLA_CLIENT_SECRET")
            .env_remove("STELLA_CACHE_DIR")
            .env_remove("STELLA_MAX_LAYER_SIZE")
            .env_remove("SOURCE_DATE_EPOCH")
            .env_remove("RUST_LOG");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.stella(args).output().expect("run stella")
    }

    /// `stella auth login` with the secret on stdin.
    fn login(&self, server: &str, id: &str, secret: &str) -> Output {
        let mut child = self
            .stella(&login_args(server, id, &["--client-secret-stdin"]))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{secret}").unwrap();
        child.wait_with_output().unwrap()
    }

    fn credentials(&self) -> PathBuf {
        self.config.join("credentials.json")
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The arguments of `stella auth login --server SERVER --client-id ID EXTRA…`.
fn login_args<'a>(server: &'a str, id: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["auth", "login", "--server", server, "--client-id", id];
    args.extend_from_slice(extra);
    args
}

/// The arguments of `stella scan TARGET EXTRA…`, with `server` those of the remote scan
/// `stella scan --server SERVER TARGET EXTRA…`.
fn scan_args<'a>(server: Option<&'a str>, target: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["scan"];
    if let Some(server) = server {
        args.extend(["--server", server]);
    }
    args.push(target);
    args.extend_from_slice(extra);
    args
}

fn setup(tmp: &Path) -> (Machine, PathBuf) {
    let m = Machine {
        data: tmp.join("data"),
        config: tmp.join("config"),
    };
    let rootfs = tmp.join("rootfs");
    write_rootfs(&rootfs);
    (m, rootfs)
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn login_keeps_private_credentials_status_hides_them_and_logout_forgets_them() {
    let tmp = tempfile::tempdir().unwrap();
    let (m, _) = setup(tmp.path());
    let (id, secret) = create_client(&m.data, &[], "acme");
    let server = start_server(&m.data, &[], &[]);

    // A wrong secret: the RFC 6749 error code, a non-zero exit, nothing written.
    let bad = m.login(&server.base, &id, "not-the-secret");
    assert_eq!(bad.status.code(), Some(3), "{bad:?}");
    assert!(text(&bad.stderr).contains("invalid_client"), "{bad:?}");
    assert!(!m.credentials().exists());

    // No secret at all: a usage error naming both ways to give it.
    let none = m.run(&login_args(&server.base, &id, &[]));
    assert_eq!(none.status.code(), Some(2), "{none:?}");
    assert!(
        text(&none.stderr).contains("STELLA_CLIENT_SECRET"),
        "{none:?}"
    );

    // The secret as an argument is not an option at all.
    let arg = m.run(&login_args(
        &server.base,
        &id,
        &["--client-secret", &secret],
    ));
    assert_eq!(arg.status.code(), Some(2), "{arg:?}");

    let ok = m.login(&format!("{}/", server.base), &id, &secret);
    assert!(ok.status.success(), "{ok:?}");
    let printed = format!("{}{}", text(&ok.stdout), text(&ok.stderr));
    assert!(!printed.contains(&secret), "{printed}");
    assert!(printed.contains(&server.base), "{printed}");
    #[cfg(unix)]
    {
        assert_eq!(mode(&m.credentials()), 0o600);
        assert_eq!(mode(&m.config), 0o700);
    }
    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(m.credentials()).unwrap()).unwrap();
    let entry = &stored["servers"][&server.base];
    assert_eq!(entry["server"], server.base.as_str(), "{stored}");
    assert_eq!(entry["client_id"], id.as_str());
    assert_eq!(entry["client_secret"], secret.as_str());
    assert!(
        entry["dpop_key_pem"]
            .as_str()
            .unwrap()
            .contains("PRIVATE KEY")
    );
    // No temp file is left beside it.
    let files: Vec<_> = std::fs::read_dir(&m.config).unwrap().collect();
    assert_eq!(files.len(), 1, "{files:?}");

    // The environment works too, and a second login replaces the first (a new key).
    let again = m
        .stella(&login_args(&server.base, &id, &[]))
        .env("STELLA_CLIENT_SECRET", &secret)
        .output()
        .unwrap();
    assert!(again.status.success(), "{again:?}");
    let restored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(m.credentials()).unwrap()).unwrap();
    assert_eq!(restored["servers"].as_object().unwrap().len(), 1);
    assert_ne!(
        restored["servers"][&server.base]["dpop_key_pem"],
        entry["dpop_key_pem"]
    );

    for format in ["table", "json"] {
        let st = m.run(&["auth", "status", "--format", format]);
        assert!(st.status.success(), "{st:?}");
        let out = format!("{}{}", text(&st.stdout), text(&st.stderr));
        assert!(out.contains(&server.base) && out.contains(&id), "{out}");
        assert!(
            !out.contains(&secret) && !out.contains("PRIVATE KEY"),
            "{out}"
        );
    }

    let out = m.run(&["auth", "logout", "--server", &server.base]);
    assert!(out.status.success(), "{out:?}");
    let st = m.run(&["auth", "status", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
    assert_eq!(v["servers"], serde_json::json!([]), "{v}");

    // Logged out: a remote scan says how to log in.
    let scan = m.run(&scan_args(Some(&server.base), "dir:/nonexistent", &[]));
    assert_eq!(scan.status.code(), Some(2), "{scan:?}");
    assert!(
        text(&scan.stderr).contains(&format!("stella auth login --server {}", server.base)),
        "{scan:?}"
    );
}

#[test]
fn login_to_an_unreachable_server_names_the_url() {
    let tmp = tempfile::tempdir().unwrap();
    let (m, _) = setup(tmp.path());
    let base = format!("http://127.0.0.1:{}", free_port());
    let out = m.login(&base, "someone", "secret");
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(
        text(&out.stderr).contains(&format!("{base}/token")),
        "{out:?}"
    );
    assert!(!m.credentials().exists());
}

/// A Debian tracker extract for the two packages of `write_rootfs`: one open high, one medium
/// fixed in a later bookworm update (glibc), one open low (zlib).
fn import_tracker(m: &Machine) {
    let tracker = serde_json::json!({
        "glibc": {
            "CVE-2099-1001": {"description": "open, high", "scope": "local", "releases": {"bookworm": {
                "status": "open", "repositories": {"bookworm": "2.36-9+deb12u7"}, "urgency": "high"}}},
            "CVE-2099-1002": {"description": "fixed later", "releases": {"bookworm": {
                "status": "resolved", "repositories": {"bookworm": "2.36-9+deb12u8"},
                "fixed_version": "2.36-9+deb12u8", "urgency": "medium"}}}
        },
        "zlib": {
            "CVE-2099-1003": {"description": "open, low", "releases": {"bookworm": {
                "status": "open", "repositories": {"bookworm": "1:1.2.13.dfsg-1"}, "urgency": "low"}}}
        }
    });
    let file = m.data.join("tracker.json");
    std::fs::create_dir_all(&m.data).unwrap();
    std::fs::write(&file, serde_json::to_vec(&tracker).unwrap()).unwrap();
    let out = m.run(&["feeds", "import", "debian", file.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn remote_scans_print_the_same_bytes_and_exit_codes_as_local_scans() {
    let tmp = tempfile::tempdir().unwrap();
    let (m, rootfs) = setup(tmp.path());
    import_tracker(&m);
    let (id, secret) = create_client(&m.data, &[], "acme");
    let server = start_server(&m.data, &[], &[]);
    let login = m.login(&server.base, &id, &secret);
    assert!(login.status.success(), "{login:?}");
    let target = format!("dir:{}", rootfs.display());

    let both = |extra: &[&str]| -> (Output, Output) {
        let extra = [&["-q"][..], extra].concat();
        (
            m.run(&scan_args(None, &target, &extra)),
            m.run(&scan_args(Some(&server.base), &target, &extra)),
        )
    };

    let (local, _) = both(&["--format", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&local.stdout).unwrap();
    let found: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["vulnerability"].as_str().unwrap())
        .collect();
    assert!(
        found.contains(&"CVE-2099-1001") && found.contains(&"CVE-2099-1003"),
        "{found:?}"
    );

    let cases: &[&[&str]] = &[
        &["--format", "json"],
        &["--format", "table"],
        &["--format", "spdx"],
        &["--sbom-format", "spdx"],
        &["--format", "cyclonedx"],
        &["--format", "sarif"],
        &["--format", "json", "--severity", "low,medium"],
        &["--format", "table", "--ignore-unfixed"],
        &["--format", "json", "--no-vulns"],
    ];
    for extra in cases {
        let (local, remote) = both(extra);
        assert!(local.status.success(), "{extra:?}: {local:?}");
        assert!(remote.status.success(), "{extra:?}: {remote:?}");
        assert!(!local.stdout.is_empty(), "{extra:?}");
        assert_eq!(
            text(&local.stdout),
            text(&remote.stdout),
            "{extra:?}: local and remote outputs differ"
        );
        assert!(
            remote.stderr.is_empty(),
            "{extra:?}: {}",
            text(&remote.stderr)
        );
    }

    // SOURCE_DATE_EPOCH pins the time on either side alike.
    let pinned = |args: &[&str]| {
        m.stella(args)
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .output()
            .unwrap()
    };
    let cyclonedx = ["-q", "--format", "cyclonedx"];
    let local = pinned(&scan_args(None, &target, &cyclonedx));
    let remote = pinned(&scan_args(Some(&server.base), &target, &cyclonedx));
    assert_eq!(text(&local.stdout), text(&remote.stdout));
    assert!(text(&remote.stdout).contains("2023-11-14T22:13:20Z"));

    // --fail-on: the same exit codes and message.
    for (extra, code) in [
        (&["--fail-on", "high"][..], 1),
        (&["--fail-on", "critical"][..], 0),
        (&["--fail-on", "high", "--ignore-unfixed"][..], 0),
        (&["--fail-on", "low", "--severity", "low"][..], 1),
    ] {
        let mut args = extra.to_vec();
        args.extend(["--format", "json"]);
        let (local, remote) = both(&args);
        assert_eq!(local.status.code(), Some(code), "{extra:?}: {local:?}");
        assert_eq!(remote.status.code(), Some(code), "{extra:?}: {remote:?}");
        assert_eq!(text(&local.stdout), text(&remote.stdout), "{extra:?}");
    }

    // -o writes the same file.
    let (lf, rf) = (
        tmp.path().join("local.json"),
        tmp.path().join("remote.json"),
    );
    let to_file = |server: Option<&str>, file: &Path| {
        m.run(&scan_args(
            server,
            &target,
            &["-q", "-f", "json", "-o", file.to_str().unwrap()],
        ))
    };
    let (local, remote) = (to_file(None, &lf), to_file(Some(&server.base), &rf));
    assert!(local.status.success() && remote.status.success());
    assert_eq!(std::fs::read(&lf).unwrap(), std::fs::read(&rf).unwrap());

    // A sync while the server runs: the worker keeps its advisory index between jobs, and
    // must notice the new snapshot (the zlib record is withdrawn, a new one appears).
    let update = serde_json::json!({
        "zlib": {
            "CVE-2099-1004": {"description": "open, medium", "releases": {"bookworm": {
                "status": "open", "repositories": {"bookworm": "1:1.2.13.dfsg-1"}, "urgency": "medium"}}}
        }
    });
    let file = m.data.join("tracker-update.json");
    std::fs::write(&file, serde_json::to_vec(&update).unwrap()).unwrap();
    let out = m.run(&["feeds", "import", "debian", file.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let (local, remote) = both(&["--format", "json"]);
    assert_eq!(text(&local.stdout), text(&remote.stdout), "after the sync");
    assert!(
        text(&remote.stdout).contains("CVE-2099-1004"),
        "the new snapshot is used"
    );

    // Without -q, status changes are reported on stderr (not a terminal: plain lines).
    let out = m.run(&scan_args(Some(&server.base), &target, &["-f", "json"]));
    assert!(out.status.success(), "{out:?}");
    let err = text(&out.stderr);
    assert!(err.contains(": completed ("), "{err}");

    // Options about reading images on this machine are refused, not ignored.
    for extra in [
        &["--no-cache"][..],
        &["--platform", "linux/arm64"],
        &["--cache-dir", "/tmp/x"],
        &["--cpe"],
    ] {
        let out = m.run(&scan_args(Some(&server.base), &target, extra));
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {out:?}");
        assert!(
            text(&out.stderr).contains("cannot be combined with --server"),
            "{extra:?}: {out:?}"
        );
    }
}

#[test]
fn a_remote_scan_that_fails_on_the_server_exits_non_zero_with_its_error() {
    let tmp = tempfile::tempdir().unwrap();
    let (m, _) = setup(tmp.path());
    let (id, secret) = create_client(&m.data, &[], "acme");
    let server = start_server(&m.data, &["--worker-lease-secs".into(), "2".into()], &[]);
    assert!(m.login(&server.base, &id, &secret).status.success());
    let missing = tmp.path().join("no-such-rootfs");
    let target = format!("dir:{}", missing.display());

    let local = m.run(&scan_args(None, &target, &["-q"]));
    let remote = m.run(&scan_args(Some(&server.base), &target, &["-q"]));
    assert_eq!(remote.status.code(), local.status.code(), "{remote:?}");
    assert_ne!(remote.status.code(), Some(0));
    let err = text(&remote.stderr);
    assert!(
        err.contains("failed on") && err.contains(&server.base),
        "{err}"
    );
    // The server's own message, naming the path it could not read.
    assert!(err.contains(missing.to_str().unwrap()), "{err}");
    assert!(remote.stdout.is_empty());
}

/// A server with no worker (every role but scanner-worker): the job stays queued, and the
/// client gives up after --server-timeout with the job id and status instead of waiting forever.
#[test]
fn a_remote_scan_nobody_runs_ends_at_the_server_timeout() {
    let tmp = tempfile::tempdir().unwrap();
    let (m, rootfs) = setup(tmp.path());
    let (id, secret) = create_client(&m.data, &[], "acme");
    let roles = ["--role".into(), "gateway,authority,scanner-web".into()];
    let server = start_server(&m.data, &roles, &[]);
    assert!(m.login(&server.base, &id, &secret).status.success());
    let target = format!("dir:{}", rootfs.display());
    let started = std::time::Instant::now();
    let out = m.run(&scan_args(
        Some(&server.base),
        &target,
        &["-q", "--server-timeout", "2s"],
    ));
    let waited = started.elapsed();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let err = text(&out.stderr);
    assert!(
        err.contains("is still queued") && err.contains("--server-timeout"),
        "{err}"
    );
    assert!(waited >= std::time::Duration::from_secs(2), "{waited:?}");
    assert!(waited < std::time::Duration::from_secs(15), "{waited:?}");
    assert!(out.stdout.is_empty());
    let bad = m.run(&scan_args(
        Some(&server.base),
        &target,
        &["--server-timeout", "soon"],
    ));
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");

    // A long poll on a job nobody runs is held for the whole wait, then answers its status.
    let mut client = Client::login(&server.base, &id, &secret);
    let body = serde_json::json!({"image": target});
    let (_, job_id) = client.submit_accepted(&body, "long-poll");
    let asked = std::time::Instant::now();
    let r = client.get(&format!("/api/v1/scans/{job_id}?wait=2"));
    let held = asked.elapsed();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["status"], "queued");
    assert!(held >= std::time::Duration::from_secs(2), "{held:?}");
    assert!(held < std::time::Duration::from_secs(10), "{held:?}");
}

#[test]
fn a_rate_limited_remote_scan_waits_as_told_and_still_matches_the_local_scan() {
    let tmp = tempfile::tempdir().unwrap();
    let (m, rootfs) = setup(tmp.path());
    let (id, secret) = create_client(&m.data, &[], "acme");
    // One request a second per client after a burst of two: polling runs into 429 at once.
    let server = start_server(
        &m.data,
        &[],
        &[
            ("STELLA_RATE_LIMIT_PER_CLIENT", "60"),
            ("STELLA_RATE_LIMIT_BURST", "2"),
        ],
    );
    assert!(m.login(&server.base, &id, &secret).status.success());
    let target = format!("dir:{}", rootfs.display());
    let quiet_json = ["-q", "-f", "json"];
    let local = m.run(&scan_args(None, &target, &quiet_json));
    let remote = m
        .stella(&scan_args(Some(&server.base), &target, &quiet_json))
        .env("RUST_LOG", "stella=info")
        .output()
        .unwrap();
    assert!(remote.status.success(), "{remote:?}");
    assert!(
        text(&remote.stderr).contains("server busy; retrying"),
        "no 429 was met: {}",
        text(&remote.stderr)
    );
    assert_eq!(text(&local.stdout), text(&remote.stdout));
}
