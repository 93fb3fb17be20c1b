//! Arithmetic and comparison operators on values (docs/language.md §3.2, §3.3, §6).

use crate::diagnostics::{Diagnostic, ErrorKind};
use crate::ops::{self, Prim};
use crate::syntax::ast::BinOp;
use crate::value::{values_equal, Value};
use dp_tensor::{BinaryOp, UnaryOp};

/// Python-style float modulo: the result has the sign of the divisor.
pub(crate) fn float_mod(a: f64, b: f64) -> f64 {
    let r = a % b;
    if r == 0.0 {
        // A zero remainder is +0.0 whatever the signs. Python gives it the
        // divisor's sign (`3.0 % -3.0` is -0.0) and JAX the dividend's
        // (`-3.0 % 3.0` is -0.0); they disagree, and a sign on a zero would
        // only surprise. Tensors and traced values compute this same function.
        0.0
    } else if (r < 0.0) != (b < 0.0) {
        r + b
    } else {
        r
    }
}

/// Python's float `//`: the floor of the exact quotient, computed from the
/// exact remainder as CPython's `float_divmod` does, so that `a // b * b +
/// a % b` gives back `a` up to one rounding. `floor(a / b)` rounds the
/// quotient first: `1.0 // 0.1` was 10.0 (Python, NumPy and JAX give 9.0:
/// 0.1 is a little more than a tenth), `inf // 3.0` inf (nan), `-2.0 // inf`
/// -0.0 (-1.0). A zero divisor gives `a / b` (±inf, or nan for `0 // 0`) as
/// NumPy does; Python raises, JAX gives nan.
pub(crate) fn float_floor_div(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        return a / b;
    }
    let r = a % b;
    // `a - r` is an exact multiple of `b`, so this quotient is exact up to
    // one rounding of the division.
    let mut q = (a - r) / b;
    if r != 0.0 && ((b < 0.0) != (r < 0.0)) {
        q -= 1.0;
    }
    if q == 0.0 {
        // The sign of the true quotient (`-0.5 // 2.0` took the branch above).
        return 0.0f64.copysign(a / b);
    }
    let floor = q.floor();
    // `q` is within a rounding of an integer: snap to the nearest one.
    if q - floor > 0.5 {
        floor + 1.0
    } else {
        floor
    }
}

/// `op` on two plain floats, when it has a scalar result (`None` for `@`).
#[inline(always)]
pub fn float_fast(op: BinOp, a: f64, b: f64) -> Option<Value> {
    Some(match op {
        BinOp::Add => Value::Float(a + b),
        BinOp::Sub => Value::Float(a - b),
        BinOp::Mul => Value::Float(a * b),
        BinOp::Div => Value::Float(a / b),
        BinOp::Pow => Value::Float(a.powf(b)),
        BinOp::FloorDiv => Value::Float(float_floor_div(a, b)),
        BinOp::Mod => Value::Float(float_mod(a, b)),
        BinOp::Eq => Value::Bool(a == b),
        BinOp::Ne => Value::Bool(a != b),
        BinOp::Lt => Value::Bool(a < b),
        BinOp::Le => Value::Bool(a <= b),
        BinOp::Gt => Value::Bool(a > b),
        BinOp::Ge => Value::Bool(a >= b),
        BinOp::MatMul => return None,
    })
}

/// `op` on two plain scalars (ints or floats) when that is quick and cannot fail.
#[inline(always)]
pub fn scalar_fast(op: BinOp, a: &Value, b: &Value) -> Option<Value> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => int_fast(op, *x, *y),
        (Value::Float(x), Value::Float(y)) => float_fast(op, *x, *y),
        (Value::Float(x), Value::Int(y)) => float_fast(op, *x, *y as f64),
        (Value::Int(x), Value::Float(y)) => float_fast(op, *x as f64, *y),
        _ => None,
    }
}

