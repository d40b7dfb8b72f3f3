//! `test` expressions: a small OGNL subset, parsed once with names resolved, then evaluated
//! per call against the coerced parameter values.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::str::FromStr;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::sql::value::Value;

/// Deepest nesting of parentheses and `not`, against stack overflow.
const MAX_DEPTH: usize = 64;

/// What a name in a template refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Var {
    /// Index into the API's parameters.
    Param(usize),
    /// Slot of an enclosing `<foreach>` item or index.
    Local(usize),
}

/// What a variable may hold, for checking `.size()` and friends at compile time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Array,
    Text,
    Json,
    Other,
}

/// Values of variables at render time.
pub(super) trait Env {
    fn get(&self, var: Var) -> Option<&Value>;
}

/// An error at a byte offset into the expression.
#[derive(Debug)]
pub(super) struct ExprError {
    pub offset: usize,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone)]
pub(super) enum Expr {
    Lit(Value),
    Var(Var),
    /// `.size()` / `.length()`
    Len(Box<Expr>),
    IsEmpty(Box<Expr>),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
}

impl Expr {
    /// Whether the test passes: null and false fail, every other value passes.
    pub fn test(&self, env: &dyn Env) -> bool {
        truthy(&self.eval(env))
    }

    fn eval<'a>(&'a self, env: &'a dyn Env) -> Cow<'a, Value> {
        match self {
            Expr::Lit(v) => Cow::Borrowed(v),
            Expr::Var(var) => env.get(*var).map_or(Cow::Owned(Value::Null), Cow::Borrowed),
            Expr::Len(inner) => Cow::Owned(length(&inner.eval(env)).map_or(Value::Null, |n| Value::Int(n as i64))),
            Expr::IsEmpty(inner) => {
                let value = inner.eval(env);
                // An absent value counts as empty, so `!ids.isEmpty()` also guards presence.
                Cow::Owned(Value::Bool(value.is_null() || length(&value) == Some(0)))
            }
            Expr::Not(inner) => Cow::Owned(Value::Bool(!inner.test(env))),
            Expr::And(a, b) => Cow::Owned(Value::Bool(a.test(env) && b.test(env))),
            Expr::Or(a, b) => Cow::Owned(Value::Bool(a.test(env) || b.test(env))),
            Expr::Cmp(op, a, b) => {
                let (a, b) = (a.eval(env), b.eval(env));
                Cow::Owned(Value::Bool(compare(*op, &a, &b)))
            }
        }
    }
}

fn truthy(value: &Value) -> bool {
    match value {
        Value::Null | Value::TypedNull(_) => false,
        Value::Bool(b) => *b,
        _ => true,
    }
}

fn length(value: &Value) -> Option<usize> {
    match value {
        Value::Array(items) => Some(items.len()),
        Value::Text(s) => Some(s.chars().count()),
        Value::Json(serde_json::Value::Array(items)) => Some(items.len()),
        Value::Json(serde_json::Value::String(s)) => Some(s.chars().count()),
        Value::Json(serde_json::Value::Object(map)) => Some(map.len()),
        _ => None,
    }
}

fn compare(op: CmpOp, a: &Value, b: &Value) -> bool {
    match op {
        CmpOp::Eq => equal(a, b),
        CmpOp::Ne => !equal(a, b),
        CmpOp::Lt => order(a, b) == Some(Ordering::Less),
        CmpOp::Le => matches!(order(a, b), Some(Ordering::Less | Ordering::Equal)),
        CmpOp::Gt => order(a, b) == Some(Ordering::Greater),
        CmpOp::Ge => matches!(order(a, b), Some(Ordering::Greater | Ordering::Equal)),
    }
}

/// Numbers equal numerically; otherwise values of different types are never equal.
fn equal(a: &Value, b: &Value) -> bool {
    match order(a, b) {
        Some(ordering) => ordering == Ordering::Equal,
        None => a == b,
    }
}

