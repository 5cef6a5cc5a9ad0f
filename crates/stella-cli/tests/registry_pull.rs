//! `stella scan docker://…` of the real bookworm `whiteout` image (tests/images), pulled from real
//! registries on loopback (Debian's `docker-registry`, see `stella-testkit`): credentials from
//! `$REGISTRY_AUTH_FILE` for HTTP Basic and bearer-token auth, refusal without them, a warm rescan
//! that asks the registry for no layer, `--platform` against an image index, and SPDX equal to
//! the OCI layout's but for the image's name.
//!
//! Each test starts its own registries (killed on drop) and pushes what it needs with skopeo.
//! Without the tools or the test images a test is skipped with a printed reason, unless `CI` is
//! set, where that fails.

mod common;

use common::{inventory_tsv, read_tsv, stella, test_images};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};
use stella_testkit::{
    IssuerConfig, Registries, build_multi_platform_layout, layout_manifest_digest, output_within,
    registry_tools_available,
};

/// Where the whiteout image is pushed.
const WHITEOUT: &str = "stella-test/bookworm:whiteout";
/// A cold scan reads a 50 MB gzip layer: ample for a debug build on a busy machine.
const SCAN_LIMIT: Duration = Duration::from_secs(300);

type TestImages = BTreeMap<String, String>;

/// Fresh registries serving `oci:OCI_LAYOUT:whiteout` as [`WHITEOUT`] (pushed with its digests,
/// so they serve the layout's own manifest), and the scanning side: a data directory, which
/// holds the layer cache, and an auth file with the registries' credentials.
struct Fixture {
    regs: Registries,
    img: &'static TestImages,
    data: tempfile::TempDir,
}

impl Fixture {
    /// `None` to skip (see the module docs).
    fn start() -> Option<Fixture> {
        if !registry_tools_available() {
            return None;
        }
        let img = test_images()?;
        let regs = Registries::start();
        regs.push(
            Path::new(&img["OCI_LAYOUT"]),
            &img["OCI_TAG_WHITEOUT"],
            WHITEOUT,
            &[],
        );
        let data = tempfile::tempdir().unwrap();
        regs.write_auth_file(&data.path().join("auth.json"));
        Some(Fixture { regs, img, data })
    }

    /// `stella scan ARGS` with the registries' credentials.
    fn scan(&self, args: &[&str]) -> Output {
        scan(self.data.path(), &self.data.path().join("auth.json"), args)
    }

    /// `stella scan ARGS` with no credentials at all.
    fn scan_anonymously(&self, args: &[&str]) -> Output {
        let no_auth = self.data.path().join("no-such-auth.json");
        scan(self.data.path(), &no_auth, args)
    }
}

/// `docker://HOST/stella-test/bookworm:whiteout`.
fn whiteout_at(host: &str) -> String {
    format!("docker://{host}/{WHITEOUT}")
}

/// Runs `stella scan ARGS -q` with its data directory (and layer cache) in `data`, and with
/// `auth_file` as the only place credentials may come from (a missing file: none at all; the
/// invoking user's docker config is out of reach).
fn scan(data: &Path, auth_file: &Path, args: &[&str]) -> Output {
    output_within(
        stella()
            .env("STELLA_DATA_DIR", data)
            .env("REGISTRY_AUTH_FILE", auth_file)
            .env_remove("DOCKER_CONFIG")
            .env("HOME", data)
            .arg("scan")
            .args(args)
            .arg("-q"),
        SCAN_LIMIT,
    )
}

/// The stdout of a scan that must have succeeded.
fn stdout_of<'a>(o: &'a Output, target: &str) -> &'a [u8] {
    assert!(
        o.status.success(),
        "{target}: {}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    &o.stdout
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("JSON output")
}

/// The checks tests/real_images.rs makes of every transport's scan of `whiteout`, and that the
/// report names the registry image and the manifest the layout has.
fn assert_whiteout_report(report: &[u8], img: &TestImages, host: &str) {
    assert_eq!(
        inventory_tsv(report),
        read_tsv(&img["EXPECTED_WHITEOUT"]),
        "inventory of docker://{host}/{WHITEOUT}"
    );
    let v = json(report);
    assert_eq!(v["distro"]["id"], "debian");
    assert_eq!(v["distro"]["versionId"], "12");
    let image = &v["image"];
    assert_eq!(image["transport"], "docker");
    assert_eq!(image["reference"], format!("docker://{host}/{WHITEOUT}"));
    assert_eq!(
        image["manifestDigest"],
        layout_manifest_digest(Path::new(&img["OCI_LAYOUT"]), &img["OCI_TAG_WHITEOUT"])
    );
}

