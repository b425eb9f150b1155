//! SQL text to statements, in PostgreSQL's dialect.
//!
//! One token stream, read statement by statement: a statement RustyDB
//! parses itself (MOVE, CHECKPOINT) is recognised by its first word and
//! becomes its own [`RustyStatement`] variant; every other statement is read by
//! sqlparser's PostgreSQL grammar. sqlparser follows PostgreSQL closely;
//! where it is stricter on input that real clients send, the token stream
//! is adjusted before parsing (COPY booleans, VACUUM options, USER for
//! ROLE, FETCH without FROM), which changes how a statement is spelled,
//! never which statement it is.

use datafusion::sql::sqlparser::ast::Statement;
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::{Span, Token, TokenWithSpan, Tokenizer, Whitespace};

use std::sync::LazyLock;

use datafusion_pg_catalog::sql::PostgresCompatibilityParser;

use super::Statement as RustyStatement;
use crate::error::{EngineError, Result};

/// Texts that are whole statements common enough to parse once per
/// process: a simple-protocol client sends two of them per transaction,
/// and parsing them was 7% of the HTAP writer's CPU.
const PARSED_ONCE: [&str; 5] = ["BEGIN", "COMMIT", "END", "ROLLBACK", "START TRANSACTION"];

/// `PARSED_ONCE`, parsed (by `parse_text`, so exactly what it would give).
static PARSED: LazyLock<Vec<(&'static str, RustyStatement)>> = LazyLock::new(|| {
    PARSED_ONCE
        .iter()
        .filter_map(|&text| match parse_text(text) {
            Ok(mut one) if one.len() == 1 => Some((text, one.remove(0))),
            _ => None,
        })
        .collect()
});

/// Parses SQL text into statements.
pub fn parse(sql: &str) -> Result<Vec<RustyStatement>> {
    let trimmed = sql.trim();
    let word = trimmed.strip_suffix(';').unwrap_or(trimmed).trim_end();
    if word.len() <= "START TRANSACTION".len()
        && let Some((_, stmt)) = PARSED.iter().find(|(text, _)| text.eq_ignore_ascii_case(word))
    {
        return Ok(vec![stmt.clone()]);
    }
    parse_text(sql)
}

fn parse_text(sql: &str) -> Result<Vec<RustyStatement>> {
    let dialect = PostgreSqlDialect {};
    let mut tokens = Tokenizer::new(&dialect, sql)
        .with_unescape(true)
        .tokenize_with_location()
        .map_err(|e| EngineError::syntax(e.to_string()))?;
    copy_boolean_options(&mut tokens);
    vacuum_without_options(&mut tokens);
    user_as_role(&mut tokens);
    fetch_from(&mut tokens);
    let mut parser = Parser::new(&dialect).with_tokens_with_locations(tokens);
    let mut parsed = statements(&mut parser).map_err(|e| EngineError::syntax(e.to_string()))?;
    // Printing a statement back to text (what `is_catalog_query` reads) is
    // a good part of parsing a short query; the markers can only be in the
    // printed statement if they are in the text, so most queries skip it.
    // Client catalog queries come as statements of PostgreSQL's grammar
    // alone: a string with one of RustyDB's own is never rewritten.
    let text = sql.to_ascii_lowercase();
    let maybe_catalog = CATALOG_MARKERS.iter().any(|m| text.contains(m));
    let rewritten = match maybe_catalog
        && parsed.iter().all(|s| s.sql().is_some())
        && parsed.iter().filter_map(RustyStatement::sql).any(is_catalog_query)
    {
        true => {
            let mut sql_only: Vec<Statement> = parsed.into_iter().filter_map(RustyStatement::into_sql).collect();
            let rewritten = rewrite_catalog_queries(sql, &mut sql_only);
            parsed = sql_only.into_iter().map(RustyStatement::Sql).collect();
            rewritten
        }
        false => vec![false; parsed.len()],
    };
    for (stmt, rewritten) in parsed.iter_mut().zip(rewritten) {
        let RustyStatement::Sql(stmt) = stmt else { continue };
        postgres_expressions(stmt);
        if rewritten {
            aggregate_scalar_subqueries(stmt);
        }
    }
    Ok(parsed)
}

