//! The *encode* stage: database rows straight to response bytes, JSON, JSONCompact, XML or
//! CSV (`docs/formats.md`).
//!
//! Every database's values come out the same way: NULL as `null`, integers beyond ±2^53 as
//! strings (JavaScript cannot hold them), decimals as normalised strings, dates as
//! `YYYY-MM-DD`, timestamps as ISO 8601 (`Z` when the database knows the zone), times as
//! `HH:MM:SS`, binary as base64. XML and CSV carry the same text without JSON's quotes
//! ([`plain_text`]). SQLite stores values loosely, so the declared column type, or the
//! response field's declared type, says how to read them there.

use base64::Engine;
use catalog::model::{MaskMode, ResultFormat, ScalarType};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use rusqlite::types::Value as LiteValue;
use rust_decimal::Decimal;
use sqlx::mysql::MySqlRow;
use sqlx::postgres::PgRow;
use sqlx::{Column, Row, TypeInfo, ValueRef};

use std::io::Write as _;
use std::str::FromStr;

use super::lite::LiteRow;
use super::mask::{MASK, MASK_JSON, Masking};
use crate::format::{CsvWriter, XmlTags};

/// Largest integer a JSON number holds exactly in every client.
const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// One decoded value, borrowed from its row where possible.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'r> {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Decimal(Decimal),
    Text(&'r str),
    Date(NaiveDate),
    DateTime(NaiveDateTime),
    DateTimeUtc(DateTime<Utc>),
    Time(NaiveTime),
    Bytes(&'r [u8]),
    Json(serde_json::Value),
}

/// How a result column is read, decided once per result from its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    Bool,
    Int,
    UInt,
    Float,
    Decimal,
    Text,
    Date,
    DateTime,
    DateTimeUtc,
    Time,
    Bytes,
    Json,
    Uuid,
    /// SQLite: read by the value's own storage class.
    Dynamic,
}

/// A row type the encoder can read cells from.
pub trait CellRow {
    fn column_names(&self) -> Vec<&str>;
    fn column_kind(&self, index: usize, hint: Option<ScalarType>) -> ColumnKind;
    fn cell(&self, index: usize, kind: ColumnKind) -> Cell<'_>;
}

/// The `data` object of a response: rows plus, with pagination, the page and total.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageInfo {
    pub page_num: u64,
    pub page_size: u64,
    pub total: Option<u64>,
}