/// Numbers order numerically, strings lexically, dates by time; anything else is unordered.
fn order(a: &Value, b: &Value) -> Option<Ordering> {
    use Value as V;
    match (a, b) {
        (V::Int(x), V::Int(y)) => Some(x.cmp(y)),
        (V::Float(_), _) | (_, V::Float(_)) => as_f64(a)?.partial_cmp(&as_f64(b)?),
        (V::Int(_) | V::Decimal(_), V::Int(_) | V::Decimal(_)) => Some(as_decimal(a)?.cmp(&as_decimal(b)?)),
        (V::Text(x), V::Text(y)) => Some(x.cmp(y)),
        (V::Date(x), V::Date(y)) => Some(x.cmp(y)),
        (V::DateTime(x), V::DateTime(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn as_f64(value: &Value) -> Option<f64> {
    match value {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        Value::Decimal(d) => d.to_f64(),
        _ => None,
    }
}

fn as_decimal(value: &Value) -> Option<Decimal> {
    match value {
        Value::Int(i) => Some(Decimal::from(*i)),
        Value::Decimal(d) => Some(*d),
        _ => None,
    }
}

// ---- parsing ----

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Num(Value),
    Str(String),
    Sym(&'static str),
}

/// Operator words, which cannot name variables.
const KEYWORDS: &[&str] = &["and", "or", "not", "eq", "neq", "lt", "lte", "gt", "gte"];

const SYMBOLS: &[&str] = &["==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "(", ")", ".", "-"];

fn lex(text: &str) -> Result<Vec<(Tok, usize)>, ExprError> {
    let err = |offset, message: String| Err(ExprError { offset, message });
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(at, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c.is_ascii_alphabetic() || c == '_' || c == '$' {
            let mut word = String::new();
            while let Some(&(_, c)) = chars.peek() {
                if !(c.is_ascii_alphanumeric() || c == '_' || c == '$') {
                    break;
                }
                word.push(c);
                chars.next();
            }
            tokens.push((Tok::Word(word), at));
        } else if c.is_ascii_digit() {
            let mut digits = String::new();
            while let Some(&(i, c)) = chars.peek() {
                // A `.` is part of the number only when a digit follows (`1.5`, not `x.size`).
                let fraction =
                    c == '.' && !digits.contains('.') && text[i + 1..].starts_with(|d: char| d.is_ascii_digit());
                if !(c.is_ascii_digit() || fraction) {
                    break;
                }
                digits.push(c);
                chars.next();
            }
            let value = if digits.contains('.') {
                Decimal::from_str(&digits).ok().map(Value::Decimal)
            } else {
                digits.parse().ok().map(Value::Int)
            };
            match value {
                Some(v) => tokens.push((Tok::Num(v), at)),
                None => return err(at, format!("the number `{digits}` is too large")),
            }
        } else if c == '\'' || c == '"' {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    None => return err(at, "this string is never closed".into()),
                    Some((_, q)) if q == c => break,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, 'n')) => s.push('\n'),
                        Some((_, 't')) => s.push('\t'),
                        Some((_, other)) => s.push(other),
                        None => return err(at, "this string is never closed".into()),
                    },
                    Some((_, other)) => s.push(other),
                }
            }
            tokens.push((Tok::Str(s), at));
        } else if let Some(sym) = SYMBOLS.iter().find(|s| text[at..].starts_with(**s)) {
            for _ in 0..sym.len() {
                chars.next();
            }
            tokens.push((Tok::Sym(sym), at));
        } else {
            let hint = match c {
                '=' => "; compare with `==`",
                '&' => "; write `&&` or `and`",
                '|' => "; write `||` or `or`",
                _ => "",
            };
            return err(at, format!("unexpected `{c}`{hint}"));
        }
    }
    Ok(tokens)
}

/// Parses `text`, resolving each variable name with `resolve`.
pub(super) fn parse(text: &str, resolve: &dyn Fn(&str) -> Option<(Var, Kind)>) -> Result<Expr, ExprError> {
    let tokens = lex(text)?;
    if tokens.is_empty() {
        return Err(ExprError { offset: 0, message: "the test is empty".into() });
    }
    let mut p = ExprParser { tokens, pos: 0, end: text.len(), depth: 0, resolve };
    let expr = p.or()?;
    match p.tokens.get(p.pos) {
        None => Ok(expr),
        Some((tok, at)) => Err(ExprError { offset: *at, message: format!("unexpected {}", describe(tok)) }),
    }
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Word(w) => format!("`{w}`"),
        Tok::Num(n) => format!("number {}", n.to_json()),
        Tok::Str(s) => format!("string '{s}'"),
        Tok::Sym(s) => format!("`{s}`"),
    }
}

struct ExprParser<'r> {
    tokens: Vec<(Tok, usize)>,
    pos: usize,
    end: usize,
    depth: usize,
    resolve: &'r dyn Fn(&str) -> Option<(Var, Kind)>,
}

