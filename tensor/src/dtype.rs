//! Element types. Every tensor stores `f64`; a bool tensor is one whose
//! elements are all `0.0` or `1.0` and whose [`DType`] says to treat them as
//! `false`/`true`. Keeping one storage type keeps every kernel: arithmetic on
//! a bool tensor simply sees 0.0/1.0 and gives an `f64` tensor, as NumPy
//! promotes bool to float.

use crate::error::Result;
use crate::tensor::Tensor;

/// The element type of a tensor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum DType {
    /// 64-bit floats (the default).
    #[default]
    F64,
    /// Booleans, stored as `0.0` (false) and `1.0` (true).
    Bool,
}

impl DType {
    /// The NumPy-style name: `float64` or `bool`.
    pub fn name(self) -> &'static str {
        match self {
            DType::F64 => "float64",
            DType::Bool => "bool",
        }
    }
}

impl Tensor {
    /// The element type.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Whether this is a bool tensor.
    pub fn is_bool(&self) -> bool {
        self.dtype == DType::Bool
    }

    /// A bool tensor from booleans in row-major order; `data.len()` must equal
    /// the product of `shape`.
    pub fn from_bools(data: &[bool], shape: &[usize]) -> Result<Tensor> {
        let mut buf = crate::buffer::alloc(shape)?;
        buf.extend(data.iter().map(|&b| f64::from(u8::from(b))));
        Ok(Tensor::from_vec(buf, shape)?.marked_bool())
    }

    /// The same elements read as floats: a view (no copy), since bools are
    /// stored as 0.0/1.0 already.
    pub fn to_f64(&self) -> Tensor {
        let mut t = self.clone();
        t.dtype = DType::F64;
        t
    }

    /// NumPy `astype(bool)`: `true` where an element is non-zero (NaN is
    /// non-zero, as in NumPy). A bool tensor is returned as is.
    pub fn to_bool(&self) -> Result<Tensor> {
        if self.is_bool() {
            return Ok(self.clone());
        }
        let mut buf = crate::buffer::alloc(&self.shape)?;
        let src = self.contiguous();
        // `contiguous` gives a tensor whose `as_slice` is always `Some`.
        let s = src.as_slice().unwrap_or(&[]);
        buf.extend(s.iter().map(|&x| if x != 0.0 { 1.0 } else { 0.0 }));
        Ok(Tensor::from_parts(buf, self.shape.clone()).marked_bool())
    }

    /// Marks a tensor whose elements the caller knows to be 0.0/1.0 (the
    /// result of a comparison kernel, a gather from a bool tensor) as bool.
    /// Elements are not checked: this is a flag change, not a conversion; use
    /// [`to_bool`](Self::to_bool) to convert arbitrary values.
    pub fn marked_bool(mut self) -> Tensor {
        self.dtype = DType::Bool;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BinaryOp, PrintOptions, UnaryOp};

    fn t(v: &[f64], s: &[usize]) -> Tensor {
        Tensor::from_vec(v.to_vec(), s).unwrap()
    }

    #[test]
    fn comparisons_and_predicates_give_bool() {
        let a = t(&[1.0, 2.0, f64::NAN], &[3]);
        let b = t(&[2.0, 2.0, 0.0], &[3]);
        let lt = a.binary(&b, BinaryOp::Lt).unwrap();
        assert!(lt.is_bool());
        assert_eq!(lt.to_vec(), vec![1.0, 0.0, 0.0]);
        assert!(a.binary_scalar(1.5, BinaryOp::Ge, false).is_bool());
        assert!(a.unary(UnaryOp::IsNan).is_bool());
        assert!(a.clone().unary_owned(UnaryOp::IsFinite).is_bool());
        // Arithmetic on bools reads them as 0.0/1.0 and gives floats, also
        // when the bool buffer is reused in place.
        let sum = lt.binary(&lt, BinaryOp::Add).unwrap();
        assert_eq!(sum.dtype(), DType::F64);
        assert_eq!(sum.to_vec(), vec![2.0, 0.0, 0.0]);
        let owned = lt.clone().binary_scalar_owned(1.0, BinaryOp::Add, false);
        assert_eq!(owned.dtype(), DType::F64);
        assert_eq!(lt.unary(UnaryOp::Neg).dtype(), DType::F64);
    }

    #[test]
    fn views_gathers_and_joins_keep_bool() {
        let m = Tensor::from_bools(&[true, false, false, true, true, false], &[2, 3]).unwrap();
        assert!(m.t().is_bool());
        assert!(m.reshape(&[3, 2]).unwrap().is_bool());
        assert!(m.t().contiguous().is_bool());
        assert!(m.broadcast_to(&[4, 2, 3]).unwrap().is_bool());
        assert!(m.take(&t(&[1.0], &[1]), 0).unwrap().is_bool());
        assert!(Tensor::concat(&[&m, &m], 0).unwrap().is_bool());
        let u = m.unique_all().unwrap();
        assert!(u.values.is_bool() && !u.counts.is_bool());
        assert!(!Tensor::concat(&[&m, &m.to_f64()], 0).unwrap().is_bool());
        let w = Tensor::where_(&m, &m, &m.to_f64()).unwrap();
        assert_eq!(w.dtype(), DType::F64);
        assert!(Tensor::where_(&m.to_f64(), &m, &m).unwrap().is_bool());
    }

    #[test]
    fn conversions() {
        let x = t(&[0.0, -2.0, f64::NAN, 0.5], &[4]);
        let b = x.to_bool().unwrap();
        assert!(b.is_bool());
        assert_eq!(b.to_vec(), vec![0.0, 1.0, 1.0, 1.0]);
        assert_eq!(b.to_f64().dtype(), DType::F64);
        assert_eq!(DType::Bool.name(), "bool");
        assert_eq!(DType::F64.name(), "float64");
    }

    #[test]
    fn bools_print_like_numpy() {
        let o = PrintOptions::default();
        let m = Tensor::from_bools(&[true, false, false, true], &[2, 2]).unwrap();
        // np.array2string(..., separator=', ') with True/False spelled true/false.
        assert_eq!(crate::format_tensor(&m, &o), "[[ true, false],\n [false,  true]]");
        let v = Tensor::from_bools(&[true, false], &[2]).unwrap();
        assert_eq!(crate::format_tensor(&v, &o), "[true, false]");
        // One line is not padded (dp's rule for floats too: NumPy pads to
        // `[ True, False, ...]`).
        let long: Vec<bool> = (0..2000).map(|i| i % 3 == 0).collect();
        let l = Tensor::from_bools(&long, &[2000]).unwrap();
        assert_eq!(
            crate::format_tensor(&l, &o),
            "[true, false, false, ..., false, true, false]"
        );
        assert_eq!(
            crate::format_tensor(&Tensor::from_bools(&[true], &[]).unwrap(), &o),
            "true"
        );
    }
}
