//! The registry client: requests with authentication, retries and redirects; `resolve` and
//! `open_blob`.

use crate::auth::{AuthFile, Challenge, parse_challenges};
use crate::error::{ImageLocation, RegistryError};
use crate::manifest::{
    ConfigPlatform, ManifestKind, descriptor_platform, is_image_config, kind_of, media_type_of,
    media_types, select_manifest,
};
use crate::reference::{ImageReference, Platform};
use crate::retry::{backoff, parse_retry_after};
use crate::verify::VerifyingReader;
use oci_spec::image::{ImageIndex, ImageManifest};
use reqwest::StatusCode;
use reqwest::Url;
use reqwest::blocking::{Client, Response};
use reqwest::header::{
    ACCEPT, AUTHORIZATION, CONTENT_TYPE, LOCATION, RETRY_AFTER, WWW_AUTHENTICATE,
};
use serde::Deserialize;
use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};
use stella_model::Digest;

/// How a [`RegistryClient`] behaves. `ClientOptions::default()` suits most uses.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// The platform to pick from multi-platform images. Default linux/amd64.
    pub platform: Platform,
    /// Registries (`host` or `host:port`) reached over plain HTTP. `localhost`, `127.0.0.1`
    /// and `::1` always are; every other registry is reached over HTTPS.
    pub insecure_registries: Vec<String>,
    /// The docker `config.json` / containers `auth.json` to read credentials from. `None`:
    /// `$REGISTRY_AUTH_FILE`, else `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
    pub auth_file: Option<PathBuf>,
    /// Retries after a 429, a 5xx or a connection failure, per request.
    pub max_retries: u32,
    pub user_agent: String,
    /// The largest manifest, index or config accepted (a hostile registry could send more).
    pub max_manifest_bytes: u64,
    /// The first backoff delay; it doubles with each retry, with jitter.
    pub retry_base_delay: Duration,
    /// The longest wait between retries, for backoff and for `Retry-After` alike.
    pub max_retry_delay: Duration,
    pub connect_timeout: Duration,
    /// How long to wait for response headers, and for each read of a body.
    pub read_timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            platform: Platform::default(),
            insecure_registries: Vec::new(),
            auth_file: None,
            max_retries: 4,
            user_agent: concat!("stella/", env!("CARGO_PKG_VERSION")).to_string(),
            max_manifest_bytes: 4 << 20,
            retry_base_delay: Duration::from_millis(250),
            max_retry_delay: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(15),
            read_timeout: Duration::from_secs(60),
        }
    }
}

/// A blob an image is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobDescriptor {
    pub digest: Digest,
    pub size: u64,
    pub media_type: String,
}

/// An image's manifest and config, fetched and verified, and the layers to fetch next.
#[derive(Debug, Clone)]
pub struct ResolvedImage {
    /// Digest of the platform manifest (not of the index it was chosen from).
    pub manifest_digest: Digest,
    pub manifest_media_type: String,
    pub manifest_bytes: Vec<u8>,
    /// The OCI index or Docker manifest list the manifest was chosen from, if any.
    pub index_digest: Option<Digest>,
    pub config_digest: Digest,
    pub config_bytes: Vec<u8>,
    /// In manifest order, base layer first.
    pub layers: Vec<BlobDescriptor>,
    /// The image's platform, from its config (or its index entry when the config has none).
    pub platform: Platform,
}

#[derive(Debug, Clone)]
enum Session {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

struct CachedToken {
    value: String,
    expires: Instant,
}

/// A blocking client for the OCI distribution API v2, safe to share between threads.
///
/// Authentication is anonymous until a registry answers 401; then the client answers its
/// challenge (HTTP Basic with credentials from the auth file, or a bearer token from the
/// challenge's realm) and remembers the scheme, and bearer tokens per (registry, scope) until
/// they expire. Requests are retried on 429, 5xx and connection failures with exponential
/// backoff and jitter, honouring `Retry-After`. Redirects are followed by hand so that the
/// `Authorization` header only goes to the registry's own origin.
pub struct RegistryClient {
    http: Client,
    opts: ClientOptions,
    auth_file: AuthFile,
    sessions: Mutex<HashMap<String, Session>>,
    tokens: Mutex<HashMap<(String, String), CachedToken>>,
}

const MAX_REDIRECTS: usize = 5;
const MAX_TOKEN_RESPONSE_BYTES: u64 = 1 << 20;
const MAX_ERROR_BODY_BYTES: u64 = 8 << 10;

enum SendError {
    Transport(reqwest::Error),
    Refused(RegistryError),
}

impl RegistryClient {
    pub fn new(opts: ClientOptions) -> Result<Self, RegistryError> {
        let auth_path = match &opts.auth_file {
            Some(p) => Some(p.clone()),
            None => AuthFile::default_path(|k| std::env::var(k).ok()),
        };
        let auth_file = AuthFile::load(auth_path)?;
        let http = Client::builder()
            .user_agent(opts.user_agent.clone())
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(opts.connect_timeout)
            .timeout(opts.read_timeout)
            .build()
            .map_err(|e| RegistryError::Client(error_chain(&e)))?;
        Ok(RegistryClient {
            http,
            opts,
            auth_file,
            sessions: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
        })
    }

