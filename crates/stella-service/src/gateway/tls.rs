//! Serving the gateway: plain HTTP, or TLS terminated with rustls from PEM files.
//!
//! TLS uses rustls 0.23 through tokio-rustls behind axum's own `serve` (its `Listener` trait),
//! rather than axum-server: axum keeps doing HTTP/1, graceful shutdown and connection info
//! exactly as for plain HTTP, and no second server stack has to track our axum and hyper
//! versions. Handshakes run in their own tasks (bounded by [`HANDSHAKE_TIMEOUT`]), so a client
//! that opens a connection and stalls cannot hold up the others. The crypto provider is named
//! explicitly (aws-lc-rs): with two providers compiled into the workspace, rustls's process
//! default would be ambiguous.
//!
//! Both modes give handlers `ConnectInfo<SocketAddr>` (the rate limits key anonymous callers by
//! it); with TLS, requests also carry the [`Https`] marker so the proxy can say
//! `X-Forwarded-Proto: https`.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use axum::serve::ListenerExt as _;
use axum::{Extension, Router};
use rustls::pki_types::pem::{self, PemObject as _};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// A client that has not finished its TLS handshake by then is dropped.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The PEM files of the gateway's TLS certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first (`CERTIFICATE` blocks).
    pub cert: PathBuf,
    /// Its private key (`PRIVATE KEY`, `RSA PRIVATE KEY` or `EC PRIVATE KEY`).
    pub key: PathBuf,
}

/// Marks requests that arrived over TLS.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Https;

fn read(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| anyhow!("reading the TLS {what} file {}: {e}", path.display()))
}

/// Reads `files` into a rustls server configuration (HTTP/1.1 by ALPN). Every error names the
/// file at fault.
pub fn load_tls_config(files: &TlsFiles) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let cert_pem = read(&files.cert, "certificate")?;
    let certs = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            anyhow!(
                "the TLS certificate file {} is not valid PEM: {e}",
                files.cert.display()
            )
        })?;
    anyhow::ensure!(
        !certs.is_empty(),
        "the TLS certificate file {} holds no PEM CERTIFICATE block",
        files.cert.display()
    );
    let key_pem = read(&files.key, "key")?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| match e {
        pem::Error::NoItemsFound => anyhow!(
            "the TLS key file {} holds no PEM private key (PRIVATE KEY, RSA PRIVATE KEY or EC \
             PRIVATE KEY block)",
            files.key.display()
        ),
        e => anyhow!(
            "the TLS key file {} is not valid PEM: {e}",
            files.key.display()
        ),
    })?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("setting up TLS")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            anyhow!(
                "the TLS certificate {} and key {} cannot be used together: {e}",
                files.cert.display(),
                files.key.display()
            )
        })?;
    // The server speaks HTTP/1 only (axum's `http1` feature).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Serves `app` on `listener` (TLS when `tls` is given) until `shutdown` resolves, then stops
/// accepting, lets requests in flight finish, and returns. The TLS files are read before the
/// first connection is taken, so a bad file fails here, not on a client's handshake.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<&TlsFiles>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    match tls {
        None => {
            axum::serve(
                listener.tap_io(|tcp| no_delay(tcp)),
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(shutdown)
            .await?
        }
        Some(files) => {
            let config = load_tls_config(files)?;
            let listener = TlsListener::new(listener, config)?;
            let app = app.layer(Extension(Https));
            // `tap_io` is a no-op here; it is what gives a custom listener axum's
            // `ConnectInfo<SocketAddr>` (axum implements it for `TapIo<L, _>` generically).
            axum::serve(
                listener.tap_io(|_| {}),
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(shutdown)
            .await?
        }
    }
    Ok(())
}

/// Turns Nagle's algorithm off on an accepted connection: an answer written in more than one
/// piece (a long poll's late body, a TLS record after the headers' one) would otherwise wait
/// for the client's delayed ACK, up to 40 ms on Linux. A failure only costs latency.
fn no_delay(tcp: &TcpStream) {
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!(error = %e, "cannot set TCP_NODELAY");
    }
}

/// A TCP listener handing out connections whose TLS handshake has completed.
struct TlsListener {
    local_addr: SocketAddr,
    handshaken: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    /// Accepts and handshakes in the background; aborted (with its handshakes) on drop.
    acceptor: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    fn new(listener: TcpListener, config: Arc<rustls::ServerConfig>) -> anyhow::Result<Self> {
        let local_addr = listener.local_addr()?;
        // A small queue: connections wait in the kernel's backlog rather than here.
        let (tx, handshaken) = mpsc::channel(16);
        let acceptor = tokio::spawn(accept_loop(listener, TlsAcceptor::from(config), tx));
        Ok(TlsListener {
            local_addr,
            handshaken,
            acceptor,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.handshaken.recv().await {
            Some(conn) => conn,
            // The accept loop never ends while this listener lives; should it die, take no
            // more connections rather than spin.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    tx: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    let mut handshakes = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (tcp, peer) = match accepted {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of file descriptors and the like: wait rather than spin.
                        tracing::warn!(error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                no_delay(&tcp);
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                handshakes.spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
            // Reap finished handshakes so the set does not grow with every connection.
            Some(_) = handshakes.join_next(), if !handshakes.is_empty() => {}
        }
        if tx.is_closed() {
            return;
        }
    }
}
