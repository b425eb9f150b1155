//! SQL text to statements, in PostgreSQL's dialect.
//!
//! sqlparser follows PostgreSQL's grammar closely; where it is stricter than
//! PostgreSQL on input that real clients send, the token stream is adjusted
//! here before parsing, so the rest of the engine sees ordinary statements.

use datafusion::sql::sqlparser::ast::Statement;
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::{Span, Token, TokenWithSpan, Tokenizer, Whitespace};

use std::sync::LazyLock;

use datafusion_pg_catalog::sql::PostgresCompatibilityParser;

use crate::error::{EngineError, Result};

/// Parses SQL text into statements.
pub fn parse(sql: &str) -> Result<Vec<Statement>> {
    let dialect = PostgreSqlDialect {};
    let mut tokens = Tokenizer::new(&dialect, sql)
        .with_unescape(true)
        .tokenize_with_location()
        .map_err(|e| EngineError::syntax(e.to_string()))?;
    copy_boolean_options(&mut tokens);
    vacuum_without_options(&mut tokens);
    user_as_role(&mut tokens);
    move_as_fetch(&mut tokens);
    let mut statements = Parser::new(&dialect)
        .with_tokens_with_locations(tokens)
        .parse_statements()
        .map_err(|e| EngineError::syntax(e.to_string()))?;
    if statements.iter().any(is_catalog_query) {
        rewrite_catalog_queries(sql, &mut statements);
    }
    Ok(statements)
}

/// Client metadata queries (psql's `\d`, drivers, BI tools) use PostgreSQL
/// syntax DataFusion lacks: `'t'::regclass`, `OPERATOR(pg_catalog.~)`,
/// `= ANY(array)`, qualified function names. datafusion-pg-catalog's parser
/// rewrites those (and substitutes a few known client queries wholesale);
/// it is applied only to queries that read the catalog, since some of its
/// rewrites (a correlated subquery becomes NULL) must not touch user queries.
fn rewrite_catalog_queries(sql: &str, statements: &mut [Statement]) {
    static COMPAT: LazyLock<PostgresCompatibilityParser> = LazyLock::new(PostgresCompatibilityParser::new);
    let Ok(rewritten) = COMPAT.parse(sql) else { return };
    if rewritten.len() != statements.len() {
        return;
    }
    for (stmt, mut new) in statements.iter_mut().zip(rewritten) {
        if is_catalog_query(stmt) {
            aggregate_scalar_subqueries(&mut new);
            *stmt = new;
        }
    }
}

