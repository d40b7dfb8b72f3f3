//! Semantic checks of a loaded bundle: what YAML's types cannot say. Every problem is
//! reported, each at the line of the key it is about.

use std::collections::HashMap;

use catalog::model::{ApiDefinition, Datasource, DatasourceKind, ParamPosition};

use super::{ApiSpec, Bundle, DatasourceSpec, ModeName, Origin, Problem, Sourced};

/// The methods an API in a file may answer.
const METHODS: [&str; 4] = ["GET", "POST", "PUT", "DELETE"];
/// The longest API name.
const API_NAME_MAX: usize = 30;
/// The longest workgroup or datasource name.
const NAME_MAX: usize = 64;

/// How an API's definition is compiled for its datasource; `Err` says why it cannot be.
pub(super) type Compile<'a> = &'a dyn Fn(&ApiDefinition, &Datasource) -> Result<(), String>;

/// Validates a bundle without touching any store: names, paths, methods, that every API's
/// datasource is defined in the bundle (same workgroup), duplicates, the keys each mode needs,
/// and that every definition compiles (`compile`, usually [`super::compile_sql`]). Returns
/// every problem, sorted by file and line; empty when the bundle is fine.
pub fn check(bundle: &Bundle, compile: &dyn Fn(&ApiDefinition, &Datasource) -> Result<(), String>) -> Vec<Problem> {
    check_with(bundle, compile, &|_, _| None)
}

/// [`check`], where an API may also read from a datasource that `existing(workgroup, name)`
/// knows (the store, for `apply`).
pub(super) fn check_with(
    bundle: &Bundle,
    compile: Compile<'_>,
    existing: &dyn Fn(&str, &str) -> Option<Datasource>,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut datasources: HashMap<(&str, &str), &Origin> = HashMap::new();
    for sourced in &bundle.datasources {
        check_datasource(sourced, &mut problems);
        let key = (sourced.spec.workgroup.as_str(), sourced.spec.name.as_str());
        if let Some(first) = datasources.get(&key) {
            problems.push(sourced.origin.problem_at(
                &["name"],
                format!("datasource `{}/{}` is defined twice; the first is at {}", key.0, key.1, place(first)),
            ));
        } else {
            datasources.insert(key, &sourced.origin);
        }
    }

    let mut apis: HashMap<(&str, &str), &Origin> = HashMap::new();
    let mut routes: HashMap<(String, String), (&str, &Origin)> = HashMap::new();
    for sourced in &bundle.apis {
        let (spec, origin) = (&sourced.spec, &sourced.origin);
        let modes_ok = check_api(sourced, &mut problems);
        let key = (spec.workgroup.as_str(), spec.name.as_str());
        if let Some(first) = apis.get(&key) {
            problems.push(origin.problem_at(
                &["name"],
                format!("API `{}/{}` is defined twice; the first is at {}", key.0, key.1, place(first)),
            ));
        } else {
            apis.insert(key, origin);
        }
        let route = (spec.method_upper(), route_shape(&spec.path));
        if let Some((other, first)) = routes.get(&route) {
            if *other != spec.name {
                problems.push(origin.problem_at(
                    &["path"],
                    format!("{} {} is also the route of API `{other}` at {}", route.0, spec.path, place(first)),
                ));
            }
        } else {
            routes.insert(route, (spec.name.as_str(), origin));
        }

        let datasource = match bundle.datasource(&spec.workgroup, &spec.datasource) {
            Some(defined) => Some(defined.spec.to_datasource()),
            None => existing(&spec.workgroup, &spec.datasource),
        };
        let Some(datasource) = datasource else {
            problems.push(origin.problem_at(
                &["datasource"],
                format!(
                    "datasource `{}` is not defined in workgroup `{}`: add a `kind: Datasource` document for it",
                    spec.datasource, spec.workgroup
                ),
            ));
            continue;
        };
        // A definition whose mode keys are wrong was reported already; compiling it would
        // only say the same again.
        if modes_ok
            && let Some(definition) = spec.definition(datasource.id)
            && let Err(why) = compile(&definition, &datasource)
        {
            problems.push(Problem::new(&origin.file, compile_error_line(spec, origin, &why), why));
        }
    }
    problems.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    problems
}

fn place(origin: &Origin) -> String {
    format!("{}:{}", origin.file.display(), origin.line)
}

