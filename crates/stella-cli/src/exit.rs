//! Exit codes, as listed in `stella scan --help`.

/// The command ran and wrote its output.
pub const OK: u8 = 0;
/// `stella scan --fail-on`: a finding at or above the threshold remains. `explain` and
/// `advisory show`: nothing matched the id.
pub const FINDINGS: u8 = 1;
pub const NOT_FOUND: u8 = 1;
/// The image, archive or directory could not be read: it is missing, not an image, corrupt,
/// or hostile (a path escaping the root, a digest mismatch, a decompression bomb).
pub const BAD_INPUT: u8 = 3;
/// The output could not be written.
pub const OUTPUT_FAILED: u8 = 4;

/// The exit-code table printed by `--help` (a macro so `concat!` can splice it into the long
/// help text).
#[macro_export]
macro_rules! exit_codes_help {
    () => {
        "Exit codes:
  0  the scan completed and its output was written
  1  --fail-on: a finding at or above the given severity remains
  2  the command line is invalid
  3  the target could not be read: missing, not an image, unreachable, or corrupt or
     hostile content (path escaping the root, digest mismatch, decompression bomb, ...);
     or --fail-on / --format sarif with no advisories synced
  4  the output could not be written (nothing partial is left behind)"
    };
}

/// An error with the exit code it maps to.
pub struct CliError {
    pub code: u8,
    pub source: anyhow::Error,
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.source)
    }
}

impl CliError {
    pub fn new(code: u8, source: impl Into<anyhow::Error>) -> Self {
        CliError {
            code,
            source: source.into(),
        }
    }
}
