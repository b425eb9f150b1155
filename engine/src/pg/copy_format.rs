//! COPY's text and CSV formats: options, and a streaming decoder that turns
//! CopyData chunks (split anywhere, even inside a character) into records.
//!
//! PostgreSQL's rules, which no CSV crate expresses: in CSV an *unquoted*
//! field equal to the NULL string is NULL while a quoted one never is; in
//! text format the NULL string is compared before backslash escapes are
//! undone, and a line holding only `\.` ends the data.

use std::collections::VecDeque;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, StringBuilder};
use datafusion::sql::sqlparser::ast::{CopyLegacyCsvOption, CopyLegacyOption, CopyOption};

use rustydb_common::limits::COPY_LINE_BYTES_MAX;

use crate::error::{EngineError, Result};
use crate::sql::names::ident;
use rustydb_common::SqlState;

/// Text, CSV, or PostgreSQL's binary COPY format (COPY FROM only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyFormat {
    Text,
    Csv,
    Binary,
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
        Err(EngineError::sql(SqlState::FeatureNotSupported, format!("COPY {what} must be a single one-byte character")))
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
                        "binary" => CopyFormat::Binary,
                        other => {
                            return Err(EngineError::sql(
                                SqlState::InvalidParameterValue,
                                format!("COPY format \"{other}\" not recognized"),
                            ));
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
                CopyLegacyOption::Binary => format = CopyFormat::Binary,
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
        if format == CopyFormat::Binary && (delimiter.is_some() || null.is_some() || header) {
            return Err(EngineError::sql(
                SqlState::SyntaxError,
                "cannot specify DELIMITER, NULL or HEADER in BINARY mode",
            ));
        }
        if !csv && (quote.is_some() || escape.is_some() || force_quote != ForceQuote::None) {
            return Err(EngineError::sql(
                SqlState::FeatureNotSupported,
                "COPY QUOTE, ESCAPE and FORCE_QUOTE are available only in CSV mode",
            ));
        }
        if header && !csv {
            return Err(EngineError::sql(SqlState::FeatureNotSupported, "COPY HEADER is available only in CSV mode"));
        }
        let delimiter = delimiter.unwrap_or(if csv { b',' } else { b'\t' });
        let quote = quote.unwrap_or(b'"');
        let null = null.unwrap_or_else(|| if csv { String::new() } else { "\\N".to_owned() });
        if !csv && (delimiter == b'\\' || delimiter.is_ascii_alphanumeric() || delimiter == b'.') {
            return Err(EngineError::sql(
                SqlState::InvalidParameterValue,
                "COPY delimiter cannot be a backslash, letter, digit or period",
            ));
        }
        if csv && delimiter == quote {
            return Err(EngineError::sql(
                SqlState::InvalidParameterValue,
                "COPY delimiter and quote must be different",
            ));
        }
        if null.as_bytes().contains(&delimiter) {
            return Err(EngineError::sql(
                SqlState::InvalidParameterValue,
                "COPY delimiter must not appear in the NULL specification",
            ));
        }
        Ok(CopyOptions { format, delimiter, null, header, quote, escape: escape.unwrap_or(quote), force_quote })
    }
}

/// Rows decoded per batch at most, and text bytes: a batch's text is one
/// Arrow string array per column (32-bit offsets), and a batch is what one
/// insert converts and writes.
pub const BATCH_ROWS: usize = 4096;
const BATCH_BYTES: usize = 64 * 1024 * 1024;

/// Decoded rows, column by column: each field's text goes straight into
/// its column's string builder (no string per field), and full batches
/// are set aside for the caller to take.
pub struct TextBatches {
    /// What field-count errors name: "COPY t", and the target columns.
    context: String,
    names: Vec<String>,
    builders: Vec<StringBuilder>,
    /// Fields pushed to the row being decoded.
    fields: usize,
    first_line: u64,
    rows: usize,
    bytes: usize,
    full: VecDeque<TextBatch>,
}

/// A batch of decoded rows: one text array per target column.
#[derive(Debug)]
pub struct TextBatch {
    pub columns: Vec<ArrayRef>,
    /// Kept apart from the arrays: a COPY may name no columns at all.
    rows: usize,
    /// Input line of the first row; rows are on consecutive lines (a CSV
    /// record with quoted newlines still counts as one line, as in
    /// PostgreSQL's CONTEXT).
    pub first_line: u64,
}

