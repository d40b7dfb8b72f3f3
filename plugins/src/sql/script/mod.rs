//! Script mode: MyBatis-style dynamic SQL templates, compiled once and rendered per call.
//!
//! This module owns the template language: [`parse`] reads the XML-ish syntax, [`expr`] the
//! `test` expressions, and here the tree is checked and resolved against the API's parameters
//! ([`ScriptTemplate::compile`], at publish time) and then walked per call
//! ([`ScriptTemplate::render`]). The same compiler, told to take every name it does not know
//! as a parameter, lists what a template refers to ([`ScriptTemplate::references`], for the
//! console). Caller values only ever reach the [`SqlBuilder`] as binds; the
//! one exception, `${name}`, is limited to identifier parameters with an allow-list and is
//! written as a quoted identifier.
//!
//! One file on purpose: checking a template and rendering it walk the same tree, and the
//! rules for `${name}` must be read beside both.

mod expr;
mod parse;

#[cfg(test)]
mod tests;

use std::cell::RefCell;

use catalog::model::{ParamType, RequestParam, ScalarType};

use crate::error::ApiError;
use crate::sql::dialect::{Dialect, validate_identifier};
use crate::sql::render::{RenderedSql, SqlBuilder};
use crate::sql::value::{ParamValues, Value};

use expr::{Env, Expr, Kind, Var};
use parse::{Attr, Element, Piece, RawNode, Tag};

/// A template error with its 1-based position in the template text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}, column {}: {}", self.line, self.column, self.message)
    }
}

/// A request parameter a template refers to, found by [`ScriptTemplate::references`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub name: String,
    /// `identifier` for a name spliced with `${name}`, `array<string>` for a `<foreach>`
    /// collection, `string` for the rest (`#{name}`, names in tests): what the template's
    /// use of the name requires, not what the author may mean (an `int` id, say).
    pub param_type: ParamType,
}

/// A compiled script template.
#[derive(Debug, Clone)]
pub struct ScriptTemplate {
    nodes: Vec<Node>,
    /// How many parameters the template was compiled against, checked at render.
    param_count: usize,
}

#[derive(Debug, Clone)]
enum Node {
    Sql(String),
    /// `#{name}`
    Bind(Var),
    /// `${name}`: a parameter index; the parameter is an identifier with an allow-list.
    Ident(usize),
    If(Expr, Vec<Node>),
    Choose(Vec<(Expr, Vec<Node>)>, Vec<Node>),
    /// `<trim>`, and `<where>` as a trim with prefix `WHERE`.
    Trim(Box<Trim>),
    Foreach(Box<Foreach>),
}

#[derive(Debug, Clone)]
struct Trim {
    prefix: String,
    suffix: String,
    prefix_overrides: Vec<String>,
    suffix_overrides: Vec<String>,
    body: Vec<Node>,
}

#[derive(Debug, Clone)]
struct Foreach {
    collection: usize,
    has_item: bool,
    has_index: bool,
    open: String,
    separator: String,
    close: String,
    body: Vec<Node>,
}

impl ScriptTemplate {
    pub fn compile(template: &str, params: &[RequestParam]) -> Result<ScriptTemplate, TemplateError> {
        let nodes = build(template, params, None)?;
        Ok(ScriptTemplate { nodes, param_count: params.len() })
    }

    /// The request parameters `template` refers to, in order of first appearance (`<foreach>`
    /// items and indexes are not parameters). The template is read and checked as
    /// [`ScriptTemplate::compile`] reads it, each unknown name taken as a parameter of the
    /// type its uses need: an error here is one `compile` would give whatever parameters
    /// were declared, except that a spliced `${name}` still needs its allowed values.
    pub fn references(template: &str) -> Result<Vec<Reference>, TemplateError> {
        let found = RefCell::new(Vec::new());
        build(template, &[], Some(&found))?;
        Ok(found.into_inner())
    }