/// Parses SQL the engine generated itself, which is always of PostgreSQL's
/// grammar (a RustyDB statement in it is a bug).
pub(crate) fn parse_generated(sql: &str) -> Result<Vec<Statement>> {
    parse(sql)?
        .into_iter()
        .map(|s| match s {
            RustyStatement::Sql(s) => Ok(s),
            other => Err(EngineError::internal(format!("generated SQL holds a RustyDB statement: {other}"))),
        })
        .collect()
}

/// The statements of a token stream, separated by semicolons (the loop of
/// sqlparser's `parse_statements`, with RustyDB's own statements).
fn statements(parser: &mut Parser<'_>) -> Result<Vec<RustyStatement>, ParserError> {
    let mut out = Vec::new();
    let mut expecting_delimiter = false;
    loop {
        while parser.consume_token(&Token::SemiColon) {
            expecting_delimiter = false;
        }
        match &parser.peek_token_ref().token {
            Token::EOF => break,
            Token::Word(w) if expecting_delimiter && w.keyword == Keyword::END => break,
            _ => {}
        }
        if expecting_delimiter {
            return parser.expected_ref("end of statement", parser.peek_token_ref());
        }
        out.push(statement(parser)?);
        expecting_delimiter = true;
    }
    Ok(out)
}

/// One statement: RustyDB's own by its first word, else sqlparser's.
fn statement(parser: &mut Parser<'_>) -> Result<RustyStatement, ParserError> {
    let first = match &parser.peek_token_ref().token {
        Token::Word(w) if w.quote_style.is_none() => w.value.to_ascii_lowercase(),
        _ => String::new(),
    };
    match first.as_str() {
        "move" => {
            parser.next_token();
            // MOVE takes FETCH's direction and cursor (FETCH's INTO is not
            // PostgreSQL's, and not MOVE's).
            match parser.parse_fetch_statement()? {
                Statement::Fetch { name, direction, into: None, .. } => {
                    Ok(RustyStatement::Move { cursor: name, direction })
                }
                _ => Err(ParserError::ParserError("MOVE takes no INTO".into())),
            }
        }
        "checkpoint" => {
            parser.next_token();
            match &parser.peek_token_ref().token {
                Token::EOF | Token::SemiColon => Ok(RustyStatement::Checkpoint),
                _ => Err(ParserError::ParserError("CHECKPOINT takes no arguments".into())),
            }
        }
        _ => Ok(RustyStatement::Sql(parser.parse_statement()?)),
    }
}

/// SQL with `?` parameter markers (ODBC / JDBC / ADBC style, which Arrow
/// Flight SQL clients send) rewritten to PostgreSQL's `$1, $2, ...`. Text
/// in string literals, quoted identifiers and comments is left as it is.
pub fn numbered_parameters(sql: &str) -> Result<String> {
    let dialect = PostgreSqlDialect {};
    let tokens = Tokenizer::new(&dialect, sql)
        .with_unescape(false)
        .tokenize()
        .map_err(|e| EngineError::syntax(e.to_string()))?;
    if !tokens.iter().any(|t| matches!(t, Token::Question) || matches!(t, Token::Placeholder(p) if p == "?")) {
        return Ok(sql.to_owned());
    }
    let mut n = 0;
    let mut out = String::with_capacity(sql.len() + 8);
    for token in tokens {
        match token {
            Token::Question => {
                n += 1;
                out.push_str(&format!("${n}"));
            }
            Token::Placeholder(p) if p == "?" => {
                n += 1;
                out.push_str(&format!("${n}"));
            }
            other => out.push_str(&other.to_string()),
        }
    }
    Ok(out)
}

