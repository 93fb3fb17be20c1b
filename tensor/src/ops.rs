//! Scalar definitions of the elementwise and reduction operators.

/// Elementwise unary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `-x`
    Neg,
    /// `e^x`
    Exp,
    /// natural logarithm
    Log,
    /// `ln(1 + x)`, accurate near 0
    Log1p,
    /// `e^x - 1`, accurate near 0
    Expm1,
    /// square root
    Sqrt,
    /// absolute value
    Abs,
    /// sine
    Sin,
    /// cosine
    Cos,
    /// tangent
    Tan,
    /// hyperbolic tangent
    Tanh,
    /// logistic function `1 / (1 + e^-x)`, stable for large `|x|`
    Sigmoid,
    /// `max(x, 0)` (NaN stays NaN)
    Relu,
    /// `ln(1 + e^x)`, stable for large `|x|`
    Softplus,
    /// -1, 0 or 1 (NaN stays NaN)
    Sign,
    /// round towards negative infinity
    Floor,
    /// round half to even (NumPy `round`)
    Round,
    /// 1.0 if NaN else 0.0
    IsNan,
    /// `1 / x`
    Recip,
    /// `x * x`
    Square,
    /// hyperbolic sine
    Sinh,
    /// hyperbolic cosine
    Cosh,
    /// inverse hyperbolic sine
    Asinh,
    /// inverse hyperbolic cosine (nan below 1)
    Acosh,
    /// inverse hyperbolic tangent (nan outside [-1, 1])
    Atanh,
    /// inverse sine (nan outside [-1, 1])
    Asin,
    /// inverse cosine (nan outside [-1, 1])
    Acos,
    /// inverse tangent
    Atan,
    /// base-2 logarithm
    Log2,
    /// base-10 logarithm
    Log10,
    /// `2^x`
    Exp2,
    /// round towards positive infinity
    Ceil,
    /// 1.0 if finite else 0.0
    IsFinite,
    /// 1.0 if infinite else 0.0
    IsInf,
}

impl UnaryOp {
    /// All unary operators, in declaration order.
    pub const ALL: [UnaryOp; 34] = [
        UnaryOp::Neg,
        UnaryOp::Exp,
        UnaryOp::Log,
        UnaryOp::Log1p,
        UnaryOp::Expm1,
        UnaryOp::Sqrt,
        UnaryOp::Abs,
        UnaryOp::Sin,
        UnaryOp::Cos,
        UnaryOp::Tan,
        UnaryOp::Tanh,
        UnaryOp::Sigmoid,
        UnaryOp::Relu,
        UnaryOp::Softplus,
        UnaryOp::Sign,
        UnaryOp::Floor,
        UnaryOp::Round,
        UnaryOp::IsNan,
        UnaryOp::Recip,
        UnaryOp::Square,
        UnaryOp::Sinh,
        UnaryOp::Cosh,
        UnaryOp::Asinh,
        UnaryOp::Acosh,
        UnaryOp::Atanh,
        UnaryOp::Asin,
        UnaryOp::Acos,
        UnaryOp::Atan,
        UnaryOp::Log2,
        UnaryOp::Log10,
        UnaryOp::Exp2,
        UnaryOp::Ceil,
        UnaryOp::IsFinite,
        UnaryOp::IsInf,
    ];

    /// The element type of the result: `Bool` for the predicates
    /// (`isnan`, `isfinite`, `isinf`), else `F64` (bool inputs read as 0.0/1.0).
    pub fn result_dtype(self) -> crate::DType {
        if matches!(self, UnaryOp::IsNan | UnaryOp::IsFinite | UnaryOp::IsInf) {
            crate::DType::Bool
        } else {
            crate::DType::F64
        }
    }

