//! The shape every API must have wherever it is defined — in files (`sluice check`/`apply`)
//! or over the management API: its name, its method, and a path whose `{name}` segments match
//! the parameters declared with position `path`. Callers turn the messages into their own
//! errors (a file line, or a named field).

use catalog::model::ParamPosition;

/// The methods an API may answer.
pub const METHODS: [&str; 4] = ["GET", "POST", "PUT", "DELETE"];
/// The longest API name.
pub const API_NAME_MAX: usize = 30;

/// API names: 1 to 30 letters, digits and underscores.
pub fn check_api_name(name: &str) -> Result<(), String> {
    let ok =
        !name.is_empty() && name.len() <= API_NAME_MAX && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!("API name `{name}` must be 1 to {API_NAME_MAX} letters, digits and underscores"))
    }
}

/// The method as stored (upper-case), or why it is refused.
pub fn normalize_method(method: &str) -> Result<String, String> {
    let upper = method.trim().to_ascii_uppercase();
    if METHODS.contains(&upper.as_str()) {
        Ok(upper)
    } else {
        Err(format!("method `{method}` is not one of {}", METHODS.join(", ")))
    }
}

/// Why `owner` cannot own an API of `workgroup`: it names nobody who is a member. The one
/// wording for the management API and `sluice apply`, saying who may be owner.
pub fn owner_not_member(owner: &str, workgroup: &str) -> String {
    format!(
        "owner `{owner}` is not a member of workgroup `{workgroup}`: an API's owner is the user name of a member \
         of its workgroup (any role, account enabled); add them to the workgroup first, or leave owner empty"
    )
}

/// One thing wrong with a path; `param` names the request parameter at fault when it is one
/// (otherwise the path itself is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathProblem {
    pub param: Option<String>,
    pub message: String,
}

/// Everything wrong with `path` given the caller parameters and their positions: paths start
/// with `/`, a path parameter is a whole `{name}` segment, each is declared with position
/// `path`, and each parameter with position `path` appears in the path.
pub fn path_problems(path: &str, params: &[(&str, ParamPosition)]) -> Vec<PathProblem> {
    let of_path = |message: String| vec![PathProblem { param: None, message }];
    if !path.starts_with('/') {
        return of_path(format!("path `{path}` must start with `/`"));
    }
    if let Some(c) = path.chars().find(|c| c.is_whitespace() || c.is_control() || matches!(c, '?' | '#' | '*' | '\\')) {
        return of_path(format!("path `{path}` must not contain `{}`", c.escape_debug()));
    }
    let mut problems = Vec::new();
    let mut placeholders = Vec::new();
    for segment in path.split('/').skip(1) {
        if segment.is_empty() && path != "/" {
            return of_path(format!("path `{path}` has an empty segment (`//` or a trailing `/`)"));
        }
        if !segment.contains(['{', '}']) {
            continue;
        }
        match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                if placeholders.contains(&name) {
                    problems.push(PathProblem {
                        param: None,
                        message: format!("path parameter `{{{name}}}` appears twice"),
                    });
                }
                placeholders.push(name);
            }
            _ => {
                return of_path(format!(
                    "path segment `{segment}`: a path parameter is a whole segment such as `{{id}}` (letters, digits, `_`)"
                ));
            }
        }
    }
    for name in &placeholders {
        match params.iter().find(|(p, _)| p == name) {
            Some((_, ParamPosition::Path)) => {}
            Some(_) => problems.push(PathProblem {
                param: Some((*name).to_owned()),
                message: format!("request parameter `{name}` fills `{{{name}}}` in the path: give it `position: path`"),
            }),
            None => problems.push(PathProblem {
                param: None,
                message: format!(
                    "path parameter `{{{name}}}` needs a request parameter `{name}` with `position: path`"
                ),
            }),
        }
    }
    for (name, _) in params.iter().filter(|(_, position)| *position == ParamPosition::Path) {
        if !placeholders.contains(name) {
            problems.push(PathProblem {
                param: Some((*name).to_owned()),
                message: format!("request parameter `{name}` has `position: path` but the path has no `{{{name}}}`"),
            });
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_methods_and_paths_follow_one_set_of_rules() {
        assert!(check_api_name("orders_by_day_2").is_ok());
        for bad in ["", "has-dash", "has space", &"x".repeat(31)] {
            assert!(check_api_name(bad).is_err(), "{bad}");
        }
        assert_eq!(normalize_method(" get ").unwrap(), "GET");
        assert!(normalize_method("PATCH").is_err());
        for bad in ["items", "/a//b", "/a/", "/a?b", "/a/{x", "/a/x{y}", "/a\u{7}"] {
            let problems = path_problems(bad, &[]);
            assert_eq!(problems.len(), 1, "{bad}: {problems:?}");
            assert_eq!(problems[0].param, None, "{bad}");
        }
        assert!(path_problems("/", &[]).is_empty());
        let by_id = [("id", ParamPosition::Path)];
        assert!(path_problems("/items/{id}", &by_id).is_empty());
        assert_eq!(path_problems("/items", &by_id)[0].param.as_deref(), Some("id"));
        let wrong = path_problems("/items/{key}", &by_id);
        assert_eq!(wrong.len(), 2, "{wrong:?}");
        assert_eq!(path_problems("/items/{id}", &[("id", ParamPosition::Query)])[0].param.as_deref(), Some("id"));
    }
}