/// Writes the `data` object for `rows` in `format`: for XML the content of `<data>`, for CSV
/// the whole body (the page goes in headers).
///
/// `hints` gives the declared type of a result column by name, when the definition has one.
/// `hidden` says which columns the caller may not see: their values are written as
/// `"******"` (mask) or left out with their keys (omit). Without it, or when it hides nothing
/// in this result, the output is exactly that of an unmasked call.
pub fn encode_data<R: CellRow>(
    rows: &[R],
    format: ResultFormat,
    hints: &dyn Fn(&str) -> Option<ScalarType>,
    page: Option<PageInfo>,
    hidden: Option<&Masking>,
    out: &mut Vec<u8>,
) {
    let names: Vec<&str> = rows.first().map(CellRow::column_names).unwrap_or_default();
    // Per column, once per result: its declared type and how its cells are read.
    let (hint_of, kinds): (Vec<Option<ScalarType>>, Vec<ColumnKind>) = match rows.first() {
        Some(first) => names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let hint = hints(n);
                (hint, first.column_kind(i, hint))
            })
            .unzip(),
        None => (Vec::new(), Vec::new()),
    };
    // Once per result: which columns are hidden. Empty (no allocation) when none is.
    let hide: Vec<bool> = match hidden {
        Some(masking) if !names.is_empty() => {
            let hide = masking.hidden_columns(&names);
            if hide.contains(&true) { hide } else { Vec::new() }
        }
        _ => Vec::new(),
    };
    let omit = hidden.is_some_and(|m| m.mode() == MaskMode::Omit);
    let columns = Columns { names: &names, hints: &hint_of, kinds: &kinds, hide: &hide, omit };
    match format {
        ResultFormat::Xml => return encode_xml(rows, &columns, page, out),
        ResultFormat::Csv => return encode_csv(rows, &columns, out),
        ResultFormat::Json | ResultFormat::JsonCompact => {}
    }
    let is_hidden = |i: usize| hide.get(i).copied().unwrap_or(false);
    out.push(b'{');
    match format {
        ResultFormat::Json => {
            // Keys are escaped once, not once per row, into one buffer.
            let mut key_bytes = Vec::with_capacity(names.iter().map(|n| n.len() + 3).sum());
            let mut key_ends = Vec::with_capacity(names.len());
            for name in &names {
                write_str(&mut key_bytes, name);
                key_bytes.push(b':');
                key_ends.push(key_bytes.len());
            }
            let key = |i: usize| &key_bytes[if i == 0 { 0 } else { key_ends[i - 1] }..key_ends[i]];
            out.extend_from_slice(b"\"rows\":[");
            for (r, row) in rows.iter().enumerate() {
                if r > 0 {
                    out.push(b',');
                }
                out.push(b'{');
                let mut first = true;
                for i in 0..names.len() {
                    let masked = is_hidden(i);
                    if masked && omit {
                        continue;
                    }
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    out.extend_from_slice(key(i));
                    if masked {
                        out.extend_from_slice(MASK_JSON);
                    } else {
                        write_cell(out, &row.cell(i, kinds[i]), hint_of[i]);
                    }
                }
                out.push(b'}');
            }
            out.push(b']');
        }
        ResultFormat::JsonCompact => {
            out.extend_from_slice(b"\"columns\":[");
            let mut first = true;
            for (i, name) in names.iter().enumerate() {
                if omit && is_hidden(i) {
                    continue;
                }
                if !first {
                    out.push(b',');
                }
                first = false;
                write_str(out, name);
            }
            out.extend_from_slice(b"],\"rows\":[");
            for (r, row) in rows.iter().enumerate() {
                if r > 0 {
                    out.push(b',');
                }
                out.push(b'[');
                let mut first = true;
                for i in 0..kinds.len() {
                    let masked = is_hidden(i);
                    if masked && omit {
                        continue;
                    }
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    if masked {
                        out.extend_from_slice(MASK_JSON);
                    } else {
                        write_cell(out, &row.cell(i, kinds[i]), hint_of[i]);
                    }
                }
                out.push(b']');
            }
            out.push(b']');
        }
        ResultFormat::Xml | ResultFormat::Csv => {}
    }
    if let Some(page) = page {
        out.extend_from_slice(b",\"pageNum\":");
        out.extend_from_slice(itoa::Buffer::new().format(page.page_num).as_bytes());
        out.extend_from_slice(b",\"pageSize\":");
        out.extend_from_slice(itoa::Buffer::new().format(page.page_size).as_bytes());
        if let Some(total) = page.total {
            out.extend_from_slice(b",\"totalCnt\":");
            out.extend_from_slice(itoa::Buffer::new().format(total).as_bytes());
        }
    }
    out.push(b'}');
}

/// What every format needs to know of a result's columns, worked out once per result.
struct Columns<'a> {
    names: &'a [&'a str],
    hints: &'a [Option<ScalarType>],
    kinds: &'a [ColumnKind],
    /// Empty when nothing is hidden.
    hide: &'a [bool],
    omit: bool,
}

impl Columns<'_> {
    fn hidden(&self, i: usize) -> bool {
        self.hide.get(i).copied().unwrap_or(false)
    }

    /// Columns that appear in the answer: all but those left out by `maskMode: omit`.
    fn shown(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.names.len()).filter(|&i| !(self.omit && self.hidden(i)))
    }
}