/// `op` on two ints when it cannot fail (no overflow, no division by zero); `None` otherwise.
#[inline(always)]
pub fn int_fast(op: BinOp, a: i64, b: i64) -> Option<Value> {
    Some(match op {
        BinOp::Add => Value::Int(a.checked_add(b)?),
        BinOp::Sub => Value::Int(a.checked_sub(b)?),
        BinOp::Mul => Value::Int(a.checked_mul(b)?),
        BinOp::Div => Value::Float(a as f64 / b as f64),
        // Divisors 0 and -1 (an error, a possible overflow) take `int_op`.
        BinOp::FloorDiv if b != 0 && b != -1 => {
            let q = a / b;
            Value::Int(if (a % b != 0) && ((a < 0) != (b < 0)) { q - 1 } else { q })
        }
        BinOp::Mod if b != 0 && b != -1 => {
            let r = a % b;
            Value::Int(if r != 0 && ((r < 0) != (b < 0)) { r + b } else { r })
        }
        BinOp::Eq => Value::Bool(a == b),
        BinOp::Ne => Value::Bool(a != b),
        BinOp::Lt => Value::Bool(a < b),
        BinOp::Le => Value::Bool(a <= b),
        BinOp::Gt => Value::Bool(a > b),
        BinOp::Ge => Value::Bool(a >= b),
        _ => return None,
    })
}

fn overflow(op: BinOp, a: i64, b: i64) -> Diagnostic {
    let what = match op {
        // `neg` reports `-a` as `0 - a`.
        BinOp::Sub if a == 0 => format!("-({b})"),
        _ => format!("{a} {} {b}", op.symbol()),
    };
    Diagnostic::new(
        ErrorKind::Value,
        format!("integer overflow: the result of `{what}` does not fit in a 64-bit int"),
    )
    .with_help("use floats (e.g. `2.0 ** 70`) for numbers beyond 64-bit integers")
}

fn int_op(op: BinOp, a: i64, b: i64) -> Result<Value, Diagnostic> {
    let zero = || {
        Diagnostic::new(
            ErrorKind::Value,
            format!("integer division by zero in `{}`", op.symbol()),
        )
        .with_label("the divisor is 0")
    };
    Ok(match op {
        BinOp::Add => Value::Int(a.checked_add(b).ok_or_else(|| overflow(op, a, b))?),
        BinOp::Sub => Value::Int(a.checked_sub(b).ok_or_else(|| overflow(op, a, b))?),
        BinOp::Mul => Value::Int(a.checked_mul(b).ok_or_else(|| overflow(op, a, b))?),
        BinOp::Div => Value::Float(a as f64 / b as f64),
        BinOp::FloorDiv => {
            if b == 0 {
                return Err(zero());
            }
            let q = a.checked_div(b).ok_or_else(|| overflow(op, a, b))?;
            Value::Int(if (a % b != 0) && ((a < 0) != (b < 0)) { q - 1 } else { q })
        }
        BinOp::Mod => {
            if b == 0 {
                return Err(zero());
            }
            // `i64::MIN % -1` is 0 (only the quotient overflows).
            let r = if b == -1 { 0 } else { a % b };
            Value::Int(if r != 0 && ((r < 0) != (b < 0)) { r + b } else { r })
        }
        BinOp::Pow => {
            if b < 0 {
                Value::Float((a as f64).powf(b as f64))
            } else {
                Value::Int(int_pow(a, b).ok_or_else(|| overflow(op, a, b))?)
            }
        }
        BinOp::Eq => Value::Bool(a == b),
        BinOp::Ne => Value::Bool(a != b),
        BinOp::Lt => Value::Bool(a < b),
        BinOp::Le => Value::Bool(a <= b),
        BinOp::Gt => Value::Bool(a > b),
        BinOp::Ge => Value::Bool(a >= b),
        BinOp::MatMul => return Err(type_mismatch(op, &Value::Int(a), &Value::Int(b))),
    })
}