/// Client metadata queries (psql's `\d`, drivers, BI tools) use PostgreSQL
/// syntax DataFusion lacks: `'t'::regclass`, `OPERATOR(pg_catalog.~)`,
/// `= ANY(array)`, qualified function names. datafusion-pg-catalog's parser
/// rewrites those, and substitutes a few known client queries wholesale.
/// It is applied only to queries that read the catalog.
///
/// One of its rules replaces every correlated scalar subquery in a select
/// list with NULL (psql's `\d` lost its Default column that way); we plan
/// those instead (see [`aggregate_scalar_subqueries`]). So a statement the
/// crate did not substitute wholesale gets the crate's rules without that
/// one. Returns which statements were replaced.
fn rewrite_catalog_queries(sql: &str, statements: &mut [Statement]) -> Vec<bool> {
    use datafusion_pg_catalog::sql::rules::*;
    static COMPAT: LazyLock<PostgresCompatibilityParser> = LazyLock::new(PostgresCompatibilityParser::new);
    // The crate's rule order, without RemoveSubqueryFromProjection.
    static RULES: LazyLock<Vec<Box<dyn SqlStatementRewriteRule>>> = LazyLock::new(|| {
        vec![
            Box::new(AliasDuplicatedProjectionRewrite),
            Box::new(ResolveUnqualifiedIdentifier),
            Box::new(RewriteArrayAnyAllOperation),
            Box::new(PrependUnqualifiedPgTableName),
            Box::new(StripCallableQualifier),
            Box::new(FixArrayLiteral),
            Box::new(CurrentUserVariableToSessionUserFunctionCall),
            Box::new(StripCollate),
            Box::new(RewritePgCatalogOperator),
            Box::new(RegprocNames),
            Box::new(RewriteRegCastToSubquery::new()),
            Box::new(FixVersionColumnName),
        ]
    });
    let mut replaced = vec![false; statements.len()];
    let Ok(rewritten) = COMPAT.parse(sql) else { return replaced };
    if rewritten.len() != statements.len() {
        return replaced;
    }
    for ((stmt, crate_version), replaced) in statements.iter_mut().zip(rewritten).zip(&mut replaced) {
        if !is_catalog_query(stmt) {
            continue;
        }
        let substituted = crate_version != COMPAT.rewrite(stmt.clone());
        *stmt = if substituted { crate_version } else { RULES.iter().fold(stmt.clone(), |s, rule| rule.rewrite(s)) };
        *replaced = true;
    }
    replaced
}

/// `'pg_catalog.array_in'::regproc` is the function's name itself: pg_type's
/// regproc columns (typinput, ...) hold names, which PgJDBC's type cache
/// compares with such casts. Runs before datafusion-pg-catalog's rule that
/// turns the cast into a pg_proc OID lookup.
#[derive(Debug)]
struct RegprocNames;

impl datafusion_pg_catalog::sql::rules::SqlStatementRewriteRule for RegprocNames {
    fn rewrite(&self, mut s: Statement) -> Statement {
        use datafusion::sql::sqlparser::ast::{Expr, Value, visit_expressions_mut};
        let _ = visit_expressions_mut(&mut s, |e: &mut Expr| {
            if let Expr::Cast { expr, data_type, .. } = e
                && data_type.to_string().to_ascii_lowercase().trim_start_matches("pg_catalog.") == "regproc"
                && let Expr::Value(v) = expr.as_ref()
                && let Value::SingleQuotedString(name) = &v.value
            {
                let bare = name.strip_prefix("pg_catalog.").unwrap_or(name);
                *e = Expr::value(Value::SingleQuotedString(bare.to_owned()));
            }
            std::ops::ControlFlow::<()>::Continue(())
        });
        s
    }
}

