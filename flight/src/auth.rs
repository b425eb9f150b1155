//! Who is calling: the handshake checks basic credentials against the
//! catalog's roles (the same SCRAM secrets the PostgreSQL front end uses)
//! and hands out a bearer token; every later call presents it.
//!
//! The rules match the PostgreSQL front end: while no role has a password
//! the server trusts its (loopback-only) clients as the bootstrap
//! superuser; once one has, every call needs a valid token.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::alphabet::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use parking_lot::Mutex;
use rand::RngCore;
use rustydb_engine::api::{Admission, BOOTSTRAP_USER, Database};
use tonic::Status;
use tonic::metadata::MetadataMap;

use crate::error::to_status;

/// How long a token stays valid after the handshake.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);

/// Tokens handed out by the handshake.
pub struct Tokens {
    db: Arc<Database>,
    issued: Mutex<HashMap<String, (String, Instant)>>,
    lifetime: Duration,
}

impl Tokens {
    pub fn new(db: Arc<Database>, lifetime: Duration) -> Self {
        Tokens { db, issued: Mutex::default(), lifetime }
    }

    /// Checks `authorization: Basic ...` and returns a new token for the
    /// user it names.
    pub fn handshake(&self, metadata: &MetadataMap) -> Result<(String, String), Status> {
        let credentials = header(metadata)?.map(basic_credentials).transpose()?;
        let (user, password) = credentials.as_ref().map(|(u, p)| (u.as_str(), p.as_str())).unzip();
        let user = self.db.authenticate(user, password).map_err(to_status)?.user;
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let mut issued = self.issued.lock();
        let now = Instant::now();
        issued.retain(|_, (_, expires)| *expires > now);
        issued.insert(token.clone(), (user.clone(), now + self.lifetime));
        Ok((user, token))
    }

    /// The user a call is made by: the owner of its bearer token, or the
    /// bootstrap superuser for a call without one while nothing needs a
    /// password.
    pub fn authenticate(&self, metadata: &MetadataMap) -> Result<String, Status> {
        match header(metadata)? {
            Some(value) => {
                let token = value
                    .strip_prefix("Bearer ")
                    .ok_or_else(|| Status::unauthenticated("expected a bearer token from the handshake"))?;
                match self.issued.lock().get(token.trim()) {
                    Some((user, expires)) if *expires > Instant::now() => Ok(user.clone()),
                    Some(_) => Err(Status::unauthenticated("the token has expired: handshake again")),
                    None => Err(Status::unauthenticated("unknown token")),
                }
            }
            None => match self.db.admission().map_err(to_status)? {
                Admission::Trust => Ok(BOOTSTRAP_USER.to_owned()),
                Admission::Password => Err(Status::unauthenticated("no token: call Handshake with credentials first")),
            },
        }
    }
}

fn header(metadata: &MetadataMap) -> Result<Option<&str>, Status> {
    match metadata.get("authorization") {
        None => Ok(None),
        Some(v) => v.to_str().map(Some).map_err(|_| Status::unauthenticated("authorization header is not text")),
    }
}

fn basic_credentials(value: &str) -> Result<(String, String), Status> {
    let encoded = value
        .strip_prefix("Basic ")
        .ok_or_else(|| Status::unauthenticated("the handshake takes basic authentication"))?;
    // Padding is optional: ADBC's Go driver leaves it out.
    const BASE64: GeneralPurpose = GeneralPurpose::new(
        &STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let decoded =
        BASE64.decode(encoded.trim()).map_err(|_| Status::unauthenticated("basic credentials are not base64"))?;
    let text = String::from_utf8(decoded).map_err(|_| Status::unauthenticated("basic credentials are not UTF-8"))?;
    let (user, password) =
        text.split_once(':').ok_or_else(|| Status::unauthenticated("basic credentials need user:password"))?;
    Ok((user.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::prelude::{BASE64_STANDARD, BASE64_STANDARD_NO_PAD};

    #[test]
    fn basic_credentials_parse() {
        let value = format!("Basic {}", BASE64_STANDARD.encode("ann:pa:ss"));
        assert_eq!(basic_credentials(&value).unwrap(), ("ann".into(), "pa:ss".into()));
        let unpadded = format!("Basic {}", BASE64_STANDARD_NO_PAD.encode("ann:pw"));
        assert_eq!(basic_credentials(&unpadded).unwrap(), ("ann".into(), "pw".into()));
        assert!(basic_credentials("Bearer x").is_err());
        assert!(basic_credentials("Basic !!!").is_err());
    }
}
