//! Statements that differ only in their literal values, run as one prepared
//! statement.
//!
//! The simple query protocol (psql scripts, pgbench's default mode, most
//! ORMs' text queries) sends every statement with its values written in, so
//! each one is parsed again: in pgbench's simple mode that was a large part
//! of a transaction's CPU. Here a statement's text is cut into its *shape*
//! (the text with each literal replaced by `$n`) and its literals by a
//! small lexer; a shape that prepares into one of the index fast paths
//! (`fastpath/`) is kept per session and run again with the new values
//! as parameters, which skips the parser. Everything else takes the
//! ordinary path, and so does any execution whose values do not fit the
//! parameters' types exactly as the literals would (an integer literal for
//! a text column, a number too big for the column), so the answer and the
//! error are always the ordinary path's.
//!
//! A shape is cached with the catalog version and search path it was
//! prepared under, and prepared again when either changed.
//!
//! [`Session::statements`] is the one entry: a single statement with a
//! shape worth trying goes to the cache unparsed. A string of several
//! (`BEGIN; UPDATE ...; INSERT ...; COMMIT`) is cut at its semicolons by
//! [`split`]; each statement whose shape the cache holds is kept for it,
//! the others are parsed. Every statement is parsed (or known to parse)
//! before the first one runs, so a syntax error anywhere still runs none.

use std::collections::HashMap;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use rustydb_catalog::CATALOG_TABLE;
use rustydb_common::Scn;

use crate::sql::Statement;

use crate::api::StatementResult;
use crate::error::Result;
use crate::session::prepared::Prepared;
use crate::session::{Session, TransactionStatus};

/// Most shapes one session keeps (all are dropped when it is full).
const SHAPES_MAX: usize = 256;
/// Longest statement text looked at.
const TEXT_MAX: usize = 4096;
/// Most literals in one statement.
const LITERALS_MAX: usize = 64;

/// A literal as written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    /// Digits with an optional sign, fraction and exponent.
    Number(String),
    /// A standard string literal's value.
    Text(String),
}

impl Literal {
    /// The parameter value meaning what the literal means for a
    /// parameter of type `ty`, or `None` when the literal would not be
    /// read as that type alone (PostgreSQL types a number literal as a
    /// number, and a string literal is read by the type it meets).
    pub(crate) fn bind(&self, ty: &DataType) -> Option<ScalarValue> {
        match (self, ty) {
            (Literal::Number(n), DataType::Int16) => n.parse().ok().map(|v| ScalarValue::Int16(Some(v))),
            (Literal::Number(n), DataType::Int32) => n.parse().ok().map(|v| ScalarValue::Int32(Some(v))),
            (Literal::Number(n), DataType::Int64) => n.parse().ok().map(|v| ScalarValue::Int64(Some(v))),
            (Literal::Number(n), DataType::Float64) => {
                n.parse::<f64>().ok().filter(|v| v.is_finite()).map(|v| ScalarValue::Float64(Some(v)))
            }
            (Literal::Text(s), DataType::Utf8) => Some(ScalarValue::Utf8(Some(s.clone()))),
            _ => None,
        }
    }
}

/// A statement's text with its literals taken out.
#[derive(Debug, PartialEq)]
pub(crate) struct Shape {
    /// The text with literal `n` (from 1) written as `$n`, whitespace
    /// collapsed and unquoted words in lower case.
    pub text: String,
    pub literals: Vec<Literal>,
}