/// `<rows><row><id>1</id>…</row>…</rows>` and the page's elements. NULL is
/// `<name xsi:nil="true"/>`; a masked value is `******`.
fn encode_xml<R: CellRow>(rows: &[R], columns: &Columns<'_>, page: Option<PageInfo>, out: &mut Vec<u8>) {
    // Tags are built once per result, not once per row.
    let tags: Vec<XmlTags> = columns.names.iter().map(|n| XmlTags::new(n)).collect();
    let shown: Vec<usize> = columns.shown().collect();
    let mut scratch = Vec::new();
    out.extend_from_slice(b"<rows>");
    for row in rows {
        out.extend_from_slice(b"<row>");
        for &i in &shown {
            if columns.hidden(i) {
                tags[i].text(out, MASK);
                continue;
            }
            let cell = row.cell(i, columns.kinds[i]);
            match plain_text(&cell, columns.hints[i], &mut scratch) {
                Some((text, _)) => tags[i].text(out, text),
                None => tags[i].nil(out),
            }
        }
        out.extend_from_slice(b"</row>");
    }
    out.extend_from_slice(b"</rows>");
    if let Some(page) = page {
        let mut digits = itoa::Buffer::new();
        out.extend_from_slice(b"<pageNum>");
        out.extend_from_slice(digits.format(page.page_num).as_bytes());
        out.extend_from_slice(b"</pageNum><pageSize>");
        out.extend_from_slice(digits.format(page.page_size).as_bytes());
        out.extend_from_slice(b"</pageSize>");
        if let Some(total) = page.total {
            out.extend_from_slice(b"<totalCnt>");
            out.extend_from_slice(digits.format(total).as_bytes());
            out.extend_from_slice(b"</totalCnt>");
        }
    }
}

/// A header row of the shown columns' names, then one record per row. NULL is an empty
/// field; a masked value is `******`. Nothing at all when there are no rows (no names).
fn encode_csv<R: CellRow>(rows: &[R], columns: &Columns<'_>, out: &mut Vec<u8>) {
    if rows.is_empty() {
        return;
    }
    let shown: Vec<usize> = columns.shown().collect();
    let mut scratch = Vec::new();
    let mut csv = CsvWriter::new(out);
    for &i in &shown {
        csv.text(columns.names[i]);
    }
    csv.end_row();
    for row in rows {
        for &i in &shown {
            if columns.hidden(i) {
                csv.plain(MASK);
                continue;
            }
            let cell = row.cell(i, columns.kinds[i]);
            match plain_text(&cell, columns.hints[i], &mut scratch) {
                Some((text, true)) => csv.text(text),
                Some((text, false)) => csv.plain(text),
                None => csv.null(),
            }
        }
        csv.end_row();
    }
    csv.finish();
}

