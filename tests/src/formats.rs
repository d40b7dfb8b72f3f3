//! Answers read back, whatever their format, as one [`Table`] of column names and plain-text
//! cells, so tests compare formats with each other (`docs/formats.md` says how each format
//! writes a value). XML is parsed with `roxmltree`, which refuses anything not well-formed;
//! CSV with the `csv` crate.

use serde_json::Value;

/// Column names and rows of cells as plain text; `None` is NULL.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

impl Table {
    /// Each cell changed by `f` (NULLs too): what a format does to values, for comparison.
    pub fn map(&self, f: impl Fn(Option<&str>) -> Option<String>) -> Table {
        Table {
            columns: self.columns.clone(),
            rows: self.rows.iter().map(|row| row.iter().map(|c| f(c.as_deref())).collect()).collect(),
        }
    }
}

/// A JSON value as the plain text XML and CSV carry: strings as themselves, other values
/// as their JSON text, `null` as `None`.
pub fn plain(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// The `data` of a JSON or JSONCompact answer. Objects' keys are read in `order` (another
/// format's columns: serde_json's maps may sort keys); each row must have exactly those keys.
pub fn from_json(data: &Value, order: Option<&[String]>) -> Table {
    let rows = data["rows"].as_array().cloned().unwrap_or_default();
    if let Some(columns) = data["columns"].as_array() {
        return Table {
            columns: columns.iter().map(|c| c.as_str().unwrap_or_default().to_owned()).collect(),
            rows: rows.iter().map(|r| r.as_array().into_iter().flatten().map(plain).collect()).collect(),
        };
    }
    let columns: Vec<String> = match order {
        Some(order) => order.to_vec(),
        None => rows.first().and_then(Value::as_object).map(|o| o.keys().cloned().collect()).unwrap_or_default(),
    };
    for row in &rows {
        let mut keys: Vec<&String> = row.as_object().map(|o| o.keys().collect()).unwrap_or_default();
        let mut want: Vec<&String> = columns.iter().collect();
        keys.sort();
        want.sort();
        assert_eq!(keys, want, "a JSON row has the other format's columns");
    }
    Table { rows: rows.iter().map(|r| columns.iter().map(|c| plain(&r[c.as_str()])).collect()).collect(), columns }
}

/// The namespace of `xsi:nil`.
const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// An XML document, parsed strictly; panics with the parser's reason when it is not
/// well-formed.
pub fn parse_xml(body: &[u8]) -> roxmltree::Document<'_> {
    let text = std::str::from_utf8(body).expect("XML is UTF-8");
    roxmltree::Document::parse(text).unwrap_or_else(|e| panic!("not well-formed XML ({e}):\n{text}"))
}

/// The name a value's element stands for: its own, or `name` of `<field name="…">`.
pub fn element_name(node: roxmltree::Node<'_, '_>) -> String {
    match (node.tag_name().name(), node.attribute("name")) {
        ("field", Some(name)) => name.to_owned(),
        (own, _) => own.to_owned(),
    }
}

/// An element's value: `None` for `xsi:nil="true"`, else its text.
pub fn element_value(node: roxmltree::Node<'_, '_>) -> Option<String> {
    if node.attribute((XSI, "nil")) == Some("true") {
        return None;
    }
    Some(node.text().unwrap_or_default().to_owned())
}

/// The rows of an XML answer (`<rows><row>…`), from a whole `<response>` or from the content
/// of `<data>` alone (wrapped here).
pub fn from_xml(body: &[u8]) -> Table {
    let wrapped;
    let body = if body.starts_with(b"<?xml") {
        body
    } else {
        wrapped = [format!("<data xmlns:xsi=\"{XSI}\">").as_bytes(), body, b"</data>"].concat();
        &wrapped
    };
    let doc = parse_xml(body);
    let mut table = Table::default();
    let Some(rows) = doc.descendants().find(|n| n.has_tag_name("rows")) else { return table };
    for row in rows.children().filter(|n| n.is_element()) {
        assert!(row.has_tag_name("row"), "rows hold rows");
        let cells: Vec<_> = row.children().filter(|n| n.is_element()).collect();
        if table.columns.is_empty() {
            table.columns = cells.iter().map(|n| element_name(*n)).collect();
        }
        assert_eq!(
            cells.iter().map(|n| element_name(*n)).collect::<Vec<_>>(),
            table.columns,
            "every row names the same columns"
        );
        table.rows.push(cells.iter().map(|n| element_value(*n)).collect());
    }
    table
}

/// The envelope field `name` of an XML answer (`success`, `code`, `message`, `requestId`).
pub fn xml_field(body: &[u8], name: &str) -> Option<String> {
    let doc = parse_xml(body);
    let root = doc.root_element();
    assert!(root.has_tag_name("response"), "the root is <response>");
    root.children().find(|n| n.has_tag_name(name)).map(|n| n.text().unwrap_or_default().to_owned())
}

/// A CSV body: the header row, then the records; every field is text (`None` never: CSV has
/// no NULL of its own).
pub fn from_csv(body: &[u8]) -> Table {
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(body);
    let columns = match reader.headers() {
        Ok(h) => h.iter().map(str::to_owned).collect(),
        Err(e) => panic!("CSV header: {e}"),
    };
    let rows = reader
        .records()
        .map(|r| r.unwrap_or_else(|e| panic!("CSV record: {e}")).iter().map(|f| Some(f.to_owned())).collect())
        .collect();
    Table { columns, rows }
}

/// What XML does to a text: characters XML 1.0 cannot carry become U+FFFD.
pub fn as_xml_carries(text: Option<&str>) -> Option<String> {
    text.map(|t| {
        t.chars()
            .map(|c| match c {
                '\t' | '\n' | '\r' => c,
                '\u{0}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}' => '\u{FFFD}',
                c => c,
            })
            .collect()
    })
}

/// Text that a spreadsheet would run as a formula, as CSV writes it (with a leading `'`).
pub fn csv_guarded(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text.to_owned() }
}

/// The CSV a JSON answer's `data` (rows as objects) should read back as: NULL empty, strings
/// guarded against formulas, other values as their JSON text.
pub fn csv_of_json(data: &Value, order: Option<&[String]>) -> Table {
    let table = from_json(data, order);
    let rows = data["rows"].as_array().cloned().unwrap_or_default();
    Table {
        rows: rows
            .iter()
            .map(|r| {
                table
                    .columns
                    .iter()
                    .map(|c| match &r[c.as_str()] {
                        Value::Null => Some(String::new()),
                        Value::String(s) => Some(csv_guarded(s)),
                        other => Some(other.to_string()),
                    })
                    .collect()
            })
            .collect(),
        columns: table.columns.iter().map(|c| csv_guarded(c)).collect(),
    }
}