/// Catalog queries look up one row per outer row with correlated scalar
/// subqueries (`(SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef WHERE
/// adrelid = a.attrelid AND adnum = a.attnum)`), which DataFusion plans
/// only when aggregated. The catalogs' keys make these subqueries return at
/// most one row, where `max(x)` is `x`; so their single output is wrapped
/// in max(). Only catalog queries get this (a user query that returns two
/// rows there must fail, not pick one).
///
/// DataFusion also needs every condition that ties such a subquery to the
/// outer row to be an equality of an outer column with one of its own. A condition on the
/// outer row alone (psql's `AND a.atthasdef`) moves out as
/// `CASE WHEN cond THEN (subquery) END`, the same value for an aggregate
/// that is NULL over no rows. A subquery in a select list with any other
/// correlated condition is answered NULL, as datafusion-pg-catalog does for
/// all of them; psql's collation column (`a.attcollation <> t.typcollation`)
/// is one, and NULL is what PostgreSQL shows for default collations.
fn aggregate_scalar_subqueries(stmt: &mut Statement) {
    use datafusion::sql::sqlparser::ast::helpers::attached_token::AttachedToken;
    use datafusion::sql::sqlparser::ast::{
        CaseWhen, Expr, GroupByExpr, Query, SelectItem, SetExpr, Value, VisitMut, VisitorMut, visit_expressions_mut,
    };
    use std::ops::ControlFlow;

    struct NullUnplannable;
    impl VisitorMut for NullUnplannable {
        type Break = ();
        fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
            if let SetExpr::Select(select) = query.body.as_mut() {
                for item in &mut select.projection {
                    if let SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } = item
                        && let Expr::Subquery(q) = e
                        && correlation(q).is_some_and(|c| c.unplannable)
                    {
                        *e = Expr::value(Value::Null);
                    }
                }
            }
            ControlFlow::Continue(())
        }
    }
    let _ = VisitMut::visit(stmt, &mut NullUnplannable);

    const AGGREGATES: [&str; 9] =
        ["count", "sum", "max", "min", "avg", "array_agg", "string_agg", "bool_and", "bool_or"];
    let _ = visit_expressions_mut(stmt, |e: &mut Expr| {
        let Expr::Subquery(q) = e else { return ControlFlow::<()>::Continue(()) };
        let outer_only = correlation(q).map(|c| c.outer_only).unwrap_or_default();
        let SetExpr::Select(select) = q.body.as_mut() else { return ControlFlow::Continue(()) };
        let [item] = select.projection.as_mut_slice() else { return ControlFlow::Continue(()) };
        let (SelectItem::UnnamedExpr(inner) | SelectItem::ExprWithAlias { expr: inner, .. }) = item else {
            return ControlFlow::Continue(());
        };
        let Some(selection) = select.selection.as_ref() else { return ControlFlow::Continue(()) };
        if !matches!(&select.group_by, GroupByExpr::Expressions(g, _) if g.is_empty()) {
            return ControlFlow::Continue(());
        }
        let text = inner.to_string().to_ascii_lowercase();
        if !AGGREGATES.iter().any(|a| text.starts_with(&format!("{a}("))) {
            *inner = call("max", vec![inner.clone()]);
        } else if text.starts_with("count(") {
            // count() over no rows is 0, not NULL: leave its conditions.
            return ControlFlow::Continue(());
        }
        let and = |a, b| Expr::BinaryOp { left: Box::new(a), op: BinaryOperator::And, right: Box::new(b) };
        let remaining = conjuncts(selection).into_iter().filter(|c| !outer_only.contains(c)).cloned().reduce(and);
        let Some(condition) = outer_only.into_iter().reduce(and) else { return ControlFlow::Continue(()) };
        select.selection = remaining;
        *e = Expr::Case {
            case_token: AttachedToken::empty(),
            end_token: AttachedToken::empty(),
            operand: None,
            conditions: vec![CaseWhen { condition, result: e.clone() }],
            else_result: None,
        };
        ControlFlow::Continue(())
    });
}

use datafusion::sql::sqlparser::ast::{BinaryOperator, Expr as AstExpr, Query as AstQuery};

/// How a subquery's WHERE ties it to the outer row.
struct Correlation {
    /// Conditions on outer columns alone.
    outer_only: Vec<AstExpr>,
    /// A condition over outer and own columns that is not an equality of
    /// two columns.
    unplannable: bool,
}

