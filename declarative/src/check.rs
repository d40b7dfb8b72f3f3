//! Semantic checks of a loaded bundle: what YAML's types cannot say. Every problem is
//! reported, each at the line of the key it is about.

use std::collections::HashMap;

use catalog::model::{
    ApiDefinition, ApiMode, ApiOptions, Datasource, DatasourceKind, NotificationEvent, ParamPosition,
    check_function_name,
};

use super::{ApiSpec, Bundle, DatasourceSpec, ModeName, Origin, Problem, Sourced};
use net::ssrf::{SsrfError, SsrfPolicy, UpstreamUrl};
use plugins::api_rules;
use plugins::registered::UpstreamRoute;
use plugins::sql::access::{DatasourceAccess, Refusal};
use plugins::{DefinitionError, DefinitionField};

/// The longest workgroup or datasource name.
const NAME_MAX: usize = 64;

/// How an API's definition is compiled for its datasource; `Err` says why it cannot be.
pub type Compile<'a> = &'a dyn Fn(&ApiDefinition, &Datasource) -> Result<(), DefinitionError>;

/// Validates a bundle without touching any store: names, paths, methods, that every API's
/// datasource is defined in the bundle (same workgroup), duplicates, the keys each mode needs,
/// and that every definition compiles (`compile`, usually [`super::compile_sql`]). Returns
/// every problem, sorted by file and line; empty when the bundle is fine.
pub fn check(bundle: &Bundle, compile: Compile<'_>) -> Vec<Problem> {
    check_with(bundle, compile, &|_, _| None, &|_, _| None)
}

/// [`check`], where an API may also read from a datasource that `existing(workgroup, name)`
/// knows, and a workflow call a function that `library(workgroup, name)` holds (the store, for
/// `apply`; the bundle's own functions come first).
pub(super) fn check_with(
    bundle: &Bundle,
    compile: Compile<'_>,
    existing: &dyn Fn(&str, &str) -> Option<Datasource>,
    library: &dyn Fn(&str, &str) -> Option<String>,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut functions: HashMap<(&str, &str), &Origin> = HashMap::new();
    for sourced in &bundle.functions {
        let (spec, origin) = (&sourced.spec, &sourced.origin);
        check_name(origin, "workgroup", "workgroup", &spec.workgroup, &mut problems);
        if let Err(why) = check_function_name(&spec.name) {
            problems.push(origin.problem_at(&["name"], format!("function `{}`: {why}", spec.name)));
        }
        if let Err(why) = plugins::workflow::defines_handler(&spec.source) {
            problems.push(origin.problem_at(&["source"], format!("function `{}`: {why}", spec.name)));
        }
        let key = (spec.workgroup.as_str(), spec.name.as_str());
        if let Some(first) = functions.get(&key) {
            problems.push(origin.problem_at(
                &["name"],
                format!("function `{}/{}` is defined twice; the first is at {}", key.0, key.1, place(first)),
            ));
        } else {
            functions.insert(key, origin);
        }
    }
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

        if spec.mode == ModeName::Registered {
            if spec.datasource.is_some() {
                problems.push(origin.problem_at(
                    &["datasource"],
                    "a registered API forwards calls to its upstream and reads no datasource: remove `datasource`",
                ));
            }
            check_registered(sourced, modes_ok, &mut problems);
            continue;
        }
        if spec.mode == ModeName::Workflow {
            if spec.datasource.is_some() {
                problems.push(origin.problem_at(
                    &["datasource"],
                    "a workflow calls other APIs and reads no datasource: remove `datasource`",
                ));
            }
            // Checked as the edge compiles it, with the library functions its version will
            // carry: references, structure, function sources. Which APIs its nodes name is
            // known only to the store (apply and the edge).
            if modes_ok && let Some(definition) = spec.definition(None) {
                check_workflow(bundle, sourced, definition, library, &mut problems);
            }
            continue;
        }
        let Some(datasource_name) = spec.datasource.as_deref() else {
            problems.push(origin.problem_at(&["mode"], format!("{} mode needs `datasource`", mode_word(spec.mode))));
            continue;
        };
        let datasource = match bundle.datasource(&spec.workgroup, datasource_name) {
            Some(defined) => Some(defined.spec.to_datasource()),
            None => existing(&spec.workgroup, datasource_name),
        };
        let Some(datasource) = datasource else {
            problems.push(origin.problem_at(
                &["datasource"],
                format!(
                    "datasource `{}` is not defined in workgroup `{}`: add a `kind: Datasource` document for it",
                    datasource_name, spec.workgroup
                ),
            ));
            continue;
        };
        // A definition whose mode keys are wrong was reported already; compiling it would
        // only say the same again.
        if modes_ok
            && let Some(definition) = spec.definition(Some(datasource.id))
            && let Err(error) = compile(&definition, &datasource)
        {
            problems.push(Problem::new(&origin.file, compile_error_line(spec, origin, &error.field), error.message));
        }
    }
    check_webhooks(bundle, &mut problems);
    problems.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    problems
}