/// `a ** b` for `b >= 0`, `None` on overflow. The bases 0, 1 and -1 never
/// overflow, whatever the exponent (`1 ** 9223372036854775807 == 1`); any
/// other base overflows long before the exponent leaves `u32`.
fn int_pow(a: i64, b: i64) -> Option<i64> {
    match a {
        0 => Some(i64::from(b == 0)),
        1 => Some(1),
        -1 => Some(if b % 2 == 0 { 1 } else { -1 }),
        _ => a.checked_pow(u32::try_from(b).ok()?),
    }
}

fn type_mismatch(op: BinOp, a: &Value, b: &Value) -> Diagnostic {
    let d = Diagnostic::new(
        ErrorKind::Type,
        format!(
            "unsupported operand types for `{}`: {} and {}",
            op.symbol(),
            a.describe(),
            b.describe()
        ),
    );
    match (op, a.peek(), b.peek()) {
        (BinOp::Add, Value::Str(_), _) | (BinOp::Add, _, Value::Str(_)) => {
            d.with_help("`+` joins two strings; convert the other value with `str(x)` or use `format`")
        }
        _ => d,
    }
}

/// A number: an int, a float or a 0-d tensor (which is interchangeable with a float).
fn is_scalar_num(v: &Value) -> bool {
    match v.peek() {
        Value::Int(_) | Value::Float(_) => true,
        Value::Tensor(t) => t.ndim() == 0,
        _ => false,
    }
}

fn is_num(v: &Value) -> bool {
    matches!(v.peek(), Value::Int(_) | Value::Float(_) | Value::Tensor(_))
}

fn scalar_of(v: &Value) -> f64 {
    match v.strip() {
        Value::Int(i) => *i as f64,
        Value::Float(x) => *x,
        Value::Tensor(t) if t.ndim() == 0 => t.item().unwrap_or(f64::NAN),
        _ => f64::NAN,
    }
}

/// Whether `v` is an int computed by a running jit trace (an int input of
/// a plan, see `autodiff::jit`): an int in a tracer, which plain code never has.
pub fn is_traced_int(v: &Value) -> bool {
    matches!(v, Value::Dual(_)) && matches!(v.peek(), Value::Int(_))
}

/// `op` with a traced int operand ([`is_traced_int`]), as it goes on plain
/// ints. `+ - *` of two ints and `+ - * /` (`**` of a float base) with a
/// float are recorded (the plan computes them for each new int exactly as
/// plain code would: ints stay ints, an int meets a float as `as f64`);
/// anything else reads the int — the plan is specific to its value then (a
/// guard) — and computes as plain code does. `None`: no traced int here.
fn traced_int_op(op: BinOp, a: &Value, b: &Value) -> Option<Result<Value, Diagnostic>> {
    if !is_traced_int(a) && !is_traced_int(b) {
        return None;
    }
    let int = |v: &Value| matches!(v.peek(), Value::Int(_));
    let float = |v: &Value| matches!(v.peek(), Value::Float(_));
    let number = |v: &Value| matches!(v.peek(), Value::Int(_) | Value::Float(_) | Value::Tensor(_));
    let kernel = match op {
        BinOp::Add | BinOp::Sub | BinOp::Mul if int(a) && int(b) => {
            return Some(ops::apply(
                &Prim::IntBinary(crate::prim::IntBinary(op)),
                &[a.clone(), b.clone()],
            ))
        }
        BinOp::Add if number(a) && number(b) => Some(BinaryOp::Add),
        BinOp::Sub if number(a) && number(b) => Some(BinaryOp::Sub),
        BinOp::Mul if number(a) && number(b) => Some(BinaryOp::Mul),
        BinOp::Div if number(a) && number(b) => Some(BinaryOp::Div),
        // Plain code takes `float ** int` and `int ** float` as `powf`; a
        // tensor base (`IntPow`) and `int ** int` read the exponent.
        BinOp::Pow if (float(a) && int(b)) || (int(a) && float(b)) => Some(BinaryOp::Pow),
        _ => None,
    };
    Some(match kernel {
        Some(k) => ops::apply(&Prim::Binary(crate::prim::Binary(k)), &[a.clone(), b.clone()]),
        None => {
            let settle = |v: &Value| if is_traced_int(v) { v.strip().clone() } else { v.clone() };
            binary(op, &settle(a), &settle(b))
        }
    })
}

