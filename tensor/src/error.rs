//! Error type shared by every fallible tensor operation.

use std::fmt;

/// Largest number of elements a single tensor may hold (2^31).
pub const MAX_ELEMENTS: usize = 1 << 31;

/// Largest number of dimensions a tensor may have (NumPy's limit): shapes are
/// walked recursively when printing and converting.
pub const MAX_NDIM: usize = 64;

/// Rejects shapes with more than [`MAX_NDIM`] axes.
pub fn check_ndim(ndim: usize) -> Result<()> {
    if ndim > MAX_NDIM {
        return Err(TensorError::Invalid(format!(
            "a tensor may have at most {MAX_NDIM} dimensions, but this one would have {ndim}"
        )));
    }
    Ok(())
}

/// Formats a shape as a Python tuple: `()`, `(3,)`, `(2, 3)`.
pub fn format_shape(shape: &[usize]) -> String {
    format_tuple(shape.iter().map(|d| d.to_string()))
}

/// Formats a requested reshape target (which may contain `-1`) as a Python tuple.
fn format_ishape(shape: &[i64]) -> String {
    format_tuple(shape.iter().map(|d| d.to_string()))
}

fn format_tuple(items: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = items.collect();
    match items.len() {
        0 => "()".to_string(),
        1 => format!("({},)", items[0]),
        _ => format!("({})", items.join(", ")),
    }
}

/// Everything that can go wrong in a tensor operation.
///
/// The [`Display`](fmt::Display) implementation renders a complete, user-facing
/// sentence without any source location, with shapes written as Python tuples.
#[derive(Clone, Debug, PartialEq)]
pub enum TensorError {
    /// `a @ b` with mismatching contraction dimensions.
    MatmulMismatch {
        /// Shape of the left operand.
        left: Vec<usize>,
        /// Shape of the right operand.
        right: Vec<usize>,
        /// Contracted dimension of the left operand.
        left_inner: usize,
        /// Contracted dimension of the right operand.
        right_inner: usize,
    },
    /// Two (or three) shapes cannot be broadcast together in the named operation.
    Broadcast {
        /// Shape of the first operand.
        left: Vec<usize>,
        /// Shape of the second operand.
        right: Vec<usize>,
        /// Operation name or symbol, e.g. `+` or `where`.
        op: String,
    },
    /// An axis number outside `-ndim..ndim`.
    AxisOutOfRange {
        /// The axis as the user wrote it.
        axis: i64,
        /// Number of dimensions of the tensor.
        ndim: usize,
    },
    /// An index outside the valid range of an axis.
    IndexOutOfRange {
        /// The index as the user wrote it.
        index: i64,
        /// The axis being indexed.
        axis: usize,
        /// Size of that axis.
        size: usize,
    },
    /// A reshape whose element counts do not agree (or that is otherwise invalid).
    Reshape {
        /// The shape of the tensor being reshaped.
        from: Vec<usize>,
        /// The requested target shape (may contain `-1`).
        to: Vec<i64>,
    },
    /// A tensor whose element count would exceed [`MAX_ELEMENTS`] or overflow.
    TooLarge {
        /// The requested shape.
        shape: Vec<usize>,
    },
    /// A buffer over the memory budget (`limit: Some`, see [`crate::memory_limit`])
    /// or one the system refused to provide (`limit: None`).
    OutOfMemory {
        /// What was being built, e.g. `tensor of shape (3, 4)`.
        what: String,
        /// The bytes it needs.
        bytes: u128,
        /// The budget it exceeds, if that was the reason.
        limit: Option<usize>,
    },
    /// A value used as an index (or label) that is not an integer.
    NotInteger {
        /// The offending value.
        value: f64,
    },
    /// `from_vec` with a data length that does not match the shape.
    DataLength {
        /// Number of values supplied.
        len: usize,
        /// The requested shape.
        shape: Vec<usize>,
    },
    /// A reduction without identity (max/min/argmax/argmin) over zero elements.
    EmptyReduction {
        /// Name of the reduction, e.g. `maximum`.
        op: &'static str,
        /// Shape of the tensor being reduced.
        shape: Vec<usize>,
    },
    /// A linear-algebra operation given a tensor that is not a stack of
    /// matrices (fewer than 2 dimensions), or not of square ones where the
    /// operation needs square matrices.
    NotMatrix {
        /// Name of the operation, e.g. `inv`.
        op: &'static str,
        /// Shape of the offending tensor.
        shape: Vec<usize>,
        /// Whether the operation needs square matrices.
        square: bool,
    },
    /// The two operands of a solve-like operation (`solve`, `lstsq`,
    /// `triangular_solve`) do not fit together.
    OperandShapes {
        /// Name of the operation.
        op: &'static str,
        /// Shape of the matrix operand `a`.
        a: Vec<usize>,
        /// Shape of the right-hand side `b`.
        b: Vec<usize>,
        /// Why they do not fit, as a sentence fragment (e.g. `b needs 3 rows`).
        reason: String,
    },
    /// `solve`/`inv`/`triangular_solve` of a singular matrix: a pivot (a
    /// diagonal element of the triangular factor) is exactly zero.
    Singular {
        /// Name of the operation.
        op: &'static str,
        /// Batch index of the singular matrix (empty for a single matrix).
        index: Vec<usize>,
        /// The zero-based position of the zero pivot.
        pivot: usize,
    },
    /// `cholesky` of a matrix that is not (numerically) positive definite.
    NotPositiveDefinite {
        /// Name of the operation.
        op: &'static str,
        /// Batch index of the offending matrix (empty for a single matrix).
        index: Vec<usize>,
        /// Order of the first leading minor that is not positive definite.
        order: usize,
    },
    /// Any other invalid argument; the message is a complete sentence.
    Invalid(String),
}

