//! `stella auth client create`: register an OAuth client of a tenant and print its
//! credentials once. `stella auth login|status|logout`: keep a client's credentials and DPoP
//! key for a server, so `stella scan --server URL` can act as that client.
//!
//! The secret is read from stdin or `STELLA_CLIENT_SECRET`, never from an argument (arguments
//! land in shell history and in `ps`), and is checked by getting a token before anything is
//! stored (see [`crate::remote`] for where and how).

use crate::exit::{self, CliError};
use crate::feeds::OutputFormat;
use crate::remote::{
    CredentialStore, RemoteClient, Secret, StoredLogin, is_insecure, server_origin,
};
use clap::{Args, Subcommand};
use std::process::ExitCode;
use stella_authority::DpopKey;
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
    /// Log in to a Stella server as an OAuth client, for `stella scan --server`.
    #[command(
        after_long_help = "The secret is read from stdin (--client-secret-stdin, first line)
or from $STELLA_CLIENT_SECRET, never from an argument. A new DPoP key is made, a token is
requested once to prove the credentials work, then the server, client id, secret and key are
kept in $STELLA_CONFIG_DIR/credentials.json (default: the user's config directory + /stella),
mode 0600, one entry per server origin.

Exit codes: 0 logged in; 2 invalid command line; 3 the server refused the credentials (the
OAuth error code is shown, e.g. invalid_client) or could not be reached; 4 the credentials
could not be written.

Examples:
  stella auth client create --tenant acme --scopes scanner.scans.enqueue,scanner.scans.read --format json
  printf '%s\\n' \"$SECRET\" | stella auth login --server https://stella.example.com --client-id ID --client-secret-stdin
  STELLA_CLIENT_SECRET=... stella auth login --server http://127.0.0.1:8080 --client-id ID"
    )]
    Login(LoginArgs),
    /// List the servers logged in to, with their client ids (never the secrets).
    Status(StatusArgs),
    /// Forget the credentials kept for a server.
    Logout(LogoutArgs),
}

#[derive(Args)]
struct LoginArgs {
    /// The server's origin, e.g. https://stella.example.com.
    #[arg(long, value_name = "URL")]
    server: String,
    /// The OAuth client id (from `stella auth client create`).
    #[arg(long, value_name = "ID")]
    client_id: String,
    /// Read the client secret from the first line of stdin (else $STELLA_CLIENT_SECRET).
    #[arg(long)]
    client_secret_stdin: bool,
}

#[derive(Args)]
struct StatusArgs {
    #[arg(long, short = 'f', value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

#[derive(Args)]
struct LogoutArgs {
    /// The server to forget.
    #[arg(long, value_name = "URL")]
    server: String,
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
        AuthCommand::Login(a) => login(a),
        AuthCommand::Status(a) => status(a),
        AuthCommand::Logout(a) => logout(a),
    }
}

/// The client secret: stdin's first line with `--client-secret-stdin`, else the environment.
fn read_secret(from_stdin: bool) -> Result<Secret, CliError> {
    let usage = |msg: &str| CliError::new(2, anyhow::anyhow!("{msg}"));
    let secret = if from_stdin {
        use std::io::IsTerminal;
        if std::io::stdin().is_terminal() {
            // Typed at a terminal the secret is echoed: say so rather than hang silently.
            eprint!("Client secret (shown as typed; better piped in), then Enter: ");
        }
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| CliError::new(2, anyhow::anyhow!("--client-secret-stdin: {e}")))?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        match std::env::var("STELLA_CLIENT_SECRET") {
            Ok(v) => v,
            Err(std::env::VarError::NotPresent) => {
                return Err(usage(
                    "no client secret: pipe it in with --client-secret-stdin or set STELLA_CLIENT_SECRET",
                ));
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(usage("STELLA_CLIENT_SECRET is not valid UTF-8"));
            }
        }
    };
    if secret.trim().is_empty() {
        return Err(usage(if from_stdin {
            "--client-secret-stdin: stdin held no secret"
        } else {
            "STELLA_CLIENT_SECRET is empty"
        }));
    }
    Ok(Secret::new(secret))
}

