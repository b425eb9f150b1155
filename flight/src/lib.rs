//! RustyDB's Arrow Flight SQL front end: arrow-flight's `FlightSqlService`
//! over the engine's Session API. Results leave as the record batches
//! DataFusion produces; bulk loads arrive the same way.

mod auth;
mod error;
mod ingest;
mod metadata;
mod service;

use std::net::SocketAddr;
use std::sync::Arc;

use arrow_flight::flight_service_server::FlightServiceServer;
use rustydb_engine::Database;

pub use auth::TOKEN_LIFETIME;
pub use error::to_status;
pub use service::FlightSqlServer;

/// Largest message a client may send (a DoPut batch, for example).
pub const MESSAGE_BYTES_MAX: usize = 64 * 1024 * 1024;

/// Serves Flight SQL on `listener` until `shutdown` resolves.
pub async fn serve(
    db: Arc<Database>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let service = FlightSqlServer::new(db).map_err(|s| format!("starting Flight SQL: {}", s.message()))?;
    let server = FlightServiceServer::new(service)
        .max_decoding_message_size(MESSAGE_BYTES_MAX)
        .max_encoding_message_size(MESSAGE_BYTES_MAX);
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    tonic::transport::Server::builder().add_service(server).serve_with_incoming_shutdown(incoming, shutdown).await?;
    Ok(())
}

/// The address a listener is bound to, for messages.
pub fn describe(addr: SocketAddr) -> String {
    format!("Flight SQL on grpc://{addr}")
}
