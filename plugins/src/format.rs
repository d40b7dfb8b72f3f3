//! Answer formats (`docs/formats.md`): what a caller asks for with `Accept`, resolved against
//! an API's configured `resultFormat`; the text rules XML and CSV share (escaping, element
//! names, formula-looking cells); and a workflow's JSON answer written as XML or CSV.
//!
//! JSON stays the encoder's own (`sql::encode`): nothing here runs for a JSON answer.

use std::io::Write as _;

use catalog::model::ResultFormat;
use serde_json::Value;

/// The format a call asks for, resolved by the plugin against its configured format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Requested {
    /// No preference (no `Accept`, or only wildcards): the API's configured format.
    #[default]
    Configured,
    /// `application/json`: the API's JSON shape — JSONCompact when it is configured so,
    /// JSON otherwise.
    Json,
    Xml,
    Csv,
}

impl Requested {
    /// The format an API configured with `configured` answers this request in.
    pub fn resolve(self, configured: ResultFormat) -> ResultFormat {
        match (self, configured) {
            (Requested::Configured, format) => format,
            (Requested::Json, format @ (ResultFormat::Json | ResultFormat::JsonCompact)) => format,
            (Requested::Json, _) => ResultFormat::Json,
            (Requested::Xml, _) => ResultFormat::Xml,
            (Requested::Csv, _) => ResultFormat::Csv,
        }
    }
}

/// The media types an answer goes out as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    Json,
    /// `application/xml`.
    Xml,
    /// `text/xml`, for callers that name only it.
    TextXml,
    Csv,
}

impl Media {
    pub fn content_type(self) -> &'static str {
        match self {
            Media::Json => "application/json; charset=utf-8",
            Media::Xml => "application/xml; charset=utf-8",
            Media::TextXml => "text/xml; charset=utf-8",
            Media::Csv => "text/csv; charset=utf-8; header=present",
        }
    }

    /// How an answer in `format` goes out.
    pub fn of(format: ResultFormat) -> Media {
        match format {
            ResultFormat::Json | ResultFormat::JsonCompact => Media::Json,
            ResultFormat::Xml => Media::Xml,
            ResultFormat::Csv => Media::Csv,
        }
    }
}

/// The media types data and workflow APIs offer, as a 406 lists them.
pub const OFFERED: &str = "application/json, application/xml (or text/xml) and text/csv";

/// The caller's `Accept` takes none of the types offered ([`OFFERED`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotAcceptable;

/// What a caller's `Accept` chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    pub requested: Requested,
    /// The caller named `text/xml` rather than `application/xml`.
    pub text_xml: bool,
}

impl Choice {
    pub const CONFIGURED: Choice = Choice { requested: Requested::Configured, text_xml: false };

    /// The media type of an answer in `format` (the resolved one).
    pub fn media(self, format: ResultFormat) -> Media {
        match Media::of(format) {
            Media::Xml if self.text_xml => Media::TextXml,
            media => media,
        }
    }
}

/// The candidates, in the order that breaks ties after the configured format.
const CANDIDATES: [(Requested, &str, &str); 4] = [
    (Requested::Json, "application", "json"),
    (Requested::Xml, "application", "xml"),
    (Requested::Xml, "text", "xml"),
    (Requested::Csv, "text", "csv"),
];

