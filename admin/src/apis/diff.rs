//! A structured comparison of two definitions: the definition's own settings by dotted key,
//! and request parameters and response fields added, removed or changed by name.

use catalog::model::ApiDefinition;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// One setting that differs.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Change {
    pub key: String,
    pub from: Value,
    pub to: Value,
}

/// Named items (parameters or fields) compared by name.
#[derive(Debug, Clone, PartialEq, Default, Serialize, ToSchema)]
pub struct ItemsDiff {
    pub added: Vec<Value>,
    pub removed: Vec<Value>,
    pub changed: Vec<ItemChange>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ItemChange {
    pub name: String,
    pub changes: Vec<Change>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DefinitionDiff {
    pub from: String,
    pub to: String,
    pub identical: bool,
    pub definition: Vec<Change>,
    pub parameters: ItemsDiff,
    pub fields: ItemsDiff,
}

const PARAMS: &str = "requestParams";
const FIELDS: &str = "responseFields";

/// Compares `a` (labelled `from`) with `b` (labelled `to`); both are read as readers see
/// them, so registered constants compare by name and position, never by value.
pub fn diff(from: &str, a: &ApiDefinition, to: &str, b: &ApiDefinition) -> DefinitionDiff {
    let (a, b) = (json(a), json(b));
    let mut definition = Vec::new();
    let strip = |v: &Value| {
        let mut map = v.as_object().cloned().unwrap_or_default();
        map.remove(PARAMS);
        map.remove(FIELDS);
        map
    };
    compare_maps("", &strip(&a), &strip(&b), &mut definition);
    let parameters = items(&a[PARAMS], &b[PARAMS]);
    let fields = items(&a[FIELDS], &b[FIELDS]);
    let identical = definition.is_empty() && parameters == ItemsDiff::default() && fields == ItemsDiff::default();
    DefinitionDiff { from: from.to_owned(), to: to.to_owned(), identical, definition, parameters, fields }
}

fn json(definition: &ApiDefinition) -> Value {
    serde_json::to_value(definition.redacted()).unwrap_or(Value::Null)
}

/// Objects are compared key by key (dotted keys); anything else as a whole.
fn compare(key: &str, a: &Value, b: &Value, out: &mut Vec<Change>) {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => compare_maps(key, a, b, out),
        _ if a != b => out.push(Change { key: key.to_owned(), from: a.clone(), to: b.clone() }),
        _ => {}
    }
}

fn compare_maps(prefix: &str, a: &Map<String, Value>, b: &Map<String, Value>, out: &mut Vec<Change>) {
    let mut keys: Vec<&String> = a.keys().chain(b.keys().filter(|k| !a.contains_key(*k))).collect();
    keys.sort();
    for key in keys {
        let dotted = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        compare(&dotted, a.get(key).unwrap_or(&Value::Null), b.get(key).unwrap_or(&Value::Null), out);
    }
}

fn items(a: &Value, b: &Value) -> ItemsDiff {
    let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
    let name = |v: &Value| v.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
    let (a, b) = (list(a), list(b));
    let mut diff = ItemsDiff::default();
    for old in &a {
        match b.iter().find(|new| name(new) == name(old)) {
            None => diff.removed.push(old.clone()),
            Some(new) => {
                let mut changes = Vec::new();
                compare("", old, new, &mut changes);
                if !changes.is_empty() {
                    diff.changed.push(ItemChange { name: name(old), changes });
                }
            }
        }
    }
    diff.added = b.iter().filter(|new| !a.iter().any(|old| name(old) == name(new))).cloned().collect();
    diff
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_settings_parameters_and_fields_by_name() {
        let a: ApiDefinition = serde_json::from_value(serde_json::json!({
            "datasourceId": 1, "mode": "wizard", "table": "items",
            "requestParams": [{"name": "id", "type": "int", "column": "id"}, {"name": "gone", "type": "string", "column": "g"}],
            "responseFields": [{"name": "id", "type": "int"}]
        }))
        .unwrap();
        let b: ApiDefinition = serde_json::from_value(serde_json::json!({
            "datasourceId": 1, "mode": "wizard", "table": "goods",
            "requestParams": [{"name": "id", "type": "int", "column": "id", "required": true}, {"name": "new", "type": "int", "column": "n"}],
            "responseFields": [{"name": "id", "type": "int"}],
            "options": {"maxLimit": 5}
        }))
        .unwrap();
        let d = diff("V0", &a, "V1", &b);
        assert!(!d.identical);
        let keys: Vec<_> = d.definition.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(keys, ["options.maxLimit", "table"]);
        assert_eq!(d.parameters.added[0]["name"], "new");
        assert_eq!(d.parameters.removed[0]["name"], "gone");
        assert_eq!(d.parameters.changed[0].name, "id");
        assert_eq!(d.parameters.changed[0].changes[0].key, "required");
        assert_eq!(d.fields, ItemsDiff::default());
        assert!(diff("V0", &a, "draft", &a).identical);
    }
}