/// The correlation of a single-SELECT subquery with a WHERE clause. Own
/// columns are those qualified by a table of its FROM clause, or not
/// qualified at all; other qualified columns are outer ones.
fn correlation(q: &AstQuery) -> Option<Correlation> {
    use datafusion::sql::sqlparser::ast::{SetExpr, TableFactor, visit_expressions};
    let SetExpr::Select(select) = q.body.as_ref() else { return None };
    let selection = select.selection.as_ref()?;
    let mut own_tables = std::collections::HashSet::new();
    for twj in &select.from {
        for factor in std::iter::once(&twj.relation).chain(twj.joins.iter().map(|j| &j.relation)) {
            if let TableFactor::Table { name, alias, .. } = factor {
                let name = match alias {
                    Some(a) => a.name.value.clone(),
                    None => name.0.last().map(|p| p.to_string()).unwrap_or_default(),
                };
                own_tables.insert(name.to_ascii_lowercase());
            }
        }
    }
    let mut result = Correlation { outer_only: Vec::new(), unplannable: false };
    for condition in conjuncts(selection) {
        let (mut own, mut outer) = (false, false);
        let _ = visit_expressions(condition, |x: &AstExpr| {
            match x {
                // `t.col` or `schema.t.col`: the table is the part before the column.
                AstExpr::CompoundIdentifier(parts) if parts.len() >= 2 => {
                    if own_tables.contains(&parts[parts.len() - 2].value.to_ascii_lowercase()) {
                        own = true
                    } else {
                        outer = true
                    }
                }
                AstExpr::Identifier(_) => own = true,
                _ => {}
            }
            std::ops::ControlFlow::<()>::Continue(())
        });
        match (own, outer) {
            (false, true) => result.outer_only.push(condition.clone()),
            (true, true) => {
                let column = |e: &AstExpr| matches!(e, AstExpr::CompoundIdentifier(_) | AstExpr::Identifier(_));
                let column_equality = matches!(condition,
                    AstExpr::BinaryOp { left, op: BinaryOperator::Eq, right } if column(left) && column(right));
                result.unplannable |= !column_equality;
            }
            _ => {}
        }
    }
    Some(result)
}

/// The AND-ed parts of a condition.
fn conjuncts(e: &AstExpr) -> Vec<&AstExpr> {
    match e {
        AstExpr::BinaryOp { left, op: BinaryOperator::And, right } => {
            let mut out = conjuncts(left);
            out.extend(conjuncts(right));
            out
        }
        AstExpr::Nested(inner) => conjuncts(inner),
        other => vec![other],
    }
}