/// A cell as the text XML and CSV carry: what JSON writes, without JSON's quoting and
/// escaping, so every format says the same. `None` where JSON writes `null`. The flag says the
/// text is the database's (a string) rather than one Sluice wrote (a number, a date): only such
/// text is guarded against spreadsheet formulas. JSON values: a string as itself, anything
/// else as compact JSON text.
pub fn plain_text<'c>(
    cell: &'c Cell<'_>,
    hint: Option<ScalarType>,
    scratch: &'c mut Vec<u8>,
) -> Option<(&'c str, bool)> {
    scratch.clear();
    match (cell, hint) {
        (Cell::Null, _) => None,
        (Cell::Int(v), Some(ScalarType::Bool)) => Some((if *v != 0 { "true" } else { "false" }, false)),
        (Cell::Bool(b), _) => Some((if *b { "true" } else { "false" }, false)),
        (Cell::Int(v), Some(ScalarType::Decimal)) => plain_decimal(scratch, Decimal::from(*v)),
        (Cell::Int(v), _) => {
            scratch.extend_from_slice(itoa::Buffer::new().format(*v).as_bytes());
            written(scratch, false)
        }
        (Cell::UInt(v), _) => {
            scratch.extend_from_slice(itoa::Buffer::new().format(*v).as_bytes());
            written(scratch, false)
        }
        (Cell::Float(f), Some(ScalarType::Decimal)) => match Decimal::from_str(ryu::Buffer::new().format(*f)) {
            Ok(d) => plain_decimal(scratch, d),
            Err(_) => plain_float(scratch, *f),
        },
        (Cell::Float(f), _) => plain_float(scratch, *f),
        (Cell::Decimal(d), _) => plain_decimal(scratch, *d),
        (Cell::Text(s), Some(ScalarType::Json)) => match serde_json::from_str::<serde_json::Value>(s) {
            Ok(serde_json::Value::Null) => None,
            Ok(serde_json::Value::String(inner)) => {
                scratch.extend_from_slice(inner.as_bytes());
                written(scratch, true)
            }
            Ok(v) => {
                let _ = serde_json::to_writer(&mut *scratch, &v);
                written(scratch, true)
            }
            Err(_) => Some((*s, true)),
        },
        (Cell::Text(s), Some(ScalarType::Decimal)) => match Decimal::from_str(s.trim()) {
            Ok(d) => plain_decimal(scratch, d),
            Err(_) => Some((*s, true)),
        },
        (Cell::Text(s), Some(ScalarType::DateTime)) => match parse_loose_datetime(s) {
            Some(t) => {
                let _ = write!(scratch, "{}", t.format("%Y-%m-%dT%H:%M:%S%.f"));
                written(scratch, false)
            }
            None => Some((*s, true)),
        },
        (Cell::Text(s), _) => Some((*s, true)),
        (Cell::Date(d), _) => {
            let _ = write!(scratch, "{}", d.format("%Y-%m-%d"));
            written(scratch, false)
        }
        (Cell::DateTime(t), _) => {
            let _ = write!(scratch, "{}", t.format("%Y-%m-%dT%H:%M:%S%.f"));
            written(scratch, false)
        }
        (Cell::DateTimeUtc(t), _) => {
            let _ = write!(scratch, "{}", t.format("%Y-%m-%dT%H:%M:%S%.fZ"));
            written(scratch, false)
        }
        (Cell::Time(t), _) => {
            let _ = write!(scratch, "{}", t.format("%H:%M:%S%.f"));
            written(scratch, false)
        }
        (Cell::Bytes(b), _) => {
            let _ = write!(
                scratch,
                "{}",
                base64::display::Base64Display::new(b, &base64::engine::general_purpose::STANDARD)
            );
            written(scratch, false)
        }
        (Cell::Json(serde_json::Value::Null), _) => None,
        (Cell::Json(serde_json::Value::String(s)), _) => Some((s.as_str(), true)),
        (Cell::Json(v), _) => {
            let _ = serde_json::to_writer(&mut *scratch, v);
            written(scratch, true)
        }
    }
}

/// What was written into `scratch`, as text.
fn written(scratch: &[u8], text: bool) -> Option<(&str, bool)> {
    std::str::from_utf8(scratch).ok().map(|s| (s, text))
}

fn plain_decimal(scratch: &mut Vec<u8>, d: Decimal) -> Option<(&str, bool)> {
    let _ = write!(scratch, "{}", d.normalize());
    written(scratch, false)
}

fn plain_float(scratch: &mut Vec<u8>, f: f64) -> Option<(&str, bool)> {
    if !f.is_finite() {
        return None;
    }
    scratch.extend_from_slice(ryu::Buffer::new().format_finite(f).as_bytes());
    written(scratch, false)
}

/// Writes a JSON string with escaping.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    // serde_json's escaper is correct for every control character and fast on plain text.
    let _ = serde_json::to_writer(&mut *out, s);
}

fn write_i64(out: &mut Vec<u8>, v: i64) {
    let mut buf = itoa::Buffer::new();
    let text = buf.format(v);
    if (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&v) {
        out.extend_from_slice(text.as_bytes());
    } else {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    }
}

fn write_decimal(out: &mut Vec<u8>, d: Decimal) {
    out.push(b'"');
    out.extend_from_slice(d.normalize().to_string().as_bytes());
    out.push(b'"');
}

