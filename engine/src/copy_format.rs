//! COPY's text and CSV formats: options, and a streaming decoder that turns
//! CopyData chunks (split anywhere, even inside a character) into records.
//!
//! PostgreSQL's rules, which no CSV crate expresses: in CSV an *unquoted*
//! field equal to the NULL string is NULL while a quoted one never is; in
//! text format the NULL string is compared before backslash escapes are
//! undone, and a line holding only `\.` ends the data.

use datafusion::sql::sqlparser::ast::{CopyLegacyCsvOption, CopyLegacyOption, CopyOption};

use rustydb_common::limits::COPY_LINE_BYTES_MAX;

use crate::error::{EngineError, Result};
use crate::names::ident;

/// Text or CSV (binary COPY is refused when the statement is read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyFormat {
    Text,
    Csv,
}

/// The options of one COPY statement, with PostgreSQL's defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyOptions {
    pub format: CopyFormat,
    pub delimiter: u8,
    pub null: String,
    pub header: bool,
    pub quote: u8,
    pub escape: u8,
    /// CSV output: columns (by position) always quoted.
    pub force_quote: ForceQuote,
}

/// FORCE_QUOTE: none, some columns by name, or all.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ForceQuote {
    #[default]
    None,
    Columns(Vec<String>),
    All,
}

fn single_byte(what: &str, c: char) -> Result<u8> {
    if c.is_ascii() && c != '\n' && c != '\r' {
        Ok(c as u8)
    } else {
        Err(EngineError::sql("0A000", format!("COPY {what} must be a single one-byte character")))
    }
}

impl CopyOptions {
    /// Reads the WITH (...) options and the pre-9.0 legacy forms.
    pub fn from_statement(options: &[CopyOption], legacy: &[CopyLegacyOption]) -> Result<CopyOptions> {
        let mut format = CopyFormat::Text;
        let (mut delimiter, mut null, mut header, mut quote, mut escape) = (None, None, false, None, None);
        let mut force_quote = ForceQuote::None;
        for o in options {
            match o {
                CopyOption::Format(name) => {
                    format = match ident(name).as_str() {
                        "text" => CopyFormat::Text,
                        "csv" => CopyFormat::Csv,
                        "binary" => return Err(EngineError::unsupported("COPY in binary format is not supported")),
                        other => {
                            return Err(EngineError::sql("22023", format!("COPY format \"{other}\" not recognized")));
                        }
                    }
                }
                // Rows are visible to this transaction anyway; FREEZE is a
                // PostgreSQL vacuum hint with no meaning here.
                CopyOption::Freeze(_) => {}
                CopyOption::Delimiter(c) => delimiter = Some(single_byte("delimiter", *c)?),
                CopyOption::Null(s) => null = Some(s.clone()),
                CopyOption::Header(h) => header = *h,
                CopyOption::Quote(c) => quote = Some(single_byte("quote", *c)?),
                CopyOption::Escape(c) => escape = Some(single_byte("escape", *c)?),
                CopyOption::ForceQuote(cols) => force_quote = ForceQuote::Columns(cols.iter().map(ident).collect()),
                CopyOption::Encoding(e) => {
                    let e = e.to_uppercase().replace(['-', '_'], "");
                    if e != "UTF8" {
                        return Err(EngineError::unsupported(format!("COPY encoding {e}: only UTF8 is supported")));
                    }
                }
                other => return Err(EngineError::unsupported(format!("COPY option {other} is not supported"))),
            }
        }
        for o in legacy {
            match o {
                CopyLegacyOption::Binary => {
                    return Err(EngineError::unsupported("COPY in binary format is not supported"));
                }
                CopyLegacyOption::Delimiter(c) => delimiter = Some(single_byte("delimiter", *c)?),
                CopyLegacyOption::Null(s) => null = Some(s.clone()),
                CopyLegacyOption::Csv(csv) => {
                    format = CopyFormat::Csv;
                    for c in csv {
                        match c {
                            CopyLegacyCsvOption::Header => header = true,
                            CopyLegacyCsvOption::Quote(q) => quote = Some(single_byte("quote", *q)?),
                            CopyLegacyCsvOption::Escape(e) => escape = Some(single_byte("escape", *e)?),
                            CopyLegacyCsvOption::ForceQuote(cols) => {
                                force_quote = ForceQuote::Columns(cols.iter().map(ident).collect())
                            }
                            other => {
                                return Err(EngineError::unsupported(format!("COPY option {other} is not supported")));
                            }
                        }
                    }
                }
                other => return Err(EngineError::unsupported(format!("COPY option {other} is not supported"))),
            }
        }
        let csv = format == CopyFormat::Csv;
        if !csv && (quote.is_some() || escape.is_some() || force_quote != ForceQuote::None) {
            return Err(EngineError::sql("0A000", "COPY QUOTE, ESCAPE and FORCE_QUOTE are available only in CSV mode"));
        }
        if header && !csv {
            return Err(EngineError::sql("0A000", "COPY HEADER is available only in CSV mode"));
        }
        let delimiter = delimiter.unwrap_or(if csv { b',' } else { b'\t' });
        let quote = quote.unwrap_or(b'"');
        let null = null.unwrap_or_else(|| if csv { String::new() } else { "\\N".to_owned() });
        if !csv && (delimiter == b'\\' || delimiter.is_ascii_alphanumeric() || delimiter == b'.') {
            return Err(EngineError::sql("22023", "COPY delimiter cannot be a backslash, letter, digit or period"));
        }
        if csv && delimiter == quote {
            return Err(EngineError::sql("22023", "COPY delimiter and quote must be different"));
        }
        if null.as_bytes().contains(&delimiter) {
            return Err(EngineError::sql("22023", "COPY delimiter must not appear in the NULL specification"));
        }
        Ok(CopyOptions { format, delimiter, null, header, quote, escape: escape.unwrap_or(quote), force_quote })
    }
}