impl ExprParser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos).map(|(t, _)| t)
    }

    fn offset(&self) -> usize {
        self.tokens.get(self.pos).map_or(self.end, |(_, at)| *at)
    }

    fn error<T>(&self, message: impl Into<String>) -> Result<T, ExprError> {
        Err(ExprError { offset: self.offset(), message: message.into() })
    }

    /// Consumes the next token if it is one of `symbols` or (case-insensitively) `words`.
    fn eat(&mut self, symbols: &[&str], words: &[&str]) -> Option<usize> {
        let hit = match self.peek()? {
            Tok::Sym(s) => symbols.iter().position(|x| x == s),
            Tok::Word(w) => words.iter().position(|x| x.eq_ignore_ascii_case(w)).map(|i| i + symbols.len()),
            _ => None,
        };
        if hit.is_some() {
            self.pos += 1;
        }
        hit
    }

    fn nest(&mut self) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.error(format!("the test nests deeper than {MAX_DEPTH} levels"));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, ExprError> {
        let mut left = self.and()?;
        while self.eat(&["||"], &["or"]).is_some() {
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, ExprError> {
        let mut left = self.not()?;
        while self.eat(&["&&"], &["and"]).is_some() {
            left = Expr::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, ExprError> {
        if self.eat(&["!"], &["not"]).is_some() {
            self.nest()?;
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, ExprError> {
        let left = self.postfix()?;
        const OPS: [CmpOp; 6] = [CmpOp::Eq, CmpOp::Ne, CmpOp::Lt, CmpOp::Le, CmpOp::Gt, CmpOp::Ge];
        let Some(i) = self.eat(&["==", "!=", "<", "<=", ">", ">="], &["eq", "neq", "lt", "lte", "gt", "gte"]) else {
            return Ok(left);
        };
        let right = self.postfix()?;
        Ok(Expr::Cmp(OPS[i % 6], Box::new(left), Box::new(right)))
    }

    fn postfix(&mut self) -> Result<Expr, ExprError> {
        let (mut expr, mut kind) = self.primary()?;
        while self.eat(&["."], &[]).is_some() {
            let method_at = self.offset();
            let method = match self.peek() {
                Some(Tok::Word(w)) => w.clone(),
                _ => return self.error("expected `size()`, `length()` or `isEmpty()` after `.`"),
            };
            self.pos += 1;
            if self.eat(&["("], &[]).is_none() || self.eat(&[")"], &[]).is_none() {
                return self.error(format!("write `{method}()` with empty parentheses"));
            }
            if !matches!(kind, Kind::Array | Kind::Text | Kind::Json) {
                return Err(ExprError {
                    offset: method_at,
                    message: format!("`{method}()` applies only to arrays and strings"),
                });
            }
            expr = match method.as_str() {
                "size" | "length" => Expr::Len(Box::new(expr)),
                "isEmpty" => Expr::IsEmpty(Box::new(expr)),
                _ => {
                    return Err(ExprError {
                        offset: method_at,
                        message: format!("unknown method `{method}()`: use `size()`, `length()` or `isEmpty()`"),
                    });
                }
            };
            kind = Kind::Other;
        }
        Ok(expr)
    }

    fn primary(&mut self) -> Result<(Expr, Kind), ExprError> {
        let at = self.offset();
        let Some(tok) = self.peek().cloned() else {
            return self.error("the test ends too early");
        };
        self.pos += 1;
        Ok(match tok {
            Tok::Num(n) => (Expr::Lit(n), Kind::Other),
            Tok::Str(s) => (Expr::Lit(Value::Text(s)), Kind::Text),
            Tok::Sym("-") => match self.peek().cloned() {
                Some(Tok::Num(n)) => {
                    self.pos += 1;
                    let negated = match n {
                        Value::Int(i) => Value::Int(-i),
                        Value::Decimal(d) => Value::Decimal(-d),
                        other => other,
                    };
                    (Expr::Lit(negated), Kind::Other)
                }
                _ => return self.error("`-` must be followed by a number"),
            },
            Tok::Sym("(") => {
                self.nest()?;
                let inner = self.or()?;
                if self.eat(&[")"], &[]).is_none() {
                    return self.error("expected `)`");
                }
                self.depth -= 1;
                (inner, Kind::Other)
            }
            Tok::Word(w) => match w.as_str() {
                "null" => (Expr::Lit(Value::Null), Kind::Other),
                "true" => (Expr::Lit(Value::Bool(true)), Kind::Other),
                "false" => (Expr::Lit(Value::Bool(false)), Kind::Other),
                _ if KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(&w)) => {
                    return Err(ExprError { offset: at, message: format!("unexpected `{w}`") });
                }
                _ => match (self.resolve)(&w) {
                    Some((var, kind)) => (Expr::Var(var), kind),
                    None => {
                        return Err(ExprError {
                            offset: at,
                            message: format!(
                                "unknown name `{w}`: not a parameter of this API or a <foreach> item or index"
                            ),
                        });
                    }
                },
            },
            other => {
                return Err(ExprError { offset: at, message: format!("unexpected {}", describe(&other)) });
            }
        })
    }
}
