//! Keyed random draws and key derivations as a primitive, `Random`. A keyed
//! draw is a pure function of its key (and parameters), so a jit plan whose
//! key is an input (see `autodiff::jit`) can draw afresh from each call's
//! key: a running trace records the draw as a node with the key as its
//! first operand. The builtins compute plain draws with the very same code
//! ([`Random::draw`], [`Random::derive`]), so a plan's numbers are bit for
//! bit those of the unjitted program.

use super::{as_tensor, from_tensor, te, Primitive, R};
use crate::diagnostics::{Diagnostic, ErrorKind};
use crate::value::Value;
use dp_tensor::{Key, Rng, Tensor};
use std::rc::Rc;

/// What is drawn or derived from the key (the first operand); the
/// parameters fixed by the trace are here, those that may change (a
/// probability tensor, logits, fold-in data) are operands after the key.
#[derive(Clone, Debug, PartialEq)]
pub enum Random {
    /// `normal(k, shape)`.
    Normal {
        /// The sample shape.
        shape: Vec<usize>,
    },
    /// `uniform(k, shape, lo, hi)`.
    Uniform {
        /// The sample shape.
        shape: Vec<usize>,
        /// The lower bound.
        lo: f64,
        /// The upper bound.
        hi: f64,
    },
    /// `bernoulli(k, p, shape)`; operand 1 is `p`.
    Bernoulli {
        /// The sample shape.
        shape: Vec<usize>,
    },
    /// The indices of `choice(k, n, shape, replace, p)`; operand 1, if
    /// present, holds the weights `p`.
    Choice {
        /// How many candidates.
        n: usize,
        /// The shape of the picks.
        shape: Vec<usize>,
        /// With replacement.
        replace: bool,
        /// The picks index rows (then they stay a tensor, 0-d included).
        rows: bool,
    },
    /// A permutation of `0..n`.
    Permutation {
        /// Its length.
        n: usize,
    },
    /// `key_randint(k, shape, lo, hi)`: an int for the empty shape.
    Randint {
        /// The sample shape.
        shape: Vec<usize>,
        /// The lowest value.
        lo: i64,
        /// One past the highest value.
        hi: i64,
    },
    /// `categorical(k, logits, axis, shape)`; operand 1 is the logits.
    Categorical {
        /// The category axis, negative from the end.
        axis: i64,
        /// The sample shape, if given.
        shape: Option<Vec<usize>>,
    },
    /// Key `i` of `key_split(k, n)` (which does not depend on `n`).
    Split {
        /// Which of the new keys.
        i: usize,
    },
    /// `fold_in(k, data)`; operand 1 is the int `data`.
    FoldIn,
    /// `key(seed)`: operand 0 is the int seed (no key operand).
    FromSeed,
}

/// Whether `v` (or the value it wraps) is a key.
pub fn is_key(v: &Value) -> bool {
    matches!(v.peek(), Value::Key(_))
}

/// Operand `x` as a key.
fn key_of(x: &Value) -> R<Key> {
    match x.strip() {
        Value::Key(k) => Ok(Key(*k)),
        other => Err(Diagnostic::new(
            ErrorKind::Type,
            format!("a random draw was given {} where its trace saw a key", other.describe()),
        )),
    }
}

/// Operand `x` as an int.
fn int_of(x: &Value) -> R<i64> {
    match x.strip() {
        Value::Int(i) => Ok(*i),
        other => Err(Diagnostic::new(
            ErrorKind::Type,
            format!(
                "a key derivation was given {} where its trace saw an int",
                other.describe()
            ),
        )),
    }
}

