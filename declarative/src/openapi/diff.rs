//! What a re-import changes for the callers of APIs imported before: operations added,
//! changed or gone from the document, with the changes that break existing callers flagged —
//! a removed parameter, a new required one, a narrowed type, a moved parameter, path or method.
//! Changed schemas (`validation`) are listed as compatible: whether a schema narrows what
//! callers may send is not worked out.

use catalog::model::{Api, ApiMode, ParamType, RegisteredParam, ScalarType, SchemaValidation};

use super::super::{ApiSpec, Sourced};

/// How an existing API changes (a new one is apply's `created`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffKind {
    /// The API exists and the document describes it differently.
    Changed,
    /// An API forwarding to the same upstream that the document no longer describes; the
    /// import leaves it as it is.
    Removed,
}

impl DiffKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DiffKind::Changed => "changed",
            DiffKind::Removed => "removed",
        }
    }
}

/// One operation's change, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationDiff {
    pub name: String,
    pub kind: DiffKind,
    /// Changes that break callers of the API as it is.
    pub breaking: Vec<String>,
    /// Changes that do not.
    pub compatible: Vec<String>,
}

/// The changes `imported` makes to the workgroup's `existing` APIs. Operations with no API
/// yet, or whose API is unchanged, are left out; removed ones are existing registered APIs with the same upstream
/// base URL as an imported one that the document no longer names.
pub fn diff(existing: &[Api], imported: &[Sourced<ApiSpec>]) -> Vec<OperationDiff> {
    let mut out = Vec::new();
    for sourced in imported {
        let spec = &sourced.spec;
        let Some(api) = existing.iter().find(|a| a.name == spec.name) else { continue };
        let mut breaking = Vec::new();
        let mut compatible = Vec::new();
        if api.path != spec.path {
            breaking.push(format!("the path moves from {} to {}", api.path, spec.path));
        }
        if !api.method.eq_ignore_ascii_case(&spec.method) {
            breaking.push(format!("the method changes from {} to {}", api.method, spec.method.to_uppercase()));
        }
        let old: &[RegisteredParam] = match &api.draft.mode {
            ApiMode::Registered(registered) => &registered.params,
            _ => {
                breaking.push(format!("the API is a {} API, not a registered one", api.draft.mode.name()));
                &[]
            }
        };
        let new = spec.params.as_deref().unwrap_or_default();
        params(old, new, &mut breaking, &mut compatible);
        let old_validation = match &api.draft.mode {
            ApiMode::Registered(registered) => registered.validation.as_ref(),
            _ => None,
        };
        validation(old_validation, spec.validation.as_ref(), &mut compatible);
        if !breaking.is_empty() || !compatible.is_empty() {
            out.push(OperationDiff { name: spec.name.clone(), kind: DiffKind::Changed, breaking, compatible });
        }
    }
    let upstreams: Vec<&str> =
        (imported.iter()).filter_map(|s| s.spec.upstream.as_ref()).map(|u| u.base_url.trim_end_matches('/')).collect();
    for api in existing {
        let ApiMode::Registered(registered) = &api.draft.mode else { continue };
        let same_upstream = upstreams.contains(&registered.base_url.trim_end_matches('/'));
        if same_upstream && !imported.iter().any(|s| s.spec.name == api.name) {
            let why = "the document no longer describes it; the API is left as it is".to_owned();
            out.push(OperationDiff {
                name: api.name.clone(),
                kind: DiffKind::Removed,
                breaking: vec![why],
                compatible: vec![],
            });
        }
    }
    out
}

/// Keeps schema validation off where the user switched it off on an API imported before: a
/// re-import brings newer schemas, not the switch back on.
pub(super) fn keep_validation_off(existing: &[Api], imported: &mut [Sourced<ApiSpec>]) {
    for sourced in imported {
        let Some(api) = existing.iter().find(|a| a.name == sourced.spec.name) else { continue };
        let ApiMode::Registered(registered) = &api.draft.mode else { continue };
        let switched_off = registered.validation.as_ref().is_some_and(|v| !v.enabled);
        if let Some(validation) = sourced.spec.validation.as_mut().filter(|_| switched_off) {
            validation.enabled = false;
        }
    }
}

/// Schema changes, a line each: parameters' schemas, the body's and the answer's.
fn validation(old: Option<&SchemaValidation>, new: Option<&SchemaValidation>, compatible: &mut Vec<String>) {
    let empty = SchemaValidation { enabled: false, params: Default::default(), body: None, response: None };
    let (old, new) = (old.unwrap_or(&empty), new.unwrap_or(&empty));
    let names: std::collections::BTreeSet<&String> = old.params.keys().chain(new.params.keys()).collect();
    for name in names {
        if old.params.get(name) != new.params.get(name) {
            compatible.push(format!("parameter `{name}`'s schema changes"));
        }
    }
    if old.body != new.body {
        compatible.push("the body's schema changes".to_owned());
    }
    if old.response != new.response {
        compatible.push("the answer's schema changes".to_owned());
    }
    if old.enabled != new.enabled {
        let now = if new.enabled { "on" } else { "off" };
        compatible.push(format!("schema validation is switched {now}"));
    }
}