    pub fn options(&self) -> &ClientOptions {
        &self.opts
    }

    /// Fetch the manifest (following an OCI index / Docker manifest list to the requested
    /// platform), verify its digest, fetch and verify the config blob.
    pub fn resolve(&self, r: &ImageReference) -> Result<ResolvedImage, RegistryError> {
        r.validate()?;
        let wanted = &self.opts.platform;
        let top = self.fetch_manifest(r, &r.reference(), r.digest.as_ref())?;
        let (fetched, index_digest, entry_platform) = self.descend_indexes(r, top)?;

        let loc = location(r, &fetched.digest.to_string());
        let manifest: ImageManifest = serde_json::from_slice(&fetched.bytes)
            .map_err(|e| invalid(&loc, "image manifest", &e.to_string()))?;
        let config = manifest.config();
        let config_type = config.media_type().to_string();
        if !is_image_config(&config_type) {
            return Err(RegistryError::UnsupportedMediaType {
                image: loc.into(),
                what: "config (not a container image)".to_string(),
                media_type: config_type,
            });
        }
        let config_digest = parse_digest(config.digest().as_ref(), &loc, "image manifest")?;
        if config.size() > self.opts.max_manifest_bytes {
            return Err(RegistryError::TooLarge {
                image: loc.into(),
                what: format!("config {config_digest}"),
                limit: self.opts.max_manifest_bytes,
            });
        }
        let config_bytes = self.fetch_small_blob(r, &config_digest, config.size(), "config")?;
        let config_platform: ConfigPlatform =
            serde_json::from_slice(&config_bytes).map_err(|e| {
                invalid(
                    &location(r, &config_digest.to_string()),
                    "image config",
                    &e.to_string(),
                )
            })?;
        let platform = match (&config_platform.os, &config_platform.architecture) {
            (Some(os), Some(arch)) if !os.is_empty() && !arch.is_empty() => {
                Platform::new(os, arch, config_platform.variant.as_deref())
            }
            _ => entry_platform.unwrap_or_else(|| wanted.clone()),
        };
        if !wanted.accepts(&platform) {
            // A single-platform image is used whatever its platform (as docker and
            // go-containerregistry do); the caller sees which in `ResolvedImage::platform`.
            tracing::warn!(
                image = %r,
                wanted = %wanted,
                actual = %platform,
                "the image's platform is not the requested one"
            );
        }
        let layers = manifest
            .layers()
            .iter()
            .map(|l| {
                Ok(BlobDescriptor {
                    digest: parse_digest(l.digest().as_ref(), &loc, "image manifest")?,
                    size: l.size(),
                    media_type: l.media_type().to_string(),
                })
            })
            .collect::<Result<Vec<_>, RegistryError>>()?;
        Ok(ResolvedImage {
            manifest_digest: fetched.digest,
            manifest_media_type: fetched.media_type,
            manifest_bytes: fetched.bytes,
            index_digest,
            config_digest,
            config_bytes,
            layers,
            platform,
        })
    }