    pub fn render(
        &self,
        dialect: Dialect,
        params: &[RequestParam],
        values: &ParamValues,
    ) -> Result<RenderedSql, ApiError> {
        if params.len() != self.param_count || values.values.len() != params.len() {
            return Err(ApiError::invalid_definition(
                "the script template was compiled for different parameters; publish it again",
            ));
        }
        let mut renderer =
            Renderer { out: SqlBuilder::new(dialect), separate: false, params, values, locals: Vec::new() };
        renderer.nodes(&self.nodes)?;
        Ok(renderer.out.finish())
    }
}

/// Parses and checks `template` against `params`; with `found`, unknown names are recorded
/// there as parameters instead of refused.
fn build(
    template: &str,
    params: &[RequestParam],
    found: Option<&RefCell<Vec<Reference>>>,
) -> Result<Vec<Node>, TemplateError> {
    let raw = parse::parse(template).map_err(|e| position(template, e.at, e.message))?;
    let mut compiler = Compiler { src: template, params, locals: Vec::new(), found };
    let mut nodes = Vec::new();
    compiler.nodes(unwrap_select(template, raw)?, &mut nodes)?;
    if nodes.iter().all(|n| matches!(n, Node::Sql(s) if s.trim().is_empty())) {
        return Err(position(template, 0, "the template has no SQL".into()));
    }
    Ok(nodes)
}

fn position(src: &str, at: usize, message: String) -> TemplateError {
    let (line, column) = parse::line_col(src, at);
    TemplateError { line, column, message }
}

/// Drops an outer `<select>` wrapper (MyBatis mapper style), whose attributes mean nothing here.
fn unwrap_select(src: &str, raw: Vec<RawNode>) -> Result<Vec<RawNode>, TemplateError> {
    let is_select = |n: &RawNode| matches!(n, RawNode::Element(e) if e.tag == Tag::Select);
    let is_blank = |n: &RawNode| matches!(n, RawNode::Text { solid_at: None, .. });
    if raw.iter().filter(|n| is_select(n)).count() != 1 {
        return Ok(raw);
    }
    if let Some(outside) = raw.iter().find(|n| !is_select(n) && !is_blank(n)) {
        let at = match outside {
            RawNode::Text { solid_at, .. } => solid_at.unwrap_or(0),
            RawNode::Element(e) => e.at,
        };
        return Err(position(src, at, "`<select>` must wrap the whole template: nothing may stand outside it".into()));
    }
    Ok(raw
        .into_iter()
        .find_map(|n| match n {
            RawNode::Element(e) if e.tag == Tag::Select => Some(e.children),
            _ => None,
        })
        .unwrap_or_default())
}

/// Resolves names and checks tags, building the render tree.
struct Compiler<'a> {
    src: &'a str,
    params: &'a [RequestParam],
    /// Enclosing `<foreach>` item and index names; a name's position is its render slot.
    locals: Vec<(String, Kind)>,
    /// Listing references: names that are not in `params` are recorded here, and resolve to
    /// `Var::Param(params.len() + their index)`. Nothing so compiled is ever rendered.
    found: Option<&'a RefCell<Vec<Reference>>>,
}