/// PostgreSQL expressions DataFusion spells differently, rewritten in
/// place (driver metadata queries use all of them):
/// - `(expr).field` (composite field access) is `expr['field']`;
/// - `generate_subscripts(arr, 1)` in a select list is the set 1..n, which is
///   `unnest(generate_series(1, cardinality(arr)))`: DataFusion zips the
///   unnests of one select list, as PostgreSQL does with set-returning
///   functions, so it pairs with `unnest(arr)` beside it;
/// - `information_schema._pg_expandarray(arr)`, the set of (x, n) pairs,
///   is `unnest(_pg_expandarray(arr))` over our list-returning function;
/// - `ARRAY(SELECT x ...)` is `coalesce((SELECT array_agg(x) ...), ARRAY[])`
///   (psql's `\du` lists role memberships so).
fn postgres_expressions(stmt: &mut Statement) {
    use datafusion::sql::sqlparser::ast::{
        AccessExpr, Expr, FunctionArguments, Subscript, Value, visit_expressions_mut,
    };
    let _ = visit_expressions_mut(stmt, |e: &mut Expr| {
        match e {
            // `t.col[1]` also parses as a field access, of root `t`; only a
            // parenthesised root is a composite value.
            Expr::CompoundFieldAccess { root, access_chain } if matches!(**root, Expr::Nested(_)) => {
                for access in access_chain.iter_mut() {
                    if let AccessExpr::Dot(Expr::Identifier(field)) = access {
                        let index = Expr::value(Value::SingleQuotedString(field.value.clone()));
                        *access = AccessExpr::Subscript(Subscript::Index { index });
                    }
                }
            }
            Expr::Function(f) => {
                let name = f.name.0.last().and_then(|p| p.as_ident()).map(|i| i.value.to_ascii_lowercase());
                match name.as_deref() {
                    Some("generate_subscripts") => {
                        if let Some(array) = function_args(f).first().cloned() {
                            let length = call("cardinality", vec![array]);
                            let series =
                                call("generate_series", vec![Expr::value(Value::Number("1".into(), false)), length]);
                            *e = call("unnest", vec![series]);
                        }
                    }
                    Some("array") => {
                        if let FunctionArguments::Subquery(q) = &f.args
                            && let Some(aggregated) = array_of_subquery(q)
                        {
                            *e = aggregated;
                        }
                    }
                    Some("_pg_expandarray") if f.name.0.len() <= 2 => {
                        let args = function_args(f);
                        *e = call("unnest", vec![call("_pg_expandarray", args)]);
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
}

/// `ARRAY(subquery)` as an aggregate of the subquery's one column, in the
/// subquery's order; an empty array when it has no rows.
fn array_of_subquery(q: &AstQuery) -> Option<AstExpr> {
    use datafusion::sql::sqlparser::ast::{
        Array, FunctionArgumentClause, FunctionArguments, OrderBy, OrderByKind, SelectItem, SetExpr, Value,
    };
    let mut q = q.clone();
    let order = q.order_by.take();
    let SetExpr::Select(select) = q.body.as_mut() else { return None };
    let [SelectItem::UnnamedExpr(x) | SelectItem::ExprWithAlias { expr: x, .. }] = select.projection.as_mut_slice()
    else {
        return None;
    };
    let mut aggregate = call("array_agg", vec![x.clone()]);
    match order {
        None => {}
        Some(OrderBy { kind: OrderByKind::Expressions(mut keys), .. }) => {
            for key in &mut keys {
                // `ORDER BY 1` is the one column.
                if matches!(&key.expr, AstExpr::Value(v) if v.value == Value::Number("1".into(), false)) {
                    key.expr = x.clone();
                }
            }
            if let AstExpr::Function(f) = &mut aggregate
                && let FunctionArguments::List(list) = &mut f.args
            {
                list.clauses.push(FunctionArgumentClause::OrderBy(keys));
            }
        }
        Some(_) => return None,
    }
    *x = aggregate;
    let empty = AstExpr::Array(Array { elem: Vec::new(), named: true });
    Some(call("coalesce", vec![AstExpr::Subquery(Box::new(q)), empty]))
}

/// A function's plain positional arguments.
fn function_args(f: &datafusion::sql::sqlparser::ast::Function) -> Vec<datafusion::sql::sqlparser::ast::Expr> {
    use datafusion::sql::sqlparser::ast::{FunctionArg, FunctionArgExpr, FunctionArguments};
    match &f.args {
        FunctionArguments::List(list) => list
            .args
            .iter()
            .filter_map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// `name(args)` as an expression.
fn call(name: &str, args: Vec<datafusion::sql::sqlparser::ast::Expr>) -> datafusion::sql::sqlparser::ast::Expr {
    use datafusion::sql::sqlparser::ast::{
        Expr, Function, FunctionArg, FunctionArgExpr, FunctionArgumentList, FunctionArguments, Ident, ObjectName,
    };
    Expr::Function(Function {
        name: ObjectName::from(vec![Ident::new(name)]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: None,
            args: args.into_iter().map(|a| FunctionArg::Unnamed(FunctionArgExpr::Expr(a))).collect(),
            clauses: vec![],
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    })
}

/// Names whose presence (lowercased) makes a query a catalog query. Narrow
/// on purpose: `current_date` in a user query must not opt it in.
const CATALOG_MARKERS: [&str; 11] = [
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

/// A query that names the system catalogs or catalog-only syntax.
fn is_catalog_query(stmt: &Statement) -> bool {
    if !matches!(stmt, Statement::Query(_)) {
        return false;
    }
    let text = stmt.to_string().to_ascii_lowercase();
    CATALOG_MARKERS.iter().any(|m| text.contains(m))
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

/// PostgreSQL's FROM / IN before the cursor of FETCH and MOVE is optional,
/// and so is the direction (NEXT); sqlparser wants both: `FETCH c` becomes
/// `FETCH NEXT FROM c`, `FETCH 5 c` becomes `FETCH 5 FROM c`.
fn fetch_from(tokens: &mut Vec<TokenWithSpan>) {
    let mut start = 0;
    while start < tokens.len() {
        let end = tokens[start..].iter().position(|t| t.token == Token::SemiColon).map_or(tokens.len(), |p| start + p);
        let words: Vec<usize> = (start..end).filter(|&i| !matches!(tokens[i].token, Token::Whitespace(_))).collect();
        let is_word = |i: usize, names: &[&str]| {
            matches!(&tokens[i].token, Token::Word(w) if w.quote_style.is_none()
                && names.iter().any(|n| w.value.eq_ignore_ascii_case(n)))
        };
        if let [first, .., cursor] = words[..]
            && is_word(first, &["fetch", "move"])
            && !words.iter().any(|&i| is_word(i, &["from", "in"]))
            && matches!(tokens[cursor].token, Token::Word(_))
        {
            let span = tokens[cursor].span;
            let mut insert = vec![Token::make_keyword("FROM"), Token::Whitespace(Whitespace::Space)];
            if words.len() == 2 {
                insert.splice(0..0, [Token::make_keyword("NEXT"), Token::Whitespace(Whitespace::Space)]);
            }
            let added = insert.len();
            for (k, t) in insert.into_iter().enumerate() {
                tokens.insert(cursor + k, TokenWithSpan::new(t, span));
            }
            start = end + added + 1;
        } else {
            start = end + 1;
        }
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
    use datafusion::sql::sqlparser::ast::FetchDirection;

    #[test]
    fn transaction_words_parse_once_as_the_parser_would() {
        assert_eq!(PARSED.len(), PARSED_ONCE.len(), "every word parses");
        for text in ["begin", "  COMMIT ; ", "End;", "rollback", "start transaction"] {
            assert_eq!(parse(text).unwrap(), parse_text(text).unwrap(), "{text}");
        }
        // Anything more is parsed as usual.
        let s = parse("BEGIN ISOLATION LEVEL SERIALIZABLE").unwrap();
        assert_eq!(s[0].to_string(), "BEGIN ISOLATION LEVEL SERIALIZABLE");
        assert_eq!(parse("commit; commit").unwrap().len(), 2);
        assert!(parse("BEGIN;;").is_ok_and(|s| s.len() == 1));
    }

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
    fn checkpoint_is_a_statement_of_its_own() {
        let s = parse("checkpoint; CHECKPOINT").unwrap();
        assert_eq!(s, vec![RustyStatement::Checkpoint, RustyStatement::Checkpoint]);
        assert!(parse("select 1 as checkpoint").unwrap()[0].to_string().contains("AS checkpoint"));
        let e = parse("CHECKPOINT 1").unwrap_err();
        assert_eq!((e.sqlstate(), e.to_string().contains("takes no arguments")), ("42601", true), "{e}");
        // The name is no procedure.
        assert!(matches!(&parse("CALL rustydb_checkpoint()").unwrap()[0], RustyStatement::Sql(Statement::Call(_))));
    }

    #[test]
    fn vacuum_forms_parse() {
        for sql in ["vacuum analyze pgbench_branches", "VACUUM (VERBOSE, ANALYZE) a, b", "vacuum"] {
            let s = parse(&format!("{sql}; select 1")).unwrap();
            assert_eq!(s.len(), 2, "{sql}");
            assert!(matches!(s[0], RustyStatement::Sql(Statement::Vacuum(_))), "{sql}");
        }
    }

    #[test]
    fn user_statements_are_role_statements() {
        let s = parse("create user alice with password 'pw'; ALTER USER alice PASSWORD 'x'; drop user if exists alice")
            .unwrap();
        let create = s[0].sql();
        assert!(
            matches!(create, Some(Statement::CreateRole(c)) if c.login == Some(true) && c.password.is_some()),
            "{}",
            s[0]
        );
        assert!(matches!(s[1].sql(), Some(Statement::AlterRole { .. })), "{}", s[1]);
        assert_eq!(s[2].to_string(), "DROP ROLE IF EXISTS alice");
    }

    #[test]
    fn fetch_and_move_need_no_direction_or_from() {
        let s = parse("FETCH c; fetch 5 c; FETCH ALL IN c; MOVE c; FETCH FORWARD 2 FROM c").unwrap();
        let text: Vec<String> = s.iter().map(|s| s.to_string()).collect();
        assert_eq!(text[0], "FETCH NEXT FROM c");
        assert_eq!(text[1], "FETCH 5 FROM c");
        assert_eq!(text[2], "FETCH ALL IN c");
        assert_eq!(text[3], "MOVE NEXT FROM c");
        assert_eq!(text[4], "FETCH FORWARD 2 FROM c");
    }

    #[test]
    fn move_is_a_statement_of_its_own() {
        let s = parse("MOVE FORWARD 5 FROM c; move all in c").unwrap();
        assert!(
            matches!(&s[0], RustyStatement::Move { cursor, direction: FetchDirection::Forward { .. } } if cursor.value == "c")
        );
        assert!(matches!(&s[1], RustyStatement::Move { direction: FetchDirection::All, .. }), "{}", s[1]);
        assert_eq!(parse("MOVE c INTO x").unwrap_err().sqlstate(), "42601");
    }

    #[test]
    fn only_catalog_queries_are_rewritten_for_clients() {
        let catalog = parse_generated("SELECT relname FROM pg_class WHERE oid = 't'::regclass").unwrap();
        assert!(is_catalog_query(&catalog[0]));
        let user =
            parse_generated("SELECT (SELECT max(v) FROM u WHERE u.k = t.k) FROM t WHERE d < current_date").unwrap();
        assert!(!is_catalog_query(&user[0]));
    }

    #[test]
    fn postgres_expressions_become_datafusion_ones() {
        let sql = |q: &str| parse(q).unwrap()[0].to_string();
        assert_eq!(sql("SELECT (f(x)).n, t.a[1] FROM t"), "SELECT (f(x))['n'], t.a[1] FROM t");
        assert_eq!(
            sql("SELECT generate_subscripts(k, 1) FROM t"),
            "SELECT unnest(generate_series(1, cardinality(k))) FROM t"
        );
        assert_eq!(
            sql("SELECT information_schema._pg_expandarray(k) FROM t"),
            "SELECT unnest(_pg_expandarray(k)) FROM t"
        );
        assert_eq!(sql("SELECT 'pg_catalog.array_in'::regproc"), "SELECT 'array_in'");
        assert_eq!(
            sql("SELECT ARRAY(SELECT b.n FROM b WHERE b.k = t.k ORDER BY 1) FROM t"),
            "SELECT coalesce((SELECT array_agg(b.n ORDER BY b.n) FROM b WHERE b.k = t.k), ARRAY[]) FROM t"
        );
    }

    /// A statement of RustyDB's own beside others leaves theirs as they
    /// would be alone.
    #[test]
    fn own_statements_leave_the_others_rewritten() {
        let s = parse("CHECKPOINT; SELECT (f(x)).n FROM t").unwrap();
        assert_eq!(s[0], RustyStatement::Checkpoint);
        assert_eq!(s[1].to_string(), "SELECT (f(x))['n'] FROM t");
    }

    #[test]
    fn question_marks_become_numbered_parameters() {
        assert_eq!(
            numbered_parameters("SELECT a FROM t WHERE b = ? AND c = '?' AND \"?\" = ? -- ?").unwrap(),
            "SELECT a FROM t WHERE b = $1 AND c = '?' AND \"?\" = $2 -- ?"
        );
        assert_eq!(numbered_parameters("SELECT 'it''s', $1").unwrap(), "SELECT 'it''s', $1");
    }

    #[test]
    fn errors_are_syntax_errors() {
        assert_eq!(parse("selec 1").unwrap_err().sqlstate(), "42601");
        assert_eq!(parse("select 'open").unwrap_err().sqlstate(), "42601");
    }
}