fn check_datasource(sourced: &Sourced<DatasourceSpec>, problems: &mut Vec<Problem>) {
    let (spec, origin) = (&sourced.spec, &sourced.origin);
    check_name(origin, "workgroup", "workgroup", &spec.workgroup, problems);
    check_name(origin, "name", "datasource name", &spec.name, problems);
    let blank = |value: &Option<String>| value.as_deref().is_none_or(|v| v.trim().is_empty());
    match spec.kind {
        DatasourceKind::Sqlite => {
            if blank(&spec.database) {
                problems
                    .push(origin.problem_at(&["type"], "a sqlite datasource needs `database`: the path of its file"));
            }
            let given = [
                ("host", spec.host.is_some()),
                ("port", spec.port.is_some()),
                ("username", spec.username.is_some()),
                ("password", spec.password.is_some()),
                ("passwordEnv", spec.password_env.is_some()),
            ];
            for (key, _) in given.iter().filter(|(_, present)| *present) {
                problems.push(origin.problem_at(
                    &[key],
                    format!("`{key}` does not apply to a sqlite datasource, which reads only `database`"),
                ));
            }
        }
        DatasourceKind::Postgres | DatasourceKind::Mysql => {
            for (key, value) in [("host", &spec.host), ("database", &spec.database)] {
                if blank(value) {
                    problems.push(
                        origin.problem_at(&["type"], format!("a {} datasource needs `{key}`", spec.kind.as_str())),
                    );
                }
            }
        }
    }
    if spec.password.is_some() && spec.password_env.is_some() {
        problems.push(origin.problem_at(&["passwordEnv"], "give either `password` or `passwordEnv`, not both"));
    }
    if let Some(variable) = &spec.password_env {
        let mut chars = variable.chars();
        let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            problems.push(origin.problem_at(
                &["passwordEnv"],
                format!("`passwordEnv` must name an environment variable (letters, digits, `_`), not `{variable}`"),
            ));
        }
    }
    if spec.pool_size == Some(0) {
        problems.push(origin.problem_at(&["poolSize"], "`poolSize` must be at least 1"));
    }
}

/// Checks one API on its own; false when its mode keys are wrong.
fn check_api(sourced: &Sourced<ApiSpec>, problems: &mut Vec<Problem>) -> bool {
    let (spec, origin) = (&sourced.spec, &sourced.origin);
    check_name(origin, "workgroup", "workgroup", &spec.workgroup, problems);
    let name_ok = !spec.name.is_empty()
        && spec.name.len() <= API_NAME_MAX
        && spec.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !name_ok {
        problems.push(origin.problem_at(
            &["name"],
            format!("API name `{}` must be 1 to {API_NAME_MAX} letters, digits and underscores", spec.name),
        ));
    }
    if !METHODS.contains(&spec.method_upper().as_str()) {
        problems.push(
            origin.problem_at(&["method"], format!("method `{}` is not one of {}", spec.method, METHODS.join(", "))),
        );
    }
    check_path(sourced, problems);
    let modes_ok = check_mode_keys(sourced, problems);

    let mut seen = Vec::new();
    for env in &spec.publish {
        if seen.contains(env) {
            problems.push(origin.problem_at(&["publish"], format!("`publish` lists {env} twice")));
        }
        seen.push(*env);
    }
    modes_ok
}

/// Workgroup and datasource names: letters, digits, `_`, `-`, `.`, starting with a letter or
/// digit.
fn check_name(origin: &Origin, key: &str, what: &str, value: &str, problems: &mut Vec<Problem>) {
    let mut chars = value.chars();
    let valid = value.len() <= NAME_MAX
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !valid {
        problems.push(origin.problem_at(
            &[key],
            format!(
                "{what} `{value}` must be 1 to {NAME_MAX} letters, digits, `_`, `-` or `.`, starting with a letter or digit"
            ),
        ));
    }
}

