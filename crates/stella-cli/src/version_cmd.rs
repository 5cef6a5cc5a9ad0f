//! `stella version`: order versions and test ranges the way each ecosystem's own tool does.

use crate::exit::{self, CliError};
use clap::{Args, Subcommand};
use std::io::{BufRead, BufWriter, Write};
use std::process::ExitCode;
use stella_version::{Ecosystem, compare, satisfies};

const ECOSYSTEMS_HELP: &str = "Ecosystems (OSV names, case-insensitive, a `:release` suffix is ignored):
  Debian, Ubuntu                         dpkg order; ranges like \">= 1.2-3, << 2.0\"
  Alpine                                 apk order; ranges with <, <=, =, >=, >, ~
  Red Hat, AlmaLinux, Rocky Linux, SUSE  rpm order; ranges with <, <=, =, >=, >
  npm                                    node-semver ranges: ^1.2, ~1.2.3, 1.x, 1.0 - 2.0, ... || ...
  PyPI                                   PEP 440 specifiers: >=1.0,!=1.3.*,<2, ~=1.4.5
  Maven                                  version ranges: [1.0,2.0), (,1.0],[1.2,)
  RubyGems                               requirements: ~> 1.2, >= 1.2.3
  Go                                     comparators: >= 1.2.0, < 1.4.0
  NuGet                                  intervals: [1.0,2.0), or 1.0 meaning >= 1.0
  Packagist                              Composer constraints: ^1.2, ~1.2, >=1.0 <2.0 || ^3
  crates.io                              Cargo requirements: ^1.2, >=1, <2";

#[derive(Args)]
#[command(after_help = ECOSYSTEMS_HELP)]
pub struct VersionArgs {
    #[command(subcommand)]
    pub command: VersionCommand,
}

#[derive(Subcommand)]
pub enum VersionCommand {
    /// Order two versions: prints `<`, `=` or `>`.
    #[command(after_help = concat!(
"With `-` in place of A B, reads `A<TAB>B` lines from stdin and prints one result a line; a line
that cannot be compared prints `error: ...` and the rest go on, and the exit code is non-zero
at the end if any line failed.

Examples:
  stella version compare Debian 1.0~rc1 1.0          # <
  stella version compare 'Red Hat' 1.0^git1 1.0      # >
  printf '1.0a1\\t1.0\\n' | stella version compare PyPI -

Exit codes:
  0  every comparison succeeded
  2  the command line is invalid (unknown ecosystem, missing arguments)
  3  a version is invalid for the ecosystem
  4  the output could not be written"))]
    Compare {
        /// The ecosystem whose order to use (see `stella version --help`).
        #[arg(value_parser = parse_ecosystem)]
        ecosystem: Ecosystem,
        /// The first version, or `-` to read `A<TAB>B` lines from stdin.
        a: String,
        /// The second version (absent with `-`).
        b: Option<String>,
    },
    /// Test whether a version is inside a range: prints `true` or `false`.
    #[command(after_help = "Examples:
  stella version satisfies npm 1.2.3-beta.2 '>1.2.3-alpha.1'   # true
  stella version satisfies Maven 2.0 '[1.0,2.0)'               # false
  stella version satisfies Debian 2.0~rc1 '>= 1.2-3, << 2.0'   # true

Exit codes:
  0  the answer was printed
  2  the command line is invalid
  3  the version or the range is invalid for the ecosystem
  4  the output could not be written")]
    Satisfies {
        /// The ecosystem whose range syntax and order to use.
        #[arg(value_parser = parse_ecosystem)]
        ecosystem: Ecosystem,
        // Not called `version`: that id belongs to the propagated `--version` flag.
        /// The version to test.
        #[arg(value_name = "VERSION")]
        candidate: String,
        /// The range, in the ecosystem's own syntax.
        range: String,
    },
}

fn parse_ecosystem(s: &str) -> Result<Ecosystem, String> {
    s.parse::<Ecosystem>().map_err(|e| e.to_string())
}

fn symbol(o: std::cmp::Ordering) -> &'static str {
    match o {
        std::cmp::Ordering::Less => "<",
        std::cmp::Ordering::Equal => "=",
        std::cmp::Ordering::Greater => ">",
    }
}

fn output_failed(e: std::io::Error) -> CliError {
    CliError::new(
        exit::OUTPUT_FAILED,
        anyhow::Error::new(e).context("writing to stdout"),
    )
}

pub fn run(args: VersionArgs) -> Result<ExitCode, CliError> {
    match args.command {
        VersionCommand::Compare { ecosystem, a, b } => match b {
            Some(b) => {
                if a == "-" {
                    return Err(CliError::new(
                        2,
                        anyhow::anyhow!("`-` reads pairs from stdin and takes no second version"),
                    ));
                }
                let o =
                    compare(ecosystem, &a, &b).map_err(|e| CliError::new(exit::BAD_INPUT, e))?;
                println_checked(symbol(o))?;
                Ok(ExitCode::from(exit::OK))
            }
            None if a == "-" => compare_stdin(ecosystem),
            None => Err(CliError::new(
                2,
                anyhow::anyhow!(
                    "compare needs two versions, or `-` to read A<TAB>B lines from stdin"
                ),
            )),
        },
        VersionCommand::Satisfies {
            ecosystem,
            candidate,
            range,
        } => {
            let yes = satisfies(ecosystem, &candidate, &range)
                .map_err(|e| CliError::new(exit::BAD_INPUT, e))?;
            println_checked(if yes { "true" } else { "false" })?;
            Ok(ExitCode::from(exit::OK))
        }
    }
}

fn println_checked(s: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{s}")
        .and_then(|()| out.flush())
        .map_err(output_failed)
}

/// One answer per input line, in order. Output is flushed whenever the input has no more
/// buffered lines, so a program driving `stella` line by line gets each answer at once.
fn compare_stdin(ecosystem: Ecosystem) -> Result<ExitCode, CliError> {
    // Our own buffer, to see whether more input is already waiting without blocking on it.
    let mut input = std::io::BufReader::new(std::io::stdin().lock());
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut line = Vec::new();
    let (mut lineno, mut failed) = (0u64, 0u64);
    loop {
        line.clear();
        let n = input.read_until(b'\n', &mut line).map_err(|e| {
            CliError::new(
                exit::BAD_INPUT,
                anyhow::Error::new(e).context("reading stdin"),
            )
        })?;
        if n == 0 {
            break;
        }
        lineno += 1;
        let answer = answer_line(ecosystem, &line);
        match &answer {
            Ok(s) => writeln!(out, "{s}"),
            Err(e) => {
                failed += 1;
                writeln!(out, "error: line {lineno}: {e}")
            }
        }
        .map_err(output_failed)?;
        if input.buffer().is_empty() {
            out.flush().map_err(output_failed)?;
        }
    }
    out.flush().map_err(output_failed)?;
    if failed > 0 {
        eprintln!("error: {failed} of {lineno} lines could not be compared");
        return Ok(ExitCode::from(exit::BAD_INPUT));
    }
    Ok(ExitCode::from(exit::OK))
}

fn answer_line(ecosystem: Ecosystem, raw: &[u8]) -> Result<&'static str, String> {
    let text = std::str::from_utf8(raw).map_err(|_| "not valid UTF-8".to_string())?;
    let text = text.strip_suffix('\n').unwrap_or(text);
    let text = text.strip_suffix('\r').unwrap_or(text);
    let (a, b) = text
        .split_once('\t')
        .ok_or_else(|| "expected two versions separated by a tab".to_string())?;
    compare(ecosystem, a, b)
        .map(symbol)
        .map_err(|e| e.to_string())
}