/// Chooses an answer format from the `Accept` header values (RFC 9110 §12.5.1: the most
/// specific range naming a type gives its weight; the highest weight wins; ties go to the
/// configured format, then to exact names over wildcards, then JSON, XML, CSV). No header, one
/// naming nothing, or a browser's (one naming `text/html`) keeps the configured format. `Err` when every type we offer has
/// weight 0: the caller takes none of them.
pub fn negotiate<'a>(
    accept: impl IntoIterator<Item = &'a [u8]>,
    configured: ResultFormat,
) -> Result<Choice, NotAcceptable> {
    // (weight in thousandths, specificity) per candidate; specificity -1: no range matched.
    let mut scores = [(0u16, -1i8); 4];
    let mut any = false;
    for value in accept {
        for range in value.split(|&b| b == b',') {
            let Ok(range) = std::str::from_utf8(range) else { continue };
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim();
            if media.is_empty() {
                continue;
            }
            any = true;
            let (kind, sub) = media.split_once('/').unwrap_or((media, ""));
            // A browser's navigation: it names `application/xml;q=0.9` only as a fallback for
            // pages, and whoever opens an API's URL expects the API's own format.
            if kind.eq_ignore_ascii_case("text") && sub.eq_ignore_ascii_case("html") {
                return Ok(Choice::CONFIGURED);
            }
            let weight = parts
                .filter_map(|p| p.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
                .map_or(1000, |(_, v)| quality(v.trim()));
            for (i, (_, want_kind, want_sub)) in CANDIDATES.iter().enumerate() {
                let specificity = if kind == "*" && sub == "*" {
                    0
                } else if kind.eq_ignore_ascii_case(want_kind) && sub == "*" {
                    1
                } else if kind.eq_ignore_ascii_case(want_kind) && sub.eq_ignore_ascii_case(want_sub) {
                    2
                } else {
                    continue;
                };
                if specificity > scores[i].1 {
                    scores[i] = (weight, specificity);
                }
            }
        }
    }
    if !any {
        return Ok(Choice::CONFIGURED);
    }
    let family = Requested::Json.resolve(configured) == configured;
    let preferred = |requested: Requested| match requested {
        Requested::Json => family,
        other => other.resolve(configured) == configured,
    };
    let best = (0..CANDIDATES.len())
        .filter(|&i| scores[i].0 > 0)
        .max_by_key(|&i| (scores[i].0, preferred(CANDIDATES[i].0), scores[i].1, std::cmp::Reverse(i)))
        .ok_or(NotAcceptable)?;
    let (requested, kind, _) = CANDIDATES[best];
    Ok(Choice { requested, text_xml: kind == "text" && requested == Requested::Xml })
}

/// `q=0.5` in thousandths; what does not read as a weight counts as 1.
fn quality(text: &str) -> u16 {
    match text.parse::<f32>() {
        Ok(q) if (0.0..=1.0).contains(&q) => (q * 1000.0).round() as u16,
        _ => 1000,
    }
}

/// What XML 1.0 cannot carry (control characters but TAB, LF and CR; U+FFFE, U+FFFF) is
/// written as U+FFFD.
const REPLACEMENT: &[u8] = "\u{FFFD}".as_bytes();

/// Appends `text` as XML character data: `<`, `>`, `&` as entities, CR as `&#13;` (parsers
/// would turn a bare one into LF), what XML 1.0 cannot carry as U+FFFD.
pub fn write_xml_text(out: &mut Vec<u8>, text: &str) {
    escape_xml(out, text, false);
}

/// Appends `text` as a double-quoted attribute's value: as [`write_xml_text`], plus `"`, and
/// TAB and LF as references (attribute values are normalised otherwise).
pub fn write_xml_attr(out: &mut Vec<u8>, text: &str) {
    escape_xml(out, text, true);
}

fn escape_xml(out: &mut Vec<u8>, text: &str, attr: bool) {
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let (with, len): (&[u8], usize) = match bytes[i] {
            b'<' => (b"&lt;", 1),
            b'>' => (b"&gt;", 1),
            b'&' => (b"&amp;", 1),
            b'\r' => (b"&#13;", 1),
            b'"' if attr => (b"&quot;", 1),
            b'\t' if attr => (b"&#9;", 1),
            b'\n' if attr => (b"&#10;", 1),
            b'\t' | b'\n' => {
                i += 1;
                continue;
            }
            0..=0x1F => (REPLACEMENT, 1),
            // U+FFFE and U+FFFF are EF BF BE and EF BF BF.
            0xEF if bytes.get(i + 1) == Some(&0xBF) && matches!(bytes.get(i + 2), Some(0xBE | 0xBF)) => {
                (REPLACEMENT, 3)
            }
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(with);
        i += len;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Whether `name` can be an element's name as it is: an XML 1.0 (fifth edition) name without
/// `:` (namespaces) that does not start with `xml` in any case (reserved).
pub fn is_element_name(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else { return false };
    if !is_name_start(first) || name.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("xml")) {
        return false;
    }
    chars.all(|c| {
        is_name_start(c)
            || matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
    })
}

fn is_name_start(c: char) -> bool {
    matches!(c,
        'A'..='Z' | '_' | 'a'..='z' | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}'
        | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}' | '\u{2070}'..='\u{218F}'
        | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}' | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}'
        | '\u{10000}'..='\u{EFFFF}')
}

/// The tags of one named value: `<name>` … `</name>`, or `<field name="…">` … `</field>`
/// when the name cannot be an element's.
#[derive(Debug, Clone)]
pub struct XmlTags {
    /// `<name` or `<field name="…"`, without the closing `>`.
    open: Vec<u8>,
    close: Vec<u8>,
}

impl XmlTags {
    pub fn new(name: &str) -> XmlTags {
        if is_element_name(name) {
            let mut open = Vec::with_capacity(name.len() + 1);
            open.push(b'<');
            open.extend_from_slice(name.as_bytes());
            let mut close = Vec::with_capacity(name.len() + 3);
            close.extend_from_slice(b"</");
            close.extend_from_slice(name.as_bytes());
            close.push(b'>');
            XmlTags { open, close }
        } else {
            let mut open = b"<field name=\"".to_vec();
            write_xml_attr(&mut open, name);
            open.push(b'"');
            XmlTags { open, close: b"</field>".to_vec() }
        }
    }