/// Catalog queries look up one row per outer row with correlated scalar
/// subqueries (`(SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef WHERE
/// adrelid = a.attrelid AND adnum = a.attnum)`), which DataFusion plans
/// only when aggregated. The catalogs' keys make these subqueries return at
/// most one row, where `max(x)` is `x`; so their single output is wrapped
/// in max(). Only catalog queries get this (a user query that returns two
/// rows there must fail, not pick one).
fn aggregate_scalar_subqueries(stmt: &mut Statement) {
    use datafusion::sql::sqlparser::ast::{
        Expr, Function, FunctionArg, FunctionArgExpr, FunctionArgumentList, FunctionArguments, GroupByExpr, Ident,
        ObjectName, SelectItem, SetExpr, visit_expressions_mut,
    };
    const AGGREGATES: [&str; 9] =
        ["count", "sum", "max", "min", "avg", "array_agg", "string_agg", "bool_and", "bool_or"];
    let _ = visit_expressions_mut(stmt, |e: &mut Expr| {
        if let Expr::Subquery(q) = e
            && let SetExpr::Select(select) = q.body.as_mut()
            && matches!(&select.group_by, GroupByExpr::Expressions(g, _) if g.is_empty())
            && select.selection.is_some()
            && let [item] = select.projection.as_mut_slice()
            && let SelectItem::UnnamedExpr(inner) | SelectItem::ExprWithAlias { expr: inner, .. } = item
        {
            let text = inner.to_string().to_ascii_lowercase();
            if AGGREGATES.iter().any(|a| text.starts_with(&format!("{a}("))) {
                return std::ops::ControlFlow::<()>::Continue(());
            }
            let arg = FunctionArg::Unnamed(FunctionArgExpr::Expr(inner.clone()));
            *inner = Expr::Function(Function {
                name: ObjectName::from(vec![Ident::new("max")]),
                uses_odbc_syntax: false,
                parameters: FunctionArguments::None,
                args: FunctionArguments::List(FunctionArgumentList {
                    duplicate_treatment: None,
                    args: vec![arg],
                    clauses: vec![],
                }),
                filter: None,
                null_treatment: None,
                over: None,
                within_group: vec![],
            });
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
}

/// A query that names the system catalogs or catalog-only syntax.
fn is_catalog_query(stmt: &Statement) -> bool {
    // Narrow on purpose: `current_date` in a user query must not opt it in.
    const MARKERS: [&str; 11] = [
        "pg_",
        "information_schema",
        "regclass",
        "regtype",
        "regproc",
        "regnamespace",
        "current_user",
        "current_schema",
        "current_catalog",
        "current_role",
        "session_user",
    ];
    if !matches!(stmt, Statement::Query(_)) {
        return false;
    }
    let text = stmt.to_string().to_ascii_lowercase();
    MARKERS.iter().any(|m| text.contains(m))
}

/// COPY's boolean options accept `on`/`off` in PostgreSQL (pgbench sends
/// `WITH (freeze on)`); sqlparser takes only TRUE/FALSE there.
fn copy_boolean_options(tokens: &mut [TokenWithSpan]) {
    let is_word = |t: &Token, k: Keyword| matches!(t, Token::Word(w) if w.keyword == k);
    let mut in_copy = false;
    let mut prev: Option<usize> = None;
    for i in 0..tokens.len() {
        let token = &tokens[i].token;
        if matches!(token, Token::Whitespace(_)) {
            continue;
        }
        if matches!(token, Token::SemiColon) {
            in_copy = false;
        } else if prev.is_none() || prev.is_some_and(|p| matches!(tokens[p].token, Token::SemiColon)) {
            in_copy = is_word(token, Keyword::COPY);
        }
        if in_copy
            && let Some(p) = prev
            && (is_word(&tokens[p].token, Keyword::FREEZE) || is_word(&tokens[p].token, Keyword::HEADER))
            && let Token::Word(w) = token
            && w.quote_style.is_none()
        {
            let value = w.value.to_ascii_lowercase();
            if value == "on" || value == "off" {
                tokens[i].token = Token::make_keyword(if value == "on" { "TRUE" } else { "FALSE" });
            }
        }
        prev = Some(i);
    }
}

/// `CREATE USER` is `CREATE ROLE ... LOGIN` in PostgreSQL, and ALTER/DROP
/// USER are ALTER/DROP ROLE; sqlparser reads CREATE USER in another
/// dialect's syntax, so the statements are spelled with ROLE here.
fn user_as_role(tokens: &mut Vec<TokenWithSpan>) {
    let significant: Vec<usize> =
        (0..tokens.len()).filter(|&i| !matches!(tokens[i].token, Token::Whitespace(_))).collect();
    let is_word = |t: &Token, k: Keyword| matches!(t, Token::Word(w) if w.keyword == k);
    let mut login_at = Vec::new();
    let mut statement_start = true;
    for (pos, &i) in significant.iter().enumerate() {
        if matches!(tokens[i].token, Token::SemiColon) {
            statement_start = true;
            continue;
        }
        if statement_start
            && let Some(&next) = significant.get(pos + 1)
            && is_word(&tokens[next].token, Keyword::USER)
        {
            let verb = &tokens[i].token;
            if is_word(verb, Keyword::CREATE) || is_word(verb, Keyword::ALTER) || is_word(verb, Keyword::DROP) {
                let create = is_word(verb, Keyword::CREATE);
                tokens[next].token = Token::make_keyword("ROLE");
                if create {
                    // LOGIN goes at the end of the statement's options.
                    let end = significant[pos..]
                        .iter()
                        .copied()
                        .find(|&j| matches!(tokens[j].token, Token::SemiColon))
                        .unwrap_or(tokens.len());
                    login_at.push(end);
                }
            }
        }
        statement_start = false;
    }
    for at in login_at.into_iter().rev() {
        let span = tokens.get(at.saturating_sub(1)).map(|t| t.span).unwrap_or_else(Span::empty);
        tokens.insert(at, TokenWithSpan::new(Token::make_keyword("LOGIN"), span));
        tokens.insert(at, TokenWithSpan::new(Token::Whitespace(Whitespace::Space), span));
    }
}

/// sqlparser has no MOVE; `MOVE ... c` becomes `FETCH ... c INTO <marker>`,
/// which the engine runs as FETCH without returning rows. (FETCH INTO is
/// not PostgreSQL SQL, and the marker name is reserved.)
fn move_as_fetch(tokens: &mut Vec<TokenWithSpan>) {
    let mut statement_start = true;
    let mut moving = false;
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i].token {
            Token::Whitespace(_) => {}
            Token::SemiColon => {
                if moving {
                    insert_move_marker(tokens, i);
                    i += 3;
                    moving = false;
                }
                statement_start = true;
            }
            Token::Word(w) if statement_start && w.value.eq_ignore_ascii_case("move") && w.quote_style.is_none() => {
                tokens[i].token = Token::make_keyword("FETCH");
                moving = true;
                statement_start = false;
            }
            _ => statement_start = false,
        }
        i += 1;
    }
    if moving {
        insert_move_marker(tokens, tokens.len());
    }
}

fn insert_move_marker(tokens: &mut Vec<TokenWithSpan>, at: usize) {
    let span = tokens.get(at.saturating_sub(1)).map(|t| t.span).unwrap_or_else(Span::empty);
    let marker = [
        Token::Whitespace(Whitespace::Space),
        Token::make_keyword("INTO"),
        Token::make_word(crate::cursors::MOVE_MARKER, None),
    ];
    for (k, t) in marker.into_iter().enumerate() {
        tokens.insert(at + k, TokenWithSpan::new(t, span));
    }
}

/// VACUUM has PostgreSQL forms sqlparser does not know (`VACUUM ANALYZE t`,
/// `VACUUM (VERBOSE) a, b`). The engine has nothing to vacuum yet (old
/// versions are dropped by checkpoint compaction), so a VACUUM's options
/// and tables are dropped here and it parses as plain `VACUUM`.
fn vacuum_without_options(tokens: &mut Vec<TokenWithSpan>) {
    let mut out = Vec::with_capacity(tokens.len());
    let mut skipping = false;
    let mut statement_start = true;
    for t in tokens.drain(..) {
        match &t.token {
            Token::SemiColon => {
                skipping = false;
                statement_start = true;
                out.push(t);
            }
            Token::Whitespace(_) => {
                if !skipping {
                    out.push(t);
                }
            }
            token => {
                if statement_start && matches!(token, Token::Word(w) if w.keyword == Keyword::VACUUM) {
                    out.push(t);
                    skipping = true;
                } else if !skipping {
                    out.push(t);
                }
                statement_start = false;
            }
        }
    }
    *tokens = out;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_accepts_on_and_off() {
        let s = parse("copy t from stdin with (freeze on)").unwrap();
        assert_eq!(s[0].to_string(), "COPY t FROM STDIN (FREEZE)");
        let s = parse("select 1; copy t to stdout with (format csv, header off)").unwrap();
        assert_eq!(s[1].to_string(), "COPY t TO STDOUT (FORMAT csv, HEADER FALSE)");
        // Outside COPY, `on` stays a name.
        let s = parse("select freeze on from t").unwrap();
        assert_eq!(s[0].to_string(), "SELECT freeze AS on FROM t");
    }

    #[test]
    fn vacuum_forms_parse() {
        for sql in ["vacuum analyze pgbench_branches", "VACUUM (VERBOSE, ANALYZE) a, b", "vacuum"] {
            let s = parse(&format!("{sql}; select 1")).unwrap();
            assert_eq!(s.len(), 2, "{sql}");
            assert!(matches!(s[0], Statement::Vacuum(_)), "{sql}");
        }
    }

    #[test]
    fn user_statements_are_role_statements() {
        let s = parse("create user alice with password 'pw'; ALTER USER alice PASSWORD 'x'; drop user if exists alice")
            .unwrap();
        assert!(matches!(&s[0], Statement::CreateRole(c) if c.login == Some(true) && c.password.is_some()), "{}", s[0]);
        assert!(matches!(s[1], Statement::AlterRole { .. }), "{}", s[1]);
        assert_eq!(s[2].to_string(), "DROP ROLE IF EXISTS alice");
    }

    #[test]
    fn move_is_fetch_into_the_marker() {
        let s = parse("MOVE FORWARD 5 FROM c; move all in c").unwrap();
        assert_eq!(s[0].to_string(), format!("FETCH FORWARD 5 FROM c INTO {}", crate::cursors::MOVE_MARKER));
        assert!(s[1].to_string().ends_with(crate::cursors::MOVE_MARKER), "{}", s[1]);
    }

    #[test]
    fn only_catalog_queries_are_rewritten_for_clients() {
        let catalog = parse("SELECT relname FROM pg_class WHERE oid = 't'::regclass").unwrap();
        assert!(is_catalog_query(&catalog[0]));
        let user = parse("SELECT (SELECT max(v) FROM u WHERE u.k = t.k) FROM t WHERE d < current_date").unwrap();
        assert!(!is_catalog_query(&user[0]));
    }

    #[test]
    fn errors_are_syntax_errors() {
        assert_eq!(parse("selec 1").unwrap_err().sqlstate(), "42601");
        assert_eq!(parse("select 'open").unwrap_err().sqlstate(), "42601");
    }
}