    /// From a fetched manifest, follows image indexes (at most two levels) to the manifest for
    /// the requested platform. Returns it, the digest of the outermost index if there was one,
    /// and the platform its index entry declared.
    fn descend_indexes(
        &self,
        r: &ImageReference,
        mut fetched: FetchedManifest,
    ) -> Result<(FetchedManifest, Option<Digest>, Option<Platform>), RegistryError> {
        let wanted = &self.opts.platform;
        let mut index_digest = None;
        let mut entry_platform = None;
        for depth in 0.. {
            let loc = location(r, &fetched.digest.to_string());
            match kind_of(&fetched.media_type) {
                ManifestKind::Image => break,
                ManifestKind::Unsupported => {
                    return Err(RegistryError::UnsupportedMediaType {
                        image: location(r, &r.reference()).into(),
                        what: "manifest".to_string(),
                        media_type: fetched.media_type,
                    });
                }
                ManifestKind::Index if depth >= 2 => {
                    return Err(invalid(
                        &loc,
                        "manifest",
                        "image indexes nested more than twice",
                    ));
                }
                ManifestKind::Index => {}
            }
            let index: ImageIndex = serde_json::from_slice(&fetched.bytes)
                .map_err(|e| invalid(&loc, "image index", &e.to_string()))?;
            let chosen = select_manifest(&index, wanted).map_err(|available| {
                RegistryError::NoManifestForPlatform {
                    image: location(r, &r.reference()).into(),
                    wanted: wanted.clone(),
                    available,
                }
            })?;
            if chosen.size() > self.opts.max_manifest_bytes {
                return Err(RegistryError::TooLarge {
                    image: loc.into(),
                    what: format!("manifest {}", chosen.digest()),
                    limit: self.opts.max_manifest_bytes,
                });
            }
            let digest = parse_digest(chosen.digest().as_ref(), &loc, "image index")?;
            entry_platform = descriptor_platform(chosen);
            index_digest.get_or_insert(fetched.digest.clone());
            let child = self.fetch_manifest(r, &digest.to_string(), Some(&digest))?;
            if child.bytes.len() as u64 != chosen.size() {
                return Err(RegistryError::SizeMismatch {
                    image: location(r, &digest.to_string()).into(),
                    what: "manifest".to_string(),
                    expected: chosen.size(),
                    actual: child.bytes.len() as u64,
                });
            }
            fetched = child;
        }
        Ok((fetched, index_digest, entry_platform))
    }

    /// Stream a blob; the returned reader hashes as it is read and returns an io::Error (kind
    /// InvalidData, message naming the expected and actual digest) at EOF on mismatch, and an
    /// error if more bytes than `size` arrive.
    pub fn open_blob(
        &self,
        r: &ImageReference,
        digest: &Digest,
        size: u64,
    ) -> Result<Box<dyn Read + Send>, RegistryError> {
        r.validate()?;
        let loc = location(r, &digest.to_string());
        let what = format!("blob {digest}");
        let resp = self.get(&loc, &format!("blobs/{digest}"), None, &what)?;
        let resp = expect_ok(resp, &loc, &what)?;
        if let Some(len) = resp.content_length()
            && len != size
        {
            return Err(RegistryError::SizeMismatch {
                image: loc.into(),
                what,
                expected: size,
                actual: len,
            });
        }
        Ok(Box::new(VerifyingReader::new(
            resp,
            digest.clone(),
            size,
            loc.to_string(),
        )))
    }

    /// A small blob (a config) read whole, checked for size and digest.
    fn fetch_small_blob(
        &self,
        r: &ImageReference,
        digest: &Digest,
        size: u64,
        what: &str,
    ) -> Result<Vec<u8>, RegistryError> {
        let loc = location(r, &digest.to_string());
        let what = format!("{what} blob {digest}");
        let resp = self.get(&loc, &format!("blobs/{digest}"), None, &what)?;
        let resp = expect_ok(resp, &loc, &what)?;
        let bytes = read_limited(resp, self.opts.max_manifest_bytes, &loc, &what)?;
        if bytes.len() as u64 != size {
            return Err(RegistryError::SizeMismatch {
                image: loc.into(),
                what,
                expected: size,
                actual: bytes.len() as u64,
            });
        }
        let actual = digest_like(&bytes, digest);
        if &actual != digest {
            return Err(RegistryError::DigestMismatch {
                image: loc.into(),
                what,
                expected: digest.clone(),
                actual,
            });
        }
        Ok(bytes)
    }

