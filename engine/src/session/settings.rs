//! Session settings (SET / SHOW / RESET), with PostgreSQL's names and
//! defaults. Settings the engine acts on are parsed when read, so a bad
//! value is refused by SET itself.

use std::collections::BTreeMap;
use std::time::Duration;

use rustydb_storage::Isolation;

use crate::error::{EngineError, Result};
use rustydb_common::SqlState;

/// Settings a session can change, with their defaults.
const DEFAULTS: &[(&str, &str)] = &[
    ("application_name", ""),
    ("client_encoding", "UTF8"),
    ("client_min_messages", "notice"),
    ("datestyle", "ISO, MDY"),
    ("default_transaction_isolation", "read committed"),
    ("extra_float_digits", "1"),
    ("intervalstyle", "postgres"),
    ("lock_timeout", "0"),
    ("search_path", "public"),
    ("standard_conforming_strings", "on"),
    ("statement_timeout", "0"),
    ("synchronous_commit", "on"),
    ("timezone", "UTC"),
];

/// Read-only settings clients ask for.
const READ_ONLY: &[(&str, &str)] = &[
    ("server_version", "16.0"),
    ("server_version_num", "160000"),
    ("server_encoding", "UTF8"),
    ("integer_datetimes", "on"),
    ("max_identifier_length", "63"),
];

/// One session's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    values: BTreeMap<String, String>,
    /// What RESET restores: the built-in defaults, overridden by what the
    /// client's startup packet set (as in PostgreSQL).
    reset_to: BTreeMap<String, String>,
}

impl Default for Settings {
    fn default() -> Self {
        let values: BTreeMap<String, String> = DEFAULTS.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings { reset_to: values.clone(), values }
    }
}

fn unknown(name: &str) -> EngineError {
    EngineError::sql(SqlState::UndefinedObject, format!("unrecognized configuration parameter \"{name}\""))
}

