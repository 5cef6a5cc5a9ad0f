//! `stella auth client create`: register an OAuth client of a tenant and print its
//! credentials once.

use crate::exit::{self, CliError};
use crate::feeds::OutputFormat;
use clap::{Args, Subcommand};
use std::process::ExitCode;
use stella_store::DataDir;

/// Scopes a client may hold: one pair per module that has an API.
pub const KNOWN_SCOPES: &[&str] = &[
    "scanner.scans.enqueue",
    "scanner.scans.read",
    "advisories.read",
    "advisories.write",
];

#[derive(Args)]
pub struct AuthArgs {
    #[command(subcommand)]
    command: AuthCommand,
}

#[derive(Subcommand)]
enum AuthCommand {
    /// Manage OAuth clients (client credentials with DPoP-bound tokens).
    #[command(subcommand)]
    Client(ClientCommand),
}

#[derive(Subcommand)]
enum ClientCommand {
    /// Create a client of a tenant; its secret is printed once and stored only hashed.
    #[command(
        after_long_help = "Scopes: scanner.scans.enqueue, scanner.scans.read, advisories.read,
advisories.write. The tenant is created when it does not exist.

The database is the one `stella serve` uses: STELLA_DATABASE_URL / --database-url
(postgres://… or sqlite://PATH), by default sqlite://<data dir>/stella.sqlite. It can be run
while the server runs.

Examples:
  stella auth client create --tenant acme --scopes scanner.scans.enqueue,scanner.scans.read
  stella auth client create --tenant acme --scopes scanner.scans.read --format json"
    )]
    Create(CreateArgs),
}

#[derive(Args)]
struct CreateArgs {
    /// The tenant the client acts for.
    #[arg(long)]
    tenant: String,
    /// Scopes the client may request (comma-separated).
    #[arg(long, value_delimiter = ',', required = true)]
    scopes: Vec<String>,
    /// The database (postgres://… or sqlite://PATH).
    #[arg(long, env = "STELLA_DATABASE_URL", value_name = "URL")]
    database_url: Option<String>,
    #[arg(long, short = 'f', value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

pub fn run(args: AuthArgs) -> Result<ExitCode, CliError> {
    match args.command {
        AuthCommand::Client(ClientCommand::Create(a)) => create(a),
    }
}

fn create(args: CreateArgs) -> Result<ExitCode, CliError> {
    let usage = |msg: String| CliError::new(2, anyhow::anyhow!(msg));
    let tenant = args.tenant.trim();
    if tenant.is_empty()
        || !tenant
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(usage(format!(
            "--tenant {:?}: use letters, digits, '-', '_' and '.'",
            args.tenant
        )));
    }
    let mut scopes: Vec<String> = args.scopes.iter().map(|s| s.trim().to_string()).collect();
    scopes.sort();
    scopes.dedup();
    if let Some(bad) = scopes.iter().find(|s| !KNOWN_SCOPES.contains(&s.as_str())) {
        return Err(usage(format!(
            "--scopes: unknown scope {bad:?}; known scopes: {}",
            KNOWN_SCOPES.join(", ")
        )));
    }
    let url = match args.database_url.filter(|u| !u.is_empty()) {
        Some(u) => u,
        None => {
            let data = DataDir::resolve().map_err(|e| CliError::new(exit::OUTPUT_FAILED, e))?;
            std::fs::create_dir_all(data.root()).map_err(|e| {
                CliError::new(
                    exit::OUTPUT_FAILED,
                    anyhow::anyhow!("{}: {e}", data.root().display()),
                )
            })?;
            format!("sqlite://{}", data.root().join("stella.sqlite").display())
        }
    };
    let (client_id, secret, hash) = stella_authority::new_client_credentials();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::new(exit::OUTPUT_FAILED, e))?;
    runtime
        .block_on(async {
            let db = stella_store::db::open_db(&url).await?;
            db.create_tenant(tenant).await?;
            db.create_client(tenant, &client_id, &hash, &scopes).await
        })
        .map_err(|e| {
            CliError::new(
                exit::OUTPUT_FAILED,
                anyhow::anyhow!("{}: {e}", redact(&url)),
            )
        })?;
    match args.format {
        OutputFormat::Json => {
            let v = serde_json::json!({"client_id": client_id, "client_secret": secret.expose()});
            println!("{v}");
        }
        OutputFormat::Table => {
            println!("client_id:     {client_id}");
            println!("client_secret: {}", secret.expose());
            println!("tenant:        {tenant}");
            println!("scopes:        {}", scopes.join(" "));
            eprintln!("The secret is shown only now; the database keeps a salted hash of it.");
        }
    }
    Ok(ExitCode::from(exit::OK))
}

/// A database URL with its password (if any) replaced, for error messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_redacted_from_database_urls() {
        assert_eq!(
            super::redact("postgres://app:s3cret@db:5432/stella"),
            "postgres://app:***@db:5432/stella"
        );
        assert_eq!(
            super::redact("sqlite:///x/y.sqlite"),
            "sqlite:///x/y.sqlite"
        );
    }
}
