//! The PostgreSQL wire protocol front end (pgwire crate).
//!
//! ```text
//! TcpListener ──accept──► one task per connection ──► Connection (one Session)
//!                            process_socket(pgwire) ─► startup / simple / extended handlers
//! ```
//!
//! Every statement goes through the engine's Session API; errors become
//! ErrorResponse messages in exactly one function (`encode::error_info`).
//! Connections beyond `max_connections` are refused with 53300 once
//! they send their startup packet (`OverLimit`). A CancelRequest (its own
//! short connection, needing no slot) finds the session by backend pid
//! and secret key and interrupts its running statement.

mod copy_out;
mod deferred;
mod encode;
mod handler;
mod params;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use pgwire::api::PgWireServerHandlers;
use pgwire::api::cancel::CancelHandler;
use pgwire::messages::cancel::CancelRequest;
use pgwire::messages::startup::SecretKey;
use rustydb_engine::api::{Database, Interrupt};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use handler::Connection;

/// Listener options.
pub struct PgOptions {
    pub listen: SocketAddr,
    pub max_connections: usize,
}

/// A TLS certificate chain and private key, both PEM files.
pub struct TlsFiles {
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

/// The TLS acceptor for SSLRequest (and direct TLS) connections.
pub fn tls_acceptor(files: &TlsFiles) -> anyhow::Result<pgwire::tokio::TlsAcceptor> {
    use pgwire::tokio::tokio_rustls::rustls::ServerConfig;
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("reading TLS certificates from {}", files.cert.display()))?;
    if certs.is_empty() {
        anyhow::bail!("no certificate in {}", files.cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .with_context(|| format!("reading the TLS private key from {}", files.key.display()))?;
    let mut config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the TLS certificate and key do not match")?;
    // PostgreSQL 17 clients may start TLS directly and ask for this protocol.
    config.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok(pgwire::tokio::TlsAcceptor::from(Arc::new(config)))
}

/// Running statements by (backend pid, secret key), for CancelRequest.
#[derive(Default)]
pub(crate) struct CancelRegistry(parking_lot::Mutex<HashMap<(i32, Vec<u8>), Arc<Interrupt>>>);

/// The key's bytes: BackendKeyData sends an i32 key, and a CancelRequest
/// comes back decoded as bytes (protocol 3.2 allows longer keys).
fn key_bytes(key: &SecretKey) -> Vec<u8> {
    match key {
        SecretKey::I32(k) => k.to_be_bytes().to_vec(),
        SecretKey::Bytes(b) => b.to_vec(),
    }
}

impl CancelRegistry {
    pub(crate) fn register(&self, pid: i32, key: &SecretKey, interrupt: Arc<Interrupt>) {
        self.0.lock().insert((pid, key_bytes(key)), interrupt);
    }
    pub(crate) fn remove(&self, pid: i32, key: &SecretKey) {
        self.0.lock().remove(&(pid, key_bytes(key)));
    }
}

#[async_trait::async_trait]
impl CancelHandler for CancelRegistry {
    async fn on_cancel_request(&self, request: CancelRequest) {
        // Unknown keys are ignored without a reply, as PostgreSQL does.
        let interrupt = self.0.lock().get(&(request.pid, key_bytes(&request.secret_key))).cloned();
        match interrupt {
            Some(interrupt) => interrupt.cancel(),
            None => tracing::debug!("cancel request for unknown backend {}", request.pid),
        }
    }
}

struct Handlers(Arc<Connection>, Arc<CancelRegistry>);

impl PgWireServerHandlers for Handlers {
    fn cancel_handler(&self) -> Arc<impl pgwire::api::cancel::CancelHandler> {
        self.1.clone()
    }
    fn simple_query_handler(&self) -> Arc<impl pgwire::api::query::SimpleQueryHandler> {
        self.0.clone()
    }
    fn extended_query_handler(&self) -> Arc<impl pgwire::api::query::ExtendedQueryHandler> {
        self.0.clone()
    }
    fn startup_handler(&self) -> Arc<impl pgwire::api::auth::StartupHandler> {
        self.0.clone()
    }
    fn copy_handler(&self) -> Arc<impl pgwire::api::copy::CopyHandler> {
        self.0.clone()
    }
}

/// Connections past `max_connections` that may be in their startup at
/// once, to be refused with 53300 or to carry a CancelRequest; past these,
/// sockets are closed unanswered, so a flood of connections costs a
/// bounded number of tasks (each also ends at pgwire's startup timeout).
const OVER_LIMIT_MAX: usize = 32;

/// A connection past `max_connections`: refused at startup, but it may
/// carry a CancelRequest.
struct OverLimitHandlers(Arc<CancelRegistry>);

impl PgWireServerHandlers for OverLimitHandlers {
    fn cancel_handler(&self) -> Arc<impl pgwire::api::cancel::CancelHandler> {
        self.0.clone()
    }
    fn startup_handler(&self) -> Arc<impl pgwire::api::auth::StartupHandler> {
        Arc::new(handler::OverLimit)
    }
}

/// Binds the listener; returns it with its bound address (port 0 picks one).
pub async fn bind(options: &PgOptions) -> anyhow::Result<(TcpListener, SocketAddr)> {
    let listener =
        TcpListener::bind(options.listen).await.with_context(|| format!("listening on {}", options.listen))?;
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}

/// Accepts connections until `shutdown` resolves.
pub async fn serve(
    db: Arc<Database>,
    listener: TcpListener,
    max_connections: usize,
    tls: Option<pgwire::tokio::TlsAcceptor>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(max_connections));
    let over_limit = Arc::new(Semaphore::new(OVER_LIMIT_MAX));
    let cancels = Arc::new(CancelRegistry::default());
    tokio::pin!(shutdown);
    loop {
        let (socket, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    continue;
                }
            },
        };
        let _ = socket.set_nodelay(true);
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            // Answered like any connection up to its startup packet, so
            // the client sees the reason and a CancelRequest gets through.
            let Ok(permit) = over_limit.clone().try_acquire_owned() else {
                tracing::warn!("closing connection from {peer} unanswered: {OVER_LIMIT_MAX} others are being refused");
                continue;
            };
            tracing::warn!("refusing connection from {peer}: {max_connections} connections are open");
            let handlers = Arc::new(OverLimitHandlers(cancels.clone()));
            let tls = tls.clone();
            tokio::spawn(async move {
                if let Err(e) = pgwire::tokio::process_socket(socket, tls, handlers).await {
                    tracing::debug!("refused connection from {peer} ended: {e}");
                }
                drop(permit);
            });
            continue;
        };
        let cancel_registry = cancels.clone();
        let tls = tls.clone();
        let conn = match Connection::new(db.clone(), cancels.clone()) {
            Ok(c) => Arc::new(c),
            Err(e) => {
                tracing::error!("cannot set up a connection from {peer}: {e}");
                continue;
            }
        };
        tokio::spawn(async move {
            let handlers = Arc::new(Handlers(conn, cancel_registry));
            if let Err(e) = pgwire::tokio::process_socket(socket, tls, handlers).await {
                tracing::debug!("connection from {peer} ended: {e}");
            }
            drop(permit);
        });
    }
}