/// Writes one cell. `hint` is the declared type of its field, used where the stored value is
/// looser than the declaration (SQLite integers declared bool, text declared json).
pub fn write_cell(out: &mut Vec<u8>, cell: &Cell<'_>, hint: Option<ScalarType>) {
    match (cell, hint) {
        (Cell::Null, _) => out.extend_from_slice(b"null"),
        (Cell::Int(v), Some(ScalarType::Bool)) => out.extend_from_slice(if *v != 0 { b"true" } else { b"false" }),
        (Cell::Bool(b), _) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        (Cell::Int(v), Some(ScalarType::Decimal)) => write_decimal(out, Decimal::from(*v)),
        (Cell::Int(v), _) => write_i64(out, *v),
        (Cell::UInt(v), _) => match i64::try_from(*v) {
            Ok(signed) => write_i64(out, signed),
            Err(_) => {
                out.push(b'"');
                out.extend_from_slice(itoa::Buffer::new().format(*v).as_bytes());
                out.push(b'"');
            }
        },
        (Cell::Float(f), Some(ScalarType::Decimal)) => match Decimal::from_str(ryu::Buffer::new().format(*f)) {
            Ok(d) => write_decimal(out, d),
            Err(_) => write_float(out, *f),
        },
        (Cell::Float(f), _) => write_float(out, *f),
        (Cell::Decimal(d), _) => write_decimal(out, *d),
        (Cell::Text(s), Some(ScalarType::Json)) => match serde_json::from_str::<serde_json::Value>(s) {
            Ok(v) => {
                let _ = serde_json::to_writer(&mut *out, &v);
            }
            Err(_) => write_str(out, s),
        },
        (Cell::Text(s), Some(ScalarType::Decimal)) => match Decimal::from_str(s.trim()) {
            Ok(d) => write_decimal(out, d),
            Err(_) => write_str(out, s),
        },
        (Cell::Text(s), Some(ScalarType::DateTime)) => match parse_loose_datetime(s) {
            Some(t) => write_datetime(out, t),
            None => write_str(out, s),
        },
        (Cell::Text(s), _) => write_str(out, s),
        (Cell::Date(d), _) => {
            out.push(b'"');
            out.extend_from_slice(d.format("%Y-%m-%d").to_string().as_bytes());
            out.push(b'"');
        }
        (Cell::DateTime(t), _) => write_datetime(out, *t),
        (Cell::DateTimeUtc(t), _) => {
            out.push(b'"');
            out.extend_from_slice(t.format("%Y-%m-%dT%H:%M:%S%.fZ").to_string().as_bytes());
            out.push(b'"');
        }
        (Cell::Time(t), _) => {
            out.push(b'"');
            out.extend_from_slice(t.format("%H:%M:%S%.f").to_string().as_bytes());
            out.push(b'"');
        }
        (Cell::Bytes(b), _) => {
            out.push(b'"');
            out.extend_from_slice(base64::engine::general_purpose::STANDARD.encode(b).as_bytes());
            out.push(b'"');
        }
        (Cell::Json(v), _) => {
            let _ = serde_json::to_writer(&mut *out, v);
        }
    }
}

fn write_float(out: &mut Vec<u8>, f: f64) {
    if f.is_finite() {
        out.extend_from_slice(ryu::Buffer::new().format_finite(f).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

fn write_datetime(out: &mut Vec<u8>, t: NaiveDateTime) {
    out.push(b'"');
    out.extend_from_slice(t.format("%Y-%m-%dT%H:%M:%S%.f").to_string().as_bytes());
    out.push(b'"');
}

/// SQLite keeps timestamps as text, with a space or a `T`.
fn parse_loose_datetime(s: &str) -> Option<NaiveDateTime> {
    ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
}

/// Reads a typed value, or NULL when the database's value is NULL or cannot be decoded
/// (logged once per call site would be noise; undecodable values are a schema problem the
/// test console shows).
fn get<'r, T, R>(row: &'r R, index: usize) -> Option<T>
where
    R: Row,
    T: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    usize: sqlx::ColumnIndex<R>,
{
    row.try_get::<Option<T>, _>(index).ok().flatten()
}

fn get_unchecked<'r, T, R>(row: &'r R, index: usize) -> Option<T>
where
    R: Row,
    T: sqlx::Decode<'r, R::Database>,
    usize: sqlx::ColumnIndex<R>,
{
    if row.try_get_raw(index).map(|v| v.is_null()).unwrap_or(true) {
        return None;
    }
    row.try_get_unchecked::<T, _>(index).ok()
}

fn cell_or_null<'r>(value: Option<Cell<'r>>) -> Cell<'r> {
    value.unwrap_or(Cell::Null)
}

