//! Checks a function's source and turns it into the program monty runs.
//!
//! The source is parsed here first (with the same ruff parser monty uses) so
//! that refusals come with the user's line: a missing `handler(event,
//! context)`, and every `import` of a module outside the allow-list, wherever
//! it sits (a refused import inside a function that never runs is refused
//! too: a function's permissions should be readable from its text).
//!
//! monty has `json`, `re` and `math`; `time` and `random` are small Python
//! stand-ins (`prelude_*.py`) prepended to the program only when imported.
//! Their import statements are rewritten in place into plain assignments on
//! the same lines, and the prelude's lines are subtracted from every line
//! reported, so users see their own line numbers.

use ruff_python_ast::statement_visitor::{StatementVisitor, walk_stmt};
use ruff_python_ast::{Stmt, StmtImport, StmtImportFrom};

use crate::FunctionError;

/// Largest source accepted.
pub const MAX_SOURCE_BYTES: usize = 64 * 1024;

/// Modules monty implements natively and users may import.
const NATIVE: [&str; 3] = ["json", "re", "math"];

const TIME_PRELUDE: &str = include_str!("prelude_time.py");
const RANDOM_PRELUDE: &str = include_str!("prelude_random.py");

/// What `from time import …` may name.
const TIME_NAMES: [&str; 7] =
    ["time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns", "sleep"];

/// What `from random import …` may name.
const RANDOM_NAMES: [&str; 12] = [
    "random",
    "randint",
    "randrange",
    "choice",
    "choices",
    "shuffle",
    "uniform",
    "sample",
    "seed",
    "getrandbits",
    "gauss",
    "Random",
];

/// Names of the program's inputs, in the order the runner passes them.
pub(crate) const INPUTS: [&str; 3] = ["_sluice_event", "_sluice_context", "_sluice_seed"];

/// The program to hand to monty, and how to map its lines back.
#[derive(Debug)]
pub(crate) struct Program {
    pub(crate) code: String,
    /// Lines of prelude before the user's first line.
    pub(crate) line_offset: u32,
    /// Lines in the user's source; a line past it is the runner's own call.
    pub(crate) user_lines: u32,
}

impl Program {
    /// Maps a line of the program to the user's line, if it is one.
    pub(crate) fn user_line(&self, line: u32) -> Option<u32> {
        let line = line.checked_sub(self.line_offset)?;
        (1..=self.user_lines).contains(&line).then_some(line)
    }
}

/// Checks `source` and builds the program.
pub(crate) fn prepare(source: &str) -> Result<Program, FunctionError> {
    if source.len() > MAX_SOURCE_BYTES {
        return Err(compile_error(format!("source is larger than {MAX_SOURCE_BYTES} bytes"), None));
    }
    let parsed = ruff_python_parser::parse_module(source).map_err(|e| {
        let line = line_of(source, e.location.start().to_usize());
        compile_error(format!("syntax error: {}", e.error), Some(line))
    })?;
    let module = parsed.syntax();
    check_handler(&module.body)?;

    let mut imports = Imports { source, edits: Vec::new(), error: None, time: false, random: false };
    imports.visit_body(&module.body);
    if let Some(error) = imports.error {
        return Err(error);
    }

    let mut code = String::with_capacity(source.len() + 4096);
    if imports.time {
        code.push_str(TIME_PRELUDE);
    }
    if imports.random {
        code.push_str(RANDOM_PRELUDE);
    }
    let line_offset = count_lines(&code);
    let mut last = 0;
    imports.edits.sort_by_key(|e| e.start);
    for edit in &imports.edits {
        code.push_str(source.get(last..edit.start).unwrap_or_default());
        code.push_str(&edit.text);
        last = edit.end;
    }
    code.push_str(source.get(last..).unwrap_or_default());
    // The call runs on a line of its own after the user's code, so the
    // module's value (what monty returns) is the handler's answer.
    code.push_str("\nhandler(_sluice_event, _sluice_context)\n");
    Ok(Program { code, line_offset, user_lines: count_lines(source).max(1) })
}

fn compile_error(message: String, line: Option<u32>) -> FunctionError {
    FunctionError::Compile { message, line }
}

fn count_lines(text: &str) -> u32 {
    u32::try_from(text.bytes().filter(|b| *b == b'\n').count()).unwrap_or(u32::MAX)
}

/// 1-based line of byte `offset` in `source`.
fn line_of(source: &str, offset: usize) -> u32 {
    let before = source.get(..offset).unwrap_or(source);
    count_lines(before).saturating_add(1)
}

/// Refuses a module without a top-level `def handler(event, context)`.
fn check_handler(body: &[Stmt]) -> Result<(), FunctionError> {
    let handler = body.iter().rev().find_map(|stmt| match stmt {
        Stmt::FunctionDef(def) if def.name.as_str() == "handler" => Some(def),
        _ => None,
    });
    let Some(def) = handler else {
        return Err(compile_error("no top-level `def handler(event, context)`".to_owned(), None));
    };
    let p = &def.parameters;
    let positional = p.posonlyargs.len() + p.args.len();
    if def.is_async || positional != 2 || p.vararg.is_some() || !p.kwonlyargs.is_empty() {
        return Err(compile_error(
            "`handler` must be `def handler(event, context)`: two positional parameters".to_owned(),
            None,
        ));
    }
    Ok(())
}

