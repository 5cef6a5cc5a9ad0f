//! Registry credentials (docker `config.json` / containers `auth.json`) and `WWW-Authenticate`
//! challenges.

use crate::error::RegistryError;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// A user name and password for one registry. `Debug` does not print the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl Credentials {
    /// The value of an `Authorization: Basic …` header.
    pub(crate) fn basic_header(&self) -> String {
        format!(
            "Basic {}",
            STANDARD.encode(format!("{}:{}", self.username, self.password))
        )
    }
}

/// The credentials read from an auth file, keyed by normalised host (and optional
/// repository path, as `auth.json` allows).
#[derive(Debug, Default)]
pub(crate) struct AuthFile {
    /// The file consulted, for messages; `None` when no file was looked for.
    pub path: Option<PathBuf>,
    /// Whether the file existed.
    pub found: bool,
    entries: BTreeMap<String, Credentials>,
    /// Hosts configured with a credential helper, which this client does not run.
    helpers: Vec<String>,
}

#[derive(Deserialize)]
struct RawAuthFile {
    #[serde(default)]
    auths: BTreeMap<String, RawAuthEntry>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, serde_json::Value>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
}

#[derive(Deserialize)]
struct RawAuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

/// Auth files are small; a larger one is a mistake or an attack.
const MAX_AUTH_FILE_BYTES: u64 = 4 << 20;

