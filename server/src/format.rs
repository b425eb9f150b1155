//! psql-style aligned tables for the shell.

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};

/// One value as psql shows it: NULL empty, booleans t/f.
fn cell(array: &dyn Array, formatter: &ArrayFormatter<'_>, row: usize) -> String {
    if array.is_null(row) {
        return String::new();
    }
    if let DataType::Boolean = array.data_type() {
        return if array.as_boolean().value(row) { "t".into() } else { "f".into() };
    }
    formatter.value(row).to_string()
}

/// Renders rows as an aligned table followed by the row count.
pub fn table(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<String, arrow::error::ArrowError> {
    let headers: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let options = FormatOptions::default().with_null("");
    let mut rows: Vec<Vec<String>> = Vec::new();
    for b in batches {
        let formatters =
            b.columns().iter().map(|c| ArrayFormatter::try_new(c.as_ref(), &options)).collect::<Result<Vec<_>, _>>()?;
        for r in 0..b.num_rows() {
            rows.push(b.columns().iter().zip(&formatters).map(|(c, f)| cell(c.as_ref(), f, r)).collect());
        }
    }
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (w, v) in widths.iter_mut().zip(r) {
            *w = (*w).max(v.chars().count());
        }
    }
    let numeric: Vec<bool> = schema.fields().iter().map(|f| f.data_type().is_numeric()).collect();
    let mut out = String::new();
    let line = |vals: &[String], right: &[bool]| -> String {
        let cells: Vec<String> = vals
            .iter()
            .zip(&widths)
            .zip(right)
            .map(|((v, w), r)| if *r { format!(" {v:>w$} ") } else { format!(" {v:<w$} ") })
            .collect();
        cells.join("|").trim_end().to_string()
    };
    let centered: Vec<String> = headers
        .iter()
        .zip(&widths)
        .map(|(h, w)| {
            let pad = w - h.chars().count();
            format!("{}{h}{}", " ".repeat(pad / 2), " ".repeat(pad - pad / 2))
        })
        .collect();
    out.push_str(&line(&centered, &vec![false; headers.len()]));
    out.push('\n');
    out.push_str(&widths.iter().map(|w| "-".repeat(w + 2)).collect::<Vec<_>>().join("+"));
    out.push('\n');
    for r in &rows {
        out.push_str(&line(r, &numeric));
        out.push('\n');
    }
    let n = rows.len();
    out.push_str(&format!("({n} {})\n", if n == 1 { "row" } else { "rows" }));
    Ok(out)
}
