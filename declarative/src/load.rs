//! Reading files into a [`Bundle`]: directories expanded, files split into documents on
//! `---` lines (each remembering its first line), documents parsed into typed specs.
//!
//! Syntax and type errors carry serde_yaml_ng's location, shifted by the document's first
//! line. Unknown keys are errors: at the top level through `deny_unknown_fields`, inside
//! request parameters, response fields and options by comparing with the keys the catalog's
//! types write (a typo such as `colum:` would otherwise be dropped without a word).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use catalog::model::{
    ApiOptions, CacheOptions, CachePolicy, Operator, ParamPosition, ParamType, RequestParam, ResponseField,
    SecurityLevel, SortDirection, SortSpec,
};
use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;
use serde_yaml_ng::{Mapping, Value};

use super::{ApiSpec, Bundle, DatasourceSpec, FunctionSpec, Origin, Problem, Sourced, WebhookSpec};

/// Reads `paths` — files, or directories whose `*.yaml` / `*.yml` files are read in name
/// order — into one bundle. Returns every problem found in every file, or the bundle when
/// there are none. A file named twice (directly and through its directory) is read once.
pub fn load(paths: &[PathBuf]) -> Result<Bundle, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut bundle = Bundle::default();
    if paths.is_empty() {
        problems.push(Problem::new("", 0, "no files given: name YAML files or directories holding them"));
    }
    let mut seen = HashSet::new();
    for path in paths {
        let files = match expand(path) {
            Ok(files) => files,
            Err(problem) => {
                problems.push(problem);
                continue;
            }
        };
        for file in files {
            let identity = std::fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
            if !seen.insert(identity) {
                continue;
            }
            match std::fs::read_to_string(&file) {
                Ok(text) => parse_file(&file, &text, &mut bundle, &mut problems),
                Err(e) => problems.push(Problem::new(&file, 0, format!("cannot read the file: {e}"))),
            }
        }
    }
    if problems.is_empty() && bundle.is_empty() {
        let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        problems.push(Problem::new(
            paths.first().cloned().unwrap_or_default(),
            0,
            format!(
                "no documents found in {}: expected `kind: Datasource`, `kind: Function` or `kind: Api`",
                names.join(", ")
            ),
        ));
    }
    if problems.is_empty() { Ok(bundle) } else { Err(problems) }
}

/// A file as itself; a directory as its YAML files, sorted by name (not recursive).
fn expand(path: &Path) -> Result<Vec<PathBuf>, Problem> {
    let metadata = std::fs::metadata(path).map_err(|e| Problem::new(path, 0, format!("cannot read: {e}")))?;
    if !metadata.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let entries =
        std::fs::read_dir(path).map_err(|e| Problem::new(path, 0, format!("cannot list the directory: {e}")))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Problem::new(path, 0, format!("cannot list the directory: {e}")))?;
        let file = entry.path();
        let is_yaml = file
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
        if is_yaml && file.is_file() {
            files.push(file);
        }
    }
    if files.is_empty() {
        return Err(Problem::new(path, 0, "the directory holds no .yaml or .yml files"));
    }
    files.sort();
    Ok(files)
}

/// Splits a file into documents: `(line of the document's first line, text)`. A line that is
/// `---` (optionally followed by a comment or content) starts a document and `...` ends one;
/// both stay in the text as blank space, so line numbers inside a document count from its
/// first line. Directives (`%YAML`) are blanked too.
pub(super) fn split_documents(text: &str) -> Vec<(usize, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut documents = Vec::new();
    let mut start = 1;
    let mut current = String::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let marker = line.strip_prefix("---").filter(|rest| rest.is_empty() || rest.starts_with([' ', '\t']));
        let end = line.strip_prefix("...").is_some_and(|rest| rest.trim().is_empty() || rest.trim().starts_with('#'));
        if marker.is_some() || end {
            if number > start || !current.is_empty() {
                documents.push((start, std::mem::take(&mut current)));
            }
            start = number;
            let rest = marker.unwrap_or("").trim();
            if !rest.is_empty() && !rest.starts_with('#') {
                // Content on the marker line (`--- value`) keeps its columns.
                current.push_str(&" ".repeat(3));
                current.push_str(marker.unwrap_or(""));
            }
            current.push('\n');
            continue;
        }
        if line.starts_with('%') {
            current.push('\n');
            continue;
        }
        current.push_str(line);
        current.push('\n');
    }
    documents.push((start, current));
    documents.retain(|(_, text)| {
        text.lines().any(|l| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with('#')
        })
    });
    documents
}