    /// Applies the operator to one value.
    #[inline]
    pub fn apply(self, x: f64) -> f64 {
        match self {
            UnaryOp::Neg => -x,
            UnaryOp::Exp => x.exp(),
            UnaryOp::Log => x.ln(),
            UnaryOp::Log1p => x.ln_1p(),
            UnaryOp::Expm1 => x.exp_m1(),
            UnaryOp::Sqrt => x.sqrt(),
            UnaryOp::Abs => x.abs(),
            UnaryOp::Sin => x.sin(),
            UnaryOp::Cos => x.cos(),
            UnaryOp::Tan => x.tan(),
            UnaryOp::Tanh => x.tanh(),
            UnaryOp::Sigmoid => sigmoid(x),
            UnaryOp::Relu => relu(x),
            UnaryOp::Softplus => softplus(x),
            UnaryOp::Sign => sign(x),
            UnaryOp::Floor => x.floor(),
            UnaryOp::Round => x.round_ties_even(),
            UnaryOp::IsNan => {
                if x.is_nan() {
                    1.0
                } else {
                    0.0
                }
            }
            UnaryOp::Recip => 1.0 / x,
            UnaryOp::Square => x * x,
            UnaryOp::Sinh => x.sinh(),
            UnaryOp::Cosh => x.cosh(),
            UnaryOp::Asinh => x.asinh(),
            UnaryOp::Acosh => x.acosh(),
            UnaryOp::Atanh => x.atanh(),
            UnaryOp::Asin => x.asin(),
            UnaryOp::Acos => x.acos(),
            UnaryOp::Atan => x.atan(),
            UnaryOp::Log2 => x.log2(),
            UnaryOp::Log10 => x.log10(),
            UnaryOp::Exp2 => x.exp2(),
            UnaryOp::Ceil => x.ceil(),
            UnaryOp::IsFinite => {
                if x.is_finite() {
                    1.0
                } else {
                    0.0
                }
            }
            UnaryOp::IsInf => {
                if x.is_infinite() {
                    1.0
                } else {
                    0.0
                }
            }
        }
    }

    /// The operator's name as a user would call it, e.g. `"exp"`.
    pub fn name(self) -> &'static str {
        match self {
            UnaryOp::Neg => "neg",
            UnaryOp::Exp => "exp",
            UnaryOp::Log => "log",
            UnaryOp::Log1p => "log1p",
            UnaryOp::Expm1 => "expm1",
            UnaryOp::Sqrt => "sqrt",
            UnaryOp::Abs => "abs",
            UnaryOp::Sin => "sin",
            UnaryOp::Cos => "cos",
            UnaryOp::Tan => "tan",
            UnaryOp::Tanh => "tanh",
            UnaryOp::Sigmoid => "sigmoid",
            UnaryOp::Relu => "relu",
            UnaryOp::Softplus => "softplus",
            UnaryOp::Sign => "sign",
            UnaryOp::Floor => "floor",
            UnaryOp::Round => "round",
            UnaryOp::IsNan => "isnan",
            UnaryOp::Recip => "recip",
            UnaryOp::Square => "square",
            UnaryOp::Sinh => "sinh",
            UnaryOp::Cosh => "cosh",
            UnaryOp::Asinh => "arcsinh",
            UnaryOp::Acosh => "arccosh",
            UnaryOp::Atanh => "arctanh",
            UnaryOp::Asin => "arcsin",
            UnaryOp::Acos => "arccos",
            UnaryOp::Atan => "arctan",
            UnaryOp::Log2 => "log2",
            UnaryOp::Log10 => "log10",
            UnaryOp::Exp2 => "exp2",
            UnaryOp::Ceil => "ceil",
            UnaryOp::IsFinite => "isfinite",
            UnaryOp::IsInf => "isinf",
        }
    }
}

/// Numerically stable logistic function.
#[inline]
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// `max(x, 0)`, propagating NaN.
#[inline]
pub fn relu(x: f64) -> f64 {
    // NaN fails the comparison and is passed through.
    if x <= 0.0 {
        0.0
    } else {
        x
    }
}

/// Numerically stable `ln(1 + e^x)`.
#[inline]
pub fn softplus(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// Sign function: -1, 0 or 1; NaN stays NaN.
#[inline]
pub fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else if x == 0.0 {
        0.0
    } else {
        x
    }
}

/// Elementwise binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `a + b`
    Add,
    /// `a - b`
    Sub,
    /// `a * b`
    Mul,
    /// `a / b`
    Div,
    /// `a ** b`
    Pow,
    /// elementwise maximum (NaN propagates)
    Maximum,
    /// elementwise minimum (NaN propagates)
    Minimum,
    /// `a == b` as 1.0/0.0
    Eq,
    /// `a != b` as 1.0/0.0
    Ne,
    /// `a < b` as 1.0/0.0
    Lt,
    /// `a <= b` as 1.0/0.0
    Le,
    /// `a > b` as 1.0/0.0
    Gt,
    /// `a >= b` as 1.0/0.0
    Ge,
}

