//! Reading upstream documents: over HTTP from the public URL or a mirror, or from a folder.
//!
//! A mirror has the upstream's own layout under it (OSV: `<Ecosystem>/all.zip`), so one base
//! and one relative path name a document wherever it lives. Every read is bounded by
//! [`Limits::max_document_bytes`]: a declared `Content-Length` over the bound is refused before
//! a byte is read, and an undeclared one is cut off at the bound.

use crate::parse::Limits;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where a feed's documents are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    /// `http(s)://…` (the upstream's public URL or an HTTP mirror).
    Url(String),
    /// A folder holding the upstream layout.
    Dir(PathBuf),
}

impl Base {
    /// `http://` and `https://` are URLs, `file://` and anything else a folder.
    pub fn parse(s: &str) -> Base {
        if s.starts_with("http://") || s.starts_with("https://") {
            Base::Url(s.trim_end_matches('/').to_string())
        } else {
            Base::Dir(PathBuf::from(s.strip_prefix("file://").unwrap_or(s)))
        }
    }

    /// The location of `rel` under this base, as shown to users.
    pub fn locate(&self, rel: &str) -> String {
        match self {
            Base::Url(u) => format!("{u}/{rel}"),
            Base::Dir(d) => d.join(rel).display().to_string(),
        }
    }
}

/// Why a document could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{location}: {message}")]
    Http { location: String, message: String },
    #[error("{location}: HTTP status {status}")]
    Status { location: String, status: u16 },
    #[error("{location}: larger than the limit of {limit} bytes")]
    TooLarge { location: String, limit: u64 },
    #[error("{location}: {source}")]
    Io {
        location: String,
        #[source]
        source: std::io::Error,
    },
}

/// A document as read.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// Full URL or path.
    pub location: String,
    pub bytes: Vec<u8>,
}

/// Reads documents with one HTTP client (connection reuse, timeouts, retries of transient
/// failures) and the size bound.
pub struct Fetcher {
    client: reqwest::blocking::Client,
    max_bytes: u64,
    retries: u32,
}

impl Fetcher {
    pub fn new(limits: &Limits) -> Result<Fetcher, FetchError> {
        let client = reqwest::blocking::Client::builder()
            .user_agent(concat!("stella/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(20))
            .timeout(Duration::from_secs(600))
            .build()
            .map_err(|e| FetchError::Http {
                location: "HTTP client".into(),
                message: e.to_string(),
            })?;
        Ok(Fetcher {
            client,
            max_bytes: limits.max_document_bytes,
            retries: 3,
        })
    }

    /// Reads `rel` under `base`; `Ok(None)` when it does not exist (HTTP 404, missing file),
    /// which feeds use for optional parts such as an Alpine branch without a community repo.
    pub fn get(&self, base: &Base, rel: &str) -> Result<Option<Fetched>, FetchError> {
        match base {
            Base::Dir(dir) => read_file(&dir.join(rel), self.max_bytes),
            Base::Url(url) => self.get_url(&format!("{url}/{rel}"), &[]),
        }
    }

    /// GET of a full URL, with extra headers (NVD's `apiKey`).
    pub fn get_url(
        &self,
        location: &str,
        headers: &[(&str, String)],
    ) -> Result<Option<Fetched>, FetchError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_get(location, headers) {
                Err(e) if attempt <= self.retries && transient(&e) => {
                    let wait = Duration::from_millis(500 * 2u64.pow(attempt - 1));
                    tracing::warn!("{e}; retrying in {wait:?}");
                    std::thread::sleep(wait);
                }
                other => return other,
            }
        }
    }

    fn try_get(
        &self,
        location: &str,
        headers: &[(&str, String)],
    ) -> Result<Option<Fetched>, FetchError> {
        // The location leads the message already; reqwest would repeat it.
        let http = |e: reqwest::Error| FetchError::Http {
            location: location.to_string(),
            message: error_chain(&e.without_url()),
        };
        let mut req = self.client.get(location);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let resp = req.send().map_err(http)?;
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(FetchError::Status {
                location: location.to_string(),
                status: status.as_u16(),
            });
        }
        if resp.content_length().is_some_and(|n| n > self.max_bytes) {
            return Err(FetchError::TooLarge {
                location: location.to_string(),
                limit: self.max_bytes,
            });
        }
        let bytes = read_bounded(resp, self.max_bytes, location)?;
        Ok(Some(Fetched {
            location: location.to_string(),
            bytes,
        }))
    }
}

fn transient(e: &FetchError) -> bool {
    match e {
        FetchError::Http { .. } => true,
        FetchError::Status { status, .. } => *status == 429 || *status >= 500,
        _ => false,
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

/// Reads a file, refusing one over `max` bytes; `Ok(None)` when it does not exist.
pub fn read_file(path: &Path, max: u64) -> Result<Option<Fetched>, FetchError> {
    let location = path.display().to_string();
    let io = |source| FetchError::Io {
        location: location.clone(),
        source,
    };
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    if file.metadata().map_err(io)?.len() > max {
        return Err(FetchError::TooLarge {
            location,
            limit: max,
        });
    }
    let bytes = read_bounded(file, max, &location)?;
    Ok(Some(Fetched { location, bytes }))
}

fn read_bounded(r: impl Read, max: u64, location: &str) -> Result<Vec<u8>, FetchError> {
    let mut bytes = Vec::new();
    r.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| FetchError::Io {
            location: location.to_string(),
            source,
        })?;
    if bytes.len() as u64 > max {
        return Err(FetchError::TooLarge {
            location: location.to_string(),
            limit: max,
        });
    }
    Ok(bytes)
}