    fn fetch_manifest(
        &self,
        r: &ImageReference,
        reference: &str,
        expected: Option<&Digest>,
    ) -> Result<FetchedManifest, RegistryError> {
        let loc = location(r, reference);
        let what = format!("manifest {reference}");
        let resp = self.get(
            &loc,
            &format!("manifests/{reference}"),
            Some(media_types::MANIFEST_ACCEPT),
            &what,
        )?;
        let resp = expect_ok(resp, &loc, &what)?;
        let header_digest = header_str(&resp, "docker-content-digest")
            .and_then(|v| v.trim().parse::<Digest>().ok());
        let content_type = header_str(&resp, CONTENT_TYPE.as_str()).map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
        let bytes = read_limited(resp, self.opts.max_manifest_bytes, &loc, "manifest")?;
        let digest = match expected {
            Some(expected) => {
                let actual = digest_like(&bytes, expected);
                if &actual != expected {
                    return Err(RegistryError::DigestMismatch {
                        image: loc.into(),
                        what: "manifest".to_string(),
                        expected: expected.clone(),
                        actual,
                    });
                }
                actual
            }
            None => {
                if let Some(h) = &header_digest {
                    let actual = digest_like(&bytes, h);
                    if &actual != h {
                        return Err(RegistryError::DigestMismatch {
                            image: loc.into(),
                            what: "manifest (against the Docker-Content-Digest header)".to_string(),
                            expected: h.clone(),
                            actual,
                        });
                    }
                }
                Digest::sha256_of(&bytes)
            }
        };
        let media_type = media_type_of(&bytes, content_type.as_deref()).ok_or_else(|| {
            RegistryError::UnsupportedMediaType {
                image: loc.clone().into(),
                what: "manifest".to_string(),
                media_type: content_type.clone().unwrap_or_else(|| "(none)".to_string()),
            }
        })?;
        tracing::debug!(image = %loc, %digest, media_type, "fetched manifest");
        Ok(FetchedManifest {
            digest,
            media_type,
            bytes,
        })
    }

    // ---- requests: authentication, retries, redirects ----

    /// GET `/v2/<repository>/<path>` on the location's registry, authenticating as needed.
    fn get(
        &self,
        loc: &ImageLocation,
        path: &str,
        accept: Option<&str>,
        what: &str,
    ) -> Result<Response, RegistryError> {
        let url = format!(
            "{}://{}/v2/{}/{}",
            self.scheme_for(&loc.registry),
            loc.registry,
            loc.repository,
            path
        );
        let mut authorization = self.session_authorization(loc)?;
        let mut answered = false;
        loop {
            let resp = self.send_with_retries(loc, &url, accept, authorization.as_deref())?;
            if resp.status() != StatusCode::UNAUTHORIZED {
                tracing::debug!(image = %loc, what, status = resp.status().as_u16(), "registry answered");
                return Ok(resp);
            }
            let challenge = www_authenticate(&resp);
            if answered {
                let detail = match self.session(&loc.registry) {
                    Some(Session::Basic) => format!(
                        "the registry rejected the credentials from {}",
                        self.auth_file.describe()
                    ),
                    Some(Session::Bearer { realm, .. }) => {
                        format!("the token from {realm} does not grant pull access")
                    }
                    None => "the registry refused the request".to_string(),
                };
                let body = error_body_detail(resp);
                return Err(RegistryError::Unauthorized {
                    image: loc.clone().into(),
                    challenge,
                    detail: format!("{detail} ({body})"),
                });
            }
            authorization = Some(self.answer_challenge(loc, &challenge)?);
            answered = true;
        }
    }

    fn session(&self, registry: &str) -> Option<Session> {
        self.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(registry)
            .cloned()
    }

    /// The `Authorization` to send up front, from what the registry asked for before.
    fn session_authorization(&self, loc: &ImageLocation) -> Result<Option<String>, RegistryError> {
        match self.session(&loc.registry) {
            None => Ok(None),
            Some(Session::Basic) => Ok(self
                .auth_file
                .lookup(&loc.registry, &loc.repository)
                .map(|c| c.basic_header())),
            Some(Session::Bearer { realm, service }) => {
                let scope = pull_scope(&loc.repository);
                if let Some(token) = self.cached_token(&loc.registry, &scope) {
                    return Ok(Some(format!("Bearer {token}")));
                }
                let challenge = format!("Bearer realm=\"{realm}\"");
                let token =
                    self.fetch_token(loc, &challenge, &realm, service.as_deref(), &scope)?;
                Ok(Some(format!("Bearer {token}")))
            }
        }
    }