impl CellRow for PgRow {
    fn column_names(&self) -> Vec<&str> {
        self.columns().iter().map(|c| c.name()).collect()
    }

    fn column_kind(&self, index: usize, _hint: Option<ScalarType>) -> ColumnKind {
        match self.columns()[index].type_info().name() {
            "BOOL" => ColumnKind::Bool,
            "INT2" | "INT4" | "INT8" | "OID" => ColumnKind::Int,
            "FLOAT4" | "FLOAT8" => ColumnKind::Float,
            "NUMERIC" | "MONEY" => ColumnKind::Decimal,
            "DATE" => ColumnKind::Date,
            "TIMESTAMP" => ColumnKind::DateTime,
            "TIMESTAMPTZ" => ColumnKind::DateTimeUtc,
            "TIME" => ColumnKind::Time,
            "BYTEA" => ColumnKind::Bytes,
            "JSON" | "JSONB" => ColumnKind::Json,
            "UUID" => ColumnKind::Uuid,
            _ => ColumnKind::Text,
        }
    }

    fn cell(&self, i: usize, kind: ColumnKind) -> Cell<'_> {
        cell_or_null(match kind {
            ColumnKind::Bool => get::<bool, _>(self, i).map(Cell::Bool),
            ColumnKind::Int => match self.columns()[i].type_info().name() {
                "INT2" => get::<i16, _>(self, i).map(|v| Cell::Int(v.into())),
                "INT4" => get::<i32, _>(self, i).map(|v| Cell::Int(v.into())),
                "OID" => get_unchecked::<i32, _>(self, i).map(|v| Cell::Int(v.into())),
                _ => get::<i64, _>(self, i).map(Cell::Int),
            },
            ColumnKind::Float => match self.columns()[i].type_info().name() {
                "FLOAT4" => get::<f32, _>(self, i).map(|v| Cell::Float(v.into())),
                _ => get::<f64, _>(self, i).map(Cell::Float),
            },
            ColumnKind::Decimal => get::<Decimal, _>(self, i).map(Cell::Decimal),
            ColumnKind::Date => get::<NaiveDate, _>(self, i).map(Cell::Date),
            ColumnKind::DateTime => get::<NaiveDateTime, _>(self, i).map(Cell::DateTime),
            ColumnKind::DateTimeUtc => get::<DateTime<Utc>, _>(self, i).map(Cell::DateTimeUtc),
            ColumnKind::Time => get::<NaiveTime, _>(self, i).map(Cell::Time),
            ColumnKind::Bytes => get::<&[u8], _>(self, i).map(Cell::Bytes),
            ColumnKind::Json => get::<serde_json::Value, _>(self, i).map(Cell::Json),
            ColumnKind::Uuid => {
                get_unchecked::<&[u8], _>(self, i).map(|b| Cell::Json(serde_json::Value::String(format_uuid(b))))
            }
            ColumnKind::Text => get_unchecked::<&str, _>(self, i).map(Cell::Text),
            _ => None,
        })
    }
}

