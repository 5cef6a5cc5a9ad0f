//! Cross-checks against the real tools on this machine: thousands of generated version pairs
//! ordered by `dpkg --compare-versions` and by rpm's `rpm.vercmp` (rpm 4.18's `rpmverCmp`) must
//! be ordered the same way by `stella_version::compare`.
//!
//! When a tool is missing the test prints why and passes, unless `CI` is set: CI must have the
//! tools, so there a missing tool fails the test.

use std::cmp::Ordering;
use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use stella_version::{Ecosystem, compare};

/// A small deterministic generator, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

fn tool_available(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Returns false (after saying why) when the tool is absent outside CI; panics in CI.
fn require_tool(program: &str, args: &[&str]) -> bool {
    if tool_available(program, args) {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{program} is required in CI for the cross-check but is not available");
    }
    println!("skipped: {program} is not installed (set CI to make this a failure)");
    false
}

fn scratch_file(name: &str, contents: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "stella-version-{}-{}-{name}",
        std::process::id(),
        std::thread::current()
            .name()
            .unwrap_or("t")
            .replace("::", "_")
    ));
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(contents.as_bytes()).unwrap();
    path
}

/// A piece of a version: digits (sometimes with leading zeros), letters or a separator.
fn piece(rng: &mut Rng, separators: &[&str], letters: &[&str]) -> String {
    match rng.below(4) {
        0 | 1 => {
            let n = rng.pick(&["0", "1", "2", "9", "10", "01", "00", "123", "007"]);
            n.to_string()
        }
        2 => rng.pick(letters).to_string(),
        _ => rng.pick(separators).to_string(),
    }
}

/// Mutates a version slightly, so pairs are often equal or nearly equal.
fn mutate(rng: &mut Rng, v: &str, suffixes: &[&str]) -> String {
    match rng.below(5) {
        0 => format!("{v}{}", rng.pick(suffixes)),
        1 => {
            let cut = rng.below(v.len()).max(1);
            let mut s = v[..cut].to_string();
            s.push_str(rng.pick(suffixes));
            s.push_str(&v[cut..]);
            s
        }
        2 => v.replacen('0', "00", 1),
        3 => v.to_string(),
        _ => v.replacen('.', rng.pick(suffixes), 1),
    }
}

fn debian_version(rng: &mut Rng) -> String {
    let mut v = String::new();
    if rng.chance(20) {
        v.push_str(rng.pick(&["0:", "1:", "2:", "10:"]));
    }
    v.push_str(rng.pick(&["0", "1", "2", "10", "1.0", "2.4", "01"]));
    for _ in 0..rng.below(5) {
        v.push_str(&piece(
            rng,
            &[".", "+", "~", ".", "~"],
            &["a", "b", "rc", "Z", "dfsg", "git"],
        ));
    }
    if rng.chance(60) {
        v.push('-');
        v.push_str(rng.pick(&["0", "1", "2", "1ubuntu1", "1+deb12u1", "0~bpo1", "3build2"]));
    }
    v
}

fn dpkg_valid(v: &str) -> bool {
    // Keep to versions dpkg parses without a hard error (our parser refuses the rest, and
    // that is checked in the table tests).
    compare(Ecosystem::Debian, v, v).is_ok() && !v.ends_with('-')
}

#[test]
fn debian_order_agrees_with_dpkg_compare_versions() {
    if !require_tool("dpkg", &["--version"]) {
        return;
    }
    let mut rng = Rng(0x5eed_0001);
    let mut pairs = Vec::new();
    while pairs.len() < 3000 {
        let a = debian_version(&mut rng);
        let b = if rng.chance(50) {
            mutate(
                &mut rng,
                &a,
                &["~", "~rc1", "+1", ".0", "a", "-1", "+b1", "~~"],
            )
        } else {
            debian_version(&mut rng)
        };
        if dpkg_valid(&a) && dpkg_valid(&b) {
            pairs.push((a, b));
        }
    }
    let mut script = String::new();
    for (a, b) in &pairs {
        script.push_str(&format!(
            "if dpkg --compare-versions '{a}' lt '{b}' 2>/dev/null; then echo '<'; \
             elif dpkg --compare-versions '{a}' gt '{b}' 2>/dev/null; then echo '>'; \
             else echo '='; fi\n"
        ));
    }
    let path = scratch_file("dpkg.sh", &script);
    let out = Command::new("sh").arg(&path).output().unwrap();
    std::fs::remove_file(&path).ok();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(answers.len(), pairs.len());
    let mut mismatches = Vec::new();
    for ((a, b), want) in pairs.iter().zip(&answers) {
        let got = match compare(Ecosystem::Debian, a, b).unwrap() {
            Ordering::Less => "<",
            Ordering::Equal => "=",
            Ordering::Greater => ">",
        };
        if got != want {
            mismatches.push(format!("{a} {want} {b} (dpkg) but {got} (stella)"));
        }
    }
    println!("dpkg cross-check: {} pairs", pairs.len());
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

fn rpm_version(rng: &mut Rng) -> String {
    let mut v = String::new();
    if rng.chance(20) {
        v.push_str(rng.pick(&["0:", "1:", "2:", "00:", ":"]));
    }
    v.push_str(rng.pick(&["0", "1", "2", "10", "1.0", "2.4", "01", "a", "1a"]));
    for _ in 0..rng.below(5) {
        v.push_str(&piece(
            rng,
            &[".", "_", "+", "~", "^", ".", "~", "^", "-"],
            &["a", "b", "rc", "Z", "git", "el", "fc"],
        ));
    }
    if rng.chance(60) {
        v.push('-');
        v.push_str(rng.pick(&["0", "1", "2.el9", "1.fc40", "0.rc1", "3~beta", "1^post", ""]));
    }
    v
}

#[test]
fn rpm_order_agrees_with_rpm_vercmp() {
    if !require_tool("rpm", &["--version"]) {
        return;
    }
    let mut rng = Rng(0x5eed_0002);
    let mut pairs = Vec::new();
    while pairs.len() < 5000 {
        let a = rpm_version(&mut rng);
        let b = if rng.chance(50) {
            mutate(
                &mut rng,
                &a,
                &["~", "^", "~rc1", "^git1", ".0", "a", "-1", "_"],
            )
        } else {
            rpm_version(&mut rng)
        };
        if !a.is_empty() && !b.is_empty() {
            pairs.push((a, b));
        }
    }
    let list: String = pairs.iter().map(|(a, b)| format!("{a}\t{b}\n")).collect();
    let path = scratch_file("rpm.txt", &list);
    let script = format!(
        "%{{lua: for line in io.lines('{}') do local a, b = line:match('^([^\\t]*)\\t(.*)$'); \
         print(rpm.vercmp(a, b) .. '\\n') end}}",
        path.display()
    );
    let out = Command::new("rpm")
        .arg("--eval")
        .arg(&script)
        .output()
        .unwrap();
    std::fs::remove_file(&path).ok();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    assert_eq!(answers.len(), pairs.len(), "rpm printed {answers:?}");
    let mut mismatches = Vec::new();
    for ((a, b), want) in pairs.iter().zip(&answers) {
        let got = match compare(Ecosystem::Rpm, a, b).unwrap() {
            Ordering::Less => "-1",
            Ordering::Equal => "0",
            Ordering::Greater => "1",
        };
        if got != want {
            mismatches.push(format!(
                "vercmp({a}, {b}) = {want} (rpm) but {got} (stella)"
            ));
        }
    }
    println!("rpm cross-check: {} pairs", pairs.len());
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