/// One decoded line: its line number and its fields (None = NULL).
pub type Record = (u64, Vec<Option<String>>);

/// Incremental COPY input decoder.
pub struct Decoder {
    options: CopyOptions,
    buf: Vec<u8>,
    /// Bytes of `buf` already scanned for the end of the current record.
    scanned: usize,
    in_quotes: bool,
    after_backslash: bool,
    /// Line number of the next record (1-based, counting the header).
    line: u64,
    skip_header: bool,
    /// Saw the `\.` end marker: everything after it is ignored.
    ended: bool,
}

impl Decoder {
    pub fn new(options: CopyOptions) -> Self {
        let skip_header = options.header;
        Decoder {
            options,
            buf: Vec::new(),
            scanned: 0,
            in_quotes: false,
            after_backslash: false,
            line: 1,
            skip_header,
            ended: false,
        }
    }

    /// Appends a chunk and decodes every record it completes into `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<Record>) -> Result<()> {
        if self.ended {
            return Ok(());
        }
        // Taken out so records can borrow it while `self` is updated.
        let mut buf = std::mem::take(&mut self.buf);
        buf.extend_from_slice(chunk);
        let mut start = 0;
        let mut i = self.scanned;
        while i < buf.len() {
            let b = buf[i];
            let end_of_record = match self.options.format {
                CopyFormat::Text => {
                    if self.after_backslash {
                        self.after_backslash = false;
                        false
                    } else if b == b'\\' {
                        self.after_backslash = true;
                        false
                    } else {
                        b == b'\n'
                    }
                }
                CopyFormat::Csv => {
                    if self.in_quotes {
                        if b == self.options.escape && self.options.escape != self.options.quote && i + 1 < buf.len() {
                            i += 1; // the escaped byte cannot close the quotes
                        } else if b == self.options.escape
                            && self.options.escape != self.options.quote
                            && i + 1 == buf.len()
                        {
                            break; // need the next byte to decide
                        } else if b == self.options.quote {
                            self.in_quotes = false;
                        }
                        false
                    } else {
                        if b == self.options.quote {
                            self.in_quotes = true;
                        }
                        b == b'\n'
                    }
                }
            };
            i += 1;
            if end_of_record {
                let line = &buf[start..i - 1];
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                let done = self.record(line, out)?;
                start = i;
                if done {
                    self.ended = true;
                    self.scanned = 0;
                    return Ok(());
                }
            }
        }
        buf.drain(..start);
        if buf.len() > COPY_LINE_BYTES_MAX {
            return Err(EngineError::sql(
                "54000",
                format!("COPY line {} is longer than {COPY_LINE_BYTES_MAX} bytes", self.line),
            ));
        }
        self.scanned = i - start;
        self.buf = buf;
        Ok(())
    }

    /// Ends the input: a last line without a newline is still a record.
    pub fn finish(&mut self, out: &mut Vec<Record>) -> Result<()> {
        if self.ended || self.buf.is_empty() {
            return Ok(());
        }
        if self.in_quotes {
            return Err(EngineError::sql("22P04", format!("unterminated CSV quoted field (line {})", self.line)));
        }
        let line = std::mem::take(&mut self.buf);
        let line = line.strip_suffix(b"\r").unwrap_or(&line);
        self.record(line, out)?;
        self.ended = true;
        Ok(())
    }

    /// Decodes one line; returns true at the end-of-data marker.
    fn record(&mut self, line: &[u8], out: &mut Vec<Record>) -> Result<bool> {
        if line == b"\\." {
            return Ok(true);
        }
        let n = self.line;
        self.line += 1;
        if self.skip_header {
            self.skip_header = false;
            return Ok(false);
        }
        let fields = match self.options.format {
            CopyFormat::Text => text_fields(line, &self.options, n)?,
            CopyFormat::Csv => csv_fields(line, &self.options, n)?,
        };
        out.push((n, fields));
        Ok(false)
    }
}

