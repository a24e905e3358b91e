//! `$1, $2…` placeholders on every dialect. Application SQL is written once with
//! PostgreSQL-style numbered placeholders; for dialects that only know `?` the
//! SQL is rewritten and the parameters reordered. String literals, quoted
//! identifiers and comments are never touched.

use std::borrow::Cow;

use super::grammar::Lexis;
use super::value::Value;
use crate::error::{Error, Result};

/// The SQL to send and, for `?` dialects, which parameter each `?` binds.
#[derive(Debug, PartialEq)]
pub struct Prepared<'a> {
    /// The SQL with placeholders in the dialect's own form.
    pub sql: Cow<'a, str>,
    /// Zero-based parameter index for each `?`, in order; empty for numbered dialects.
    pub order: Vec<usize>,
}

/// Scans `sql` for `$n` placeholders, checks them against `param_count` and rewrites
/// them for a dialect written as `lexis` says.
pub fn prepare<'q>(sql: &'q str, lexis: Lexis, params: &[Value]) -> Result<Prepared<'q>> {
    let param_count = params.len();
    Value::check_params(params)?;
    if is_blank(sql, lexis) {
        return Err(Error::usage("there is no SQL to run"));
    }
    let positional = lexis.positional_placeholders;
    let mut out = String::new();
    let mut order = Vec::new();
    let mut max = 0usize;
    let mut copied = 0usize;
    let bytes = sql.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let skip = skip_quoted_or_comment(sql, i, lexis)?;
        if skip > i {
            i = skip;
            continue;
        }
        if bytes[i] == b'$' && !prev_is_ident(bytes, i) && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
            let end = (i + 1..bytes.len()).find(|&j| !bytes[j].is_ascii_digit()).unwrap_or(bytes.len());
            let n: usize = sql[i + 1..end]
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| Error::usage(format!("invalid placeholder {:?}", &sql[i..end])))?;
            max = max.max(n);
            if positional {
                out.push_str(&sql[copied..i]);
                out.push('?');
                order.push(n - 1);
                copied = end;
            }
            i = end;
            continue;
        }
        // One statement per call, on every dialect (SQLite would run them all).
        if bytes[i] == b';' && !is_blank(&sql[i + 1..], lexis) {
            return Err(Error::usage(
                "one statement per call: the SQL goes on after a `;` (several statements run only as migrations)",
            ));
        }
        i += 1;
    }
    if max != param_count {
        return Err(Error::usage(count_mismatch(max, param_count)));
    }
    let sql = if positional {
        out.push_str(&sql[copied..]);
        Cow::Owned(out)
    } else {
        Cow::Borrowed(sql)
    };
    Ok(Prepared { sql, order })
}

/// What is wrong when the highest placeholder is `$max` and `given` parameters came.
fn count_mismatch(max: usize, given: usize) -> String {
    let given = match given {
        1 => "1 parameter was given".to_string(),
        n => format!("{n} parameters were given"),
    };
    match max {
        0 => format!("the SQL has no placeholders but {given}"),
        1 => format!("the SQL has one placeholder ($1) but {given}"),
        max => format!("the SQL uses placeholders $1 to ${max} but {given}"),
    }
}

/// Splits a script into statements at top-level `;`, ignoring any inside literals,
/// quoted identifiers and comments. Empty statements are dropped.
pub fn split_statements(sql: &str, lexis: Lexis) -> Result<Vec<&str>> {
    let mut statements = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < sql.len() {
        let skip = skip_quoted_or_comment(sql, i, lexis)?;
        if skip > i {
            i = skip;
            continue;
        }
        if sql.as_bytes()[i] == b';' {
            statements.push(&sql[start..i]);
            start = i + 1;
        }
        i += 1;
    }
    statements.push(&sql[start..]);
    Ok(statements.into_iter().filter(|s| !is_blank(s, lexis)).collect())
}