/// `-x`.
pub fn neg(v: &Value) -> Result<Value, Diagnostic> {
    if is_traced_int(v) {
        // `0 - v`, recorded: an int, and the overflow reported as below.
        return ops::apply(
            &Prim::IntBinary(crate::prim::IntBinary(BinOp::Sub)),
            &[Value::Int(0), v.clone()],
        );
    }
    match v {
        Value::Int(i) => Ok(Value::Int(i.checked_neg().ok_or_else(|| overflow(BinOp::Sub, 0, *i))?)),
        Value::Float(x) => Ok(Value::Float(-x)),
        v if is_num(v) => ops::unary(UnaryOp::Neg, v),
        other => Err(Diagnostic::new(
            ErrorKind::Type,
            format!("cannot negate {}", other.describe()),
        )),
    }
}

/// Any binary operator on any two values.
pub fn binary(op: BinOp, a: &Value, b: &Value) -> Result<Value, Diagnostic> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => return int_op(op, *x, *y),
        (Value::Float(x), Value::Int(y)) => {
            return float_fast(op, *x, *y as f64).ok_or_else(|| type_mismatch(op, a, b))
        }
        (Value::Int(x), Value::Float(y)) => {
            return float_fast(op, *x as f64, *y).ok_or_else(|| type_mismatch(op, a, b))
        }
        (Value::Float(x), Value::Float(y)) => return float_fast(op, *x, *y).ok_or_else(|| type_mismatch(op, a, b)),
        _ => {}
    }
    if let Some(r) = traced_int_op(op, a, b) {
        return r;
    }
    if is_num(a) && is_num(b) {
        let comparison = matches!(
            op,
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge
        );
        let kernel = |k: BinaryOp| ops::binary(k, a, b);
        // Comparisons of (possibly differentiated) scalars give bools. Those
        // of values a trace computed go through the primitive below, so the
        // trace records them (a guard of its graph), and then become bools.
        let scalar_comparison = comparison && is_scalar_num(a) && is_scalar_num(b);
        let traced = || crate::autodiff::trace::is_traced(a) || crate::autodiff::trace::is_traced(b);
        if scalar_comparison && !traced() {
            return float_fast(op, scalar_of(a), scalar_of(b)).ok_or_else(|| type_mismatch(op, a, b));
        }
        let out = match op {
            BinOp::Add => kernel(BinaryOp::Add),
            BinOp::Sub => kernel(BinaryOp::Sub),
            BinOp::Mul => kernel(BinaryOp::Mul),
            BinOp::Div => kernel(BinaryOp::Div),
            BinOp::Pow => kernel(BinaryOp::Pow),
            BinOp::Eq => kernel(BinaryOp::Eq),
            BinOp::Ne => kernel(BinaryOp::Ne),
            BinOp::Lt => kernel(BinaryOp::Lt),
            BinOp::Le => kernel(BinaryOp::Le),
            BinOp::Gt => kernel(BinaryOp::Gt),
            BinOp::Ge => kernel(BinaryOp::Ge),
            BinOp::FloorDiv => ops::apply(
                &Prim::FloatFloorDiv(crate::prim::FloatFloorDiv),
                &[ops::num(a), ops::num(b)],
            ),
            BinOp::Mod => ops::apply(&Prim::FloatMod(crate::prim::FloatMod), &[ops::num(a), ops::num(b)]),
            BinOp::MatMul => matmul(a, b),
        };
        if scalar_comparison {
            return Ok(match out?.strip() {
                Value::Bool(b) => Value::Bool(*b),
                other => Value::Bool(scalar_of(other) != 0.0),
            });
        }
        return out;
    }
    // `x == none` depends on the kind of `x` only: not a read of a traced
    // value (`key == none` leaves a jit plan free to take any key).
    if matches!(op, BinOp::Eq | BinOp::Ne) && (matches!(a.peek(), Value::None) || matches!(b.peek(), Value::None)) {
        return Ok(Value::Bool(values_equal(a.peek(), b.peek()) == (op == BinOp::Eq)));
    }
    match (op, a, b) {
        (BinOp::Eq, _, _) => Ok(Value::Bool(values_equal(a, b))),
        (BinOp::Ne, _, _) => Ok(Value::Bool(!values_equal(a, b))),
        (BinOp::Add, Value::Str(x), Value::Str(y)) => crate::value::strings::concat(x, y),
        (BinOp::Add, Value::Tuple(x), Value::Tuple(y)) => {
            crate::value::tuple::check_len(x.len() as u128 + y.len() as u128)?;
            let mut t = x.clone();
            t.extend(y.iter().cloned());
            Ok(Value::Tuple(t))
        }
        (BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge, Value::Str(x), Value::Str(y)) => Ok(Value::Bool(match op {
            BinOp::Lt => x < y,
            BinOp::Le => x <= y,
            BinOp::Gt => x > y,
            _ => x >= y,
        })),
        _ => Err(type_mismatch(op, a, b)),
    }
}