impl TextBatch {
    pub fn len(&self) -> usize {
        self.rows
    }
}

impl TextBatches {
    /// `table` and `columns` name the COPY's target in errors.
    pub fn new(table: &str, columns: Vec<String>) -> Self {
        TextBatches {
            context: format!("COPY {table}"),
            builders: columns.iter().map(|_| StringBuilder::new()).collect(),
            names: columns,
            fields: 0,
            first_line: 0,
            rows: 0,
            bytes: 0,
            full: VecDeque::new(),
        }
    }

    /// The oldest full batch, if any.
    pub fn take_full(&mut self) -> Option<TextBatch> {
        self.full.pop_front()
    }

    /// Everything left, full batches first, then the partial one.
    pub fn take_rest(&mut self) -> Option<TextBatch> {
        if self.full.is_empty() && self.rows > 0 {
            self.cut();
        }
        self.full.pop_front()
    }

    /// Drops every decoded row (the COPY failed).
    pub fn clear(&mut self) {
        self.full.clear();
        for b in &mut self.builders {
            *b = StringBuilder::new();
        }
        (self.rows, self.bytes, self.fields) = (0, 0, 0);
    }

    fn begin_row(&mut self, line: u64) {
        if self.rows == 0 {
            self.first_line = line;
        }
        self.fields = 0;
    }

    fn push(&mut self, value: Option<&str>, line: u64) -> Result<()> {
        let Some(b) = self.builders.get_mut(self.fields) else {
            return Err(EngineError::sql(SqlState::BadCopyFileFormat, "extra data after last expected column")
                .with_context(format!("{}, line {line}", self.context)));
        };
        match value {
            Some(v) => {
                self.bytes += v.len();
                b.append_value(v);
            }
            None => b.append_null(),
        }
        self.fields += 1;
        Ok(())
    }

    fn end_row(&mut self, line: u64) -> Result<()> {
        if let Some(missing) = self.names.get(self.fields) {
            return Err(EngineError::sql(
                SqlState::BadCopyFileFormat,
                format!("missing data for column \"{missing}\""),
            )
            .with_context(format!("{}, line {line}", self.context)));
        }
        self.rows += 1;
        if self.rows >= BATCH_ROWS || self.bytes >= BATCH_BYTES {
            self.cut();
        }
        Ok(())
    }

    fn cut(&mut self) {
        let columns = self.builders.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef).collect();
        self.full.push_back(TextBatch { columns, rows: self.rows, first_line: self.first_line });
        (self.rows, self.bytes) = (0, 0);
    }
}

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
    /// Saw the end marker (`\.`, or binary's -1): the rest is ignored.
    ended: bool,
    /// Binary format: the target columns' types, and whether the file
    /// header has been read.
    binary_types: Vec<postgres_types::Type>,
    header_read: bool,
    /// Unescaped bytes of the field being decoded (reused).
    scratch: Vec<u8>,
}