/// ` (matrix (1, 0) of the batch)` for a batch index, nothing for a lone matrix.
fn batch_note(index: &[usize]) -> String {
    if index.is_empty() {
        String::new()
    } else {
        format!(
            " (matrix {} of the batch)",
            format_tuple(index.iter().map(|d| d.to_string()))
        )
    }
}

impl fmt::Display for TensorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TensorError::MatmulMismatch {
                left,
                right,
                left_inner,
                right_inner,
            } => write!(
                f,
                "cannot multiply {} @ {}: inner dimensions {} and {} differ",
                format_shape(left),
                format_shape(right),
                left_inner,
                right_inner
            ),
            TensorError::Broadcast { left, right, op } => write!(
                f,
                "cannot broadcast shapes {} and {} in `{}`",
                format_shape(left),
                format_shape(right),
                op
            ),
            TensorError::AxisOutOfRange { axis, ndim } => {
                if *ndim == 0 {
                    write!(
                        f,
                        "axis {} is out of range for a tensor with 0 dimensions (a 0-d tensor has no axes)",
                        axis
                    )
                } else {
                    write!(
                        f,
                        "axis {} is out of range for a tensor with {} dimension{} (valid: {}..={})",
                        axis,
                        ndim,
                        if *ndim == 1 { "" } else { "s" },
                        -(*ndim as i64),
                        *ndim as i64 - 1
                    )
                }
            }
            TensorError::IndexOutOfRange { index, axis, size } => {
                write!(f, "index {} is out of range for axis {} of size {}", index, axis, size)
            }
            TensorError::Reshape { from, to } => {
                let n: usize = from.iter().product();
                write!(
                    f,
                    "cannot reshape {} ({} element{}) into {}",
                    format_shape(from),
                    n,
                    if n == 1 { "" } else { "s" },
                    format_ishape(to)
                )
            }
            TensorError::TooLarge { shape } => {
                let n: f64 = shape.iter().map(|&d| d as f64).product();
                write!(
                    f,
                    "tensor of shape {} is too large ({:e} elements; the limit is 2^31)",
                    format_shape(shape),
                    n
                )
            }
            TensorError::OutOfMemory { what, bytes, limit } => match limit {
                Some(l) => write!(
                    f,
                    "{what} needs {}, over the memory limit of {} (set {} to change it)",
                    crate::memory::format_bytes(*bytes),
                    crate::memory::format_bytes(*l as u128),
                    crate::memory::MEMORY_ENV
                ),
                None => write!(
                    f,
                    "{what} needs {}, more memory than the system could provide",
                    crate::memory::format_bytes(*bytes)
                ),
            },
            TensorError::NotInteger { value } => {
                write!(f, "index {} is not an integer", crate::format::format_float(*value))
            }
            TensorError::DataLength { len, shape } => {
                let n: f64 = shape.iter().map(|&d| d as f64).product();
                write!(
                    f,
                    "cannot build a tensor of shape {} ({} elements) from {} value{}",
                    format_shape(shape),
                    n,
                    len,
                    if *len == 1 { "" } else { "s" }
                )
            }
            TensorError::EmptyReduction { op, shape } => {
                write!(f, "zero-size tensor of shape {} has no {}", format_shape(shape), op)
            }
            TensorError::NotMatrix { op, shape, square } => {
                let what = if *square { "a square matrix" } else { "a matrix" };
                if shape.len() < 2 {
                    write!(
                        f,
                        "`{op}` needs {what} (or a stack of them in the last two axes), but got a tensor of shape {}",
                        format_shape(shape)
                    )
                } else {
                    let (m, n) = (shape[shape.len() - 2], shape[shape.len() - 1]);
                    write!(
                        f,
                        "`{op}` needs square matrices in the last two axes, but shape {} holds {m} x {n} matrices",
                        format_shape(shape)
                    )
                }
            }
            TensorError::OperandShapes { op, a, b, reason } => write!(
                f,
                "`{op}` cannot combine a of shape {} with b of shape {}: {reason}",
                format_shape(a),
                format_shape(b)
            ),
            TensorError::Singular { op, index, pivot } => write!(
                f,
                "`{op}` failed: the matrix{} is singular (pivot {} of its triangular factor is exactly zero)",
                batch_note(index),
                pivot + 1
            ),
            TensorError::NotPositiveDefinite { op, index, order } => write!(
                f,
                "`{op}` failed: the matrix{} is not positive definite (its leading {order} x {order} block is not)",
                batch_note(index)
            ),
            TensorError::Invalid(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for TensorError {}

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, TensorError>;

/// Number of elements of `shape`, after checking everything that makes a
/// shape usable: at most [`MAX_NDIM`] axes, every axis size a valid dp int
/// (at most `i64::MAX`, so `x.shape` never wraps), at most [`MAX_ELEMENTS`]
/// elements ([`TensorError::TooLarge`]), and its buffer within the memory
/// budget ([`TensorError::OutOfMemory`], see [`crate::memory_limit`]).
///
/// Every operation that makes a shape (constructors, views, results) goes
/// through here before allocating, so a tensor that exists can always be
/// materialised.
pub fn checked_size(shape: &[usize]) -> Result<usize> {
    check_ndim(shape.len())?;
    let mut n: usize = 1;
    let mut zero = false;
    let mut overflow = false;
    for &d in shape {
        if d > i64::MAX as usize {
            return Err(TensorError::Invalid(format!(
                "a tensor axis may have at most {} elements, but this one would have {}",
                i64::MAX,
                d
            )));
        }
        if d == 0 {
            zero = true;
        }
        match n.checked_mul(d) {
            Some(v) if v <= MAX_ELEMENTS => n = v,
            _ => overflow = true,
        }
    }
    if zero {
        // Zero-size tensors are always fine, however large the other axes.
        return Ok(0);
    }
    if overflow || n > MAX_ELEMENTS {
        return Err(TensorError::TooLarge { shape: shape.to_vec() });
    }
    crate::memory::check_memory(n as u128 * std::mem::size_of::<f64>() as u128, || {
        format!("tensor of shape {}", format_shape(shape))
    })?;
    Ok(n)
}

/// Normalises a possibly negative axis against `ndim` (Python rules).
pub fn normalize_axis(axis: i64, ndim: usize) -> Result<usize> {
    let n = ndim as i64;
    if axis >= -n && axis < n {
        Ok(if axis < 0 { (axis + n) as usize } else { axis as usize })
    } else {
        Err(TensorError::AxisOutOfRange { axis, ndim })
    }
}

/// Error for an axis argument (already non-negative) that is out of range.
pub(crate) fn check_axis(axis: usize, ndim: usize) -> Result<()> {
    if axis < ndim {
        Ok(())
    } else {
        Err(TensorError::AxisOutOfRange {
            axis: axis.min(i64::MAX as usize) as i64,
            ndim,
        })
    }
}