    fn cached_token(&self, registry: &str, scope: &str) -> Option<String> {
        let tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        tokens
            .get(&(registry.to_string(), scope.to_string()))
            .filter(|t| t.expires > Instant::now())
            .map(|t| t.value.clone())
    }

    /// Answers a 401's challenge; returns the `Authorization` value to retry with.
    fn answer_challenge(&self, loc: &ImageLocation, header: &str) -> Result<String, RegistryError> {
        let challenges = parse_challenges(header);
        let pick = |scheme: &str| challenges.iter().find(|c| c.scheme == scheme);
        if let Some(bearer) = pick("bearer") {
            return self.answer_bearer(loc, header, bearer);
        }
        if pick("basic").is_some() {
            let creds = self
                .auth_file
                .lookup(&loc.registry, &loc.repository)
                .ok_or_else(|| RegistryError::Unauthorized {
                    image: loc.clone().into(),
                    challenge: header.to_string(),
                    detail: format!(
                        "the registry wants HTTP Basic credentials and there are none for {} in {}",
                        loc.registry,
                        self.auth_file.describe()
                    ),
                })?;
            self.sessions
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(loc.registry.clone(), Session::Basic);
            return Ok(creds.basic_header());
        }
        Err(RegistryError::Unauthorized {
            image: loc.clone().into(),
            challenge: header.to_string(),
            detail: if header.is_empty() {
                "the registry answered 401 without a WWW-Authenticate challenge".to_string()
            } else {
                "the registry asked for an authentication scheme this client does not speak"
                    .to_string()
            },
        })
    }

    fn answer_bearer(
        &self,
        loc: &ImageLocation,
        header: &str,
        challenge: &Challenge,
    ) -> Result<String, RegistryError> {
        let realm = challenge
            .param("realm")
            .filter(|r| !r.is_empty())
            .ok_or_else(|| RegistryError::Unauthorized {
                image: loc.clone().into(),
                challenge: header.to_string(),
                detail: "the Bearer challenge has no realm".to_string(),
            })?
            .to_string();
        let service = challenge.param("service").map(str::to_string);
        let scope = challenge
            .param("scope")
            .map(str::to_string)
            .unwrap_or_else(|| pull_scope(&loc.repository));
        let token = self.fetch_token(loc, header, &realm, service.as_deref(), &scope)?;
        self.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(loc.registry.clone(), Session::Bearer { realm, service });
        Ok(format!("Bearer {token}"))
    }

    /// GET realm?service=…&scope=…, with the registry's Basic credentials when the auth file has
    /// them; caches the token per (registry, scope).
    fn fetch_token(
        &self,
        loc: &ImageLocation,
        challenge: &str,
        realm: &str,
        service: Option<&str>,
        scope: &str,
    ) -> Result<String, RegistryError> {
        let token_error = |detail: String| RegistryError::TokenService {
            image: loc.clone().into(),
            realm: realm.to_string(),
            detail,
        };
        let mut url =
            Url::parse(realm).map_err(|e| token_error(format!("invalid realm URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(token_error("the realm is not an http(s) URL".to_string()));
        }
        {
            let mut q = url.query_pairs_mut();
            if let Some(service) = service {
                q.append_pair("service", service);
            }
            q.append_pair("scope", scope);
        }
        let creds = self.auth_file.lookup(&loc.registry, &loc.repository);
        if creds.is_some() && url.scheme() == "http" && !self.allows_plain_http(&host_port(&url)) {
            return Err(RegistryError::Unauthorized {
                image: loc.clone().into(),
                challenge: challenge.to_string(),
                detail: format!(
                    "refusing to send credentials over plain HTTP to the token realm {realm}"
                ),
            });
        }
        let authorization = creds.map(|c| c.basic_header());
        tracing::debug!(image = %loc, realm, scope, with_credentials = creds.is_some(), "requesting token");
        let resp = self.send_with_retries(loc, url.as_str(), None, authorization.as_deref())?;
        let status = resp.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            let who = match creds {
                Some(c) => format!(
                    "the credentials of user {:?} from {}",
                    c.username,
                    self.auth_file.describe()
                ),
                None => format!(
                    "anonymous access (no credentials for {} in {})",
                    loc.registry,
                    self.auth_file.describe()
                ),
            };
            return Err(RegistryError::Unauthorized {
                image: loc.clone().into(),
                challenge: challenge.to_string(),
                detail: format!(
                    "the token service {realm} refused {who} (HTTP {})",
                    status.as_u16()
                ),
            });
        }
        if !status.is_success() {
            return Err(token_error(format!(
                "HTTP {}: {}",
                status.as_u16(),
                error_body_detail(resp)
            )));
        }
        let bytes = read_limited(resp, MAX_TOKEN_RESPONSE_BYTES, loc, "token response")?;
        let parsed: TokenResponse = serde_json::from_slice(&bytes)
            .map_err(|e| token_error(format!("the token response is not valid JSON: {e}")))?;
        let token = parsed
            .token
            .filter(|t| !t.is_empty())
            .or(parsed.access_token.filter(|t| !t.is_empty()))
            .ok_or_else(|| {
                token_error("the token response has neither token nor access_token".to_string())
            })?;
        // The token spec: absent or short lifetimes mean 60 seconds. Renew a little early, and
        // at least hourly whatever the service says.
        let lifetime = Duration::from_secs(parsed.expires_in.unwrap_or(60).clamp(60, 3600));
        let expires = Instant::now() + lifetime - Duration::from_secs(10);
        self.tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                (loc.registry.clone(), scope.to_string()),
                CachedToken {
                    value: token.clone(),
                    expires,
                },
            );
        Ok(token)
    }

