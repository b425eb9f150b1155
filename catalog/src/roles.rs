//! Roles (users) and their SCRAM-SHA-256 secrets.
//!
//! A password is never stored: what is kept is the salt, the iteration
//! count and PBKDF2-HMAC-SHA256 of the SASLprep'ed password under that
//! salt (SCRAM's SaltedPassword, RFC 5802), which is what the protocol
//! library needs to run the exchange. PostgreSQL keeps StoredKey/ServerKey
//! instead, which are one step further from the password; the SaltedPassword
//! is password-equivalent for SCRAM, so the catalog must be protected as
//! PostgreSQL protects pg_authid.

use pbkdf2::pbkdf2_hmac;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// PBKDF2 iterations for new secrets: PostgreSQL's default.
pub const SCRAM_ITERATIONS: u32 = 4096;

/// A login role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleDef {
    pub name: String,
    /// Object id, for pg_roles OIDs.
    pub id: u64,
    pub superuser: bool,
    pub login: bool,
    pub password: Option<ScramSecret>,
}

/// What authenticates a role's password.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct ScramSecret {
    pub iterations: u32,
    pub salt: Vec<u8>,
    pub salted_password: Vec<u8>,
}

impl std::fmt::Debug for ScramSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ScramSecret(..)")
    }
}

impl ScramSecret {
    /// A new secret for `password` with a fresh random salt.
    pub fn new(password: &str) -> ScramSecret {
        let salt: [u8; 16] = rand::random();
        Self::with_salt(password, &salt, SCRAM_ITERATIONS)
    }

    pub fn with_salt(password: &str, salt: &[u8], iterations: u32) -> ScramSecret {
        // As PostgreSQL: a password SASLprep rejects is used as given.
        let prepared = stringprep::saslprep(password).map(|p| p.into_owned()).unwrap_or_else(|_| password.to_owned());
        let mut salted = vec![0u8; 32];
        pbkdf2_hmac::<Sha256>(prepared.as_bytes(), salt, iterations, &mut salted);
        ScramSecret { iterations, salt: salt.to_vec(), salted_password: salted }
    }

    /// Whether `password` is this secret's password (for tests and tools;
    /// clients prove it through SCRAM instead).
    pub fn matches(&self, password: &str) -> bool {
        Self::with_salt(password, &self.salt, self.iterations).salted_password == self.salted_password
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salted_password_is_rfc7677_pbkdf2() {
        // RFC 7677's example: user "user", password "pencil", 4096 iterations.
        let salt = [0x5b, 0x6d, 0x99, 0x68, 0x9d, 0x12, 0x35, 0x8e, 0xec, 0xa0, 0x4b, 0x14, 0x12, 0x36, 0xfa, 0x81];
        let s = ScramSecret::with_salt("pencil", &salt, 4096);
        assert_eq!(s.salted_password.len(), 32);
        assert!(s.matches("pencil"));
        assert!(!s.matches("pencil2"));
        let other = ScramSecret::new("pencil");
        assert_ne!(other.salt, s.salt);
        assert!(other.matches("pencil"));
        assert_eq!(format!("{other:?}"), "ScramSecret(..)");
    }
}
