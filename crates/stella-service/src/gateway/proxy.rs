//! The reverse proxy to a role on another host.
//!
//! A request is forwarded with its method, path and query (appended to the upstream's base
//! URL, never rewritten), its already-buffered body, and its end-to-end headers: the hop-by-hop
//! ones of RFC 9110 §7.6.1 (`Connection` and the fields it lists, `Keep-Alive`, `TE`,
//! `Trailer`, `Transfer-Encoding`, `Upgrade`, `Proxy-*`) are dropped, `Host` becomes the
//! upstream's (the public one travels as `X-Forwarded-Host`), and `X-Forwarded-For`/`-Proto`/
//! `-Host` are set from the connection. The gateway is the edge, so a client's own
//! `X-Forwarded-*` and `Forwarded` fields are dropped rather than trusted. `Authorization`,
//! `DPoP` and `DPoP-Nonce` pass untouched: proofs name the public URL and the roles check them
//! against it.
//!
//! The answer comes back with its status and end-to-end headers (`WWW-Authenticate`,
//! `DPoP-Nonce`, `Location`, …) and its body streamed, so a large SBOM is not held in memory.
//! Redirects are passed to the client, not followed. An upstream that cannot be reached is a
//! `502`, one that does not answer within the timeout a `504`; both name the role and log the
//! cause (the upstream's address stays out of public answers).

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;

use super::tls::Https;
use super::{Role, error};

/// RFC 9110 §7.6.1 hop-by-hop fields, plus the old `Proxy-Connection`.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Fields the gateway sets itself from the connection.
const FORWARDING: [&str; 4] = [
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
];

pub(crate) struct Proxy {
    role: Role,
    base: url::Url,
    /// `Err` when the HTTP client could not be built (its TLS setup failed): every request
    /// then answers 502 with the reason in the log, rather than the gateway refusing to start
    /// for the sake of one role.
    client: Result<reqwest::Client, String>,
    timeout: Duration,
}