impl Compiler<'_> {
    fn error<T>(&self, at: usize, message: impl Into<String>) -> Result<T, TemplateError> {
        Err(position(self.src, at, message.into()))
    }

    /// Inner loop variables shadow outer ones, and all shadow parameters.
    fn resolve(&self, name: &str) -> Option<(Var, Kind)> {
        if let Some(slot) = self.locals.iter().rposition(|(n, _)| n == name) {
            return Some((Var::Local(slot), self.locals[slot].1));
        }
        let Some(index) = self.params.iter().position(|p| p.name == name) else {
            return self.found(name);
        };
        let kind = match self.params[index].param_type {
            ParamType::Array(_) => Kind::Array,
            ParamType::Scalar(ScalarType::String) | ParamType::Identifier => Kind::Text,
            ParamType::Scalar(ScalarType::Json) => Kind::Json,
            ParamType::Scalar(_) => Kind::Other,
        };
        Some((Var::Param(index), kind))
    }

    /// Listing references: `name` as a parameter found in the template (recorded at its first
    /// appearance, as `string` until a use needs more). `None` when compiling.
    fn found(&self, name: &str) -> Option<(Var, Kind)> {
        let mut found = self.found?.borrow_mut();
        let index = match found.iter().position(|r| r.name == name) {
            Some(index) => index,
            None => {
                found.push(Reference { name: name.to_owned(), param_type: ParamType::STRING });
                found.len() - 1
            }
        };
        // Text allows every test (`.size()`, comparisons) a parameter could pass.
        let kind = if matches!(found[index].param_type, ParamType::Array(_)) { Kind::Array } else { Kind::Text };
        Some((Var::Param(self.params.len() + index), kind))
    }

    /// Listing references: parameter `index`, found in the template, is used where only
    /// `needs` will do (`identifier` or `array<string>`). One name cannot be both.
    fn needs(&self, index: usize, needs: ParamType, at: usize) -> Result<(), TemplateError> {
        let Some(found) = self.found else {
            return self.error(at, "internal: a parameter index out of range");
        };
        let mut found = found.borrow_mut();
        let Some(reference) = index.checked_sub(self.params.len()).and_then(|i| found.get_mut(i)) else {
            return self.error(at, "internal: a parameter index out of range");
        };
        if reference.param_type != needs && reference.param_type != ParamType::STRING {
            let name = &reference.name;
            return self.error(at, format!("`{name}` is used both as a <foreach> collection and as `${{{name}}}`"));
        }
        reference.param_type = needs;
        Ok(())
    }

    fn nodes(&mut self, raw: Vec<RawNode>, out: &mut Vec<Node>) -> Result<(), TemplateError> {
        for node in raw {
            match node {
                RawNode::Text { pieces, .. } => {
                    for piece in pieces {
                        self.piece(piece, out)?;
                    }
                }
                RawNode::Element(element) => {
                    let node = self.element(element)?;
                    out.push(node);
                }
            }
        }
        Ok(())
    }

    fn piece(&mut self, piece: Piece, out: &mut Vec<Node>) -> Result<(), TemplateError> {
        match piece {
            Piece::Sql(text) => match out.last_mut() {
                Some(Node::Sql(prev)) => prev.push_str(&text),
                _ => out.push(Node::Sql(text)),
            },
            Piece::Ref { splice: false, name, at } => match self.resolve(&name) {
                Some((var, _)) => out.push(Node::Bind(var)),
                None => return self.error(at, unknown_name(&name)),
            },
            Piece::Ref { splice: true, name, at } => out.push(Node::Ident(self.splice(&name, at)?)),
        }
        Ok(())
    }

    /// Checks that `${name}` can only ever produce one of a fixed set of valid identifiers.
    fn splice(&self, name: &str, at: usize) -> Result<usize, TemplateError> {
        let refused = || {
            format!(
                "`${{{name}}}` splices raw text; declare `{name}` as type identifier with \
                 allowed values, or use #{{{name}}}"
            )
        };
        let index = match self.resolve(name) {
            None => return self.error(at, unknown_name(name)),
            Some((Var::Local(_), _)) => return self.error(at, refused()),
            Some((Var::Param(index), _)) => index,
        };
        let Some(param) = self.params.get(index) else {
            self.needs(index, ParamType::Identifier, at)?;
            return Ok(index);
        };
        if param.param_type != ParamType::Identifier || param.allowed_values.is_empty() {
            return self.error(at, refused());
        }
        for allowed in &param.allowed_values {
            if let Err(why) = validate_identifier(allowed) {
                return self.error(at, format!("`${{{name}}}`: allowed value {why}"));
            }
        }
        Ok(index)
    }

    fn element(&mut self, element: Element) -> Result<Node, TemplateError> {
        let Element { tag, at, attrs, children } = element;
        match tag {
            Tag::Select => self.error(at, "`<select>` may only wrap the whole template, once"),
            Tag::When | Tag::Otherwise => {
                self.error(at, format!("`<{}>` belongs directly inside `<choose>`", tag.name()))
            }
            Tag::If => {
                let [test] = self.attrs(tag, at, attrs, ["test"], 1)?;
                let test = self.test(test, tag, at)?;
                let mut body = Vec::new();
                self.nodes(children, &mut body)?;
                Ok(Node::If(test, body))
            }
            Tag::Choose => {
                self.attrs(tag, at, attrs, [], 0)?;
                self.choose(children)
            }
            Tag::Where => {
                self.attrs(tag, at, attrs, [], 0)?;
                let mut body = Vec::new();
                self.nodes(children, &mut body)?;
                Ok(Node::Trim(Box::new(Trim {
                    prefix: "WHERE".into(),
                    suffix: String::new(),
                    prefix_overrides: vec!["AND".into(), "OR".into()],
                    suffix_overrides: Vec::new(),
                    body,
                })))
            }
            Tag::Trim => {
                let [prefix, suffix, prefix_overrides, suffix_overrides] =
                    self.attrs(tag, at, attrs, ["prefix", "suffix", "prefixOverrides", "suffixOverrides"], 0)?;
                let mut body = Vec::new();
                self.nodes(children, &mut body)?;
                Ok(Node::Trim(Box::new(Trim {
                    prefix: prefix.map(|a| a.value).unwrap_or_default(),
                    suffix: suffix.map(|a| a.value).unwrap_or_default(),
                    prefix_overrides: self.overrides(prefix_overrides)?,
                    suffix_overrides: self.overrides(suffix_overrides)?,
                    body,
                })))
            }
            Tag::Foreach => self.foreach(at, attrs, children),
        }
    }

    /// Picks the attributes named in `names` (the first `required` must be present); any other
    /// attribute is an error, so typos do not pass silently.
    fn attrs<const N: usize>(
        &self,
        tag: Tag,
        at: usize,
        attrs: Vec<Attr>,
        names: [&str; N],
        required: usize,
    ) -> Result<[Option<Attr>; N], TemplateError> {
        let mut found: [Option<Attr>; N] = std::array::from_fn(|_| None);
        for attr in attrs {
            match names.iter().position(|n| n.eq_ignore_ascii_case(&attr.name)) {
                Some(i) => found[i] = Some(attr),
                None if N == 0 => {
                    return self.error(attr.at, format!("`<{}>` takes no attributes", tag.name()));
                }
                None => {
                    return self.error(
                        attr.at,
                        format!("`<{}>` has no attribute `{}`; it takes {}", tag.name(), attr.name, names.join(", ")),
                    );
                }
            }
        }
        for (name, attr) in names.iter().zip(&found).take(required) {
            if attr.is_none() {
                return self.error(at, format!("`<{}>` needs a `{name}` attribute", tag.name()));
            }
        }
        Ok(found)
    }

    fn test(&self, attr: Option<Attr>, tag: Tag, at: usize) -> Result<Expr, TemplateError> {
        let Some(attr) = attr else {
            return self.error(at, format!("`<{}>` needs a `test` attribute", tag.name()));
        };
        expr::parse(&attr.value, &|name| self.resolve(name))
            .map_err(|e| position(self.src, attr.offset_of(e.offset), format!("in test: {}", e.message)))
    }

    fn choose(&mut self, children: Vec<RawNode>) -> Result<Node, TemplateError> {
        let mut whens = Vec::new();
        let mut otherwise: Option<Vec<Node>> = None;
        for child in children {
            let element = match child {
                RawNode::Text { solid_at: None, .. } => continue,
                RawNode::Text { solid_at: Some(at), .. } => {
                    return self.error(at, "only `<when>` and `<otherwise>` may appear inside `<choose>`");
                }
                RawNode::Element(element) => element,
            };
            let Element { tag, at, attrs, children } = element;
            match tag {
                _ if otherwise.is_some() => {
                    return self.error(at, "`<otherwise>` must come last in `<choose>`");
                }
                Tag::When => {
                    let [test] = self.attrs(tag, at, attrs, ["test"], 1)?;
                    let test = self.test(test, tag, at)?;
                    let mut body = Vec::new();
                    self.nodes(children, &mut body)?;
                    whens.push((test, body));
                }
                Tag::Otherwise => {
                    self.attrs(tag, at, attrs, [], 0)?;
                    if whens.is_empty() {
                        return self.error(at, "`<choose>` needs a `<when>` before `<otherwise>`");
                    }
                    let mut body = Vec::new();
                    self.nodes(children, &mut body)?;
                    otherwise = Some(body);
                }
                _ => {
                    return self.error(at, "only `<when>` and `<otherwise>` may appear inside `<choose>`");
                }
            }
        }
        Ok(Node::Choose(whens, otherwise.unwrap_or_default()))
    }

    /// `AND |OR ` → `["AND", "OR"]`; matched case-insensitively as whole words at render.
    fn overrides(&self, attr: Option<Attr>) -> Result<Vec<String>, TemplateError> {
        let Some(attr) = attr else {
            return Ok(Vec::new());
        };
        // Stripping a placeholder would leave its bind orphaned and shift the others.
        if let Some(i) = attr.value.find(['?', '$']) {
            return self.error(attr.offset_of(i), format!("`{}` may not contain `?` or `$`", attr.name));
        }
        Ok(attr.value.split('|').map(str::trim).filter(|o| !o.is_empty()).map(str::to_owned).collect())
    }

    fn foreach(&mut self, at: usize, attrs: Vec<Attr>, children: Vec<RawNode>) -> Result<Node, TemplateError> {
        let [collection, item, index, open, separator, close] =
            self.attrs(Tag::Foreach, at, attrs, ["collection", "item", "index", "open", "separator", "close"], 1)?;
        let Some(collection) = collection else {
            return self.error(at, "`<foreach>` needs a `collection` attribute");
        };
        let collection_at = collection.offset_of(0);
        let name = collection.value.trim();
        let (index_of, item_kind) = match self.resolve(name) {
            Some((Var::Param(i), _)) => match self.params.get(i).map(|p| p.param_type) {
                Some(ParamType::Array(ScalarType::String)) => (i, Kind::Text),
                Some(ParamType::Array(_)) => (i, Kind::Other),
                None => {
                    self.needs(i, ParamType::Array(ScalarType::String), collection_at)?;
                    (i, Kind::Text)
                }
                Some(_) => {
                    return self
                        .error(collection_at, format!("`{name}` is not an array parameter; declare it as array<…>"));
                }
            },
            Some((Var::Local(_), _)) => {
                return self.error(collection_at, format!("`{name}` is a <foreach> variable, not an array parameter"));
            }
            None => return self.error(collection_at, unknown_name(name)),
        };
        let base = self.locals.len();
        let mut var = |attr: &Option<Attr>, kind: Kind| -> Result<bool, TemplateError> {
            let Some(attr) = attr else {
                return Ok(false);
            };
            let name = attr.value.trim();
            let plain = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !plain || self.locals[base..].iter().any(|(n, _)| n == name) {
                return self.error(attr.offset_of(0), format!("`{}` must be a distinct plain name", attr.name));
            }
            self.locals.push((name.to_owned(), kind));
            Ok(true)
        };
        // Slots are pushed item first, then index; render pushes values in the same order.
        let has_item = var(&item, item_kind)?;
        let has_index = var(&index, Kind::Other)?;
        let mut body = Vec::new();
        let result = self.nodes(children, &mut body);
        self.locals.truncate(base);
        result?;
        let text = |attr: Option<Attr>| attr.map(|a| a.value).unwrap_or_default();
        Ok(Node::Foreach(Box::new(Foreach {
            collection: index_of,
            has_item,
            has_index,
            open: text(open),
            separator: text(separator),
            close: text(close),
            body,
        })))
    }
}

