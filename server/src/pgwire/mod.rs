//! The PostgreSQL wire protocol front end (pgwire crate).
//!
//! ```text
//! TcpListener ──accept──► one task per connection ──► Connection (one Session)
//!                            process_socket(pgwire) ─► startup / simple / extended handlers
//! ```
//!
//! Every statement goes through the engine's Session API; errors become
//! ErrorResponse messages in exactly one function (`encode::error_info`).
//! Connections beyond `max_connections` are refused with 53300.

mod copy_out;
mod encode;
mod handler;
mod params;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use pgwire::api::PgWireServerHandlers;
use rustydb_engine::Database;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use handler::Connection;

/// Listener options.
pub struct PgOptions {
    pub listen: SocketAddr,
    pub max_connections: usize,
}

struct Handlers(Arc<Connection>);

impl PgWireServerHandlers for Handlers {
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
    shutdown: impl std::future::Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(max_connections));
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
            tracing::warn!("refusing connection from {peer}: {max_connections} connections are open");
            tokio::spawn(handler::refuse_too_many(socket));
            continue;
        };
        let conn = match Connection::new(db.clone()) {
            Ok(c) => Arc::new(c),
            Err(e) => {
                tracing::error!("cannot set up a connection from {peer}: {e}");
                continue;
            }
        };
        tokio::spawn(async move {
            if let Err(e) = pgwire::tokio::process_socket(socket, None, Arc::new(Handlers(conn))).await {
                tracing::debug!("connection from {peer} ended: {e}");
            }
            drop(permit);
        });
    }
}