/// One in-place replacement of an import statement.
struct Edit {
    start: usize,
    end: usize,
    text: String,
}

/// Visits every statement (nested ones included) and plans the rewrites.
struct Imports<'s> {
    source: &'s str,
    edits: Vec<Edit>,
    error: Option<FunctionError>,
    time: bool,
    random: bool,
}

impl Imports<'_> {
    fn refuse(&mut self, message: String, offset: usize) {
        if self.error.is_none() {
            let line = line_of(self.source, offset);
            self.error = Some(compile_error(message, Some(line)));
        }
    }

    /// The stand-in object of `module`, or `None` when it is native.
    fn stand_in(&mut self, module: &str, offset: usize) -> Option<Option<&'static str>> {
        match module {
            m if NATIVE.contains(&m) => Some(None),
            "time" => {
                self.time = true;
                Some(Some("_sluice_time"))
            }
            "random" => {
                self.random = true;
                Some(Some("_sluice_random"))
            }
            other => {
                self.refuse(
                    format!(
                        "import of module '{other}' is not allowed \
                         (allowed: json, re, math, time, random)"
                    ),
                    offset,
                );
                None
            }
        }
    }

    fn import(&mut self, stmt: &StmtImport) {
        let start = stmt.range.start().to_usize();
        let mut parts = Vec::new();
        let mut rewritten = false;
        for alias in &stmt.names {
            let name = alias.name.as_str();
            let bound = alias.asname.as_ref().map_or(name, |a| a.as_str());
            match self.stand_in(name, start) {
                None => return,
                Some(None) => parts.push(match &alias.asname {
                    Some(a) => format!("import {name} as {}", a.as_str()),
                    None => format!("import {name}"),
                }),
                Some(Some(object)) => {
                    rewritten = true;
                    parts.push(format!("{bound} = {object}"));
                }
            }
        }
        if rewritten {
            self.edit(start, stmt.range.end().to_usize(), &parts);
        }
    }

    fn import_from(&mut self, stmt: &StmtImportFrom) {
        let start = stmt.range.start().to_usize();
        let module = stmt.module.as_ref().map_or("", |m| m.as_str());
        if stmt.level > 0 || module.is_empty() {
            self.refuse("relative imports are not allowed".to_owned(), start);
            return;
        }
        let Some(Some(object)) = self.stand_in(module, start) else {
            return;
        };
        let allowed: &[&str] = if module == "time" { &TIME_NAMES } else { &RANDOM_NAMES };
        let mut parts = Vec::new();
        for alias in &stmt.names {
            let name = alias.name.as_str();
            if !allowed.contains(&name) {
                self.refuse(format!("cannot import name '{name}' from '{module}'"), start);
                return;
            }
            let bound = alias.asname.as_ref().map_or(name, |a| a.as_str());
            parts.push(format!("{bound} = {object}.{name}"));
        }
        self.edit(start, stmt.range.end().to_usize(), &parts);
    }

    /// Replaces `start..end` with `parts` on one logical line, keeping the
    /// statement's line breaks (as continuations) so later lines keep their
    /// numbers.
    fn edit(&mut self, start: usize, end: usize, parts: &[String]) {
        let original = self.source.get(start..end).unwrap_or_default();
        let mut text = parts.join("; ");
        for _ in 0..count_lines(original) {
            text.push_str(" \\\n");
        }
        self.edits.push(Edit { start, end, text });
    }
}

impl<'a> StatementVisitor<'a> for Imports<'_> {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        match stmt {
            Stmt::Import(import) => self.import(import),
            Stmt::ImportFrom(import) => self.import_from(import),
            _ => walk_stmt(self, stmt),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_stand_in_imports_on_the_same_lines() {
        let src = "import json, time as t\nfrom random import (\n  randint,\n)\ndef handler(e, c):\n    return 1\n";
        let p = prepare(src).unwrap();
        let user: Vec<&str> = p.code.lines().skip(p.line_offset as usize).collect();
        assert_eq!(user[0], "import json; t = _sluice_time");
        assert_eq!(user[1..4], ["randint = _sluice_random.randint \\", " \\", ""]);
        assert_eq!(user[4], "def handler(e, c):");
        assert_eq!(count_lines(&p.code) - p.line_offset, 8);
    }

    #[test]
    fn refuses_other_modules_with_their_line() {
        let src = "def handler(e, c):\n    if e:\n        import os\n    return 1\n";
        let err = prepare(src).unwrap_err();
        assert!(matches!(err, FunctionError::Compile { line: Some(3), .. }), "{err:?}");
        let err = prepare("from os import path\ndef handler(e, c):\n    return 1\n").unwrap_err();
        assert!(err.to_string().contains("'os'"), "{err}");
    }

    #[test]
    fn requires_the_handler() {
        assert!(prepare("def handle(e, c):\n    return 1\n").is_err());
        assert!(prepare("def handler(e):\n    return 1\n").is_err());
        assert!(prepare("def handler(e, c):\n    return 1\n").is_ok());
        let err = prepare("def handler(e, c):\n  return (\n").unwrap_err();
        assert!(matches!(err, FunctionError::Compile { line: Some(_), .. }), "{err:?}");
    }
}