/// Webhook channels: names, the URL's shape (whether its host may be reached is the network
/// policy's decision at every send), no test event, each channel once.
fn check_webhooks(bundle: &Bundle, problems: &mut Vec<Problem>) {
    let mut seen: HashMap<(&str, &str), &Origin> = HashMap::new();
    for sourced in &bundle.webhooks {
        let (spec, origin) = (&sourced.spec, &sourced.origin);
        check_name(origin, "workgroup", "workgroup", &spec.workgroup, problems);
        check_name(origin, "name", "webhook", &spec.name, problems);
        if let Err(why) = notify::WebhookTarget::parse(&spec.url) {
            problems.push(origin.problem_at(&["url"], format!("webhook `{}`: {why}", spec.name)));
        }
        if spec.events.contains(&NotificationEvent::WebhookTest) {
            problems.push(origin.problem_at(
                &["events"],
                format!("webhook `{}`: `webhook.test` is sent on request; it cannot be subscribed to", spec.name),
            ));
        }
        let key = (spec.workgroup.as_str(), spec.name.as_str());
        if let Some(first) = seen.get(&key) {
            problems.push(origin.problem_at(
                &["name"],
                format!("webhook `{}/{}` is defined twice; the first is at {}", key.0, key.1, place(first)),
            ));
        } else {
            seen.insert(key, origin);
        }
    }
}

/// A workflow's functions: inline sources have the `handler` shape, every function a node
/// calls is inline, in the bundle's library of the workgroup or in `library`; then the
/// definition, with those sources, compiles as the edge compiles it.
fn check_workflow(
    bundle: &Bundle,
    sourced: &Sourced<ApiSpec>,
    definition: ApiDefinition,
    library: &dyn Fn(&str, &str) -> Option<String>,
    problems: &mut Vec<Problem>,
) {
    let (spec, origin) = (&sourced.spec, &sourced.origin);
    let ApiMode::Workflow(workflow) = &definition.mode else { return };
    for (name, source) in &workflow.functions {
        if let Err(why) = plugins::workflow::defines_handler(source) {
            problems.push(
                origin.problem_at(&["workflow", "functions", name.as_str()], format!("function `{name}`: {why}")),
            );
        }
    }
    let found = |name: &str| {
        bundle.function(&spec.workgroup, name).map(|f| f.spec.source.clone()).or_else(|| library(&spec.workgroup, name))
    };
    let resolved = match workflow.resolved(found) {
        Ok(resolved) => resolved,
        Err(missing) => {
            let line = workflow_line(spec, origin, &missing.field());
            problems.push(Problem::new(
                &origin.file,
                line,
                format!(
                    "{}: {} (a `kind: Function` document of workgroup `{}`)",
                    missing.field(),
                    missing.message(),
                    spec.workgroup
                ),
            ));
            return;
        }
    };
    let definition = ApiDefinition { mode: ApiMode::Workflow(resolved), ..definition };
    if let Err(error) = plugins::workflow::WorkflowApi::compile(&definition) {
        problems.push(Problem::new(&origin.file, compile_error_line(spec, origin, &error.field), error.message));
    }
}

