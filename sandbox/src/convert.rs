//! JSON in, JSON out: converts between `serde_json::Value` and monty objects.
//!
//! The way out is strict, like `json.dumps(allow_nan=False)` with string keys
//! only: anything without one obvious JSON form is refused rather than
//! guessed at, so a workflow never passes on a value the next node cannot
//! read back.

use monty_types::{DictPairs, MontyObject};
use num_traits::ToPrimitive;
use serde_json::{Map, Number, Value};

use crate::FunctionError;

/// Largest answer, in bytes of compact JSON.
pub const MAX_OUTPUT_BYTES: usize = 1024 * 1024;

/// Deepest nesting accepted in an answer; JSON readers downstream (and this
/// converter's own recursion) should not meet pathological depths.
const MAX_DEPTH: usize = 128;

/// Converts a JSON value into the monty object Python code sees.
pub(crate) fn to_monty(value: &Value) -> MontyObject {
    match value {
        Value::Null => MontyObject::None,
        Value::Bool(b) => MontyObject::Bool(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                MontyObject::Int(i)
            } else if let Some(u) = n.as_u64() {
                MontyObject::BigInt(u.into())
            } else {
                MontyObject::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Value::String(s) => MontyObject::String(s.clone()),
        Value::Array(items) => MontyObject::List(items.iter().map(to_monty).collect()),
        Value::Object(map) => MontyObject::Dict(DictPairs::from(
            map.iter().map(|(k, v)| (MontyObject::String(k.clone()), to_monty(v))).collect::<Vec<_>>(),
        )),
    }
}

/// Converts the handler's answer to JSON, refusing non-JSON values and
/// answers over [`MAX_OUTPUT_BYTES`].
pub(crate) fn to_json(object: MontyObject) -> Result<Value, FunctionError> {
    let mut budget = Budget { bytes: 0 };
    let value = budget.convert(object, 0)?;
    // The running estimate counts strings by length; escapes can make the
    // real text up to six times longer, so measure exactly when it matters.
    if budget.bytes > MAX_OUTPUT_BYTES / 6 {
        let exact = serde_json::to_vec(&value)
            .map_err(|e| FunctionError::Internal(format!("serialising the answer: {e}")))?
            .len();
        if exact > MAX_OUTPUT_BYTES {
            return Err(too_large());
        }
    }
    Ok(value)
}

fn too_large() -> FunctionError {
    FunctionError::OutputTooLarge { limit_bytes: MAX_OUTPUT_BYTES }
}

fn not_json(what: impl Into<String>) -> FunctionError {
    FunctionError::NotJson(what.into())
}

struct Budget {
    bytes: usize,
}

impl Budget {
    fn spend(&mut self, bytes: usize) -> Result<(), FunctionError> {
        self.bytes = self.bytes.saturating_add(bytes);
        if self.bytes > MAX_OUTPUT_BYTES {
            return Err(too_large());
        }
        Ok(())
    }

    fn convert(&mut self, object: MontyObject, depth: usize) -> Result<Value, FunctionError> {
        if depth > MAX_DEPTH {
            return Err(not_json(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        Ok(match object {
            MontyObject::None => {
                self.spend(4)?;
                Value::Null
            }
            MontyObject::Bool(b) => {
                self.spend(5)?;
                Value::Bool(b)
            }
            MontyObject::Int(i) => {
                self.spend(20)?;
                Value::from(i)
            }
            MontyObject::BigInt(big) => {
                self.spend(20)?;
                if let Some(i) = big.to_i64() {
                    Value::from(i)
                } else if let Some(u) = big.to_u64() {
                    Value::from(u)
                } else {
                    return Err(not_json("an integer outside the 64-bit range"));
                }
            }
            MontyObject::Float(f) => {
                self.spend(24)?;
                Value::Number(Number::from_f64(f).ok_or_else(|| not_json(format!("the float {f}")))?)
            }
            MontyObject::String(s) => {
                self.spend(s.len().saturating_add(2))?;
                Value::String(s)
            }
            MontyObject::List(items) | MontyObject::Tuple(items) => self.array(items, depth)?,
            MontyObject::NamedTuple { values, .. } => self.array(values, depth)?,
            MontyObject::Dict(pairs) => {
                self.spend(2)?;
                let mut map = Map::new();
                for (key, value) in pairs {
                    let MontyObject::String(key) = key else {
                        return Err(not_json(format!(
                            "a dict key of type {} (JSON keys are strings)",
                            key.type_name()
                        )));
                    };
                    self.spend(key.len().saturating_add(4))?;
                    let value = self.convert(value, depth + 1)?;
                    map.insert(key, value);
                }
                Value::Object(map)
            }
            other => return Err(not_json(format!("a value of type {}", other.type_name()))),
        })
    }

    fn array(&mut self, items: Vec<MontyObject>, depth: usize) -> Result<Value, FunctionError> {
        self.spend(2)?;
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            self.spend(1)?;
            out.push(self.convert(item, depth + 1)?);
        }
        Ok(Value::Array(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_json() {
        let v = json!({"a": [1, -2, 1.5, "x", null, true, {"b": {}}], "big": u64::MAX});
        assert_eq!(to_json(to_monty(&v)).unwrap(), v);
    }

    #[test]
    fn refuses_what_json_cannot_say() {
        let nan = MontyObject::Float(f64::NAN);
        assert!(matches!(to_json(nan), Err(FunctionError::NotJson(_))));
        let int_key = MontyObject::Dict(DictPairs::from(vec![(MontyObject::Int(1), MontyObject::None)]));
        assert!(matches!(to_json(int_key), Err(FunctionError::NotJson(_))));
        let set = MontyObject::Set(vec![]);
        assert!(matches!(to_json(set), Err(FunctionError::NotJson(_))));
        let big = MontyObject::String("x".repeat(MAX_OUTPUT_BYTES + 1));
        assert!(matches!(to_json(big), Err(FunctionError::OutputTooLarge { .. })));
        let escaped = MontyObject::String("\u{1}".repeat(MAX_OUTPUT_BYTES / 5));
        assert!(matches!(to_json(escaped), Err(FunctionError::OutputTooLarge { .. })));
    }
}