/// The shape of one statement, or `None` when the text is anything the
/// lexer does not follow exactly: comments, dollar quoting, `$n`
/// parameters, casts, prefixed strings (E'', B'', X'', U&''), several
/// statements, or no literal at all.
pub(crate) fn shape(sql: &str) -> Option<Shape> {
    if sql.len() > TEXT_MAX {
        return None;
    }
    let b = sql.as_bytes();
    let mut text = String::with_capacity(sql.len() + 8);
    let mut literals = Vec::new();
    let mut space = false;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            space = !text.is_empty();
            i += 1;
            continue;
        }
        if c == b';' {
            // One statement only: nothing but blanks may follow.
            if sql[i + 1..].trim().is_empty() {
                break;
            }
            return None;
        }
        if space {
            text.push(' ');
            space = false;
        }
        match c {
            b'\'' => {
                if i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_' || b[i - 1] == b'&') {
                    return None;
                }
                let mut value = String::new();
                let mut j = i + 1;
                loop {
                    let end = j + sql[j..].find('\'')?;
                    value.push_str(&sql[j..end]);
                    if b.get(end + 1) == Some(&b'\'') {
                        value.push('\'');
                        j = end + 2;
                    } else {
                        i = end + 1;
                        break;
                    }
                }
                // 'a' 'b' on two lines is one literal in SQL; a backslash
                // is left to the parser's reading of escapes.
                if sql[i..].trim_start().starts_with('\'') || value.contains('\\') {
                    return None;
                }
                literals.push(Literal::Text(value));
                push_placeholder(&mut text, literals.len());
            }
            b'0'..=b'9' | b'.' if c != b'.' || b.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                let start = i;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                if b.get(i) == Some(&b'.') {
                    i += 1;
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                }
                if matches!(b.get(i), Some(b'e' | b'E')) {
                    i += 1;
                    if matches!(b.get(i), Some(b'+' | b'-')) {
                        i += 1;
                    }
                    if !b.get(i).is_some_and(u8::is_ascii_digit) {
                        return None;
                    }
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                }
                // 0x1F, 1_000, 12abc: not a plain number.
                if b.get(i).is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.') {
                    return None;
                }
                let mut number = sql[start..i].to_owned();
                // A minus right after an operator is the number's sign.
                if text.ends_with('-') {
                    let before = text[..text.len() - 1].trim_end();
                    if before.ends_with(['+', '-', '*', '/', '=', '(', ',', '<', '>']) {
                        text.truncate(text.len() - 1);
                        number.insert(0, '-');
                    }
                }
                literals.push(Literal::Number(number));
                push_placeholder(&mut text, literals.len());
            }
            b'"' => {
                let end = i + 1 + sql[i + 1..].find('"')?;
                if b.get(end + 1) == Some(&b'"') {
                    return None;
                }
                text.push_str(&sql[i..=end]);
                i = end + 1;
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                if b.get(i).is_some_and(|&c| c == b'$' || c == b'\'' || !c.is_ascii()) {
                    return None;
                }
                text.extend(sql[start..i].chars().map(|c| c.to_ascii_lowercase()));
            }
            b'-' if b.get(i + 1) == Some(&b'-') => return None,
            b'/' if b.get(i + 1) == Some(&b'*') => return None,
            b'$' | b':' | b'?' | b'\\' | b'[' | b']' | b'{' | b'}' => return None,
            c if c.is_ascii_punctuation() => {
                text.push(c as char);
                i += 1;
            }
            _ => return None,
        }
        if literals.len() > LITERALS_MAX {
            return None;
        }
    }
    (!literals.is_empty()).then_some(Shape { text, literals })
}