/// Every function source of the bundle — library functions and workflows' inline ones —
/// through `compiles` (the sandbox's check, which `sluice check` and `apply` have): each
/// problem at the source's own line when the check names one.
pub fn check_functions(bundle: &Bundle, compiles: &dyn Fn(&str, &str) -> Result<(), String>) -> Vec<Problem> {
    let mut problems = Vec::new();
    for sourced in &bundle.functions {
        let (spec, origin) = (&sourced.spec, &sourced.origin);
        if let Err(why) = compiles(&spec.name, &spec.source) {
            let line = source_line(origin, "source", &why).unwrap_or_else(|| origin.line_of(&["source"]));
            problems.push(Problem::new(&origin.file, line, format!("function `{}`: {why}", spec.name)));
        }
    }
    for sourced in &bundle.apis {
        let (spec, origin) = (&sourced.spec, &sourced.origin);
        let Some(workflow) = spec.workflow.as_ref().filter(|_| spec.mode == ModeName::Workflow) else { continue };
        for (name, source) in &workflow.functions {
            if let Err(why) = compiles(name, source) {
                problems.push(
                    origin.problem_at(&["workflow", "functions", name.as_str()], format!("function `{name}`: {why}")),
                );
            }
        }
    }
    problems.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    problems
}

/// The file line of a sandbox message's `(line N)` inside the block scalar of `key`.
fn source_line(origin: &Origin, key: &str, message: &str) -> Option<usize> {
    let tail = message.rsplit_once("(line ")?.1;
    let line: usize = tail.strip_suffix(')')?.parse().ok()?;
    Some(origin.block_scalar_start(key)? + line.saturating_sub(1))
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
    if let Err(why) = api_rules::check_api_name(&spec.name) {
        problems.push(origin.problem_at(&["name"], why));
    }
    if let Err(why) = api_rules::normalize_method(&spec.method) {
        problems.push(origin.problem_at(&["method"], why));
    }
    if let Err((key, why)) = spec.settings().check() {
        problems.push(origin.problem_at(&[key], why));
    }
    if let Some(listing) = &spec.listing
        && let Err((key, why)) = listing.clone().normalized().check()
    {
        problems.push(origin.problem_at(&["listing", key], why));
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

/// The path and its path parameters (`plugins::api_rules`), each problem at its key.
fn check_path(sourced: &Sourced<ApiSpec>, problems: &mut Vec<Problem>) {
    let (spec, origin) = (&sourced.spec, &sourced.origin);
    let (list, params) = spec.caller_params();
    for problem in api_rules::path_problems(&spec.path, &params) {
        problems.push(match problem.param {
            Some(name) => origin.problem_at(&[list, &format!("name: {name}")], problem.message),
            None => origin.problem_at(&["path"], problem.message),
        });
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
        ("upstream", spec.upstream.is_some(), ModeName::Registered),
        ("params", spec.params.is_some(), ModeName::Registered),
        ("errorCodes", spec.error_codes.is_some(), ModeName::Registered),
        ("validation", spec.validation.is_some(), ModeName::Registered),
        ("workflow", spec.workflow.is_some(), ModeName::Workflow),
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
    if spec.mode == ModeName::Registered {
        let sql_keys = [
            ("requestParams", !spec.request_params.is_empty(), "declare parameters in `params`"),
            ("responseFields", !spec.response_fields.is_empty(), "the upstream's response passes through"),
            ("options", spec.options != ApiOptions::default(), "set `upstream.timeoutMs` instead"),
        ];
        for (key, is_present, instead) in sql_keys {
            if is_present {
                problems.push(
                    origin.problem_at(&[key], format!("`{key}` belongs to SQL modes; in registered mode, {instead}")),
                );
            }
        }
    }
    let (needed, missing) = match spec.mode {
        ModeName::Wizard => ("table", spec.table.as_deref().is_none_or(|t| t.trim().is_empty())),
        ModeName::Script => ("sql", spec.sql.as_deref().is_none_or(|s| s.trim().is_empty())),
        ModeName::Native => ("tables", spec.tables.as_ref().is_none_or(Vec::is_empty)),
        ModeName::Registered => ("upstream", spec.upstream.is_none()),
        ModeName::Workflow => ("workflow", spec.workflow.is_none()),
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
        ModeName::Registered => "registered",
        ModeName::Workflow => "workflow",
    }
}

/// A registered API: constants' values, caller body parameters, then the mapping compiled the
/// way the edge compiles it (base URL syntax, upstream path placeholders, names, positions).
fn check_registered(sourced: &Sourced<ApiSpec>, modes_ok: bool, problems: &mut Vec<Problem>) {
    let (spec, origin) = (&sourced.spec, &sourced.origin);
    let Some(upstream) = &spec.upstream else { return };
    let before = problems.len();
    for constant in &upstream.constants {
        let at = ["upstream", "constants", &format!("name: {}", constant.name)];
        match (&constant.value, &constant.value_env) {
            (Some(_), Some(_)) => {
                problems.push(origin.problem_at(
                    &at,
                    format!("constant `{}`: give either `value` or `valueEnv`, not both", constant.name),
                ))
            }
            (None, None) => problems.push(origin.problem_at(
                &at,
                format!(
                    "constant `{}` needs `value` or `valueEnv` (an environment variable read by apply)",
                    constant.name
                ),
            )),
            (None, Some(variable)) if !is_env_name(variable) => problems.push(origin.problem_at(
                &at,
                format!("`valueEnv` must name an environment variable (letters, digits, `_`), not `{variable}`"),
            )),
            _ => {}
        }
    }
    let caller_sends_body = matches!(spec.method_upper().as_str(), "POST" | "PUT");
    for param in spec.params.iter().flatten() {
        if param.position == ParamPosition::Body && !caller_sends_body {
            problems.push(origin.problem_at(
                &["params", &format!("name: {}", param.name)],
                format!(
                    "parameter `{}` is read from the body, but {} calls carry none: use POST or PUT, or another position",
                    param.name,
                    spec.method_upper()
                ),
            ));
        }
    }
    if !modes_ok || problems.len() > before {
        return;
    }
    let Some(mut definition) = spec.definition(None) else { return };
    if let ApiMode::Registered(registered) = &mut definition.mode {
        // Values from the environment are read by apply; their content does not matter here.
        for constant in &mut registered.constants {
            constant.value.get_or_insert_with(String::new);
        }
    }
    if let Err(error) = UpstreamRoute::compile(&definition) {
        problems.push(Problem::new(&origin.file, registered_error_line(origin, &error.field), error.message));
    }
}

fn is_env_name(variable: &str) -> bool {
    let mut chars = variable.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The line a registered API's compile error is about: the parameter or constant it names, or
/// the `upstream` key it names.
fn registered_error_line(origin: &Origin, field: &DefinitionField) -> usize {
    match field {
        DefinitionField::Item("params", name) => origin.line_of(&["params", &format!("name: {name}")]),
        DefinitionField::ItemKey { list: "params", name, key, .. } => {
            origin.line_of(&["params", &format!("name: {name}"), key])
        }
        DefinitionField::Item("constants", name) => {
            origin.line_of(&["upstream", "constants", &format!("name: {name}")])
        }
        DefinitionField::Key(key @ ("baseUrl" | "timeoutMs" | "path" | "constants")) => {
            origin.line_of(&["upstream", key])
        }
        DefinitionField::Item("validation.params", name) => origin.line_of(&["validation", "params", name]),
        DefinitionField::Key("validation.body") => origin.line_of(&["validation", "body"]),
        _ => origin.line_of(&["upstream"]),
    }
}

/// Resolves every registered API's base URL through the SSRF guard with `policy` (the
/// configured allow-list), as the edge does on each call: a host that is, or resolves to, a
/// loopback, private, link-local, metadata … address is refused unless allow-listed, and so is
/// a host that does not resolve. Base URLs that do not parse are left to [`super::check`].
/// Every datasource the access policy refuses whatever the file system or DNS say: a SQLite
/// path outside its workgroup's dataset directories, a loopback or private host literal.
/// `workgroups` gives each workgroup the bundle names an id (a stand-in for new ones).
pub fn check_datasources(bundle: &Bundle, access: &DatasourceAccess, workgroups: &[(i64, String)]) -> Vec<Problem> {
    let mut problems = Vec::new();
    for sourced in &bundle.datasources {
        let mut datasource = sourced.spec.to_datasource();
        datasource.workgroup_id =
            workgroups.iter().find(|(_, name)| *name == sourced.spec.workgroup).map_or(0, |(id, _)| *id);
        if let Err(Refusal::NotAllowed { field, why }) = access.check_settings(&datasource) {
            let key = if field == "connection.host" { "host" } else { "database" };
            problems.push(sourced.origin.problem_at(&[key], why));
        }
    }
    problems
}

pub async fn check_upstreams(bundle: &Bundle, policy: &SsrfPolicy) -> Vec<Problem> {
    let mut problems = Vec::new();
    for sourced in &bundle.apis {
        let (spec, origin) = (&sourced.spec, &sourced.origin);
        let Some(upstream) = spec.upstream.as_ref().filter(|_| spec.mode == ModeName::Registered) else { continue };
        let Ok(url) = UpstreamUrl::parse(&upstream.base_url) else { continue };
        if let Err(e) = policy.resolve_checked(&url).await {
            let hint = match e {
                SsrfError::Forbidden { .. } => {
                    "; if this upstream is deliberately internal, add its host to `ssrf_allow` (SLUICE_SSRF_ALLOW)"
                }
                _ => "",
            };
            problems.push(origin.problem_at(&["upstream", "baseUrl"], format!("baseUrl: {e}{hint}")));
        }
    }
    problems.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    problems
}

/// The line a compile error is about: a script template's own line, the request parameter or
/// response field it names, or else the mode's main key.
fn compile_error_line(spec: &ApiSpec, origin: &Origin, field: &DefinitionField) -> usize {
    match field {
        DefinitionField::ScriptLine(line) => match origin.block_scalar_start("sql") {
            Some(start) => start + line.saturating_sub(1),
            None => origin.line_of(&["sql"]),
        },
        DefinitionField::Item(list, name) => origin.line_of(&[list, &format!("name: {name}")]),
        DefinitionField::ItemKey { list, name, key, .. } => origin.line_of(&[list, &format!("name: {name}"), key]),
        DefinitionField::Node(path) => workflow_line(spec, origin, path),
        _ => origin.line_of(&[match spec.mode {
            ModeName::Wizard => "table",
            ModeName::Script => "sql",
            ModeName::Native => "tables",
            ModeName::Registered => "upstream",
            ModeName::Workflow => "workflow",
        }]),
    }
}

/// The line of a workflow check's place (`nodes[2].params.user_id`): the `id: X` line of the
/// node it names, then the key under it when there is one; else the `workflow` key's own key.
fn workflow_line(spec: &ApiSpec, origin: &Origin, path: &str) -> usize {
    let node = path
        .strip_prefix("nodes[")
        .and_then(|rest| rest.split_once(']'))
        .and_then(|(index, rest)| Some((index.parse::<usize>().ok()?, rest)));
    let Some((index, rest)) = node else {
        let key = path.split(['.', '[']).next().unwrap_or_default();
        return origin.line_of(&["workflow", key]);
    };
    let Some(id) = spec.workflow.as_ref().and_then(|w| w.nodes.get(index)).map(|n| n.id.as_str()) else {
        return origin.line_of(&["workflow", "nodes"]);
    };
    let id_step = format!("id: {id}");
    match rest.trim_start_matches('.').split(['.', '[']).next().filter(|k| !k.is_empty()) {
        Some(key) => origin.line_of(&["workflow", "nodes", &id_step, key]),
        None => origin.line_of(&["workflow", "nodes", &id_step]),
    }
}