    /// Sends a GET, retrying on 429, 5xx and connection failures.
    fn send_with_retries(
        &self,
        loc: &ImageLocation,
        url: &str,
        accept: Option<&str>,
        authorization: Option<&str>,
    ) -> Result<Response, RegistryError> {
        let mut attempt: u32 = 0;
        loop {
            let (asked_wait, last, transport) =
                match self.send_following_redirects(loc, url, accept, authorization) {
                    Ok(resp) => {
                        let status = resp.status();
                        if !is_retryable_status(status) {
                            return Ok(resp);
                        }
                        let asked = resp
                            .headers()
                            .get(RETRY_AFTER)
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| parse_retry_after(v, SystemTime::now()));
                        let detail = error_body_detail(resp);
                        let last = if detail.starts_with("HTTP ") {
                            detail
                        } else {
                            format!("HTTP {status}: {detail}")
                        };
                        (asked, last, None)
                    }
                    Err(SendError::Refused(e)) => return Err(e),
                    Err(SendError::Transport(e)) => {
                        let detail = error_chain(&e);
                        let tls = looks_like_tls(&detail);
                        if tls
                            || !(e.is_connect() || e.is_timeout() || e.is_request() || e.is_body())
                        {
                            return Err(RegistryError::Connection {
                                image: loc.clone().into(),
                                url: redact_url(url),
                                tls,
                                detail,
                            });
                        }
                        (None, format!("connection error: {detail}"), Some(detail))
                    }
                };
            if attempt >= self.opts.max_retries {
                return Err(match transport {
                    Some(detail) => RegistryError::Connection {
                        image: loc.clone().into(),
                        url: redact_url(url),
                        tls: false,
                        detail: format!("{detail} (after {} attempts)", attempt + 1),
                    },
                    None => RegistryError::TooManyRetries {
                        image: loc.clone().into(),
                        attempts: attempt + 1,
                        last,
                    },
                });
            }
            let delay = match asked_wait {
                Some(wait) => wait.min(self.opts.max_retry_delay),
                None => backoff(
                    attempt,
                    self.opts.retry_base_delay,
                    self.opts.max_retry_delay,
                ),
            };
            tracing::debug!(image = %loc, url = %redact_url(url), attempt, ?delay, last, "retrying");
            std::thread::sleep(delay);
            attempt += 1;
        }
    }