fn login(args: LoginArgs) -> Result<ExitCode, CliError> {
    let usage = |e: anyhow::Error| CliError::new(2, e);
    let origin = server_origin(&args.server).map_err(usage)?;
    let client_id = args.client_id.trim();
    if client_id.is_empty() {
        return Err(usage(anyhow::anyhow!("--client-id is empty")));
    }
    let secret = read_secret(args.client_secret_stdin)?;
    let store = CredentialStore::resolve().map_err(|e| CliError::new(exit::OUTPUT_FAILED, e))?;
    if is_insecure(&origin) {
        eprintln!(
            "warning: {origin} is plain HTTP: the client secret crosses the network unencrypted"
        );
    }
    let key = DpopKey::generate();
    let pem = key
        .to_pem()
        .map_err(|e| CliError::new(exit::OUTPUT_FAILED, anyhow::anyhow!("DPoP key: {e}")))?;
    let mut client = RemoteClient::new(&origin, client_id, secret.clone(), key)
        .map_err(|e| CliError::new(exit::BAD_INPUT, e))?;
    // Proves the id, the secret and the DPoP round trip before anything is written.
    let scope = client.fetch_token().map_err(|e| {
        CliError::new(
            exit::BAD_INPUT,
            e.context(format!("cannot log in to {origin} as {client_id}")),
        )
    })?;
    store
        .put(StoredLogin {
            server: origin.clone(),
            client_id: client_id.to_owned(),
            client_secret: secret,
            dpop_key_pem: Secret::new(pem),
        })
        .map_err(|e| CliError::new(exit::OUTPUT_FAILED, e))?;
    println!("Logged in to {origin} as {client_id} (scope: {scope})");
    println!("Credentials: {}", store.path().display());
    Ok(ExitCode::from(exit::OK))
}

fn status(args: StatusArgs) -> Result<ExitCode, CliError> {
    let failed = |e: anyhow::Error| CliError::new(exit::OUTPUT_FAILED, e);
    let store = CredentialStore::resolve().map_err(failed)?;
    let logins = store.list().map_err(failed)?;
    match args.format {
        OutputFormat::Json => {
            let servers: Vec<_> = logins
                .iter()
                .map(|l| serde_json::json!({"server": l.server, "client_id": l.client_id}))
                .collect();
            println!(
                "{}",
                serde_json::json!({"credentials": store.path(), "servers": servers})
            );
        }
        OutputFormat::Table => {
            if logins.is_empty() {
                println!("Not logged in to any server (stella auth login --server URL ...)");
                return Ok(ExitCode::from(exit::OK));
            }
            let width = logins
                .iter()
                .map(|l| l.server.len())
                .chain(["SERVER".len()])
                .max()
                .unwrap_or(0);
            println!("{:<width$}  CLIENT ID", "SERVER");
            for l in &logins {
                println!("{:<width$}  {}", l.server, l.client_id);
            }
            println!("\nCredentials: {}", store.path().display());
        }
    }
    Ok(ExitCode::from(exit::OK))
}

fn logout(args: LogoutArgs) -> Result<ExitCode, CliError> {
    let origin = server_origin(&args.server).map_err(|e| CliError::new(2, e))?;
    let store = CredentialStore::resolve().map_err(|e| CliError::new(exit::OUTPUT_FAILED, e))?;
    if store
        .remove(&origin)
        .map_err(|e| CliError::new(exit::OUTPUT_FAILED, e))?
    {
        println!("Logged out of {origin}");
    } else {
        // As `docker logout`: nothing to forget is not a failure.
        println!("Not logged in to {origin}");
    }
    Ok(ExitCode::from(exit::OK))
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