/// Parameter changes, as callers see them (by caller name).
fn params(old: &[RegisteredParam], new: &[RegisteredParam], breaking: &mut Vec<String>, compatible: &mut Vec<String>) {
    for before in old {
        let Some(after) = new.iter().find(|p| p.name == before.name) else {
            breaking.push(format!("parameter `{}` is removed", before.name));
            continue;
        };
        if after.position != before.position {
            breaking.push(format!(
                "parameter `{}` moves from {} to {}",
                after.name,
                before.position.as_str(),
                after.position.as_str()
            ));
        }
        if after.required && !before.required {
            breaking.push(format!("parameter `{}` becomes required", after.name));
        } else if before.required && !after.required {
            compatible.push(format!("parameter `{}` becomes optional", after.name));
        }
        if after.param_type != before.param_type {
            let change =
                format!("parameter `{}` changes type from {} to {}", after.name, before.param_type, after.param_type);
            if narrows(before.param_type, after.param_type) { breaking.push(change) } else { compatible.push(change) }
        }
    }
    for after in new.iter().filter(|p| !old.iter().any(|b| b.name == p.name)) {
        if after.required {
            breaking.push(format!("parameter `{}` is new and required", after.name));
        } else {
            compatible.push(format!("parameter `{}` is new and optional", after.name));
        }
    }
}

/// Whether `new` refuses values `old` took: anything but a change to `string` or `json`, or
/// between numbers that holds every integer.
fn narrows(old: ParamType, new: ParamType) -> bool {
    use ScalarType::{Decimal, Float, Int, Json, String};
    match (old, new) {
        _ if old == new => false,
        (_, ParamType::Scalar(String | Json)) => false,
        (ParamType::Scalar(Int), ParamType::Scalar(Float | Decimal)) => false,
        (ParamType::Scalar(Float), ParamType::Scalar(Decimal))
        | (ParamType::Scalar(Decimal), ParamType::Scalar(Float)) => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use catalog::model::ParamPosition;

    fn param(name: &str, kind: &str, required: bool) -> RegisteredParam {
        serde_json::from_value(serde_json::json!({"name": name, "type": kind, "required": required})).unwrap()
    }

    #[test]
    fn removed_required_narrowed_and_moved_parameters_break_callers() {
        let old = [
            param("a", "string", false),
            param("b", "int", false),
            param("c", "string", true),
            param("d", "string", false),
        ];
        let mut moved = param("d", "string", false);
        moved.position = ParamPosition::Header;
        let new = [
            param("b", "int", true),
            param("c", "int", true),
            moved,
            param("e", "string", true),
            param("f", "int", false),
        ];
        let (mut breaking, mut compatible) = (Vec::new(), Vec::new());
        params(&old, &new, &mut breaking, &mut compatible);
        assert_eq!(
            breaking,
            [
                "parameter `a` is removed",
                "parameter `b` becomes required",
                "parameter `c` changes type from string to int",
                "parameter `d` moves from query to header",
                "parameter `e` is new and required",
            ]
        );
        assert_eq!(compatible, ["parameter `f` is new and optional"]);
    }

    #[test]
    fn widening_a_type_or_relaxing_a_parameter_breaks_nobody() {
        let old = [param("a", "int", true), param("b", "date", false), param("c", "int", false)];
        let new = [param("a", "float", false), param("b", "string", false), param("c", "json", false)];
        let (mut breaking, mut compatible) = (Vec::new(), Vec::new());
        params(&old, &new, &mut breaking, &mut compatible);
        assert!(breaking.is_empty(), "{breaking:?}");
        assert_eq!(compatible.len(), 4, "{compatible:?}");
        assert!(narrows("array<int>".parse().unwrap(), "int".parse().unwrap()));
        assert!(narrows("datetime".parse().unwrap(), "date".parse().unwrap()));
        assert!(!narrows("int".parse().unwrap(), "decimal".parse().unwrap()));
    }

    #[test]
    fn changed_schemas_are_listed_and_break_nobody() {
        let old: SchemaValidation = serde_json::from_value(serde_json::json!({
            "params": {"a": {"minimum": 1}, "b": {"maxLength": 3}}, "body": {"required": ["x"]}
        }))
        .unwrap();
        let new: SchemaValidation = serde_json::from_value(
            serde_json::json!({"params": {"a": {"minimum": 5}, "c": {}}, "body": {"required": ["x"]}}),
        )
        .unwrap();
        let mut compatible = Vec::new();
        validation(Some(&old), Some(&new), &mut compatible);
        assert_eq!(
            compatible,
            ["parameter `a`'s schema changes", "parameter `b`'s schema changes", "parameter `c`'s schema changes"]
        );
        compatible.clear();
        validation(None, Some(&new), &mut compatible);
        assert!(compatible.contains(&"schema validation is switched on".to_owned()), "{compatible:?}");
    }
}