/// Paths start with `/`; `{name}` segments are path parameters, each declared as a request
/// parameter with `position: path`, and every such parameter appears in the path.
fn check_path(sourced: &Sourced<ApiSpec>, problems: &mut Vec<Problem>) {
    let (spec, origin) = (&sourced.spec, &sourced.origin);
    let path = spec.path.as_str();
    if !path.starts_with('/') {
        problems.push(origin.problem_at(&["path"], format!("path `{path}` must start with `/`")));
        return;
    }
    if let Some(bad) = path.chars().find(|c| c.is_whitespace() || matches!(c, '?' | '#' | '*' | '\\')) {
        problems.push(origin.problem_at(&["path"], format!("path `{path}` must not contain `{bad}`")));
        return;
    }
    let mut placeholders = Vec::new();
    for segment in path.split('/').skip(1) {
        if segment.is_empty() && path != "/" {
            problems.push(
                origin.problem_at(&["path"], format!("path `{path}` has an empty segment (`//` or a trailing `/`)")),
            );
            return;
        }
        if !segment.contains(['{', '}']) {
            continue;
        }
        let name = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}'));
        match name {
            Some(name) if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                if placeholders.contains(&name) {
                    problems.push(origin.problem_at(&["path"], format!("path parameter `{{{name}}}` appears twice")));
                }
                placeholders.push(name);
            }
            _ => {
                problems.push(origin.problem_at(
                    &["path"],
                    format!(
                        "path segment `{segment}`: a path parameter is a whole segment such as `{{id}}` (letters, digits, `_`)"
                    ),
                ));
                return;
            }
        }
    }
    for name in &placeholders {
        let declared = spec.request_params.iter().find(|p| p.name == *name);
        match declared {
            Some(param) if param.position == ParamPosition::Path => {}
            Some(_) => problems.push(origin.problem_at(
                &["requestParams", &format!("name: {name}")],
                format!("request parameter `{name}` fills `{{{name}}}` in the path: give it `position: path`"),
            )),
            None => problems.push(origin.problem_at(
                &["path"],
                format!("path parameter `{{{name}}}` needs a request parameter `{name}` with `position: path`"),
            )),
        }
    }
    for param in spec.request_params.iter().filter(|p| p.position == ParamPosition::Path) {
        if !placeholders.contains(&param.name.as_str()) {
            problems.push(origin.problem_at(
                &["requestParams", &format!("name: {}", param.name)],
                format!(
                    "request parameter `{}` has `position: path` but the path has no `{{{}}}`",
                    param.name, param.name
                ),
            ));
        }
    }
}

/// The route a path occupies, parameters named alike (`/a/{id}` and `/a/{key}` collide).
fn route_shape(path: &str) -> String {
    path.split('/').map(|segment| if segment.starts_with('{') { "{}" } else { segment }).collect::<Vec<_>>().join("/")
}

/// Each mode needs its own key and refuses the others'. False when either rule is broken.
fn check_mode_keys(sourced: &Sourced<ApiSpec>, problems: &mut Vec<Problem>) -> bool {
    let before = problems.len();
    let (spec, origin) = (&sourced.spec, &sourced.origin);
    let present = [
        ("table", spec.table.is_some(), ModeName::Wizard),
        ("sql", spec.sql.is_some(), ModeName::Script),
        ("tables", spec.tables.is_some(), ModeName::Native),
        ("functions", spec.functions.is_some(), ModeName::Native),
    ];
    let mode = mode_word(spec.mode);
    for (key, is_present, belongs_to) in present {
        if is_present && belongs_to != spec.mode {
            problems.push(origin.problem_at(
                &[key],
                format!("`{key}` belongs to {} mode; this API is in {mode} mode", mode_word(belongs_to)),
            ));
        }
    }
    let (needed, missing) = match spec.mode {
        ModeName::Wizard => ("table", spec.table.as_deref().is_none_or(|t| t.trim().is_empty())),
        ModeName::Script => ("sql", spec.sql.as_deref().is_none_or(|s| s.trim().is_empty())),
        ModeName::Native => ("tables", spec.tables.as_ref().is_none_or(Vec::is_empty)),
    };
    if missing {
        problems.push(origin.problem_at(&["mode"], format!("{mode} mode needs `{needed}`")));
    }
    problems.len() == before
}

fn mode_word(mode: ModeName) -> &'static str {
    match mode {
        ModeName::Wizard => "wizard",
        ModeName::Script => "script",
        ModeName::Native => "native",
    }
}

/// The line a compile error is about: a script template's own line, the request parameter or
/// response field it names, or else the mode's main key.
fn compile_error_line(spec: &ApiSpec, origin: &Origin, why: &str) -> usize {
    if let Some(rest) = why.split("script template, line ").nth(1) {
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if let (Ok(line), Some(start)) = (digits.parse::<usize>(), origin.block_scalar_start("sql")) {
            return start + line.saturating_sub(1);
        }
        return origin.line_of(&["sql"]);
    }
    for (phrase, list) in [
        ("request parameter `", "requestParams"),
        ("request parameter name `", "requestParams"),
        ("parameter `", "requestParams"),
        ("default of `", "requestParams"),
        ("response field `", "responseFields"),
    ] {
        if let Some(name) = why.split(phrase).nth(1).and_then(|rest| rest.split('`').next())
            && !name.is_empty()
        {
            return origin.line_of(&[list, &format!("name: {name}")]);
        }
    }
    origin.line_of(&[match spec.mode {
        ModeName::Wizard => "table",
        ModeName::Script => "sql",
        ModeName::Native => "tables",
    }])
}
