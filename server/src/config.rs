//! `serve --config FILE`: server settings from a TOML file.
//!
//! Each key is a `serve` option with `_` for `-` (`data`, `pg_listen`,
//! `flight_listen`, `max_connections`, `tls_cert`, `tls_key`, `user`,
//! `memory_mb`, `query_memory_mb`, `segment_cache_mb`, `row_store_mb`,
//! `query_threads`, `segment_store`, `flashback_retention_minutes`). A
//! flag on the command line or its `RUSTYDB_*` variable wins over the file:
//! the file's values are handed to the argument parser only for options
//! given neither way. Passwords stay out of the file (RUSTYDB_PASSWORD).

use std::ffi::OsString;

use anyhow::{Context, bail};

const KEYS: [&str; 14] = [
    "data",
    "pg_listen",
    "flight_listen",
    "max_connections",
    "tls_cert",
    "tls_key",
    "user",
    "memory_mb",
    "query_memory_mb",
    "segment_cache_mb",
    "row_store_mb",
    "query_threads",
    "segment_store",
    "flashback_retention_minutes",
];

/// The command line with the settings of `--config FILE` (or
/// RUSTYDB_CONFIG) added where neither a flag nor a variable gives them.
pub fn with_file_settings(args: Vec<OsString>) -> anyhow::Result<Vec<OsString>> {
    if args.get(1).is_none_or(|a| a != "serve") {
        return Ok(args);
    }
    let texts: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    let path = texts
        .iter()
        .position(|a| a == "--config")
        .and_then(|i| texts.get(i + 1).cloned())
        .or_else(|| texts.iter().find_map(|a| a.strip_prefix("--config=").map(str::to_owned)))
        .or_else(|| std::env::var("RUSTYDB_CONFIG").ok());
    let Some(path) = path else { return Ok(args) };
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading the config file {path}"))?;
    let table: toml::Table = text.parse().with_context(|| format!("parsing the config file {path}"))?;
    let mut out = args;
    for (key, value) in table {
        if !KEYS.contains(&key.as_str()) {
            bail!("unknown setting {key:?} in {path} (known: {})", KEYS.join(", "));
        }
        let flag = format!("--{}", key.replace('_', "-"));
        let variable = format!("RUSTYDB_{}", key.to_ascii_uppercase());
        let given = texts.iter().any(|a| *a == flag || a.starts_with(&format!("{flag}=")));
        if given || std::env::var_os(&variable).is_some() {
            continue;
        }
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(n) => n.to_string(),
            other => bail!("setting {key:?} in {path} must be a string or an integer, not {}", other.type_str()),
        };
        out.push(flag.into());
        out.push(value.into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn file_settings_fill_what_flags_leave() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rustydb.toml");
        std::fs::write(&path, "data = \"/srv/db\"\npg_listen = \"127.0.0.1:6543\"\nmax_connections = 7\n").unwrap();
        let p = path.to_str().unwrap();
        let out = with_file_settings(args(&["rustydb", "serve", "--config", p, "--pg-listen", "127.0.0.1:1"])).unwrap();
        let out: Vec<String> = out.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        assert!(out.windows(2).any(|w| w == ["--data", "/srv/db"]), "{out:?}");
        assert!(out.windows(2).any(|w| w == ["--max-connections", "7"]), "{out:?}");
        assert!(!out.contains(&"127.0.0.1:6543".to_owned()), "the flag wins: {out:?}");

        std::fs::write(&path, "password = \"x\"\n").unwrap();
        let err = with_file_settings(args(&["rustydb", "serve", "--config", p])).unwrap_err();
        assert!(err.to_string().contains("unknown setting"), "{err}");
    }
}
