//! Authentication: the one rule every front end applies.
//!
//! While no role has a password the database is in trust mode: every
//! client is admitted as the user it names (the bootstrap superuser when it
//! names none), and listeners may open on loopback addresses only
//! ([`Database::check_listen`]), so trust never reaches another machine.
//! Once a role has a password every client must prove who it is: over the
//! PostgreSQL protocol by a SCRAM-SHA-256 exchange (`engine::pg`), over
//! protocols that carry the password itself (Flight SQL's basic handshake,
//! HTTP) by [`Database::authenticate`]. Failures read the same whether the
//! role is missing, cannot log in or has another password (28P01), as in
//! PostgreSQL.

use std::net::SocketAddr;

use rustydb_common::SqlState;

use crate::error::{EngineError, Result};
use crate::session::Database;
use crate::sql::names::BOOTSTRAP_USER;

/// How the database admits clients now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// No role has a password: clients are who they say (loopback only).
    Trust,
    /// Clients must prove who they are.
    Password,
}

/// Who a client proved to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user: String,
}

impl Database {
    /// How clients are admitted: [`Admission::Password`] once any role has
    /// a password.
    pub fn admission(&self) -> Result<Admission> {
        Ok(if self.password_required()? { Admission::Password } else { Admission::Trust })
    }

    /// Admits a client that sends its user name and password (or neither):
    /// in trust mode as the user it names, else only with the password of
    /// a role that may log in.
    pub fn authenticate(&self, user: Option<&str>, password: Option<&str>) -> Result<Principal> {
        let user = user.unwrap_or(BOOTSTRAP_USER);
        match self.admission()? {
            Admission::Trust => Ok(Principal { user: user.to_owned() }),
            Admission::Password => {
                let Some(password) = password else {
                    return Err(EngineError::sql(
                        SqlState::InvalidAuthorizationSpecification,
                        "credentials are required: no role is trusted once one has a password",
                    ));
                };
                match self.login_secret(user)? {
                    Some(secret) if secret.matches(password) => Ok(Principal { user: user.to_owned() }),
                    _ => Err(password_failed(user)),
                }
            }
        }
    }

    /// Refuses a listener on another machine's reach while clients are
    /// trusted (no role has a password).
    pub fn check_listen(&self, addr: SocketAddr) -> Result<()> {
        if !addr.ip().is_loopback() && self.admission()? == Admission::Trust {
            return Err(EngineError::sql(
                SqlState::InvalidAuthorizationSpecification,
                format!(
                    "refusing to listen on {addr}: no role has a password, so clients are not authenticated; \
                     create a role with a password (RUSTYDB_PASSWORD) or listen on a loopback address"
                ),
            ));
        }
        Ok(())
    }
}

/// The one failure of a password login.
pub fn password_failed(user: &str) -> EngineError {
    EngineError::sql(SqlState::InvalidPassword, format!("password authentication failed for user \"{user}\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_until_a_password_then_only_the_password() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path()).unwrap();
        assert_eq!(db.admission().unwrap(), Admission::Trust);
        assert_eq!(db.authenticate(None, None).unwrap().user, BOOTSTRAP_USER);
        assert_eq!(db.authenticate(Some("ann"), None).unwrap().user, "ann");
        let remote: SocketAddr = "10.1.2.3:5432".parse().unwrap();
        assert_eq!(db.check_listen(remote).unwrap_err().sqlstate(), "28000");
        db.check_listen("127.0.0.1:5432".parse().unwrap()).unwrap();

        db.ensure_superuser("root", "secret").unwrap();
        assert_eq!(db.admission().unwrap(), Admission::Password);
        db.check_listen(remote).unwrap();
        assert_eq!(db.authenticate(Some("root"), Some("secret")).unwrap().user, "root");
        for (user, password) in [(Some("root"), Some("wrong")), (Some("nobody"), Some("secret")), (None, Some("x"))] {
            let e = db.authenticate(user, password).unwrap_err();
            assert_eq!(e.sqlstate(), "28P01", "{user:?}");
        }
        assert_eq!(db.authenticate(Some("root"), None).unwrap_err().sqlstate(), "28000");
    }
}