#[inline]
fn b2f(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// `maximum` as XLA's (and IEEE 754-2019's `maximum`): NaN if either is NaN,
/// and `-0.0 < +0.0`, so the result does not depend on the operands' order
/// (`a >= b ? a : b` gave `maximum(-0.0, 0.0) = -0.0`; JAX gives 0.0).
/// Branch-free so loops vectorise: equal operands are merged bitwise (the
/// sign bit survives only if both are `-0.0`).
#[inline]
pub fn maximum(a: f64, b: f64) -> f64 {
    let equal = f64::from_bits(a.to_bits() & b.to_bits());
    let m = if a > b {
        a
    } else if b > a {
        b
    } else {
        equal
    };
    if a.is_nan() || b.is_nan() {
        a + b
    } else {
        m
    }
}

/// `minimum` as XLA's: NaN if either is NaN, and `-0.0 < +0.0` (see
/// [`maximum`]; equal operands merged so the sign bit survives if either has it).
#[inline]
pub fn minimum(a: f64, b: f64) -> f64 {
    let equal = f64::from_bits(a.to_bits() | b.to_bits());
    let m = if a < b {
        a
    } else if b < a {
        b
    } else {
        equal
    };
    if a.is_nan() || b.is_nan() {
        a + b
    } else {
        m
    }
}

impl BinaryOp {
    /// All binary operators, in declaration order.
    pub const ALL: [BinaryOp; 13] = [
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Pow,
        BinaryOp::Maximum,
        BinaryOp::Minimum,
        BinaryOp::Eq,
        BinaryOp::Ne,
        BinaryOp::Lt,
        BinaryOp::Le,
        BinaryOp::Gt,
        BinaryOp::Ge,
    ];

    /// The element type of the result: `Bool` for the comparisons, else
    /// `F64` (bool inputs read as 0.0/1.0, as NumPy promotes bool to float).
    pub fn result_dtype(self) -> crate::DType {
        if self.is_comparison() {
            crate::DType::Bool
        } else {
            crate::DType::F64
        }
    }

    /// Whether the operator is a comparison (`==`, `!=`, `<`, `<=`, `>`, `>=`).
    pub fn is_comparison(self) -> bool {
        use BinaryOp::*;
        match self {
            Eq | Ne | Lt | Le | Gt | Ge => true,
            Add | Sub | Mul | Div | Pow | Maximum | Minimum => false,
        }
    }

    /// Applies the operator to one pair of values.
    #[inline]
    pub fn apply(self, a: f64, b: f64) -> f64 {
        match self {
            BinaryOp::Add => a + b,
            BinaryOp::Sub => a - b,
            BinaryOp::Mul => a * b,
            BinaryOp::Div => a / b,
            BinaryOp::Pow => a.powf(b),
            BinaryOp::Maximum => maximum(a, b),
            BinaryOp::Minimum => minimum(a, b),
            BinaryOp::Eq => b2f(a == b),
            BinaryOp::Ne => b2f(a != b),
            BinaryOp::Lt => b2f(a < b),
            BinaryOp::Le => b2f(a <= b),
            BinaryOp::Gt => b2f(a > b),
            BinaryOp::Ge => b2f(a >= b),
        }
    }

    /// The operator's symbol (`+`, `**`, `<=`) or name (`maximum`, `minimum`).
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Pow => "**",
            BinaryOp::Maximum => "maximum",
            BinaryOp::Minimum => "minimum",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
        }
    }
}

/// Reduction operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    /// sum (0 for no elements)
    Sum,
    /// product (1 for no elements)
    Prod,
    /// maximum (error for no elements; NaN propagates)
    Max,
    /// minimum (error for no elements; NaN propagates)
    Min,
}

impl ReduceOp {
    /// The reduction's name: `sum`, `prod`, `max`, `min`.
    pub fn name(self) -> &'static str {
        match self {
            ReduceOp::Sum => "sum",
            ReduceOp::Prod => "prod",
            ReduceOp::Max => "max",
            ReduceOp::Min => "min",
        }
    }

    /// The identity element, if the reduction has one.
    pub fn identity(self) -> Option<f64> {
        match self {
            ReduceOp::Sum => Some(0.0),
            ReduceOp::Prod => Some(1.0),
            ReduceOp::Max | ReduceOp::Min => None,
        }
    }

    /// Combines an accumulator with one value.
    #[inline]
    pub fn combine(self, acc: f64, x: f64) -> f64 {
        match self {
            ReduceOp::Sum => acc + x,
            ReduceOp::Prod => acc * x,
            ReduceOp::Max => maximum(acc, x),
            ReduceOp::Min => minimum(acc, x),
        }
    }
}
