//! RustyDB's Arrow Flight SQL front end: arrow-flight's `FlightSqlService`
//! over the engine's Session API. Results leave as the record batches
//! DataFusion produces; bulk loads arrive the same way.

mod auth;
mod error;
mod ingest;
mod metadata;
mod service;

use std::sync::Arc;

use arrow_flight::flight_service_server::FlightServiceServer;
use rustydb_engine::api::Database;

pub use auth::TOKEN_LIFETIME;
pub use error::to_status;
pub use service::FlightSqlServer;

/// Largest message a client may send (a DoPut batch, for example).
pub const MESSAGE_BYTES_MAX: usize = 64 * 1024 * 1024;

/// A certificate chain and private key, both PEM, for gRPC over TLS.
pub struct FlightTls {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

/// Serves Flight SQL on `listener` (over TLS when `tls` is given) until
/// `shutdown` resolves.
pub async fn serve(
    db: Arc<Database>,
    listener: tokio::net::TcpListener,
    tls: Option<FlightTls>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let service = FlightSqlServer::new(db).map_err(|s| format!("starting Flight SQL: {}", s.message()))?;
    let server = FlightServiceServer::new(service)
        .max_decoding_message_size(MESSAGE_BYTES_MAX)
        .max_encoding_message_size(MESSAGE_BYTES_MAX);
    // Without TCP_NODELAY a response's last small write waits for the
    // client's delayed ACK: about 40 ms added to every query's answer.
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = tls {
        let identity = tonic::transport::Identity::from_pem(tls.cert_pem, tls.key_pem);
        builder = builder.tls_config(tonic::transport::ServerTlsConfig::new().identity(identity))?;
    }
    builder.add_service(server).serve_with_incoming_shutdown(incoming, shutdown).await?;
    Ok(())
}