    /// One GET, following redirects by hand: `Authorization` goes only to the origin of `url`,
    /// and a redirect may lead to plain HTTP only on a host allowed plain HTTP.
    fn send_following_redirects(
        &self,
        loc: &ImageLocation,
        url: &str,
        accept: Option<&str>,
        authorization: Option<&str>,
    ) -> Result<Response, SendError> {
        let refused = |detail: String| {
            SendError::Refused(RegistryError::Connection {
                image: loc.clone().into(),
                url: redact_url(url),
                tls: false,
                detail,
            })
        };
        let origin = Url::parse(url).map_err(|e| refused(format!("invalid URL: {e}")))?;
        let mut current = origin.clone();
        for _ in 0..=MAX_REDIRECTS {
            let mut request = self.http.get(current.clone());
            if let Some(accept) = accept {
                request = request.header(ACCEPT, accept);
            }
            if let Some(authorization) = authorization
                && same_origin(&current, &origin)
            {
                request = request.header(AUTHORIZATION, authorization);
            }
            let resp = request.send().map_err(SendError::Transport)?;
            let status = resp.status();
            if !status.is_redirection() || status == StatusCode::NOT_MODIFIED {
                return Ok(resp);
            }
            let Some(target) = header_str(&resp, LOCATION.as_str()) else {
                return Ok(resp);
            };
            let next = current
                .join(target)
                .map_err(|e| refused(format!("invalid redirect location: {e}")))?;
            let allowed = match next.scheme() {
                "https" => true,
                "http" => self.allows_plain_http(&host_port(&next)),
                _ => false,
            };
            if !allowed {
                return Err(refused(format!(
                    "refusing a redirect to {} (plain HTTP or another scheme)",
                    redact_url(next.as_str())
                )));
            }
            tracing::debug!(from = %redact_url(current.as_str()), to = %redact_url(next.as_str()), "following redirect");
            current = next;
        }
        Err(refused(format!("more than {MAX_REDIRECTS} redirects")))
    }

    fn scheme_for(&self, registry: &str) -> &'static str {
        if self.allows_plain_http(registry) {
            "http"
        } else {
            "https"
        }
    }

    /// Whether `host[:port]` may be reached over plain HTTP.
    fn allows_plain_http(&self, host_port: &str) -> bool {
        let host_port = host_port.to_ascii_lowercase();
        let host = split_host(&host_port);
        if matches!(host, "localhost" | "127.0.0.1" | "[::1]" | "::1") {
            return true;
        }
        self.opts.insecure_registries.iter().any(|entry| {
            let entry = entry
                .trim()
                .trim_start_matches("http://")
                .trim_start_matches("https://")
                .trim_end_matches('/')
                .to_ascii_lowercase();
            entry == host_port || entry == host
        })
    }
}

struct FetchedManifest {
    digest: Digest,
    media_type: String,
    bytes: Vec<u8>,
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

fn location(r: &ImageReference, reference: &str) -> ImageLocation {
    ImageLocation {
        registry: r.registry.clone(),
        repository: r.repository.clone(),
        reference: reference.to_string(),
    }
}

fn invalid(loc: &ImageLocation, what: &str, reason: &str) -> RegistryError {
    RegistryError::InvalidManifest {
        image: loc.clone().into(),
        what: what.to_string(),
        reason: reason.to_string(),
    }
}

fn parse_digest(s: &str, loc: &ImageLocation, what: &str) -> Result<Digest, RegistryError> {
    s.parse::<Digest>()
        .map_err(|e| invalid(loc, what, &e.to_string()))
}

fn pull_scope(repository: &str) -> String {
    format!("repository:{repository}:pull")
}

/// The digest of `bytes` with the algorithm of `like`.
fn digest_like(bytes: &[u8], like: &Digest) -> Digest {
    let mut h = like.hasher();
    h.update(bytes);
    h.finish()
}

/// 429 and server errors, except those that say the request itself will never work.
fn is_retryable_status(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || (status.is_server_error()
            && status != StatusCode::NOT_IMPLEMENTED
            && status != StatusCode::HTTP_VERSION_NOT_SUPPORTED)
}

fn header_str<'a>(resp: &'a Response, name: &str) -> Option<&'a str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