/// Exit code 3, nothing on stdout, and an error naming the image and the refusal.
fn assert_unauthorized(o: &Output, host: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(o.stdout.is_empty(), "no report without the image");
    assert!(err.contains("unauthorized"), "{err}");
    assert!(err.contains(&format!("{host}/{WHITEOUT}")), "{err}");
}

#[test]
fn basic_auth_pull_inventory_equals_dpkg_query_and_needs_the_credentials() {
    let Some(fx) = Fixture::start() else { return };
    let host = fx.regs.basic();
    let target = whiteout_at(host);

    let o = fx.scan(&[&target, "--format", "json"]);
    assert_whiteout_report(stdout_of(&o, &target), fx.img, host);

    let o = fx.scan_anonymously(&[&target, "--format", "json"]);
    assert_unauthorized(&o, host);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(r#"Basic realm="stella-test""#),
        "the error shows the registry's challenge"
    );
}

#[test]
fn token_auth_pull_inventory_equals_dpkg_query_and_needs_the_credentials() {
    let Some(mut fx) = Fixture::start() else {
        return;
    };
    let issuer = fx.regs.start_token_issuer(IssuerConfig::default());
    let host = fx.regs.token();
    let target = whiteout_at(host);

    let o = fx.scan(&[&target, "--format", "json"]);
    assert_whiteout_report(stdout_of(&o, &target), fx.img, host);
    // The pull went through the token service, with the user's credentials.
    let token_requests = issuer.server.requests();
    assert!(issuer.issued() >= 1);
    assert!(
        token_requests.iter().all(|r| r
            .header("authorization")
            .is_some_and(|a| a.starts_with("Basic "))),
        "{token_requests:?}"
    );

    // Without credentials the service hands out a token that grants nothing.
    let o = fx.scan_anonymously(&[&target, "--format", "json"]);
    assert_unauthorized(&o, host);
    assert!(
        issuer.server.requests()[token_requests.len()..]
            .iter()
            .any(|r| r.header("authorization").is_none()),
        "an anonymous token was asked for"
    );
}