impl Random {
    /// The draw from generator `g` (a key's, or the global one), with the
    /// operands that follow the key in `rest`.
    pub fn draw(&self, g: &mut Rng, rest: &[Value]) -> R<Value> {
        let operand = |k: usize| {
            rest.get(k)
                .ok_or_else(|| Diagnostic::new(ErrorKind::Value, "a random draw is missing an operand"))
        };
        Ok(match self {
            Random::Normal { shape } => from_tensor(te(g.normal(shape))?),
            Random::Uniform { shape, lo, hi } => {
                let u = te(g.uniform(shape))?;
                from_tensor(u.map(|x| lo + (hi - lo) * x))
            }
            Random::Bernoulli { shape } => from_tensor(te(g.bernoulli(&*as_tensor(operand(0)?)?, shape))?),
            Random::Choice {
                n,
                shape,
                replace,
                rows,
            } => {
                let count = te(dp_tensor::checked_size(shape))?;
                let p = match rest.first() {
                    Some(p) => Some(as_tensor(p)?.to_vec()),
                    None => None,
                };
                let idx = te(g.choice(*n, count, *replace, p.as_deref()))?;
                let idx = te(Tensor::from_vec(idx.into_iter().map(|i| i as f64).collect(), shape))?;
                if *rows {
                    Value::Tensor(Rc::new(idx))
                } else {
                    from_tensor(idx)
                }
            }
            Random::Permutation { n } => Value::Tensor(Rc::new(te(g.permutation(*n))?)),
            Random::Randint { shape, lo, hi } => {
                let r = te(g.randint(*lo, *hi, shape))?;
                if shape.is_empty() {
                    // A 0-d result holds exactly one integral value in lo..hi.
                    Value::Int(r.item().unwrap_or(0.0) as i64)
                } else {
                    Value::Tensor(Rc::new(r))
                }
            }
            Random::Categorical { .. } | Random::Split { .. } | Random::FoldIn | Random::FromSeed => {
                return Err(Diagnostic::new(
                    ErrorKind::Value,
                    format!("`{}` does not draw from a generator", self.name()),
                ))
            }
        })
    }

    /// The result for the key `key` and the operands after it.
    pub fn with_key(&self, key: Key, rest: &[Value]) -> R<Value> {
        match self {
            Random::Categorical { axis, shape } => {
                let logits = rest
                    .first()
                    .ok_or_else(|| Diagnostic::new(ErrorKind::Value, "categorical is missing its logits"))?;
                Ok(from_tensor(te(key.categorical(
                    &*as_tensor(logits)?,
                    *axis,
                    shape.as_deref(),
                ))?))
            }
            Random::Split { i } => Ok(Value::Key(key.split(i + 1)[*i].0)),
            Random::FoldIn => {
                let d = rest
                    .first()
                    .ok_or_else(|| Diagnostic::new(ErrorKind::Value, "fold_in is missing its data"))?;
                // As the builtin: the int's bits.
                Ok(Value::Key(key.fold_in(int_of(d)? as u64).0))
            }
            Random::FromSeed => Ok(Value::Key(key.0)),
            _ => self.draw(&mut key.generator(), rest),
        }
    }
}

impl Primitive for Random {
    fn name(&self) -> String {
        match self {
            Random::Normal { .. } => "normal",
            Random::Uniform { .. } => "uniform",
            Random::Bernoulli { .. } => "bernoulli",
            Random::Choice { .. } => "choice",
            Random::Permutation { .. } => "permutation",
            Random::Randint { .. } => "randint",
            Random::Categorical { .. } => "categorical",
            Random::Split { .. } => "key_split",
            Random::FoldIn => "fold_in",
            Random::FromSeed => "key",
        }
        .into()
    }
    fn params(&self) -> Vec<String> {
        let shape = |s: &[usize]| dp_tensor::format_shape(s);
        match self {
            Random::Normal { shape: s } | Random::Bernoulli { shape: s } => vec![shape(s)],
            Random::Uniform { shape: s, lo, hi } => vec![shape(s), format!("lo={lo:?}"), format!("hi={hi:?}")],
            Random::Choice {
                n, shape: s, replace, ..
            } => {
                vec![n.to_string(), shape(s), format!("replace={replace}")]
            }
            Random::Permutation { n } => vec![n.to_string()],
            Random::Randint { shape: s, lo, hi } => vec![shape(s), lo.to_string(), hi.to_string()],
            Random::Categorical { axis, shape: s } => {
                let mut p = vec![format!("axis={axis}")];
                p.extend(s.as_deref().map(|s| format!("shape={}", shape(s))));
                p
            }
            Random::Split { i } => vec![format!("[{i}]")],
            Random::FoldIn | Random::FromSeed => Vec::new(),
        }
    }
    fn forward(&self, x: &[Value]) -> R<Value> {
        let first = x
            .first()
            .ok_or_else(|| Diagnostic::new(ErrorKind::Value, "a random draw is missing its key"))?;
        if *self == Random::FromSeed {
            // As the builtin: the int's bits.
            return Ok(Value::Key(int_of(first)? as u64));
        }
        self.with_key(key_of(first)?, &x[1..])
    }
    fn zero_derivative(&self) -> bool {
        true
    }
    fn vjp(&self, x: &[Value], _y: &Value, _g: &Value, _needs: &[bool]) -> R<Vec<Option<Value>>> {
        Ok(vec![None; x.len()])
    }
    fn jvp(&self, _x: &[Value], _t: &[Option<Value>], _y: &Value) -> R<Option<Value>> {
        Ok(None)
    }
}
