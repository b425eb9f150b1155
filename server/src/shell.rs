//! The embedded SQL shell: `rustydb sql`.
//!
//! Statements end at a semicolon (outside quotes); results print as psql
//! prints them; an error prints `ERROR: <SQLSTATE>: <message>` and the
//! interactive shell carries on, while `-c` and `-f` stop at the first error
//! with exit status 1 (as `psql -v ON_ERROR_STOP=1`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use rustydb_engine::api::{Database, EngineError, Piece, Session, StatementResult};
use rustydb_engine::pg;

use crate::format;

/// Runs the shell; returns the process exit code.
pub async fn run(data: PathBuf, command: Option<String>, file: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let db = Database::open(&data).with_context(|| format!("opening the database in {}", data.display()))?;
    let mut session = db.session();
    if let Some(sql) = command {
        return Ok(run_script(&mut session, &sql).await);
    }
    if let Some(path) = file {
        let sql = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        return Ok(run_script(&mut session, &sql).await);
    }
    interactive(&mut session).await
}

/// Runs a script's statements in order, printing each result, and stops at
/// the first error: what `-c` and `-f` do. Every statement takes the same
/// route into the engine as one sent by a PostgreSQL client's simple query.
pub async fn run_script(session: &mut Session, sql: &str) -> ExitCode {
    let pieces = match session.statements(sql) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ERROR: {}: {e}", e.sqlstate());
            return ExitCode::FAILURE;
        }
    };
    for piece in pieces {
        if !run_one(session, piece).await {
            return ExitCode::FAILURE;
        }
    }
    let _ = session.database().flush();
    ExitCode::SUCCESS
}

/// Runs and prints one statement; false after an error.
async fn run_one(session: &mut Session, piece: Piece) -> bool {
    let out = match session.execute_piece(piece).await {
        // The shell has no COPY data channel; psql's \copy over the
        // PostgreSQL protocol is the way to load files.
        Ok(StatementResult::CopyIn { .. }) => {
            Err(session.copy_in_fail("COPY FROM STDIN needs a PostgreSQL protocol client such as psql").await)
        }
        other => other,
    };
    match out {
        Ok(out) => match print(out).await {
            Ok(()) => true,
            Err(e) => {
                eprintln!("ERROR: {}: {e}", e.sqlstate());
                false
            }
        },
        Err(e) => {
            eprintln!("ERROR: {}: {e}", e.sqlstate());
            if let Some(d) = e.detail() {
                eprintln!("DETAIL: {d}");
            }
            false
        }
    }
}

async fn print(out: StatementResult) -> Result<(), EngineError> {
    match out {
        StatementResult::Done(outcome) => println!("{}", pg::command_tag(&outcome)),
        StatementResult::CopyIn { .. } => {}
        rows @ (StatementResult::Rows { .. } | StatementResult::CopyOut(_)) => {
            let (schema, batches) = rows.collect().await?;
            let text = format::table(&schema, &batches).map_err(|e| EngineError::internal(e.to_string()))?;
            print!("{text}");
        }
    }
    Ok(())
}

/// Whether `sql` holds a complete statement: a `;` outside quotes.
fn complete(sql: &str) -> bool {
    let mut quote: Option<char> = None;
    let mut last_end = false;
    for c in sql.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == ';' => last_end = true,
            None if !c.is_whitespace() => last_end = false,
            None => {}
        }
    }
    quote.is_none() && last_end
}

async fn interactive(session: &mut Session) -> anyhow::Result<ExitCode> {
    let mut editor = rustyline::DefaultEditor::new().context("starting the line editor")?;
    let history = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".rustydb_history"));
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    println!("RustyDB {} — type SQL ending with ';', \\q to quit.", env!("CARGO_PKG_VERSION"));
    let mut buffer = String::new();
    loop {
        let prompt = if buffer.is_empty() { "rustydb=> " } else { "rustydb-> " };
        let line = match editor.readline(prompt) {
            Ok(l) => l,
            Err(rustyline::error::ReadlineError::Interrupted) => {
                buffer.clear();
                continue;
            }
            Err(rustyline::error::ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        };
        if buffer.is_empty() && matches!(line.trim(), "\\q" | "quit" | "exit") {
            break;
        }
        buffer.push_str(&line);
        buffer.push('\n');
        if !complete(&buffer) {
            continue;
        }
        let sql = std::mem::take(&mut buffer);
        let _ = editor.add_history_entry(sql.trim());
        match session.statements(&sql) {
            Ok(pieces) => {
                for piece in pieces {
                    if !run_one(session, piece).await {
                        break;
                    }
                }
            }
            Err(e) => eprintln!("ERROR: {}: {e}", e.sqlstate()),
        }
    }
    if let Some(h) = &history {
        let _ = editor.save_history(h);
    }
    session.database().flush()?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::complete;

    #[test]
    fn semicolons_inside_quotes_do_not_end_a_statement() {
        assert!(complete("select 1;"));
        assert!(!complete("select ';"));
        assert!(complete("select ';';  "));
        assert!(!complete("select 1"));
    }
}