/// `a @ b` with NumPy semantics.
pub fn matmul(a: &Value, b: &Value) -> Result<Value, Diagnostic> {
    let (sa, sb) = (ops::shape_of(a), ops::shape_of(b));
    if sa.is_empty() || sb.is_empty() {
        return Err(Diagnostic::new(
            ErrorKind::Shape,
            format!(
                "cannot multiply {} @ {}: `@` needs tensors with at least one dimension",
                dp_tensor::format_shape(&sa),
                dp_tensor::format_shape(&sb)
            ),
        )
        .with_help("use `*` to multiply by a scalar"));
    }
    ops::apply(&Prim::MatMul(crate::prim::MatMul), &[ops::num(a), ops::num(b)]).map_err(|mut d| {
        // The kernel reports unbroadcastable batch dimensions as an invalid
        // argument; to the user every matmul complaint is about shapes.
        if d.kind == ErrorKind::Value && d.message.starts_with("cannot multiply") {
            d.kind = ErrorKind::Shape;
        }
        d
    })
}

/// `old op rhs` computed into `old`'s own buffer when `old` is a uniquely owned
/// tensor and the result has its shape (so `p = p - lr * g` allocates nothing
/// for the result); otherwise hands `old` back for the general path.
pub fn update_in_place(op: BinOp, old: Value, rhs: &Value) -> Result<Value, Value> {
    let kernel = match op {
        BinOp::Add => dp_tensor::BinaryOp::Add,
        BinOp::Sub => dp_tensor::BinaryOp::Sub,
        BinOp::Mul => dp_tensor::BinaryOp::Mul,
        BinOp::Div => dp_tensor::BinaryOp::Div,
        _ => return Err(old),
    };
    let Value::Tensor(t) = old else { return Err(old) };
    let fits = match rhs {
        Value::Float(_) | Value::Int(_) => true,
        Value::Tensor(r) => dp_tensor::broadcast_shapes(t.shape(), r.shape()).as_deref() == Some(t.shape()),
        _ => false,
    };
    if !fits {
        return Err(Value::Tensor(t));
    }
    // Only a uniquely held buffer may be written: anything else is visible elsewhere.
    let t = std::rc::Rc::try_unwrap(t).map_err(Value::Tensor)?;
    let out = match rhs {
        Value::Float(x) => t.binary_scalar_owned(*x, kernel, false),
        Value::Int(i) => t.binary_scalar_owned(*i as f64, kernel, false),
        // Invariant: `fits` checked that `r` broadcasts to `t`'s shape, so the kernel cannot fail.
        Value::Tensor(r) => t.binary_owned(r, kernel).map_err(|_| Value::None)?,
        _ => return Err(Value::None),
    };
    Ok(Value::Tensor(std::rc::Rc::new(out)))
}