/// Parses a PostgreSQL duration setting: plain milliseconds or a unit suffix.
pub fn parse_duration_ms(value: &str) -> Option<u64> {
    let v = value.trim().trim_matches('\'');
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let n: u64 = num.parse().ok()?;
    let factor = match unit.trim() {
        "" | "ms" => 1,
        "s" => 1_000,
        "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(factor)
}

/// Parses an isolation level name.
pub fn parse_isolation(value: &str) -> Result<Isolation> {
    match value.trim().to_lowercase().as_str() {
        "read committed" | "read uncommitted" => Ok(Isolation::ReadCommitted),
        "repeatable read" | "snapshot" => Ok(Isolation::RepeatableRead),
        "serializable" => {
            Err(EngineError::unsupported("SERIALIZABLE isolation is not implemented yet; use REPEATABLE READ"))
        }
        other => Err(EngineError::sql(
            SqlState::InvalidParameterValue,
            format!("invalid value for parameter \"transaction_isolation\": \"{other}\""),
        )),
    }
}

fn parse_bool(name: &str, value: &str) -> Result<bool> {
    match value.trim().to_lowercase().as_str() {
        "on" | "true" | "yes" | "1" | "local" | "remote_write" | "remote_apply" => Ok(true),
        "off" | "false" | "no" | "0" => Ok(false),
        _ => Err(EngineError::sql(
            SqlState::InvalidParameterValue,
            format!("parameter \"{name}\" requires a Boolean value"),
        )),
    }
}

/// The key a parameter is kept under.
fn canonical(name: &str) -> String {
    let name = name.to_lowercase();
    if name == "transaction_isolation" { "default_transaction_isolation".to_owned() } else { name }
}

impl Settings {
    /// Sets a parameter after checking its value.
    pub fn set(&mut self, name: &str, value: &str) -> Result<()> {
        let name = canonical(name);
        if READ_ONLY.iter().any(|(k, _)| *k == name) {
            return Err(EngineError::sql(
                SqlState::CantChangeRuntimeParam,
                format!("parameter \"{name}\" cannot be changed"),
            ));
        }
        if !self.values.contains_key(&name) {
            return Err(unknown(&name));
        }
        match name.as_str() {
            "default_transaction_isolation" => {
                parse_isolation(value)?;
            }
            "synchronous_commit" => {
                parse_bool(&name, value)?;
            }
            "lock_timeout" | "statement_timeout" => {
                parse_duration_ms(value).ok_or_else(|| {
                    EngineError::sql(
                        SqlState::InvalidParameterValue,
                        format!("invalid value for parameter \"{name}\": \"{value}\""),
                    )
                })?;
            }
            _ => {}
        }
        self.values.insert(name, value.to_owned());
        Ok(())
    }

    /// Sets a parameter and makes the value the one RESET restores (a
    /// setting of the client's startup packet).
    pub fn set_session_default(&mut self, name: &str, value: &str) -> Result<()> {
        self.set(name, value)?;
        let name = canonical(name);
        if let Some(value) = self.values.get(&name) {
            self.reset_to.insert(name, value.clone());
        }
        Ok(())
    }

    /// Restores a parameter's session default.
    pub fn reset(&mut self, name: &str) -> Result<()> {
        let name = name.to_lowercase();
        let default = self.reset_to.get(&name).ok_or_else(|| unknown(&name))?;
        self.values.insert(name, default.clone());
        Ok(())
    }

    /// Restores every parameter's session default (RESET ALL).
    pub fn reset_all(&mut self) {
        self.values = self.reset_to.clone();
    }

    /// A parameter's current value.
    pub fn get(&self, name: &str) -> Result<String> {
        let name = name.to_lowercase();
        if let Some((_, v)) = READ_ONLY.iter().find(|(k, _)| *k == name) {
            return Ok(v.to_string());
        }
        let name = if name == "transaction_isolation" { "default_transaction_isolation".to_owned() } else { name };
        self.values.get(&name).cloned().ok_or_else(|| unknown(&name))
    }

    /// All parameters, for SHOW ALL.
    pub fn all(&self) -> Vec<(String, String)> {
        let mut v: Vec<_> = self.values.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        v.extend(READ_ONLY.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        v.sort();
        v
    }

    /// The value of one of [`DEFAULTS`] by its canonical name, without
    /// the copies `get` makes: the typed getters below run per statement.
    fn value(&self, name: &'static str) -> &str {
        debug_assert!(DEFAULTS.iter().any(|(k, _)| *k == name), "{name} is not a setting");
        self.values.get(name).map_or("", String::as_str)
    }

    pub fn default_isolation(&self) -> Result<Isolation> {
        parse_isolation(self.value("default_transaction_isolation"))
    }

    pub fn synchronous_commit(&self) -> Result<bool> {
        parse_bool("synchronous_commit", self.value("synchronous_commit"))
    }

    /// `None`: statements may run forever (PostgreSQL's 0).
    pub fn statement_timeout(&self) -> Result<Option<Duration>> {
        let ms = parse_duration_ms(self.value("statement_timeout")).unwrap_or(0);
        Ok((ms > 0).then(|| Duration::from_millis(ms)))
    }

    /// `None` means wait forever (PostgreSQL's 0).
    pub fn lock_timeout(&self) -> Result<Option<Duration>> {
        let ms = parse_duration_ms(self.value("lock_timeout")).unwrap_or(0);
        Ok((ms > 0).then(|| Duration::from_millis(ms)))
    }

    /// The search path as set (what names resolve against).
    pub fn search_path(&self) -> &str {
        self.value("search_path")
    }

    /// The first schema of the search path.
    pub fn current_schema(&self) -> String {
        let path = self.value("search_path");
        path.split(',')
            .map(|s| s.trim().trim_matches('"'))
            .find(|s| !s.is_empty() && *s != "$user")
            .unwrap_or("public")
            .to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration_ms("150"), Some(150));
        assert_eq!(parse_duration_ms("2s"), Some(2000));
        assert_eq!(parse_duration_ms("'1min'"), Some(60_000));
        assert_eq!(parse_duration_ms("fast"), None);
    }

    #[test]
    fn bad_values_are_refused() {
        let mut s = Settings::default();
        assert!(s.set("synchronous_commit", "maybe").is_err());
        assert!(s.set("no_such_thing", "1").is_err());
        s.set("synchronous_commit", "off").unwrap();
        assert!(!s.synchronous_commit().unwrap());
    }

    #[test]
    fn reset_restores_the_startup_packets_values() {
        let mut s = Settings::default();
        s.set_session_default("application_name", "app").unwrap();
        assert!(s.set_session_default("statement_timeout", "soon").is_err());
        s.set("application_name", "other").unwrap();
        s.set("search_path", "x").unwrap();
        s.reset("application_name").unwrap();
        assert_eq!(s.get("application_name").unwrap(), "app");
        s.set("application_name", "other").unwrap();
        s.reset_all();
        assert_eq!(s.get("application_name").unwrap(), "app");
        assert_eq!(s.get("search_path").unwrap(), "public");
        assert_eq!(s.get("statement_timeout").unwrap(), "0");
    }
}