fn parse_file(file: &Path, text: &str, bundle: &mut Bundle, problems: &mut Vec<Problem>) {
    for (first_line, document) in split_documents(text) {
        let origin = Origin::new(file, first_line, &document);
        parse_document(origin, &document, bundle, problems);
    }
}

fn parse_document(origin: Origin, text: &str, bundle: &mut Bundle, problems: &mut Vec<Problem>) {
    let value: Value = match serde_yaml_ng::from_str(text) {
        Ok(value) => value,
        Err(e) => {
            problems.push(yaml_problem(&origin, &e, None, "YAML syntax: "));
            return;
        }
    };
    let Value::Mapping(map) = &value else {
        problems.push(origin.problem(
            "a document must be a mapping that starts with `kind: Datasource`, `kind: Function` or `kind: Api`",
        ));
        return;
    };
    let kind = match map.get("kind") {
        Some(Value::String(kind)) => kind.clone(),
        Some(_) => {
            problems.push(origin.problem_at(&["kind"], "`kind` must be Datasource, Function or Api"));
            return;
        }
        None => {
            problems
                .push(origin.problem(
                    "missing `kind`: every document says `kind: Datasource`, `kind: Function` or `kind: Api`",
                ));
            return;
        }
    };
    if kind.eq_ignore_ascii_case("datasource") {
        if let Some(spec) = typed::<DatasourceSpec>(&origin, text, value, problems) {
            bundle.datasources.push(Sourced { spec, origin });
        }
    } else if kind.eq_ignore_ascii_case("function") {
        if let Some(spec) = typed::<FunctionSpec>(&origin, text, value, problems) {
            bundle.functions.push(Sourced { spec, origin });
        }
    } else if kind.eq_ignore_ascii_case("webhook") {
        if let Some(spec) = typed::<WebhookSpec>(&origin, text, value, problems) {
            bundle.webhooks.push(Sourced { spec, origin });
        }
    } else if kind.eq_ignore_ascii_case("api") {
        check_nested_keys(&origin, map, problems);
        if let Some(spec) = typed::<ApiSpec>(&origin, text, value, problems) {
            bundle.apis.push(Sourced { spec, origin });
        }
    } else {
        problems.push(
            origin
                .problem_at(&["kind"], format!("unknown kind `{kind}`: expected Datasource, Function, Api or Webhook")),
        );
    }
}

/// The document as `T`. Read from the parsed `value` first, which costs no second scan of the
/// text; when that fails — an error to report, or a scalar the value typed differently than
/// the text would be (`name: 123` for a string) — the text decides, with its error's line.
fn typed<T: DeserializeOwned>(origin: &Origin, text: &str, value: Value, problems: &mut Vec<Problem>) -> Option<T> {
    if let Ok(spec) = serde_yaml_ng::from_value(value) {
        return Some(spec);
    }
    match serde_path_to_error::deserialize(serde_yaml_ng::Deserializer::from_str(text)) {
        Ok(spec) => Some(spec),
        Err(e) => {
            // The top-level key the deserializer was in, for errors with no place of their own.
            let key = match e.path().iter().next() {
                Some(Segment::Map { key }) => Some(key.clone()),
                _ => None,
            };
            problems.push(yaml_problem(origin, e.inner(), key.as_deref(), ""));
            None
        }
    }
}