/// The type a parameter's values bind as: a list's item type; an identifier is text.
fn bind_type(param: &RequestParam) -> ScalarType {
    match param.param_type {
        ParamType::Scalar(scalar) | ParamType::Array(scalar) => scalar,
        ParamType::Identifier => ScalarType::String,
    }
}

fn unknown_name(name: &str) -> String {
    format!("unknown name `{name}`: not a parameter of this API or a <foreach> item or index")
}

/// Walks the tree for one call.
struct Renderer<'a> {
    out: SqlBuilder,
    /// Set at tag boundaries: the next write keeps itself apart from the previous token, as
    /// MyBatis does, so `1=1<if …>AND x</if>` does not glue into `1=1AND`.
    separate: bool,
    params: &'a [RequestParam],
    values: &'a ParamValues,
    /// Values of enclosing `<foreach>` items and indexes, by slot.
    locals: Vec<Value>,
}

impl Env for Renderer<'_> {
    fn get(&self, var: Var) -> Option<&Value> {
        match var {
            Var::Param(i) => self.values.get(i),
            Var::Local(slot) => self.locals.get(slot),
        }
    }
}

impl Renderer<'_> {
    fn keep_apart(&mut self, next: char) {
        if !std::mem::take(&mut self.separate) {
            return;
        }
        let sql = self.out.sql_mut();
        if let Some(prev) = sql.chars().next_back()
            && !prev.is_whitespace()
            && !next.is_whitespace()
            && prev != '('
            && !matches!(next, ')' | ',')
        {
            sql.push(' ');
        }
    }

    fn write(&mut self, text: &str) {
        if let Some(first) = text.chars().next() {
            self.keep_apart(first);
            self.out.push_sql(text);
        }
    }

    fn bind(&mut self, value: &Value) {
        self.keep_apart('?');
        match value {
            Value::Array(items) => self.out.push_list(items.clone()),
            value => self.out.push_bind(value.clone()),
        };
    }

    fn nodes(&mut self, nodes: &[Node]) -> Result<(), ApiError> {
        for node in nodes {
            self.node(node)?;
        }
        Ok(())
    }

    fn node(&mut self, node: &Node) -> Result<(), ApiError> {
        match node {
            Node::Sql(text) => self.write(text),
            Node::Bind(Var::Param(i)) => {
                let values = self.values;
                match values.get(*i) {
                    Some(value) => self.bind(value),
                    // MyBatis semantics: an absent parameter binds NULL (guard it with <if>),
                    // typed as the parameter is declared.
                    None => self.bind(&Value::TypedNull(bind_type(&self.params[*i]))),
                }
            }
            Node::Bind(Var::Local(slot)) => {
                let value = self.locals.get(*slot).cloned().unwrap_or(Value::Null);
                self.bind(&value);
            }
            Node::Ident(i) => self.ident(*i)?,
            Node::If(test, body) => {
                self.separate = true;
                if test.test(&*self) {
                    self.nodes(body)?;
                }
                self.separate = true;
            }
            Node::Choose(whens, otherwise) => {
                self.separate = true;
                let chosen = whens.iter().find(|(test, _)| test.test(&*self)).map_or(otherwise, |(_, body)| body);
                self.nodes(chosen)?;
                self.separate = true;
            }
            Node::Trim(trim) => self.trim(trim)?,
            Node::Foreach(foreach) => self.foreach(foreach)?,
        }
        Ok(())
    }

    /// `${name}`: re-checks the allow-list, so only a listed, valid name is ever spliced.
    fn ident(&mut self, index: usize) -> Result<(), ApiError> {
        let param = &self.params[index];
        match self.values.get(index) {
            None | Some(Value::Null) => Err(ApiError::missing_parameter(&param.name)),
            Some(Value::Text(name)) if param.allowed_values.contains(name) && validate_identifier(name).is_ok() => {
                self.keep_apart('"');
                self.out.push_ident(name);
                Ok(())
            }
            Some(other) => Err(ApiError::invalid_parameter(
                &param.name,
                &format!("one of {}", param.allowed_values.join(", ")),
                &match other {
                    Value::Text(t) => t.clone(),
                    other => other.to_json().to_string(),
                },
            )),
        }
    }

    /// Renders the body in place, then rewrites it: the builder's binds stay in order because
    /// only non-placeholder text is ever removed.
    fn trim(&mut self, trim: &Trim) -> Result<(), ApiError> {
        self.separate = true;
        let start = self.out.sql_mut().len();
        self.nodes(&trim.body)?;
        let content = self.out.sql_mut().split_off(start);
        let body = trim_body(&content, &trim.prefix_overrides, &trim.suffix_overrides);
        if !body.trim().is_empty() {
            self.separate = true;
            self.write(&trim.prefix);
            self.separate = true;
            self.write(body);
            self.separate = true;
            self.write(&trim.suffix);
        }
        self.separate = true;
        Ok(())
    }

    fn foreach(&mut self, foreach: &Foreach) -> Result<(), ApiError> {
        let values = self.values;
        let items = match values.get(foreach.collection) {
            None | Some(Value::Null) => return Ok(()),
            Some(Value::Array(items)) => items,
            Some(_) => {
                return Err(ApiError::invalid_parameter_because(
                    &self.params[foreach.collection].name,
                    "expected a list",
                ));
            }
        };
        if items.is_empty() {
            return Ok(());
        }
        self.separate = true;
        self.write(&foreach.open);
        let base = self.locals.len();
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.write(&foreach.separator);
            }
            if foreach.has_item {
                self.locals.push(item.clone());
            }
            if foreach.has_index {
                self.locals.push(Value::Int(i as i64));
            }
            let result = self.nodes(&foreach.body);
            self.locals.truncate(base);
            result?;
        }
        self.write(&foreach.close);
        self.separate = true;
        Ok(())
    }
}