fn invalid_utf8(line: u64) -> EngineError {
    EngineError::sql("22021", format!("invalid byte sequence for encoding \"UTF8\" (line {line})"))
}

fn utf8(bytes: Vec<u8>, line: u64) -> Result<String> {
    String::from_utf8(bytes).map_err(|_| invalid_utf8(line))
}

/// Text format: split on the delimiter, then undo backslash escapes.
fn text_fields(line: &[u8], o: &CopyOptions, n: u64) -> Result<Vec<Option<String>>> {
    let mut fields = Vec::new();
    let mut raw_start = 0;
    let mut i = 0;
    let mut value = Vec::new();
    loop {
        let at_end = i == line.len();
        if at_end || line[i] == o.delimiter {
            let raw = &line[raw_start..i];
            fields.push(if raw == o.null.as_bytes() { None } else { Some(utf8(std::mem::take(&mut value), n)?) });
            value.clear();
            if at_end {
                return Ok(fields);
            }
            i += 1;
            raw_start = i;
            continue;
        }
        if line[i] != b'\\' || i + 1 == line.len() {
            value.push(line[i]);
            i += 1;
            continue;
        }
        let c = line[i + 1];
        i += 2;
        match c {
            b'b' => value.push(8),
            b'f' => value.push(12),
            b'n' => value.push(b'\n'),
            b'r' => value.push(b'\r'),
            b't' => value.push(b'\t'),
            b'v' => value.push(11),
            b'0'..=b'7' => {
                let mut v = u32::from(c - b'0');
                for _ in 0..2 {
                    match line.get(i) {
                        Some(d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                value.push((v & 0xff) as u8);
            }
            b'x' if line.get(i).is_some_and(u8::is_ascii_hexdigit) => {
                let mut v = 0u32;
                for _ in 0..2 {
                    match line.get(i).and_then(|d| (*d as char).to_digit(16)) {
                        Some(d) => {
                            v = v * 16 + d;
                            i += 1;
                        }
                        None => break,
                    }
                }
                value.push(v as u8);
            }
            other => value.push(other),
        }
    }
}

/// CSV: quoted fields may hold delimiters, quotes (doubled or escaped) and
/// newlines; only an unquoted field can be NULL.
fn csv_fields(line: &[u8], o: &CopyOptions, n: u64) -> Result<Vec<Option<String>>> {
    let mut fields = Vec::new();
    let mut i = 0;
    loop {
        let mut value = Vec::new();
        let mut quoted = false;
        let mut in_quotes = false;
        while i < line.len() {
            let b = line[i];
            if in_quotes {
                if b == o.escape && line.get(i + 1) == Some(&o.quote) {
                    value.push(o.quote);
                    i += 2;
                    continue;
                }
                if b == o.escape && o.escape != o.quote && line.get(i + 1) == Some(&o.escape) {
                    value.push(o.escape);
                    i += 2;
                    continue;
                }
                if b == o.quote {
                    in_quotes = false;
                } else {
                    value.push(b);
                }
            } else if b == o.quote {
                in_quotes = true;
                quoted = true;
            } else if b == o.delimiter {
                break;
            } else {
                value.push(b);
            }
            i += 1;
        }
        if in_quotes {
            return Err(EngineError::sql("22P04", format!("unterminated CSV quoted field (line {n})")));
        }
        let null = !quoted && value == o.null.as_bytes();
        fields.push(if null { None } else { Some(utf8(value, n)?) });
        if i == line.len() {
            return Ok(fields);
        }
        i += 1; // the delimiter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(csv: bool) -> CopyOptions {
        let format = if csv { CopyFormat::Csv } else { CopyFormat::Text };
        CopyOptions {
            format,
            delimiter: if csv { b',' } else { b'\t' },
            null: if csv { String::new() } else { "\\N".into() },
            header: false,
            quote: b'"',
            escape: b'"',
            force_quote: ForceQuote::None,
        }
    }

    /// Feeds `input` in chunks of every size from 1 up, checking that the
    /// records never depend on where the chunks split.
    fn decode(o: CopyOptions, input: &[u8]) -> Result<Vec<Record>> {
        let mut first: Option<Vec<Record>> = None;
        for size in 1..=input.len().max(1) {
            let mut d = Decoder::new(o.clone());
            let mut out = Vec::new();
            for chunk in input.chunks(size) {
                d.feed(chunk, &mut out)?;
            }
            d.finish(&mut out)?;
            match &first {
                None => first = Some(out),
                Some(f) => assert_eq!(f, &out, "chunk size {size}"),
            }
        }
        Ok(first.unwrap_or_default())
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    #[test]
    fn text_escapes_nulls_and_end_marker() {
        let input = "1\ta\\tb\t\\N\n2\t\\\\N\tx\\101\\x41é\r\n\\.\nignored\n";
        let rows = decode(options(false), input.as_bytes()).unwrap();
        assert_eq!(rows, vec![(1, vec![s("1"), s("a\tb"), None]), (2, vec![s("2"), s("\\N"), s("xAAé")])]);
    }

    #[test]
    fn text_last_line_without_newline_and_empty_fields() {
        let rows = decode(options(false), b"\t\n3\t").unwrap();
        assert_eq!(rows, vec![(1, vec![s(""), s("")]), (2, vec![s("3"), s("")])]);
    }

    #[test]
    fn csv_quotes_newlines_and_null_rules() {
        let input = "1,\"a,b\",\"\"\n2,,\"say \"\"hi\"\"\nthere\"\n";
        let rows = decode(options(true), input.as_bytes()).unwrap();
        assert_eq!(rows, vec![(1, vec![s("1"), s("a,b"), s("")]), (2, vec![s("2"), None, s("say \"hi\"\nthere")])]);
    }

    #[test]
    fn csv_header_and_custom_escape() {
        let mut o = options(true);
        o.header = true;
        o.escape = b'\\';
        let rows = decode(o, b"a,b\n\"x\\\"y\",z\n").unwrap();
        assert_eq!(rows, vec![(2, vec![s("x\"y"), s("z")])]);
    }

    #[test]
    fn bad_input_is_an_error_with_the_line() {
        let e = decode(options(true), b"1,\"open\n").unwrap_err();
        assert_eq!(e.sqlstate(), "22P04");
        let e = decode(options(false), b"ok\n\xff\xfe\n").unwrap_err();
        assert_eq!(e.sqlstate(), "22021");
        assert!(e.to_string().contains("line 2"), "{e}");
    }
}