/// A serde_yaml_ng error at its line in the file, without the library's own "at line N
/// column M" (the line is in front). `key`: the top-level key the error is about, if known.
fn yaml_problem(origin: &Origin, error: &serde_yaml_ng::Error, key: Option<&str>, prefix: &str) -> Problem {
    let mut message = error.to_string();
    let mut line = origin.line;
    if let Some(location) = error.location() {
        line = origin.first_line + location.line().max(1) - 1;
        // How the library writes this location after its message (libyaml's may be followed
        // by a context).
        let written = format!(" at line {} column {}", location.line(), location.column());
        if let Some(at) = message.rfind(&written) {
            message.replace_range(at..at + written.len(), "");
        }
    }
    // Some errors (custom ones, a missing key) point at the document's start; when the
    // deserializer was inside a key (`type`), point at that key instead.
    if line <= origin.line
        && let Some(key) = key
    {
        line = origin.line_of(&[key]);
    }
    // Errors about the whole mapping (a missing key) point at its start, which may be a
    // comment above the document; errors at the end of the input point past its last line.
    let last = origin.first_line + origin.lines.len().max(1) - 1;
    Problem::new(&origin.file, line.clamp(origin.line, last.max(origin.line)), format!("{prefix}{message}"))
}

/// The keys each nested shape accepts, learnt from what the catalog's types write when every
/// optional part is present, so the list follows the model.
struct KnownKeys {
    request_param: Vec<String>,
    response_field: Vec<String>,
    sort: Vec<String>,
    options: Vec<String>,
}

fn known_keys() -> &'static KnownKeys {
    static KEYS: OnceLock<KnownKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let param = RequestParam {
            name: "p".into(),
            param_type: ParamType::INT,
            position: ParamPosition::Query,
            column: Some("c".into()),
            operator: Operator::Eq,
            required: true,
            default: Some("1".into()),
            example: Some("1".into()),
            description: "d".into(),
            security_level: SecurityLevel::L1,
            allowed_values: vec!["a".into()],
        };
        let sort = SortSpec { direction: SortDirection::Asc, priority: 0 };
        let field = ResponseField {
            name: "f".into(),
            column: Some("c".into()),
            field_type: ParamType::INT,
            sort: Some(sort),
            required: true,
            example: Some("1".into()),
            description: "d".into(),
            security_level: SecurityLevel::L1,
        };
        KnownKeys {
            request_param: keys_of(&param),
            response_field: keys_of(&field),
            sort: keys_of(&sort),
            options: keys_of(&ApiOptions {
                cache: Some(CacheOptions { policy: CachePolicy::System, ttl_secs: None }),
                ..ApiOptions::default()
            }),
        }
    })
}

fn keys_of<T: serde::Serialize>(value: &T) -> Vec<String> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::Object(map)) => map.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// Reports keys inside `requestParams`, `responseFields` (and their `sort`) and `options`
/// that the catalog would silently ignore.
fn check_nested_keys(origin: &Origin, map: &Mapping, problems: &mut Vec<Problem>) {
    let known = known_keys();
    for (list, accepted) in [("requestParams", &known.request_param), ("responseFields", &known.response_field)] {
        let Some(Value::Sequence(items)) = map.get(list) else { continue };
        for (index, item) in items.iter().enumerate() {
            let Value::Mapping(item) = item else { continue };
            let name = item.get("name").and_then(Value::as_str);
            let label = match name {
                Some(name) => format!("{list}[{index}] (`{name}`)"),
                None => format!("{list}[{index}]"),
            };
            let name_step = name.map(|n| format!("name: {n}"));
            let mut path: Vec<&str> = vec![list];
            if let Some(step) = &name_step {
                path.push(step);
            }
            unknown_keys(origin, item, accepted, &label, &path, problems);
            if list == "responseFields"
                && let Some(Value::Mapping(sort)) = item.get("sort")
            {
                let mut sort_path = path.clone();
                sort_path.push("sort");
                unknown_keys(origin, sort, &known.sort, &format!("{label}.sort"), &sort_path, problems);
            }
        }
    }
    if let Some(Value::Mapping(options)) = map.get("options") {
        unknown_keys(origin, options, &known.options, "options", &["options"], problems);
    }
}

fn unknown_keys(
    origin: &Origin,
    map: &Mapping,
    accepted: &[String],
    label: &str,
    path: &[&str],
    problems: &mut Vec<Problem>,
) {
    for key in map.keys() {
        let Some(key) = key.as_str() else { continue };
        if accepted.iter().any(|a| a == key) {
            continue;
        }
        let mut key_path = path.to_vec();
        key_path.push(key);
        problems.push(
            origin.problem_at(
                &key_path,
                format!("{label}: unknown key `{key}`; expected one of {}", accepted.join(", ")),
            ),
        );
    }
}