/// The proof: after the first scan every layer blob is deleted from the registry's storage, so
/// the registry can only answer 404 for them; the rescan still succeeds with the same bytes, the
/// access logs show no request for a layer, and the same scan without the cache fails.
#[test]
fn warm_rescan_from_a_registry_fetches_no_layer_and_gives_identical_bytes() {
    let Some(fx) = Fixture::start() else { return };
    let regs = &fx.regs;
    let target = whiteout_at(regs.basic());

    let cold = fx.scan(&[&target, "--format", "json"]);
    let cold = stdout_of(&cold, &target).to_vec();
    let layers: Vec<String> = json(&cold)["image"]["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(layers.len(), 2);
    // The access log is written as each response completes; let the last line land.
    let fetched = |d: &str| regs.blob_requests(d);
    wait_until(|| layers.iter().all(|d| fetched(d) >= 1));
    let cold_requests: Vec<usize> = layers.iter().map(|d| fetched(d)).collect();
    assert_eq!(
        cold_requests,
        [1, 1],
        "the cold scan fetches each layer once"
    );

    for d in &layers {
        std::fs::remove_file(regs.blob_data(d)).unwrap();
    }
    let warm = fx.scan(&[&target, "--format", "json"]);
    assert_eq!(
        stdout_of(&warm, "warm rescan, layers deleted from the registry"),
        cold,
        "the warm rescan's report differs from the cold scan's"
    );
    let warm_requests: Vec<usize> = layers.iter().map(|d| fetched(d)).collect();
    assert_eq!(
        warm_requests, cold_requests,
        "the warm rescan asked for a layer"
    );

    // The control: without the cache the layers are needed, and the registry no longer has them.
    let o = fx.scan(&[&target, "--format", "json", "--no-cache"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(layers.iter().any(|d| err.contains(d.as_str())), "{err}");
}

#[test]
fn platform_flag_picks_from_a_registry_index_or_lists_what_it_has() {
    if !registry_tools_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let regs = Registries::start();
    let layout = build_multi_platform_layout(dir.path());
    regs.push(&layout, "multi", "stella/hello:multi", &[]);
    let target = format!("docker://{}/stella/hello:multi", regs.anon());
    let no_auth = dir.path().join("no-such-auth.json");

    for (platform, arch, tag) in [
        ("linux/arm64", "arm64", "arm64"),
        ("linux/arm64/v8", "arm64", "arm64"),
        ("linux/amd64", "amd64", "amd64"),
    ] {
        let args = [target.as_str(), "--format", "json", "--platform", platform];
        let o = scan(dir.path(), &no_auth, &args);
        let image = &json(stdout_of(&o, platform))["image"];
        assert_eq!(image["architecture"], arch, "{platform}");
        assert_eq!(image["os"], "linux", "{platform}");
        assert_eq!(
            image["manifestDigest"],
            layout_manifest_digest(&layout, tag),
            "{platform}"
        );
    }

    let args = [&target, "--format", "json", "--platform", "linux/s390x"];
    let o = scan(dir.path(), &no_auth, &args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(o.stdout.is_empty());
    for needle in [
        "linux/s390x",
        "linux/amd64, linux/arm64/v8",
        "stella/hello:multi",
    ] {
        assert!(err.contains(needle), "{err:?} should name {needle}");
    }
}

#[test]
fn registry_spdx_equals_oci_layout_spdx_but_for_the_image_name() {
    let Some(fx) = Fixture::start() else { return };
    let pulled = whiteout_at(fx.regs.basic());
    let local = format!(
        "oci:{}:{}",
        fx.img["OCI_LAYOUT"], fx.img["OCI_TAG_WHITEOUT"]
    );

    let o = fx.scan(&[&pulled, "--format", "spdx"]);
    let mut from_registry = json(stdout_of(&o, &pulled));
    // --no-cache: the layout's layers are read, not what the pull left in the cache.
    let o = fx.scan(&[&local, "--format", "spdx", "--no-cache"]);
    let mut from_layout = json(stdout_of(&o, &local));

    let registry_names = take_image_names(&mut from_registry);
    let layout_names = take_image_names(&mut from_layout);
    assert_eq!(registry_names[0], pulled.as_str());
    assert_eq!(layout_names[0], local.as_str());
    assert_same_json(
        &from_registry,
        &from_layout,
        "SPDX of the pull and of the layout",
    );
}

/// Takes out of an SPDX document what names the image rather than describes it, and returns
/// it: the document's name and namespace, and the image package's name, purl (it carries the
/// repository URL) and `stella:image:{reference,transport,name}` annotations.
fn take_image_names(doc: &mut Value) -> Vec<Value> {
    let mut taken = vec![doc["name"].take(), doc["documentNamespace"].take()];
    let image = doc["packages"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|p| p["SPDXID"] == "SPDXRef-Image")
        .expect("the image package");
    taken.push(image["name"].take());
    taken.push(image["externalRefs"].take());
    image["annotations"].as_array_mut().unwrap().retain(|a| {
        let comment = a["comment"].as_str().unwrap_or_default();
        let names = ["reference", "transport", "name"]
            .iter()
            .any(|k| comment.starts_with(&format!("stella:image:{k}=")));
        if names {
            taken.push(a["comment"].clone());
        }
        !names
    });
    assert_eq!(taken.len(), 7, "{taken:?}");
    taken
}

/// Equal JSON, or a panic showing where the two first differ (whole SBOMs are too long to read).
fn assert_same_json(a: &Value, b: &Value, what: &str) {
    if a == b {
        return;
    }
    let (a, b) = (
        serde_json::to_string_pretty(a).unwrap(),
        serde_json::to_string_pretty(b).unwrap(),
    );
    let (a, b): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let first = (0..a.len().max(b.len()))
        .find(|&i| a.get(i) != b.get(i))
        .unwrap_or(0);
    let around =
        |l: &[&str]| l[first.saturating_sub(5).min(l.len())..(first + 5).min(l.len())].join("\n");
    panic!(
        "{what} differ at line {first}:\n{}\n----- versus -----\n{}",
        around(&a),
        around(&b)
    );
}

/// Waits (up to 10 s) for `done`, for what a server records just after answering.
fn wait_until(done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting");
        std::thread::sleep(Duration::from_millis(20));
    }
}