/// The body of a trim: leading blanks and one prefix override removed, and one suffix override
/// removed from the end. Trailing blanks are kept, since they may end a `--` comment.
fn trim_body<'c>(content: &'c str, prefixes: &[String], suffixes: &[String]) -> &'c str {
    let mut body = content.trim_start();
    if let Some(rest) = prefixes.iter().find_map(|o| strip_word_prefix(body, o)) {
        body = rest.trim_start();
    }
    let core = body.trim_end();
    if let Some(kept) = suffixes.iter().find_map(|o| strip_word_suffix(core, o)) {
        body = kept;
    }
    body
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `text` without a leading `word` (case-insensitive), unless that would split a word: `OR`
/// must not strip the start of `ORDER`.
fn strip_word_prefix<'t>(text: &'t str, word: &str) -> Option<&'t str> {
    let head = text.get(..word.len())?;
    let rest = &text[word.len()..];
    let splits = word.ends_with(is_word_char) && rest.starts_with(is_word_char);
    (head.eq_ignore_ascii_case(word) && !splits).then_some(rest)
}

fn strip_word_suffix<'t>(text: &'t str, word: &str) -> Option<&'t str> {
    let cut = text.len().checked_sub(word.len())?;
    let tail = text.get(cut..)?;
    let rest = &text[..cut];
    let splits = word.starts_with(is_word_char) && rest.ends_with(is_word_char);
    (tail.eq_ignore_ascii_case(word) && !splits).then_some(rest)
}