impl AuthFile {
    /// The file to read when none is configured: `$REGISTRY_AUTH_FILE`, else
    /// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
    pub fn default_path(env: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
        if let Some(p) = env("REGISTRY_AUTH_FILE").filter(|p| !p.is_empty()) {
            return Some(PathBuf::from(p));
        }
        if let Some(dir) = env("DOCKER_CONFIG").filter(|p| !p.is_empty()) {
            return Some(Path::new(&dir).join("config.json"));
        }
        env("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| Path::new(&h).join(".docker").join("config.json"))
    }

    /// Reads `path`; a missing file gives no credentials, a malformed one an error.
    pub fn load(path: Option<PathBuf>) -> Result<AuthFile, RegistryError> {
        let Some(path) = path else {
            return Ok(AuthFile::default());
        };
        let bytes = match std::fs::metadata(&path) {
            Ok(meta) if meta.len() > MAX_AUTH_FILE_BYTES => {
                return Err(RegistryError::AuthFile {
                    path,
                    reason: format!("larger than {MAX_AUTH_FILE_BYTES} bytes"),
                });
            }
            Ok(_) => std::fs::read(&path).map_err(|e| RegistryError::AuthFile {
                path: path.clone(),
                reason: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::debug!(path = %path.display(), "no registry auth file");
                return Ok(AuthFile {
                    path: Some(path),
                    found: false,
                    ..AuthFile::default()
                });
            }
            Err(e) => {
                return Err(RegistryError::AuthFile {
                    path,
                    reason: e.to_string(),
                });
            }
        };
        let mut file = AuthFile::parse(&bytes).map_err(|reason| RegistryError::AuthFile {
            path: path.clone(),
            reason,
        })?;
        file.path = Some(path);
        file.found = true;
        Ok(file)
    }

    fn parse(bytes: &[u8]) -> Result<AuthFile, String> {
        let raw: RawAuthFile = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        let mut file = AuthFile::default();
        for (key, entry) in raw.auths {
            let creds = match (&entry.auth, &entry.username, &entry.password) {
                (Some(auth), _, _) if !auth.is_empty() => {
                    let decoded = STANDARD
                        .decode(auth.trim())
                        .map_err(|_| format!("auths[{key:?}].auth is not valid base64"))?;
                    let decoded = String::from_utf8(decoded)
                        .map_err(|_| format!("auths[{key:?}].auth is not UTF-8"))?;
                    let (user, pass) = decoded.split_once(':').ok_or_else(|| {
                        format!("auths[{key:?}].auth does not decode to user:password")
                    })?;
                    Credentials {
                        username: user.to_string(),
                        password: pass.to_string(),
                    }
                }
                (_, Some(user), Some(pass)) if !user.is_empty() => Credentials {
                    username: user.clone(),
                    password: pass.clone(),
                },
                _ => continue,
            };
            file.entries.insert(normalise_key(&key), creds);
        }
        file.helpers = raw
            .cred_helpers
            .into_keys()
            .map(|k| normalise_key(&k))
            .collect();
        if let Some(store) = raw.creds_store.filter(|s| !s.is_empty()) {
            tracing::debug!(
                store,
                "auth file names a credential store; only inline credentials are used"
            );
        }
        Ok(file)
    }

    /// Credentials for `registry` and `repository`: the most specific `host/path` key wins,
    /// then the bare host (with Docker Hub's historical names for Docker Hub).
    pub fn lookup(&self, registry: &str, repository: &str) -> Option<&Credentials> {
        let hosts: Vec<&str> = if registry == crate::reference::DOCKER_HUB_REGISTRY {
            vec![registry, "docker.io", "index.docker.io"]
        } else {
            vec![registry]
        };
        for host in &hosts {
            let mut path = format!("{host}/{repository}");
            loop {
                if let Some(c) = self.entries.get(&path) {
                    return Some(c);
                }
                match path.rfind('/') {
                    Some(i) => path.truncate(i),
                    None => break,
                }
            }
        }
        if hosts.iter().any(|h| self.helpers.iter().any(|k| k == h)) {
            tracing::debug!(
                registry,
                "auth file names a credential helper for this registry; helpers are not run"
            );
        }
        None
    }

    /// Where the credentials were looked for, for messages.
    pub fn describe(&self) -> String {
        match (&self.path, self.found) {
            (None, _) => "no auth file".to_string(),
            (Some(p), true) => p.display().to_string(),
            (Some(p), false) => format!("{} (not found)", p.display()),
        }
    }
}

/// `https://index.docker.io/v1/` → `index.docker.io`; `http://host:5000` → `host:5000`;
/// `host/ns/repo` stays.
fn normalise_key(key: &str) -> String {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let k = k.trim_end_matches('/');
    let k = k
        .strip_suffix("/v1")
        .or_else(|| k.strip_suffix("/v2"))
        .unwrap_or(k);
    k.to_ascii_lowercase()
}

/// One challenge from a `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Challenge {
    /// Lower-cased scheme: `basic` or `bearer` (others are kept to be reported).
    pub scheme: String,
    pub params: BTreeMap<String, String>,
}

impl Challenge {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

/// Parses a `WWW-Authenticate` value into its challenges (RFC 9110 §11.6.1): schemes followed by
/// comma-separated `name=value` or `name="quoted value"` parameters.
pub(crate) fn parse_challenges(header: &str) -> Vec<Challenge> {
    let mut out: Vec<Challenge> = Vec::new();
    let mut rest = header.trim();
    while !rest.is_empty() {
        rest = rest.trim_start_matches([',', ' ', '\t']);
        if rest.is_empty() {
            break;
        }
        let token_end = rest.find([' ', '\t', ',', '=']).unwrap_or(rest.len());
        let token = &rest[..token_end];
        let after = rest[token_end..].trim_start_matches([' ', '\t']);
        if after.starts_with('=') && !out.is_empty() {
            // name=value belonging to the current challenge.
            let value_part = after[1..].trim_start_matches([' ', '\t']);
            let (value, remainder) = parse_value(value_part);
            if let Some(c) = out.last_mut() {
                c.params.insert(token.to_ascii_lowercase(), value);
            }
            rest = remainder;
        } else {
            // A new challenge scheme (token68 forms are not used by registries; skip them).
            out.push(Challenge {
                scheme: token.to_ascii_lowercase(),
                params: BTreeMap::new(),
            });
            rest = after;
        }
    }
    out
}

fn parse_value(s: &str) -> (String, &str) {
    if let Some(quoted) = s.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        value.push(escaped);
                    }
                }
                '"' => return (value, &quoted[i + 1..]),
                c => value.push(c),
            }
        }
        (value, "")
    } else {
        let end = s.find(',').unwrap_or(s.len());
        (s[..end].trim().to_string(), &s[end..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_file_reads_auth_and_username_password_forms() {
        let json = br#"{"auths":{
            "https://index.docker.io/v1/": {"auth": "dXNlcjpwYTpzcw=="},
            "localhost:5000": {"username": "u2", "password": "p2"},
            "quay.io/team/app": {"auth": "dGVhbTpzZWNyZXQ="},
            "empty.example": {"auth": ""}
        }, "credHelpers": {"gcr.io": "gcloud"}}"#;
        let f = AuthFile::parse(json).unwrap();
        let hub = f.lookup("registry-1.docker.io", "library/alpine").unwrap();
        assert_eq!(
            (hub.username.as_str(), hub.password.as_str()),
            ("user", "pa:ss")
        );
        assert_eq!(f.lookup("localhost:5000", "x/y").unwrap().username, "u2");
        assert_eq!(
            f.lookup("quay.io", "team/app/sub").unwrap().username,
            "team"
        );
        assert!(f.lookup("quay.io", "other/app").is_none());
        assert!(f.lookup("empty.example", "a").is_none());
        assert!(f.lookup("gcr.io", "a").is_none());
    }

    #[test]
    fn credentials_debug_hides_the_password() {
        let c = Credentials {
            username: "me".into(),
            password: "hunter2".into(),
        };
        let shown = format!("{c:?}");
        assert!(
            shown.contains("me") && !shown.contains("hunter2"),
            "{shown}"
        );
    }

    #[test]
    fn malformed_auth_file_is_an_error() {
        assert!(AuthFile::parse(b"{not json").is_err());
        assert!(AuthFile::parse(br#"{"auths":{"h":{"auth":"!!!"}}}"#).is_err());
        assert!(AuthFile::parse(br#"{"auths":{"h":{"auth":"bm9jb2xvbg=="}}}"#).is_err());
    }

    #[test]
    fn default_path_prefers_registry_auth_file_then_docker_config() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            AuthFile::default_path(env(&[("REGISTRY_AUTH_FILE", "/a.json"), ("HOME", "/h")])),
            Some(PathBuf::from("/a.json"))
        );
        assert_eq!(
            AuthFile::default_path(env(&[("DOCKER_CONFIG", "/d"), ("HOME", "/h")])),
            Some(PathBuf::from("/d/config.json"))
        );
        assert_eq!(
            AuthFile::default_path(env(&[("HOME", "/h")])),
            Some(PathBuf::from("/h/.docker/config.json"))
        );
        assert_eq!(AuthFile::default_path(env(&[])), None);
    }

    #[test]
    fn parses_bearer_and_basic_challenges() {
        let c = parse_challenges(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull""#,
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "bearer");
        assert_eq!(c[0].param("realm"), Some("https://auth.docker.io/token"));
        assert_eq!(c[0].param("service"), Some("registry.docker.io"));
        assert_eq!(c[0].param("scope"), Some("repository:library/alpine:pull"));

        let c = parse_challenges(
            r#"Basic realm="a \"quoted\", realm", Bearer realm=https://x/t , error=insufficient_scope"#,
        );
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].scheme, "basic");
        assert_eq!(c[0].param("realm"), Some(r#"a "quoted", realm"#));
        assert_eq!(c[1].scheme, "bearer");
        assert_eq!(c[1].param("realm"), Some("https://x/t"));
        assert_eq!(c[1].param("error"), Some("insufficient_scope"));

        assert!(parse_challenges("").is_empty());
        assert_eq!(parse_challenges("Basic")[0].scheme, "basic");
    }
}
