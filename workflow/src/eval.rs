//! Evaluating conditions. Numbers are f64; `==`/`!=` compare numbers numerically and other values
//! as JSON (a number never equals a string); `< <= > >=` take two numbers or two strings; `+`
//! adds numbers or joins strings; `- * / %` take numbers (`%` has the sign of the left side);
//! `! && ||` take booleans and `&&`/`||` do not evaluate their right side when the left decides.
//! Anything else is a typed [`EvalError`], never a panic.

use std::borrow::Cow;

use serde_json::Value;

use crate::expr::{BinOp, Condition, Expr};
use crate::reference::Scope;

/// Why a condition could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    #[error("`{op}` cannot take {left} and {right}")]
    Types { op: &'static str, left: &'static str, right: &'static str },
    #[error("`{op}` cannot take {operand}")]
    Type { op: &'static str, operand: &'static str },
    #[error("division by zero")]
    DivisionByZero,
    #[error("the result is not a finite number")]
    NotFinite,
    #[error("the condition gives {got}, not a boolean")]
    NotBoolean { got: &'static str },
}

/// An intermediate value: numbers as f64, JSON borrowed where it can be.
#[derive(Debug, Clone)]
enum Val<'a> {
    Num(f64),
    Str(Cow<'a, str>),
    Bool(bool),
    Null,
    Json(Cow<'a, Value>),
}

impl<'a> Val<'a> {
    fn from_json(value: Cow<'a, Value>) -> Val<'a> {
        match value {
            Cow::Borrowed(Value::Number(n)) => Val::Num(n.as_f64().unwrap_or(f64::NAN)),
            Cow::Borrowed(Value::String(s)) => Val::Str(Cow::Borrowed(s)),
            Cow::Borrowed(Value::Bool(b)) => Val::Bool(*b),
            Cow::Borrowed(Value::Null) => Val::Null,
            Cow::Owned(Value::Number(n)) => Val::Num(n.as_f64().unwrap_or(f64::NAN)),
            Cow::Owned(Value::String(s)) => Val::Str(Cow::Owned(s)),
            Cow::Owned(Value::Bool(b)) => Val::Bool(b),
            Cow::Owned(Value::Null) => Val::Null,
            other => Val::Json(other),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Val::Num(_) => "a number",
            Val::Str(_) => "a string",
            Val::Bool(_) => "a boolean",
            Val::Null => "null",
            Val::Json(v) if v.is_array() => "an array",
            Val::Json(_) => "an object",
        }
    }

    fn into_json(self) -> Value {
        match self {
            Val::Num(n) => serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number),
            Val::Str(s) => Value::String(s.into_owned()),
            Val::Bool(b) => Value::Bool(b),
            Val::Null => Value::Null,
            Val::Json(v) => v.into_owned(),
        }
    }
}

fn equal(l: &Val, r: &Val) -> bool {
    match (l, r) {
        (Val::Num(a), Val::Num(b)) => a == b,
        (Val::Str(a), Val::Str(b)) => a == b,
        (Val::Bool(a), Val::Bool(b)) => a == b,
        (Val::Null, Val::Null) => true,
        (Val::Json(a), Val::Json(b)) => a == b,
        _ => false,
    }
}

fn number(n: f64) -> Result<Val<'static>, EvalError> {
    if n.is_finite() { Ok(Val::Num(n)) } else { Err(EvalError::NotFinite) }
}

fn eval<'a>(expr: &'a Expr, scope: &'a dyn Scope) -> Result<Val<'a>, EvalError> {
    Ok(match expr {
        Expr::Num(n) => Val::Num(*n),
        Expr::Str(s) => Val::Str(Cow::Borrowed(s)),
        Expr::Bool(b) => Val::Bool(*b),
        Expr::Null => Val::Null,
        Expr::Ref(r) => Val::from_json(r.resolve(scope)),
        Expr::Not(e) => match eval(e, scope)? {
            Val::Bool(b) => Val::Bool(!b),
            other => return Err(EvalError::Type { op: "!", operand: other.kind() }),
        },
        Expr::Neg(e) => match eval(e, scope)? {
            Val::Num(n) => Val::Num(-n),
            other => return Err(EvalError::Type { op: "-", operand: other.kind() }),
        },
        Expr::Binary(op @ (BinOp::And | BinOp::Or), l, r) => {
            let left = match eval(l, scope)? {
                Val::Bool(b) => b,
                other => return Err(EvalError::Types { op: op.as_str(), left: other.kind(), right: "anything" }),
            };
            // Short circuit: the left side decides.
            if left == (*op == BinOp::Or) {
                return Ok(Val::Bool(left));
            }
            match eval(r, scope)? {
                Val::Bool(b) => Val::Bool(b),
                other => return Err(EvalError::Types { op: op.as_str(), left: "a boolean", right: other.kind() }),
            }
        }
        Expr::Binary(op, l, r) => binary(*op, eval(l, scope)?, eval(r, scope)?)?,
    })
}

fn binary<'a>(op: BinOp, left: Val<'a>, right: Val<'a>) -> Result<Val<'a>, EvalError> {
    let mismatch = |l: &Val, r: &Val| EvalError::Types { op: op.as_str(), left: l.kind(), right: r.kind() };
    Ok(match op {
        BinOp::Eq => Val::Bool(equal(&left, &right)),
        BinOp::Ne => Val::Bool(!equal(&left, &right)),
        BinOp::Gt | BinOp::Ge | BinOp::Lt | BinOp::Le => {
            let ordering = match (&left, &right) {
                (Val::Num(a), Val::Num(b)) => a.partial_cmp(b),
                (Val::Str(a), Val::Str(b)) => Some(a.cmp(b)),
                _ => return Err(mismatch(&left, &right)),
            };
            let Some(ordering) = ordering else { return Err(EvalError::NotFinite) };
            Val::Bool(match op {
                BinOp::Gt => ordering.is_gt(),
                BinOp::Ge => ordering.is_ge(),
                BinOp::Lt => ordering.is_lt(),
                _ => ordering.is_le(),
            })
        }
        BinOp::Add => match (left, right) {
            (Val::Num(a), Val::Num(b)) => number(a + b)?,
            (Val::Str(a), Val::Str(b)) => Val::Str(Cow::Owned(format!("{a}{b}"))),
            (l, r) => return Err(mismatch(&l, &r)),
        },
        BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem => {
            let (Val::Num(a), Val::Num(b)) = (&left, &right) else { return Err(mismatch(&left, &right)) };
            let (a, b) = (*a, *b);
            match op {
                BinOp::Sub => number(a - b)?,
                BinOp::Mul => number(a * b)?,
                _ if b == 0.0 => return Err(EvalError::DivisionByZero),
                BinOp::Div => number(a / b)?,
                _ => number(a % b)?,
            }
        }
        // Handled with short circuit in `eval`.
        BinOp::And | BinOp::Or => return Err(mismatch(&left, &right)),
    })
}

impl Condition {
    /// The condition's value as JSON (numbers as f64).
    pub fn value(&self, scope: &dyn Scope) -> Result<Value, EvalError> {
        eval(&self.expr, scope).map(Val::into_json)
    }

    /// Whether the condition holds; a value other than a boolean is an error.
    pub fn evaluate(&self, scope: &dyn Scope) -> Result<bool, EvalError> {
        match eval(&self.expr, scope)? {
            Val::Bool(b) => Ok(b),
            other => Err(EvalError::NotBoolean { got: other.kind() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::Ref;
    use serde_json::json;

    struct Outputs(Value, Value);

    impl Scope for Outputs {
        fn previous(&self) -> &Value {
            &self.0
        }
        fn output(&self, r: &Ref) -> Option<&Value> {
            self.1.get(r.node.as_deref()?)
        }
    }

    fn check(text: &str) -> Result<bool, EvalError> {
        let scope = Outputs(json!({"user_id": 1, "name": "ann", "tags": [1, 2]}), json!({"START": {"vip": true}}));
        Condition::parse(text).expect(text).evaluate(&scope)
    }

    #[test]
    fn the_seeds_branches() {
        assert_eq!(check("$.user_id != 1"), Ok(false));
        assert_eq!(check("$.user_id == 1"), Ok(true));
    }

    #[test]
    fn operators_follow_the_documented_rules() {
        assert_eq!(check("${START.vip} && $.name == 'ann' && $.name + '!' == 'ann!'"), Ok(true));
        assert_eq!(check("(1 + 2) * 3 % 4 == 1 && 7 / 2 == 3.5 && -1 < 0 && 'a' < 'b'"), Ok(true));
        assert_eq!(check("$.missing == null && $.tags == ${N}"), Ok(false));
        assert_eq!(check("false && 1 / 0"), Ok(false));
        assert_eq!(check("true || 'x'"), Ok(true));
        assert_eq!(check("1 == '1'"), Ok(false));
    }

    #[test]
    fn type_errors_are_typed() {
        assert_eq!(check("1 / 0 == 1"), Err(EvalError::DivisionByZero));
        assert_eq!(check("1 + 1"), Err(EvalError::NotBoolean { got: "a number" }));
        assert_eq!(check("$.name > 1"), Err(EvalError::Types { op: ">", left: "a string", right: "a number" }));
        assert_eq!(check("!$.tags"), Err(EvalError::Type { op: "!", operand: "an array" }));
        assert_eq!(check("1e300 * 1e300 > 0"), Err(EvalError::NotFinite));
    }
}