fn format_uuid(bytes: &[u8]) -> String {
    let hex = hex::encode(bytes);
    if hex.len() != 32 {
        return hex;
    }
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

impl CellRow for MySqlRow {
    fn column_names(&self) -> Vec<&str> {
        self.columns().iter().map(|c| c.name()).collect()
    }

    fn column_kind(&self, index: usize, _hint: Option<ScalarType>) -> ColumnKind {
        let name = self.columns()[index].type_info().name();
        match name {
            "BOOLEAN" => ColumnKind::Bool,
            "TINYINT" | "SMALLINT" | "INT" | "MEDIUMINT" | "BIGINT" | "YEAR" | "TINYINT UNSIGNED"
            | "SMALLINT UNSIGNED" | "INT UNSIGNED" | "MEDIUMINT UNSIGNED" => ColumnKind::Int,
            "BIGINT UNSIGNED" => ColumnKind::UInt,
            "FLOAT" | "DOUBLE" => ColumnKind::Float,
            "DECIMAL" => ColumnKind::Decimal,
            "DATE" => ColumnKind::Date,
            "DATETIME" => ColumnKind::DateTime,
            "TIMESTAMP" => ColumnKind::DateTimeUtc,
            "TIME" => ColumnKind::Time,
            "JSON" => ColumnKind::Json,
            // `_bin` collations flag text as BINARY too; only the binary charset is bytes.
            "BINARY" | "VARBINARY" | "TINYBLOB" | "BLOB" | "MEDIUMBLOB" | "LONGBLOB"
                if <str as sqlx::Type<sqlx::MySql>>::compatible(self.columns()[index].type_info()) =>
            {
                ColumnKind::Text
            }
            "BINARY" | "VARBINARY" | "TINYBLOB" | "BLOB" | "MEDIUMBLOB" | "LONGBLOB" | "BIT" | "GEOMETRY" => {
                ColumnKind::Bytes
            }
            _ => ColumnKind::Text,
        }
    }

    fn cell(&self, i: usize, kind: ColumnKind) -> Cell<'_> {
        cell_or_null(match kind {
            ColumnKind::Bool => get::<bool, _>(self, i).map(Cell::Bool),
            ColumnKind::Int => get_unchecked::<i64, _>(self, i).map(Cell::Int),
            ColumnKind::UInt => get_unchecked::<u64, _>(self, i).map(Cell::UInt),
            ColumnKind::Float => get_unchecked::<f64, _>(self, i).map(Cell::Float),
            ColumnKind::Decimal => get::<Decimal, _>(self, i).map(Cell::Decimal),
            ColumnKind::Date => get::<NaiveDate, _>(self, i).map(Cell::Date),
            ColumnKind::DateTime => get::<NaiveDateTime, _>(self, i).map(Cell::DateTime),
            ColumnKind::DateTimeUtc => get::<DateTime<Utc>, _>(self, i).map(Cell::DateTimeUtc),
            ColumnKind::Time => get::<NaiveTime, _>(self, i).map(Cell::Time),
            ColumnKind::Json => {
                get_unchecked::<&str, _>(self, i).and_then(|s| serde_json::from_str(s).ok()).map(Cell::Json)
            }
            ColumnKind::Bytes => get_unchecked::<&[u8], _>(self, i).map(Cell::Bytes),
            ColumnKind::Text => get_unchecked::<&str, _>(self, i).map(Cell::Text),
            _ => None,
        })
    }
}

impl CellRow for LiteRow {
    fn column_names(&self) -> Vec<&str> {
        self.columns.names.iter().map(String::as_str).collect()
    }

    fn column_kind(&self, index: usize, hint: Option<ScalarType>) -> ColumnKind {
        // The declared type (affinity) says what the column means; storage may vary per row.
        let declared = self.columns.declared.get(index).and_then(Option::as_deref);
        match (hint, declared) {
            (Some(ScalarType::Bool), _) | (None, Some("boolean" | "bool")) => ColumnKind::Bool,
            (Some(ScalarType::Date), _) | (None, Some("date")) => ColumnKind::Date,
            (Some(ScalarType::DateTime), _) | (None, Some("datetime" | "timestamp")) => ColumnKind::DateTime,
            (Some(ScalarType::Decimal), _) => ColumnKind::Decimal,
            _ => ColumnKind::Dynamic,
        }
    }