fn www_authenticate(resp: &Response) -> String {
    resp.headers()
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Anything but 200 is an error here: 404 is "not found", the rest "unexpected status".
fn expect_ok(resp: Response, loc: &ImageLocation, what: &str) -> Result<Response, RegistryError> {
    match resp.status() {
        StatusCode::OK => Ok(resp),
        StatusCode::NOT_FOUND => Err(RegistryError::NotFound {
            image: loc.clone().into(),
            what: what.to_string(),
        }),
        status => Err(RegistryError::UnexpectedStatus {
            image: loc.clone().into(),
            what: what.to_string(),
            status: status.as_u16(),
            detail: error_body_detail(resp),
        }),
    }
}

fn read_limited(
    resp: Response,
    limit: u64,
    loc: &ImageLocation,
    what: &str,
) -> Result<Vec<u8>, RegistryError> {
    let too_large = || RegistryError::TooLarge {
        image: loc.clone().into(),
        what: what.to_string(),
        limit,
    };
    if resp.content_length().is_some_and(|len| len > limit) {
        return Err(too_large());
    }
    let url = redact_url(resp.url().as_str());
    let mut bytes = Vec::new();
    resp.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| RegistryError::Connection {
            image: loc.clone().into(),
            url,
            tls: false,
            detail: format!("reading the {what}: {e}"),
        })?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

#[derive(Deserialize)]
struct ErrorsBody {
    errors: Vec<ErrorEntry>,
}

#[derive(Deserialize)]
struct ErrorEntry {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// A short, printable summary of an error response: the distribution spec's `errors` list, or
/// the start of the body.
fn error_body_detail(resp: Response) -> String {
    let status = resp.status();
    let mut body = Vec::new();
    let _ = resp.take(MAX_ERROR_BODY_BYTES).read_to_end(&mut body);
    let summary = match serde_json::from_slice::<ErrorsBody>(&body) {
        Ok(parsed) if !parsed.errors.is_empty() => parsed
            .errors
            .iter()
            .map(|e| format!("{}: {}", e.code, e.message))
            .collect::<Vec<_>>()
            .join("; "),
        _ => String::from_utf8_lossy(&body).trim().to_string(),
    };
    let mut summary: String = summary
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(300)
        .collect();
    if summary.is_empty() {
        summary = format!("HTTP {status}");
    }
    summary
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

fn host_port(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

/// `host:port` → `host`; `[::1]:5000` → `[::1]`.
fn split_host(host_port: &str) -> &str {
    if host_port.starts_with('[') {
        return match host_port.find(']') {
            Some(i) => &host_port[..=i],
            None => host_port,
        };
    }
    match host_port.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            host
        }
        _ => host_port,
    }
}

/// A URL without query or fragment: blob redirects carry signed query strings, and token realm
/// URLs are the only others with queries (which hold no secret but are noise).
fn redact_url(url: &str) -> String {
    match url.find(['?', '#']) {
        Some(i) => format!("{}?…", &url[..i]),
        None => url.to_string(),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

fn looks_like_tls(detail: &str) -> bool {
    let d = detail.to_ascii_lowercase();
    ["certificate", "tls", "handshake", "unknownissuer", "ssl"]
        .iter()
        .any(|w| d.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(insecure: &[&str]) -> RegistryClient {
        RegistryClient::new(ClientOptions {
            insecure_registries: insecure.iter().map(|s| s.to_string()).collect(),
            auth_file: Some(PathBuf::from("/nonexistent/stella-test-auth.json")),
            ..ClientOptions::default()
        })
        .unwrap()
    }

    #[test]
    fn plain_http_only_for_loopback_and_listed_registries() {
        let c = client(&["reg.internal:5000", "http://other.internal/"]);
        assert_eq!(c.scheme_for("localhost:5000"), "http");
        assert_eq!(c.scheme_for("127.0.0.1:40000"), "http");
        assert_eq!(c.scheme_for("[::1]:5000"), "http");
        assert_eq!(c.scheme_for("reg.internal:5000"), "http");
        assert_eq!(c.scheme_for("reg.internal:5001"), "https");
        assert_eq!(c.scheme_for("other.internal:443"), "http");
        assert_eq!(c.scheme_for("registry-1.docker.io"), "https");
        assert_eq!(c.scheme_for("localhost.evil.example"), "https");
    }

    #[test]
    fn origins_and_redaction() {
        let a = Url::parse("http://127.0.0.1:5000/v2/x").unwrap();
        let b = Url::parse("http://127.0.0.1:5000/other").unwrap();
        let c = Url::parse("http://127.0.0.1:5001/v2/x").unwrap();
        let d = Url::parse("https://127.0.0.1:5000/v2/x").unwrap();
        assert!(same_origin(&a, &b));
        assert!(!same_origin(&a, &c));
        assert!(!same_origin(&a, &d));
        assert_eq!(
            redact_url("https://s3.example/b?X-Amz-Signature=secret"),
            "https://s3.example/b?…"
        );
        assert_eq!(split_host("[::1]:5000"), "[::1]");
        assert_eq!(split_host("host:5000"), "host");
        assert_eq!(split_host("host"), "host");
    }

    #[test]
    fn client_is_shareable_between_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<RegistryClient>();
    }
}
