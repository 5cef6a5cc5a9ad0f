//! `stella version compare|satisfies`, run as the real binary.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn stella(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stella"))
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn compare_prints_the_order_symbol() {
    for (eco, a, b, want) in [
        ("Debian", "1.0~rc1", "1.0", "<\n"),
        ("Red Hat", "1.0^git1", "1.0", ">\n"),
        ("Maven", "1.0-RC1", "1.0-cr1", "=\n"),
        ("crates.io", "1.0.0-alpha", "1.0.0", "<\n"),
    ] {
        let o = stella(&["version", "compare", eco, a, b], None);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{eco} {a} {b}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(stdout(&o), want, "{eco} {a} {b}");
    }
}

#[test]
fn compare_reads_pairs_from_stdin_and_goes_on_after_a_bad_line() {
    let o = stella(
        &["version", "compare", "PyPI", "-"],
        Some("1.0a1\t1.0\nno tab here\n1.0\t1.0.0\n1.0+local\t1.0\r\n"),
    );
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert_eq!(lines[0], "<");
    assert!(lines[1].starts_with("error: "), "{out}");
    assert_eq!(lines[2], "=");
    assert_eq!(lines[3], ">");
    assert_ne!(
        o.status.code(),
        Some(0),
        "a failed line must make the exit code non-zero"
    );
}

#[test]
fn compare_from_stdin_exits_zero_when_every_line_compares() {
    let o = stella(
        &["version", "compare", "npm", "-"],
        Some("1.2.3\t1.2.4\n2.0.0\t1.9.9\n"),
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(stdout(&o), "<\n>\n");
}

#[test]
fn satisfies_prints_true_or_false() {
    for (eco, v, r, want) in [
        ("npm", "1.2.3-beta.2", ">1.2.3-alpha.1", "true\n"),
        ("npm", "3.4.5-alpha", ">1.2.3-alpha", "false\n"),
        ("Maven", "2.0", "[1.0,2.0)", "false\n"),
        ("Debian", "2.0~rc1", ">= 1.2-3, << 2.0", "true\n"),
        ("PyPI", "1.4.9", "~=1.4.5", "true\n"),
    ] {
        let o = stella(&["version", "satisfies", eco, v, r], None);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{eco} {v} {r}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(stdout(&o), want, "{eco} {v} {r}");
    }
}

#[test]
fn invalid_input_is_a_clear_error_with_a_non_zero_exit() {
    let o = stella(&["version", "compare", "npm", "1.2", "1.2.3"], None);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains("npm") && err.contains("\"1.2\""), "{err}");
    assert!(stdout(&o).is_empty());

    let o = stella(&["version", "satisfies", "Maven", "1.0", "[1.0"], None);
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("[1.0"));

    let o = stella(&["version", "compare", "Hackage", "1", "2"], None);
    assert_eq!(
        o.status.code(),
        Some(2),
        "an unknown ecosystem is a usage error"
    );
    assert!(!String::from_utf8_lossy(&o.stderr).contains("panicked"));
}