    fn cell(&self, i: usize, kind: ColumnKind) -> Cell<'_> {
        // By storage class; text that is not UTF-8 reads as NULL.
        let dynamic = match self.values.get(i) {
            None | Some(LiteValue::Null) => return Cell::Null,
            Some(LiteValue::Integer(v)) => Some(Cell::Int(*v)),
            Some(LiteValue::Real(f)) => Some(Cell::Float(*f)),
            Some(LiteValue::Blob(b)) => Some(Cell::Bytes(b)),
            Some(LiteValue::Text(t)) => Some(Cell::Text(t)),
        };
        cell_or_null(match kind {
            ColumnKind::Bool => match dynamic {
                Some(Cell::Int(v)) => Some(Cell::Bool(v != 0)),
                Some(Cell::Text(t)) => Some(Cell::Bool(matches!(t, "1" | "true" | "TRUE" | "t"))),
                other => other,
            },
            ColumnKind::Date => match dynamic {
                Some(Cell::Text(t)) => NaiveDate::parse_from_str(t.get(..10).unwrap_or(t), "%Y-%m-%d")
                    .ok()
                    .map(Cell::Date)
                    .or(Some(Cell::Text(t))),
                other => other,
            },
            ColumnKind::DateTime => match dynamic {
                Some(Cell::Text(t)) => parse_loose_datetime(t).map(Cell::DateTime).or(Some(Cell::Text(t))),
                other => other,
            },
            ColumnKind::Decimal => match dynamic {
                Some(Cell::Int(v)) => Some(Cell::Decimal(Decimal::from(v))),
                Some(Cell::Float(f)) => {
                    Decimal::from_str(ryu::Buffer::new().format(f)).ok().map(Cell::Decimal).or(Some(Cell::Float(f)))
                }
                Some(Cell::Text(t)) => Decimal::from_str(t.trim()).ok().map(Cell::Decimal).or(Some(Cell::Text(t))),
                other => other,
            },
            _ => dynamic,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell_json(cell: Cell<'_>, hint: Option<ScalarType>) -> String {
        let mut out = Vec::new();
        write_cell(&mut out, &cell, hint);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn integers_beyond_2_pow_53_become_strings() {
        assert_eq!(cell_json(Cell::Int(9_007_199_254_740_991), None), "9007199254740991");
        assert_eq!(cell_json(Cell::Int(9_007_199_254_740_992), None), "\"9007199254740992\"");
        assert_eq!(cell_json(Cell::Int(i64::MIN), None), "\"-9223372036854775808\"");
        assert_eq!(cell_json(Cell::UInt(u64::MAX), None), "\"18446744073709551615\"");
    }

    #[test]
    fn decimals_are_normalised_strings_whatever_the_storage() {
        assert_eq!(cell_json(Cell::Decimal(Decimal::new(2000, 2)), None), "\"20\"");
        assert_eq!(cell_json(Cell::Float(19.99), Some(ScalarType::Decimal)), "\"19.99\"");
        assert_eq!(cell_json(Cell::Int(20), Some(ScalarType::Decimal)), "\"20\"");
    }

    #[test]
    fn text_escapes_and_binary_is_base64() {
        assert_eq!(cell_json(Cell::Text("a\"b\n\u{0}"), None), r#""a\"b\n\u0000""#);
        assert_eq!(cell_json(Cell::Bytes(&[0, 255, 1]), None), "\"AP8B\"");
    }

    #[test]
    fn timestamps_are_iso_8601() {
        let t = NaiveDate::from_ymd_opt(2024, 1, 2).unwrap().and_hms_milli_opt(3, 4, 5, 250).unwrap();
        assert_eq!(cell_json(Cell::DateTime(t), None), "\"2024-01-02T03:04:05.250\"");
        assert_eq!(cell_json(Cell::DateTimeUtc(t.and_utc()), None), "\"2024-01-02T03:04:05.250Z\"");
        assert_eq!(cell_json(Cell::Text("2024-01-02 03:04:05"), Some(ScalarType::DateTime)), "\"2024-01-02T03:04:05\"");
    }
}