/// True when a statement holds nothing but whitespace and comments.
fn is_blank(sql: &str, lexis: Lexis) -> bool {
    let mut i = 0;
    while i < sql.len() {
        if sql.as_bytes()[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let is_comment = matches!(&sql[i..], s if s.starts_with("--") || s.starts_with("/*") || (lexis.hash_comments && s.starts_with('#')));
        match skip_quoted_or_comment(sql, i, lexis) {
            Ok(next) if is_comment && next > i => i = next,
            _ => return false,
        }
    }
    true
}

fn prev_is_ident(bytes: &[u8], i: usize) -> bool {
    i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_' || bytes[i - 1] >= 0x80)
}

/// If a literal, quoted identifier or comment starts at `i`, returns the index just
/// past it; otherwise returns `i`.
fn skip_quoted_or_comment(sql: &str, i: usize, lexis: Lexis) -> Result<usize> {
    let b = sql.as_bytes();
    let rest = &sql[i..];
    let unterminated = |what: &str| Error::usage(format!("unterminated {what} in SQL"));
    match b[i] {
        b'\'' => {
            let backslashes = lexis.backslash_escapes
                || (lexis.escape_strings && i > 0 && matches!(b[i - 1], b'E' | b'e') && !prev_is_ident(b, i - 1));
            close_quote(b, i, b'\'', backslashes).ok_or_else(|| unterminated("string literal"))
        }
        b'"' => close_quote(b, i, b'"', lexis.backslash_escapes).ok_or_else(|| unterminated("quoted identifier")),
        b'`' if lexis.backtick_identifiers => {
            close_quote(b, i, b'`', false).ok_or_else(|| unterminated("quoted identifier"))
        }
        b'[' if lexis.bracket_identifiers => {
            rest.find(']').map(|j| i + j + 1).ok_or_else(|| unterminated("quoted identifier"))
        }
        b'-' if rest.starts_with("--") => Ok(rest.find('\n').map_or(sql.len(), |j| i + j + 1)),
        b'#' if lexis.hash_comments => Ok(rest.find('\n').map_or(sql.len(), |j| i + j + 1)),
        b'/' if rest.starts_with("/*") => {
            let nested = lexis.nested_comments;
            close_block_comment(b, i, nested).ok_or_else(|| unterminated("comment"))
        }
        b'$' if lexis.dollar_quotes && !prev_is_ident(b, i) => Ok(skip_dollar_quote(sql, i).unwrap_or(i)),
        _ => Ok(i),
    }
}

/// Index past the quote closing the one at `start`; a doubled quote is an escaped
/// quote, and so is a backslash-escaped one where the dialect allows it.
fn close_quote(b: &[u8], start: usize, q: u8, backslashes: bool) -> Option<usize> {
    let mut j = start + 1;
    while j < b.len() {
        match b[j] {
            b'\\' if backslashes => j += 2,
            c if c == q && b.get(j + 1) == Some(&q) => j += 2,
            c if c == q => return Some(j + 1),
            _ => j += 1,
        }
    }
    None
}

fn close_block_comment(b: &[u8], start: usize, nested: bool) -> Option<usize> {
    let mut depth = 0usize;
    let mut j = start;
    while j + 1 < b.len() {
        if b[j] == b'/' && b[j + 1] == b'*' && (nested || depth == 0) {
            depth += 1;
            j += 2;
        } else if b[j] == b'*' && b[j + 1] == b'/' {
            depth -= 1;
            j += 2;
            if depth == 0 {
                return Some(j);
            }
        } else {
            j += 1;
        }
    }
    None
}

/// PostgreSQL dollar quoting: `$$…$$` or `$tag$…$tag$`. `None` when `start` does not
/// open one (then it is a placeholder or plain text).
fn skip_dollar_quote(sql: &str, start: usize) -> Option<usize> {
    let rest = &sql[start + 1..];
    let tag_len = rest.find('$')?;
    let tag = &rest[..tag_len];
    let valid_tag =
        tag.chars().enumerate().all(|(k, c)| c == '_' || c.is_alphabetic() || (k > 0 && c.is_ascii_digit()));
    if !valid_tag {
        return None;
    }
    let delimiter = &sql[start..start + tag_len + 2];
    let body = start + delimiter.len();
    sql[body..].find(delimiter).map(|j| body + j + delimiter.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nulls(n: usize) -> Vec<Value> {
        vec![Value::Null; n]
    }

    #[test]
    fn one_statement_per_call_and_no_empty_sql() {
        let many = prepare("SELECT 1 AS a; DELETE FROM t", crate::db::sqlite::GRAMMAR.lexis(), &[]).unwrap_err();
        assert!(many.message().contains("one statement per call"), "{many}");
        assert!(
            prepare("SELECT 1;  -- done\n", crate::db::postgres::GRAMMAR.lexis(), &[]).is_ok(),
            "a trailing `;` is fine"
        );
        assert!(
            prepare("SELECT ';' AS a /* ; */", crate::db::mysql::GRAMMAR.lexis(), &[]).is_ok(),
            "`;` inside a literal or comment"
        );
        assert!(prepare("  -- nothing\n", crate::db::postgres::GRAMMAR.lexis(), &[]).is_err());
        let nan = prepare("SELECT $1", crate::db::sqlite::GRAMMAR.lexis(), &[Value::Float(f64::NAN)]).unwrap_err();
        assert!(nan.message().contains("NaN"), "{nan}");
    }

    fn mysql(sql: &str, n: usize) -> (String, Vec<usize>) {
        let p = prepare(sql, crate::db::mysql::GRAMMAR.lexis(), &nulls(n)).unwrap();
        (p.sql.into_owned(), p.order)
    }

    #[test]
    fn rewrites_numbered_to_positional_with_reordering() {
        assert_eq!(mysql("SELECT $2, $1, $2", 2), ("SELECT ?, ?, ?".into(), vec![1, 0, 1]));
        assert_eq!(mysql("x=$10", 10), ("x=?".into(), vec![9]));
    }

    #[test]
    fn leaves_literals_identifiers_and_comments_alone() {
        let sql = "SELECT '$1', 'it''s $2', \"$3\", `$4`, $1 -- $5\n /* $6 */ # $7\n";
        assert_eq!(mysql(sql, 1).0, "SELECT '$1', 'it''s $2', \"$3\", `$4`, ? -- $5\n /* $6 */ # $7\n");
        assert_eq!(mysql(r"SELECT 'a\'$1', $1", 1).0, r"SELECT 'a\'$1', ?");
    }

    #[test]
    fn postgres_dollar_quotes_and_escape_strings() {
        let sql = "SELECT $$ $1 $$, $tag$ $1 $tag$, E'\\' $1', $1, a$1";
        let p = prepare(sql, crate::db::postgres::GRAMMAR.lexis(), &nulls(1)).unwrap();
        assert_eq!(p.sql, sql);
        assert!(prepare("SELECT $1 /* /* $2 */ $3 */", crate::db::postgres::GRAMMAR.lexis(), &nulls(1)).is_ok());
    }

    #[test]
    fn sqlite_keeps_numbered_placeholders() {
        let p = prepare("SELECT [$2], $1", crate::db::sqlite::GRAMMAR.lexis(), &nulls(1)).unwrap();
        assert_eq!(p.sql, "SELECT [$2], $1");
        assert!(p.order.is_empty());
    }

    #[test]
    fn splits_scripts_outside_literals() {
        let script =
            "-- head; comment\nCREATE TABLE a (x TEXT DEFAULT ';');\n/* ; */\nINSERT INTO a VALUES ('a;b');\n-- tail\n";
        let parts = split_statements(script, crate::db::sqlite::GRAMMAR.lexis()).unwrap();
        assert_eq!(parts.len(), 2, "{parts:?}");
        assert!(parts[0].trim_start().starts_with("-- head; comment\nCREATE TABLE a"));
        assert_eq!(parts[1].trim(), "/* ; */\nINSERT INTO a VALUES ('a;b')");
    }

    #[test]
    fn parameter_count_must_match() {
        let err = prepare("SELECT $2", crate::db::sqlite::GRAMMAR.lexis(), &nulls(1)).unwrap_err();
        assert_eq!(err.message(), "the SQL uses placeholders $1 to $2 but 1 parameter was given");
        let err = prepare("SELECT 1", crate::db::sqlite::GRAMMAR.lexis(), &nulls(1)).unwrap_err();
        assert_eq!(err.message(), "the SQL has no placeholders but 1 parameter was given");
        let err = prepare("SELECT $1", crate::db::postgres::GRAMMAR.lexis(), &nulls(0)).unwrap_err();
        assert_eq!(err.message(), "the SQL has one placeholder ($1) but 0 parameters were given");
        assert!(prepare("SELECT 'unterminated $1", crate::db::sqlite::GRAMMAR.lexis(), &nulls(1)).is_err());
    }
}