    /// `<name>`.
    pub fn open(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.open);
        out.push(b'>');
    }

    /// `</name>`.
    pub fn close(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.close);
    }

    /// `<name xsi:nil="true"/>`: NULL, told apart from an empty string (`<name></name>`).
    pub fn nil(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.open);
        out.extend_from_slice(b" xsi:nil=\"true\"/>");
    }

    /// `<name>text</name>`, escaped.
    pub fn text(&self, out: &mut Vec<u8>, text: &str) {
        self.open(out);
        write_xml_text(out, text);
        self.close(out);
    }
}

/// The XML answer's first bytes, up to `<data>` (or to the error's fields).
pub fn xml_head(out: &mut Vec<u8>, success: bool, code: &str) {
    out.extend_from_slice(
        b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<response xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><success>",
    );
    out.extend_from_slice(if success { b"true" } else { b"false" });
    out.extend_from_slice(b"</success><code>");
    write_xml_text(out, code);
    out.extend_from_slice(b"</code>");
}

/// A JSON value as XML content (a workflow's answer inside `<data>`): an object's members as
/// elements named after their keys (`<field name="…">` when a key cannot be a name), an
/// array's items as repeated `<item>`, strings as text, numbers and booleans as their JSON
/// text, `null` as `xsi:nil` on its element.
pub fn json_to_xml(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => {}
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => write_xml_text(out, s),
        Value::Array(items) => {
            let tags = XmlTags::new("item");
            for item in items {
                json_element(&tags, item, out);
            }
        }
        Value::Object(members) => {
            for (key, member) in members {
                json_element(&XmlTags::new(key), member, out);
            }
        }
    }
}

fn json_element(tags: &XmlTags, value: &Value, out: &mut Vec<u8>) {
    if value.is_null() {
        tags.nil(out);
    } else {
        tags.open(out);
        json_to_xml(value, out);
        tags.close(out);
    }
}

/// Why a workflow's answer has no CSV form.
pub const NOT_TABULAR: &str = "the answer is not an array of flat objects, so it has no CSV form";

/// A JSON array of flat objects (members that are strings, numbers, booleans or null) as CSV:
/// the keys in order of first appearance as the header, a missing member as an empty field.
/// `None` for any other value.
pub fn json_to_csv(value: &Value) -> Option<Vec<u8>> {
    let rows = value.as_array()?;
    let mut columns: Vec<&str> = Vec::new();
    for row in rows {
        for (key, member) in row.as_object()? {
            if member.is_array() || member.is_object() {
                return None;
            }
            if !columns.contains(&key.as_str()) {
                columns.push(key);
            }
        }
    }
    let mut out = Vec::new();
    if columns.is_empty() {
        return Some(out);
    }
    let mut csv = CsvWriter::new(&mut out);
    for column in &columns {
        csv.text(column);
    }
    csv.end_row();
    let mut digits = Vec::new();
    for row in rows {
        let row = row.as_object()?;
        for column in &columns {
            match row.get(*column) {
                None | Some(Value::Null) => csv.null(),
                Some(Value::String(s)) => csv.text(s),
                Some(Value::Bool(b)) => csv.plain(if *b { "true" } else { "false" }),
                Some(other) => {
                    digits.clear();
                    let _ = write!(digits, "{other}");
                    csv.plain(std::str::from_utf8(&digits).unwrap_or(""));
                }
            }
        }
        csv.end_row();
    }
    csv.finish();
    Some(out)
}

/// Writes RFC 4180 CSV (the `csv` crate: fields quoted when they hold `,`, `"`, CR or LF;
/// CRLF between records). Text that a spreadsheet would run as a formula (starting with `=`,
/// `+`, `-`, `@`, TAB or CR) is written with a leading `'`; numbers never are.
pub struct CsvWriter<'a> {
    writer: csv::Writer<&'a mut Vec<u8>>,
    scratch: Vec<u8>,
}

impl<'a> CsvWriter<'a> {
    pub fn new(out: &'a mut Vec<u8>) -> CsvWriter<'a> {
        let writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).flexible(true).from_writer(out);
        CsvWriter { writer, scratch: Vec::new() }
    }

    /// A text field: neutralised when it looks like a formula.
    pub fn text(&mut self, text: &str) {
        if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            self.scratch.clear();
            self.scratch.push(b'\'');
            self.scratch.extend_from_slice(text.as_bytes());
            let _ = self.writer.write_field(&self.scratch);
        } else {
            let _ = self.writer.write_field(text);
        }
    }

    /// A number, date, boolean or other value Sluice wrote itself.
    pub fn plain(&mut self, text: &str) {
        let _ = self.writer.write_field(text);
    }

    /// NULL: an empty field.
    pub fn null(&mut self) {
        let _ = self.writer.write_field(b"");
    }

    pub fn end_row(&mut self) {
        let _ = self.writer.write_record(None::<&[u8]>);
    }

    /// Writes what is buffered into the output.
    pub fn finish(mut self) {
        let _ = self.writer.flush();
    }
}

#[cfg(test)]
mod tests;