/// The statements of a string of several, cut at its top-level
/// semicolons, or `None` when it has one statement or anything the cut
/// could get wrong (comments, dollar quoting, backslashes, which E''
/// strings use as escapes). Empty statements are left out.
pub(crate) fn split(sql: &str) -> Option<Vec<&str>> {
    let b = sql.as_bytes();
    let mut pieces = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < b.len() {
        match b[i] {
            quote @ (b'\'' | b'"') => {
                // '' and "" inside are escaped quotes: the scan just
                // leaves and enters the quoted text again.
                i += 1 + sql[i + 1..].find(quote as char)?;
            }
            b'$' | b'\\' => return None,
            b'-' if b.get(i + 1) == Some(&b'-') => return None,
            b'/' if b.get(i + 1) == Some(&b'*') => return None,
            b';' => {
                pieces.push(sql[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    pieces.push(sql[start..].trim());
    pieces.retain(|p| !p.is_empty());
    (pieces.len() > 1).then_some(pieces)
}

/// One statement of a query string, as [`Session::statements`] left it
/// to run.
pub enum Piece {
    /// A statement whose shape the literal cache holds or will try.
    Shaped(Shaped),
    Parsed(Statement),
}

/// A statement's text and its shape.
pub struct Shaped {
    text: String,
    shape: Shape,
}

impl std::fmt::Display for Piece {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Piece::Parsed(s) => write!(f, "{s}"),
            Piece::Shaped(s) => f.write_str(s.text.trim()),
        }
    }
}

impl Piece {
    /// The parsed statement, when this one was parsed (statements the
    /// front end treats specially, DEALLOCATE and DISCARD, always are).
    pub fn statement(&self) -> Option<&Statement> {
        match self {
            Piece::Parsed(s) => Some(s),
            Piece::Shaped(_) => None,
        }
    }
}

fn push_placeholder(text: &mut String, n: usize) {
    use std::fmt::Write;
    let _ = write!(text, "${n}");
}

/// A shape prepared under one catalog version and search path.
struct Entry {
    catalog: Scn,
    search_path: String,
    /// `None`: the shape is not one of the fast paths.
    prepared: Option<Prepared>,
}

/// One session's shapes.
#[derive(Default)]
pub(crate) struct LiteralCache {
    entries: HashMap<String, Entry>,
    /// Runs that reused a prepared shape (for tests).
    hits: u64,
}

impl LiteralCache {
    /// Takes out what `shape` was prepared as under this catalog version
    /// and search path: `Some(None)` when it is not a fast path, `None`
    /// when it was not prepared (or under another catalog or path).
    fn take(&mut self, shape: &str, catalog: Scn, search_path: &str) -> Option<Option<Prepared>> {
        let entry = self.entries.get(shape)?;
        if entry.catalog != catalog || entry.search_path != search_path {
            return None;
        }
        match &entry.prepared {
            None => Some(None),
            Some(_) => {
                self.hits += 1;
                self.entries.remove(shape).map(|e| e.prepared)
            }
        }
    }

    fn insert(&mut self, shape: String, entry: Entry) {
        if self.entries.len() >= SHAPES_MAX {
            self.entries.clear();
        }
        self.entries.insert(shape, entry);
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }

    fn holds_prepared(&self, shape: &str) -> bool {
        self.entries.get(shape).is_some_and(|e| e.prepared.is_some())
    }

    /// Whether `shape` is worth trying: a fast path prepared under any
    /// catalog (a stale one is prepared again when run), or not yet known.
    /// `false` for a shape known not to be one under this catalog.
    fn worth_trying(&self, shape: &str, catalog: Scn) -> bool {
        self.entries.get(shape).is_none_or(|e| e.prepared.is_some() || e.catalog != catalog)
    }
}

impl Session {
    /// Runs a statement through the prepared statement of its shape when
    /// that is an index fast path (see the module); `None` when the caller
    /// must parse and run it as usual.
    async fn execute_shape(&mut self, shape: Shape) -> Option<Result<StatementResult>> {
        if self.copy.is_some() || self.transaction_status() == TransactionStatus::Failed {
            return None;
        }
        let catalog = self.db.catalog_version().ok()?;
        // The block's own DDL is not in the catalog version yet.
        if self.block.as_ref().is_some_and(|b| b.txn.view().writes_table(CATALOG_TABLE)) {
            return None;
        }
        let search_path = self.settings.current_schema();
        // Taken out while it runs: a run that is dropped half-way (a
        // cancelled statement) leaves the shape to be prepared again.
        let prepared = match self.literal_cache.take(&shape.text, catalog, &search_path) {
            Some(cached) => cached?,
            None => {
                // A shape that does not prepare (`DATE $1`, a parameter
                // whose type nothing fixes) is remembered as no fast path
                // too: the ordinary path reports the statement's own error,
                // and DDL (a new catalog version) has it prepared again.
                let made = Box::pin(self.prepare(&shape.text, &[])).await.ok().filter(Prepared::uses_index_lookup);
                match made {
                    Some(p) => p,
                    None => {
                        let entry = Entry { catalog, search_path, prepared: None };
                        self.literal_cache.insert(shape.text, entry);
                        return None;
                    }
                }
            }
        };
        let params = match shape.literals.len() == prepared.param_types().len() {
            true => shape.literals.iter().zip(prepared.param_types()).map(|(l, t)| l.bind(t)).collect(),
            false => None,
        };
        let out = match params {
            Some(params) => Some(self.run_prepared(&prepared, params).await),
            None => None,
        };
        self.literal_cache.insert(shape.text, Entry { catalog, search_path, prepared: Some(prepared) });
        out
    }

    /// The statements of `sql`, ready to run in order with
    /// [`Session::execute_piece`]. A single statement with a shape worth
    /// trying is not parsed here (running it parses it if the cache cannot
    /// serve it); nor is a statement of a string of several whose shape the
    /// cache holds. Everything else is, before anything runs, so a syntax
    /// error anywhere is reported as for the whole string and runs nothing.
    pub fn statements(&self, sql: &str) -> Result<Vec<Piece>> {
        let parsed = |sql| Ok(Self::parse(sql)?.into_iter().map(Piece::Parsed).collect());
        let Ok(catalog) = self.db.catalog_version() else { return parsed(sql) };
        let Some(texts) = split(sql) else {
            return match self.shaped(sql, catalog) {
                Some(one) => Ok(vec![Piece::Shaped(one)]),
                None => parsed(sql),
            };
        };
        let mut pieces = Vec::with_capacity(texts.len());
        for text in texts {
            match self.shaped(text, catalog) {
                // A shape that prepared: the text parses as surely as it did.
                Some(shaped) if self.literal_cache.holds_prepared(&shaped.shape.text) => {
                    pieces.push(Piece::Shaped(shaped));
                }
                shaped => {
                    // Positions in errors are the whole string's: on any
                    // surprise the string is parsed as one.
                    let Ok(mut stmts) = Self::parse(text) else { return parsed(sql) };
                    if stmts.len() != 1 {
                        return parsed(sql);
                    }
                    pieces.push(match shaped {
                        Some(shaped) => Piece::Shaped(shaped),
                        None => Piece::Parsed(stmts.remove(0)),
                    });
                }
            }
        }
        Ok(pieces)
    }

    /// `text` with its shape, when the literal cache may serve it.
    fn shaped(&self, text: &str, catalog: Scn) -> Option<Shaped> {
        let shape = shape(text).filter(|s| self.literal_cache.worth_trying(&s.text, catalog))?;
        Some(Shaped { text: text.to_owned(), shape })
    }

    /// Runs one statement that [`Session::statements`] gave.
    pub async fn execute_piece(&mut self, piece: Piece) -> Result<StatementResult> {
        let text = self.observing().then(|| piece.to_string());
        self.observed(|| text.unwrap_or_default(), async move |s| s.run_piece(piece).await).await
    }

    async fn run_piece(&mut self, piece: Piece) -> Result<StatementResult> {
        let Shaped { text, shape } = match piece {
            // Boxed: the shaped path's future stays small (see execute_statement).
            Piece::Parsed(stmt) => return Box::pin(self.execute_statement(stmt)).await,
            Piece::Shaped(shaped) => shaped,
        };
        if let Some(out) = self.execute_shape(shape).await {
            return out;
        }
        // Not a fast path after all, or not now (a failed block): parsed
        // as usual, and a syntax error is reported as for any statement.
        let mut stmts = Self::parse(&text)?;
        match stmts.len() {
            1 => Box::pin(self.execute_statement(stmts.remove(0))).await,
            n => Err(crate::error::EngineError::internal(format!("a split statement parsed as {n}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Literal {
        Literal::Number(s.into())
    }
    fn t(s: &str) -> Literal {
        Literal::Text(s.into())
    }

    /// A session over a fresh database holding `t (id INT PRIMARY KEY, v INT)`.
    async fn session_with_t() -> (tempfile::TempDir, Session) {
        let dir = tempfile::tempdir().unwrap();
        let mut s = crate::session::Database::open(dir.path()).unwrap().session();
        s.execute("CREATE TABLE t (id INT PRIMARY KEY, v INT)").await.unwrap();
        (dir, s)
    }

    #[tokio::test]
    async fn a_shape_is_prepared_once_and_ddl_prepares_it_again() {
        let (_dir, mut s) = session_with_t().await;
        for i in 0..3 {
            s.execute(&format!("INSERT INTO t VALUES ({i}, {i})")).await.unwrap();
            s.execute(&format!("UPDATE t SET v = v + 10 WHERE id = {i}")).await.unwrap();
        }
        assert_eq!(s.literal_cache.hits, 4, "the 2nd and 3rd INSERT and UPDATE reuse their shapes");
        // Not a fast path: remembered as such, never counted as a hit.
        s.execute("SELECT count(*) FROM t WHERE v > 1").await.unwrap();
        s.execute("SELECT count(*) FROM t WHERE v > 2").await.unwrap();
        assert_eq!(s.literal_cache.hits, 4);
        s.execute("ALTER TABLE t ADD COLUMN w INT").await.unwrap();
        s.execute("UPDATE t SET v = v + 10 WHERE id = 1").await.unwrap();
        assert_eq!(s.literal_cache.hits, 4, "DDL since: prepared again");
        s.execute("UPDATE t SET v = v + 10 WHERE id = 2").await.unwrap();
        assert_eq!(s.literal_cache.hits, 5);
        let out = s.execute("SELECT v FROM t WHERE id = 2").await.unwrap().pop().unwrap();
        let (_, batches) = out.collect().await.unwrap();
        let v = datafusion::arrow::util::pretty::pretty_format_batches(&batches).unwrap().to_string();
        assert!(v.contains("| 22 |"), "{v}");
    }

    #[test]
    fn strings_are_cut_at_top_level_semicolons_only() {
        assert_eq!(
            split("BEGIN; UPDATE t SET s = 'a;''b' WHERE \"x;y\" = 1;; COMMIT ;").unwrap(),
            ["BEGIN", "UPDATE t SET s = 'a;''b' WHERE \"x;y\" = 1", "COMMIT"]
        );
        assert_eq!(split("SELECT 1;"), None, "one statement");
        assert_eq!(split("SELECT 1; -- ;"), None, "comment");
        assert_eq!(split("SELECT 1; /* ; */ SELECT 2"), None, "block comment");
        assert_eq!(split("SELECT $$;$$; SELECT 2"), None, "dollar quoting");
        assert_eq!(split("SELECT E'\\';'; SELECT 2"), None, "backslash escapes");
        assert_eq!(split("SELECT 'open; SELECT 2"), None, "unterminated string");
    }

    #[tokio::test]
    async fn statements_of_a_string_reuse_their_shapes_and_a_syntax_error_runs_none() {
        let (_dir, mut s) = session_with_t().await;
        for i in 0..3 {
            let sql = format!("BEGIN; INSERT INTO t VALUES ({i}, 0); UPDATE t SET v = v + {i} WHERE id = {i}; COMMIT");
            assert_eq!(s.execute(&sql).await.unwrap().len(), 4);
        }
        assert_eq!(s.literal_cache.hits, 4, "the 2nd and 3rd strings reuse both shapes");
        async fn sum(s: &mut Session) -> String {
            let out = s.execute("SELECT sum(v), count(*) FROM t").await.unwrap().pop().unwrap();
            let (_, b) = out.collect().await.unwrap();
            let table = datafusion::arrow::util::pretty::pretty_format_batches(&b).unwrap().to_string();
            table.lines().nth(3).unwrap().replace(' ', "")
        }
        assert_eq!(sum(&mut s).await, "|3|3|");
        // The INSERT's shape is cached, but the string is not run at all.
        let err = s.execute("INSERT INTO t VALUES (9, 9); SELEC 1").await.unwrap_err();
        assert_eq!(err.sqlstate(), "42601");
        // In a failed block a cached shape is refused like any statement.
        s.execute("BEGIN").await.unwrap();
        assert!(s.execute("INSERT INTO t VALUES (1, 0)").await.is_err());
        let err = s.execute("UPDATE t SET v = v + 1 WHERE id = 2; COMMIT").await.unwrap_err();
        assert_eq!(err.sqlstate(), "25P02");
        s.execute("ROLLBACK").await.unwrap();
        assert_eq!(sum(&mut s).await, "|3|3|");
    }

    #[test]
    fn pgbench_statements_take_their_literals_out() {
        let s = shape("UPDATE pgbench_accounts SET abalance = abalance + -4321 WHERE aid = 77;").unwrap();
        assert_eq!(s.text, "update pgbench_accounts set abalance = abalance + $1 where aid = $2");
        assert_eq!(s.literals, vec![n("-4321"), n("77")]);
        let s = shape(
            "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (3, 1, 77, -4321, CURRENT_TIMESTAMP);",
        )
        .unwrap();
        assert_eq!(
            s.text,
            "insert into pgbench_history (tid, bid, aid, delta, mtime) values ($1, $2, $3, $4, current_timestamp)"
        );
        assert_eq!(s.literals, vec![n("3"), n("1"), n("77"), n("-4321")]);
        // The same statement with other values has the same shape.
        assert_eq!(shape("select abalance from pgbench_accounts where aid = 5").unwrap().text, {
            shape("SELECT  abalance\nFROM pgbench_accounts WHERE aid = 123456").unwrap().text
        });
    }

    #[test]
    fn a_minus_is_a_sign_only_after_an_operator() {
        assert_eq!(shape("select a -5 from t").unwrap().literals, vec![n("5")]);
        assert_eq!(shape("select a -5 from t").unwrap().text, "select a -$1 from t");
        assert_eq!(shape("select a - -5 from t").unwrap().literals, vec![n("-5")]);
        assert_eq!(shape("select f(-5, 2.5e-3, .5)").unwrap().literals, vec![n("-5"), n("2.5e-3"), n(".5")]);
    }

    #[test]
    fn strings_keep_their_value_and_quoted_names_their_case() {
        let s = shape(r#"UPDATE "T" SET "Name" = 'it''s' WHERE id = 1"#).unwrap();
        assert_eq!(s.text, r#"update "T" set "Name" = $1 where id = $2"#);
        assert_eq!(s.literals, vec![t("it's"), n("1")]);
        assert_eq!(shape("select 'a;b'").unwrap().literals, vec![t("a;b")]);
    }

    #[test]
    fn what_the_lexer_does_not_follow_takes_the_ordinary_path() {
        for sql in [
            "select 1; select 2",
            "select 1 -- comment",
            "select /* c */ 1",
            "select $1",
            "select $$x$$",
            "select '1'::int",
            "select E'\\n'",
            "select x'1f'",
            "select U&'a'",
            "select 0x1f",
            "select 1e",
            "select 'a'\n'b'",
            "select 'unterminated",
            "select 'a\\nb'",
            "select ARRAY[1]",
            "select é from t where a = 1",
            "select a from t",
            "begin",
        ] {
            let got = shape(sql);
            assert!(got.is_none(), "{sql} gave {got:?}");
        }
        // Non-ASCII inside a string is a value like any other.
        assert_eq!(shape("select 'é' || 1").unwrap().literals, vec![t("é"), n("1")]);
    }

    #[test]
    fn literals_bind_only_to_the_types_they_would_be_read_as() {
        assert_eq!(n("-7").bind(&DataType::Int32), Some(ScalarValue::Int32(Some(-7))));
        assert_eq!(n("70000").bind(&DataType::Int16), None);
        assert_eq!(n("3000000000").bind(&DataType::Int32), None);
        assert_eq!(n("1.5").bind(&DataType::Int64), None);
        assert_eq!(n("1.5").bind(&DataType::Float64), Some(ScalarValue::Float64(Some(1.5))));
        assert_eq!(n("5").bind(&DataType::Utf8), None);
        assert_eq!(t("5").bind(&DataType::Int32), None);
        assert_eq!(t("x").bind(&DataType::Utf8), Some(ScalarValue::Utf8(Some("x".into()))));
    }
}