impl Proxy {
    pub(crate) fn new(role: Role, base: url::Url, timeout: Duration) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            // Bounds a stalled body too, where the send timeout no longer applies.
            .read_timeout(timeout)
            .build()
            .map_err(|e| format!("building the HTTP client: {}", chain(&e)));
        Proxy {
            role,
            base,
            client,
            timeout,
        }
    }

    /// The upstream URL for a path (with its query).
    fn target(&self, path_and_query: &str) -> String {
        format!(
            "{}{path_and_query}",
            self.base.as_str().trim_end_matches('/')
        )
    }

    fn client(&self) -> Result<&reqwest::Client, String> {
        self.client.as_ref().map_err(Clone::clone)
    }

    /// Forwards one request and returns the upstream's answer.
    pub(crate) async fn forward(&self, req: Request) -> Response {
        let (parts, body) = req.into_parts();
        // The body-limit layer has already buffered it; this only takes the bytes out.
        let body = match axum::body::to_bytes(body, usize::MAX).await {
            Ok(b) => b,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    format!("reading the request body: {e}"),
                );
            }
        };
        let path_and_query = parts
            .uri
            .path_and_query()
            .map_or(parts.uri.path(), |pq| pq.as_str());
        let target = self.target(path_and_query);

        let mut headers = parts.headers.clone();
        strip_hop_by_hop(&mut headers);
        for name in FORWARDING {
            headers.remove(name);
        }
        headers.remove(header::HOST);
        // reqwest sets the length of the body it sends.
        headers.remove(header::CONTENT_LENGTH);
        // A `Connection` field could have named the request id; it is the gateway's, so it
        // goes upstream whatever the client listed.
        if let Some(id) = parts.headers.get("x-request-id") {
            headers.insert("x-request-id", id.clone());
        }
        if let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>()
            && let Ok(v) = HeaderValue::from_str(&peer.ip().to_string())
        {
            headers.insert("x-forwarded-for", v);
        }
        let proto = if parts.extensions.get::<Https>().is_some() {
            "https"
        } else {
            "http"
        };
        headers.insert("x-forwarded-proto", HeaderValue::from_static(proto));
        if let Some(host) = parts.headers.get(header::HOST) {
            headers.insert("x-forwarded-host", host.clone());
        }

        let client = match self.client() {
            Ok(c) => c,
            Err(e) => return self.bad_gateway(&target, &e),
        };
        let mut request = client
            .request(parts.method.clone(), &target)
            .headers(headers);
        // An empty GET goes without a body; an empty POST keeps its `Content-Length: 0`.
        if !body.is_empty() || parts.headers.contains_key(header::CONTENT_LENGTH) {
            request = request.body(body);
        }
        let upstream = match tokio::time::timeout(self.timeout, request.send()).await {
            Err(_) => return self.gateway_timeout(&target),
            Ok(Err(e)) if e.is_timeout() => return self.gateway_timeout(&target),
            Ok(Err(e)) => return self.bad_gateway(&target, &chain(&e)),
            Ok(Ok(r)) => r,
        };

        let status = upstream.status();
        let mut headers = upstream.headers().clone();
        strip_hop_by_hop(&mut headers);
        let mut response = Response::new(Body::from_stream(upstream.bytes_stream()));
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        response
    }

    /// GETs `path` on the upstream and returns at most `max` bytes of a 2xx body (the JWKS).
    pub(crate) async fn get(&self, path: &str, max: usize) -> anyhow::Result<Bytes> {
        let target = self.target(path);
        let client = self.client().map_err(anyhow::Error::msg)?;
        let mut response = client
            .get(&target)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("GET {target}: {}", chain(&e)))?;
        anyhow::ensure!(
            response.status().is_success(),
            "GET {target} answered {}",
            response.status()
        );
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| anyhow::anyhow!("GET {target}: {}", chain(&e)))?
        {
            anyhow::ensure!(
                body.len() + chunk.len() <= max,
                "GET {target}: body over {max} bytes"
            );
            body.extend_from_slice(&chunk);
        }
        Ok(body.into())
    }

    fn bad_gateway(&self, target: &str, cause: &str) -> Response {
        let role = self.role.name();
        tracing::warn!(role, upstream = %target, error = %cause, "upstream unreachable");
        error(
            StatusCode::BAD_GATEWAY,
            "bad_gateway",
            format!("the {role} role is unreachable; retry later"),
        )
    }

    fn gateway_timeout(&self, target: &str) -> Response {
        let role = self.role.name();
        tracing::warn!(role, upstream = %target, timeout = ?self.timeout, "upstream timed out");
        error(
            StatusCode::GATEWAY_TIMEOUT,
            "gateway_timeout",
            format!(
                "the {role} role did not answer within {} s; retry later",
                self.timeout.as_secs_f64()
            ),
        )
    }
}

/// Drops the hop-by-hop fields, and the fields that `Connection` names as such.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let listed: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in listed {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

/// An error with its causes, `a: b: c`: reqwest's own message alone hides the reason.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_fields_and_those_connection_names_are_dropped() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-secret"),
        );
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        h.insert(header::TE, HeaderValue::from_static("trailers"));
        h.insert("dpop", HeaderValue::from_static("proof"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("DPoP t"));
        h.insert("dpop-nonce", HeaderValue::from_static("n"));
        strip_hop_by_hop(&mut h);
        let mut left: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
        left.sort();
        assert_eq!(left, ["authorization", "dpop", "dpop-nonce"]);
    }

    #[test]
    fn target_appends_path_and_query_to_the_base() {
        let p = |base: &str| {
            Proxy::new(
                Role::ScannerWeb,
                url::Url::parse(base).unwrap(),
                Duration::from_secs(1),
            )
        };
        assert_eq!(
            p("http://scanner-web.internal:8081").target("/api/v1/scans?limit=2"),
            "http://scanner-web.internal:8081/api/v1/scans?limit=2"
        );
        assert_eq!(
            p("http://h/prefix/").target("/jwks"),
            "http://h/prefix/jwks"
        );
    }
}