impl Decoder {
    /// `binary_types`: the PostgreSQL types of the target columns, which
    /// the binary format needs to read its values.
    pub fn new(options: CopyOptions, binary_types: Vec<postgres_types::Type>) -> Self {
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
            binary_types,
            header_read: false,
            scratch: Vec::new(),
        }
    }

    /// Appends a chunk and decodes every record it completes into `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut TextBatches) -> Result<()> {
        if self.ended {
            return Ok(());
        }
        if self.options.format == CopyFormat::Binary {
            self.buf.extend_from_slice(chunk);
            return self.binary_records(out);
        }
        // Taken out so records can borrow it while `self` is updated.
        let mut buf = std::mem::take(&mut self.buf);
        buf.extend_from_slice(chunk);
        let mut start = 0;
        let mut i = self.scanned;
        while i < buf.len() {
            let b = buf[i];
            let end_of_record = match self.options.format {
                // Binary input never gets here (see binary_records).
                CopyFormat::Binary => false,
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
                SqlState::ProgramLimitExceeded,
                format!("COPY line {} is longer than {COPY_LINE_BYTES_MAX} bytes", self.line),
            ));
        }
        self.scanned = i - start;
        self.buf = buf;
        Ok(())
    }

    /// Ends the input: a last line without a newline is still a record.
    pub fn finish(&mut self, out: &mut TextBatches) -> Result<()> {
        if self.ended || self.buf.is_empty() {
            return Ok(());
        }
        if self.options.format == CopyFormat::Binary {
            return Err(EngineError::sql(SqlState::BadCopyFileFormat, "unexpected EOF in COPY data"));
        }
        if self.in_quotes {
            return Err(EngineError::sql(
                SqlState::BadCopyFileFormat,
                format!("unterminated CSV quoted field (line {})", self.line),
            ));
        }
        let line = std::mem::take(&mut self.buf);
        let line = line.strip_suffix(b"\r").unwrap_or(&line);
        self.record(line, out)?;
        self.ended = true;
        Ok(())
    }

    /// Binary format: the 19-byte header with its extension area, then
    /// tuples of (field count, then length and bytes per field), ending
    /// with a field count of -1. Only complete tuples are decoded.
    fn binary_records(&mut self, out: &mut TextBatches) -> Result<()> {
        const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";
        let buf = std::mem::take(&mut self.buf);
        let mut pos = 0;
        if !self.header_read {
            if buf.len() < 19 {
                self.buf = buf;
                return Ok(());
            }
            if &buf[..11] != SIGNATURE {
                return Err(EngineError::sql(SqlState::BadCopyFileFormat, "COPY file signature not recognized"));
            }
            let flags = u32::from_be_bytes([buf[11], buf[12], buf[13], buf[14]]);
            if flags & (1 << 16) != 0 {
                return Err(EngineError::sql(
                    SqlState::FeatureNotSupported,
                    "COPY binary data with OIDs is not supported",
                ));
            }
            let ext = u32::from_be_bytes([buf[15], buf[16], buf[17], buf[18]]) as usize;
            if buf.len() < 19 + ext {
                self.buf = buf;
                return Ok(());
            }
            pos = 19 + ext;
            self.header_read = true;
        }
        let be16 = |b: &[u8], at: usize| b.get(at..at + 2).map(|s| i16::from_be_bytes([s[0], s[1]]));
        let be32 = |b: &[u8], at: usize| b.get(at..at + 4).map(|s| i32::from_be_bytes([s[0], s[1], s[2], s[3]]));
        'tuples: while let Some(count) = be16(&buf, pos) {
            if count == -1 {
                self.ended = true;
                return Ok(());
            }
            let n = self.line;
            if count as usize != self.binary_types.len() {
                return Err(EngineError::sql(
                    SqlState::BadCopyFileFormat,
                    format!("row field count is {count}, expected {} (line {n})", self.binary_types.len()),
                ));
            }
            let mut at = pos + 2;
            let mut fields = Vec::with_capacity(count as usize);
            for ty in &self.binary_types {
                let Some(len) = be32(&buf, at) else { break 'tuples };
                at += 4;
                if len < 0 {
                    fields.push(None);
                    continue;
                }
                let Some(raw) = buf.get(at..at + len as usize) else { break 'tuples };
                at += len as usize;
                let value =
                    crate::pg::binary::decode_binary(ty, raw).map_err(|e| e.with_context(format!("COPY, line {n}")))?;
                fields.push(Some(crate::pg::binary::as_text(&value)));
            }
            out.begin_row(n);
            for f in &fields {
                out.push(f.as_deref(), n)?;
            }
            out.end_row(n)?;
            self.line += 1;
            pos = at;
        }
        self.buf = buf;
        self.buf.drain(..pos);
        if self.buf.len() > COPY_LINE_BYTES_MAX {
            return Err(EngineError::sql(
                SqlState::ProgramLimitExceeded,
                format!("COPY row {} is longer than {COPY_LINE_BYTES_MAX} bytes", self.line),
            ));
        }
        Ok(())
    }

    /// Decodes one line; returns true at the end-of-data marker.
    fn record(&mut self, line: &[u8], out: &mut TextBatches) -> Result<bool> {
        if line == b"\\." {
            return Ok(true);
        }
        let n = self.line;
        self.line += 1;
        if self.skip_header {
            self.skip_header = false;
            return Ok(false);
        }
        out.begin_row(n);
        match self.options.format {
            CopyFormat::Text => text_fields(line, &self.options, n, out, &mut self.scratch)?,
            CopyFormat::Csv => csv_fields(line, &self.options, n, out, &mut self.scratch)?,
            CopyFormat::Binary => return Err(EngineError::internal("binary COPY data read as lines")),
        }
        out.end_row(n)?;
        Ok(false)
    }
}

