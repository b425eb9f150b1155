//! Identifier rules: unquoted names fold to lower case, as in PostgreSQL;
//! object names resolve to (schema, name) through the search path.

use datafusion::sql::sqlparser::ast::{Ident, ObjectName, ObjectNamePart};
use rustydb_common::limits::IDENTIFIER_BYTES_MAX;

use crate::error::{EngineError, Result};
use rustydb_common::SqlState;

/// Name prefix of a table's row-id variant (reserved).
pub const ROWID_PREFIX: &str = "__rowid__";
/// Name of the hidden row-id column.
pub const ROWID_COLUMN: &str = "__rowid";
/// Name of the session's scratch schema (reserved).
pub const SCRATCH_SCHEMA: &str = "__session";

/// The database name every session sees.
pub const DATABASE_NAME: &str = "rustydb";

/// The superuser a fresh server trusts on loopback (and the default name
/// RUSTYDB_USER gives the first superuser).
pub const BOOTSTRAP_USER: &str = "rustydb";

/// An identifier as stored: quoted keeps case, unquoted folds to lower case.
pub fn ident(id: &Ident) -> String {
    if id.quote_style.is_some() { id.value.clone() } else { id.value.to_lowercase() }
}

/// Checks a name for a new object.
pub fn check_new_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(EngineError::sql(SqlState::InvalidName, "zero-length delimited identifier"));
    }
    if name.len() > IDENTIFIER_BYTES_MAX {
        return Err(EngineError::sql(
            SqlState::NameTooLong,
            format!("identifier \"{name}\" is longer than {IDENTIFIER_BYTES_MAX} bytes"),
        ));
    }
    if name.starts_with(ROWID_PREFIX) || name == SCRATCH_SCHEMA {
        return Err(EngineError::sql(SqlState::ReservedName, format!("name \"{name}\" is reserved")));
    }
    Ok(())
}

fn parts(name: &ObjectName) -> Result<Vec<String>> {
    name.0
        .iter()
        .map(|p| match p {
            ObjectNamePart::Identifier(i) => Ok(ident(i)),
            other => Err(EngineError::syntax(format!("unexpected name part {other}"))),
        })
        .collect()
}

/// Splits `[db.][schema.]name`; the schema is `None` when not given.
pub fn split(name: &ObjectName) -> Result<(Option<String>, String)> {
    let mut p = parts(name)?;
    match p.len() {
        1 => Ok((None, p.remove(0))),
        2 => {
            let n = p.remove(1);
            Ok((Some(p.remove(0)), n))
        }
        3 => {
            if p[0] != DATABASE_NAME {
                return Err(EngineError::unsupported(format!("cross-database references are not implemented: {name}")));
            }
            let n = p.remove(2);
            Ok((Some(p.remove(1)), n))
        }
        _ => Err(EngineError::syntax(format!("improper qualified name (too many dotted names): {name}"))),
    }
}

/// A quoted identifier for generated SQL.
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A name as PostgreSQL prints it: bare when it reads back the same
/// unquoted (lower case letters, digits, `_`), quoted otherwise.
pub fn quote_if_needed(name: &str) -> String {
    let plain = name.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain { name.to_owned() } else { quote(name) }
}