fn invalid_utf8(line: u64) -> EngineError {
    EngineError::sql(
        SqlState::CharacterNotInRepertoire,
        format!("invalid byte sequence for encoding \"UTF8\" (line {line})"),
    )
}

fn utf8(bytes: &[u8], line: u64) -> Result<&str> {
    std::str::from_utf8(bytes).map_err(|_| invalid_utf8(line))
}

/// Text format: split on the delimiter, then undo backslash escapes.
fn text_fields(line: &[u8], o: &CopyOptions, n: u64, out: &mut TextBatches, value: &mut Vec<u8>) -> Result<()> {
    if !line.contains(&b'\\') {
        // Nothing escaped (the common case): every field is a slice of the
        // line, and the delimiter, one ASCII byte, splits it on character
        // boundaries.
        for field in utf8(line, n)?.split(o.delimiter as char) {
            out.push((field != o.null).then_some(field), n)?;
        }
        return Ok(());
    }
    let mut raw_start = 0;
    let mut i = 0;
    value.clear();
    loop {
        let at_end = i == line.len();
        if at_end || line[i] == o.delimiter {
            let raw = &line[raw_start..i];
            let field = if raw == o.null.as_bytes() { None } else { Some(utf8(value, n)?) };
            out.push(field, n)?;
            value.clear();
            if at_end {
                return Ok(());
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
fn csv_fields(line: &[u8], o: &CopyOptions, n: u64, out: &mut TextBatches, value: &mut Vec<u8>) -> Result<()> {
    if !line.contains(&o.quote) {
        // No quoting: every field is a slice of the line (see text_fields).
        for field in utf8(line, n)?.split(o.delimiter as char) {
            out.push((field != o.null).then_some(field), n)?;
        }
        return Ok(());
    }
    let mut i = 0;
    loop {
        value.clear();
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
            return Err(EngineError::sql(
                SqlState::BadCopyFileFormat,
                format!("unterminated CSV quoted field (line {n})"),
            ));
        }
        let null = !quoted && value.as_slice() == o.null.as_bytes();
        out.push(if null { None } else { Some(utf8(value, n)?) }, n)?;
        if i == line.len() {
            return Ok(());
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

    /// One decoded line: its line number and its fields (None = NULL).
    type Record = (u64, Vec<Option<String>>);

    fn records(batches: &mut TextBatches) -> Vec<Record> {
        use datafusion::arrow::array::{Array, AsArray};
        let mut out = Vec::new();
        while let Some(b) = batches.take_rest() {
            for i in 0..b.len() {
                let fields = b.columns.iter().map(|c| {
                    let c = c.as_string::<i32>();
                    c.is_valid(i).then(|| c.value(i).to_owned())
                });
                out.push((b.first_line + i as u64, fields.collect()));
            }
        }
        out
    }

    fn target(columns: usize) -> TextBatches {
        TextBatches::new("t", (0..columns).map(|c| format!("c{c}")).collect())
    }

    /// Feeds `input` in chunks of every size from 1 up, checking that the
    /// records never depend on where the chunks split.
    fn decode(o: CopyOptions, columns: usize, input: &[u8]) -> Result<Vec<Record>> {
        let mut first: Option<Vec<Record>> = None;
        for size in 1..=input.len().max(1) {
            let mut d = Decoder::new(o.clone(), Vec::new());
            let mut out = target(columns);
            for chunk in input.chunks(size) {
                d.feed(chunk, &mut out)?;
            }
            d.finish(&mut out)?;
            let out = records(&mut out);
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
        let rows = decode(options(false), 3, input.as_bytes()).unwrap();
        assert_eq!(rows, vec![(1, vec![s("1"), s("a\tb"), None]), (2, vec![s("2"), s("\\N"), s("xAAé")])]);
    }

    #[test]
    fn text_last_line_without_newline_and_empty_fields() {
        let rows = decode(options(false), 2, b"\t\n3\t").unwrap();
        assert_eq!(rows, vec![(1, vec![s(""), s("")]), (2, vec![s("3"), s("")])]);
    }

    #[test]
    fn csv_quotes_newlines_and_null_rules() {
        let input = "1,\"a,b\",\"\"\n2,,\"say \"\"hi\"\"\nthere\"\n";
        let rows = decode(options(true), 3, input.as_bytes()).unwrap();
        assert_eq!(rows, vec![(1, vec![s("1"), s("a,b"), s("")]), (2, vec![s("2"), None, s("say \"hi\"\nthere")])]);
    }

    #[test]
    fn csv_header_and_custom_escape() {
        let mut o = options(true);
        o.header = true;
        o.escape = b'\\';
        let rows = decode(o, 2, b"a,b\n\"x\\\"y\",z\n").unwrap();
        assert_eq!(rows, vec![(2, vec![s("x\"y"), s("z")])]);
    }

    #[test]
    fn binary_tuples_decode_across_chunks() {
        let mut o = options(false);
        o.format = CopyFormat::Binary;
        let mut input = b"PGCOPY\n\xff\r\n\0".to_vec();
        input.extend_from_slice(&0u32.to_be_bytes());
        input.extend_from_slice(&0u32.to_be_bytes());
        for (id, text) in [(7i32, Some("seven")), (8, None)] {
            input.extend_from_slice(&2i16.to_be_bytes());
            input.extend_from_slice(&4i32.to_be_bytes());
            input.extend_from_slice(&id.to_be_bytes());
            match text {
                Some(t) => {
                    input.extend_from_slice(&(t.len() as i32).to_be_bytes());
                    input.extend_from_slice(t.as_bytes());
                }
                None => input.extend_from_slice(&(-1i32).to_be_bytes()),
            }
        }
        input.extend_from_slice(&(-1i16).to_be_bytes());
        for size in 1..=input.len() {
            let types = vec![postgres_types::Type::INT4, postgres_types::Type::TEXT];
            let mut d = Decoder::new(o.clone(), types);
            let mut out = target(2);
            for chunk in input.chunks(size) {
                d.feed(chunk, &mut out).unwrap();
            }
            d.finish(&mut out).unwrap();
            assert_eq!(
                records(&mut out),
                vec![(1, vec![s("7"), s("seven")]), (2, vec![s("8"), None])],
                "chunk size {size}"
            );
        }
    }

    #[test]
    fn an_escaped_delimiter_stays_in_its_field() {
        let rows = decode(options(false), 2, b"a\\\tb\tc\n").unwrap();
        assert_eq!(rows, vec![(1, vec![s("a\tb"), s("c")])]);
    }

    #[test]
    fn wrong_field_counts_name_the_column_and_line() {
        let e = decode(options(false), 2, b"1\t2\n3\n").unwrap_err();
        assert_eq!(e.sqlstate(), "22P04");
        assert!(e.to_string().contains("missing data for column \"c1\""), "{e}");
        assert_eq!(e.context(), Some("COPY t, line 2"));
        let e = decode(options(true), 2, b"1,2,3\n").unwrap_err();
        assert!(e.to_string().contains("extra data after last expected column"), "{e}");
        assert_eq!(e.context(), Some("COPY t, line 1"));
    }

    #[test]
    fn rows_are_cut_into_batches_that_know_their_lines() {
        let input: String = (1..=BATCH_ROWS + 10).map(|i| format!("{i}\n")).collect();
        let mut d = Decoder::new(options(false), Vec::new());
        let mut out = target(1);
        d.feed(input.as_bytes(), &mut out).unwrap();
        let full = out.take_full().expect("one full batch");
        assert_eq!((full.len(), full.first_line), (BATCH_ROWS, 1));
        assert!(out.take_full().is_none());
        let rest = out.take_rest().expect("the partial batch");
        assert_eq!((rest.len(), rest.first_line), (10, BATCH_ROWS as u64 + 1));
        assert!(out.take_rest().is_none());
    }

    #[test]
    fn bad_input_is_an_error_with_the_line() {
        let e = decode(options(true), 2, b"1,\"open\n").unwrap_err();
        assert_eq!(e.sqlstate(), "22P04");
        let e = decode(options(false), 1, b"ok\n\xff\xfe\n").unwrap_err();
        assert_eq!(e.sqlstate(), "22021");
        assert!(e.to_string().contains("line 2"), "{e}");
    }
}
