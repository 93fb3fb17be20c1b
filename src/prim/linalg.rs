//! Linear algebra primitives: `MatMul` (NumPy `matmul`).

use super::batching::{example_shape, reshape_examples, with_rank};
use super::rule_util::sum_terms;
use super::{as_tensor, from_tensor, te, Prim, Primitive, R};
use crate::ops::{self, shape_of, unbroadcast};
use crate::value::Value;

/// NumPy `matmul`, including 1-d operands and broadcast batch dimensions.
#[derive(Clone, Debug, PartialEq)]
pub struct MatMul;

fn matmul(a: Value, b: Value) -> R<Value> {
    super::apply(&Prim::MatMul(MatMul), &[a, b])
}

/// An operand with a 1-d example turned into a matrix: a row (`[1, k]`) on
/// the left, a column (`[k, 1]`) on the right.
fn as_matrix(v: &Value, batched: bool, n: usize, example: &[usize], left: bool) -> R<Value> {
    if example.len() != 1 {
        return Ok(v.clone());
    }
    let m = if left { [1, example[0]] } else { [example[0], 1] };
    if batched {
        reshape_examples(v, n, &m)
    } else {
        ops::reshape(v, &m)
    }
}

/// The shape of one example's product, by NumPy's `matmul` rules.
fn matmul_shape(a: &[usize], b: &[usize]) -> R<Vec<usize>> {
    let bad = || {
        crate::diagnostics::Diagnostic::new(
            crate::diagnostics::ErrorKind::Shape,
            format!(
                "matmul: shapes {} and {} do not fit",
                dp_tensor::format_shape(a),
                dp_tensor::format_shape(b)
            ),
        )
    };
    if a.is_empty() || b.is_empty() {
        return Err(bad());
    }
    let a2: Vec<usize> = if a.len() == 1 { vec![1, a[0]] } else { a.to_vec() };
    let b2: Vec<usize> = if b.len() == 1 { vec![b[0], 1] } else { b.to_vec() };
    let (ra, rb) = (a2.len(), b2.len());
    if a2[ra - 1] != b2[rb - 2] {
        return Err(bad());
    }
    let mut out = dp_tensor::broadcast_shapes(&a2[..ra - 2], &b2[..rb - 2]).ok_or_else(bad)?;
    if a.len() > 1 {
        out.push(a2[ra - 2]);
    }
    if b.len() > 1 {
        out.push(b2[rb - 1]);
    }
    Ok(out)
}

fn swap_last_two(x: &Value) -> R<Value> {
    let n = shape_of(x).len();
    let mut perm: Vec<usize> = (0..n).collect();
    perm.swap(n - 2, n - 1);
    ops::transpose(x, &perm)
}

impl Primitive for MatMul {
    fn name(&self) -> String {
        "`@`".into()
    }
    fn forward(&self, x: &[Value]) -> R<Value> {
        Ok(from_tensor(te(as_tensor(&x[0])?.matmul(&*as_tensor(&x[1])?))?))
    }
    fn vjp(&self, x: &[Value], _y: &Value, g: &Value, needs: &[bool]) -> R<Vec<Option<Value>>> {
        let (a, b) = (&x[0], &x[1]);
        let (sa, sb) = (shape_of(a), shape_of(b));
        // Promote 1-d operands to matrices, as NumPy does, and work with 2-d+ shapes.
        let a2 = if sa.len() == 1 {
            ops::reshape(a, &[1, sa[0]])?
        } else {
            a.clone()
        };
        let b2 = if sb.len() == 1 {
            ops::reshape(b, &[sb[0], 1])?
        } else {
            b.clone()
        };
        let out2 = {
            let (sa2, sb2) = (shape_of(&a2), shape_of(&b2));
            let batch = dp_tensor::broadcast_shapes(&sa2[..sa2.len() - 2], &sb2[..sb2.len() - 2]).unwrap_or_default();
            let mut s = batch;
            s.push(sa2[sa2.len() - 2]);
            s.push(sb2[sb2.len() - 1]);
            s
        };
        let g2 = ops::reshape(g, &out2)?;
        let mut res = vec![None, None];
        if needs[0] {
            let ga = matmul(g2.clone(), swap_last_two(&b2)?)?;
            let ga = unbroadcast(&ga, &a2)?;
            res[0] = Some(ops::reshape(&ga, &sa)?);
        }
        if needs[1] {
            let gb = matmul(swap_last_two(&a2)?, g2)?;
            let gb = unbroadcast(&gb, &b2)?;
            res[1] = Some(ops::reshape(&gb, &sb)?);
        }
        Ok(res)
    }
    fn jvp(&self, x: &[Value], t: &[Option<Value>], _y: &Value) -> R<Option<Value>> {
        let ta = t[0].as_ref().map(|v| matmul(v.clone(), x[1].clone())).transpose()?;
        let tb = t[1].as_ref().map(|v| matmul(x[0].clone(), v.clone())).transpose()?;
        sum_terms(vec![ta, tb])
    }
    // One batched matmul: 1-d examples become matrices (as NumPy does),
    // batched operands get the rank of the wider example so the batch axis
    // stays in front of the broadcast stack axes, and the result is
    // reshaped to the examples' output shape.
    fn batch(&self, x: &[Value], batched: &[bool], n: usize) -> R<Value> {
        let (ea, eb) = (example_shape(&x[0], batched[0]), example_shape(&x[1], batched[1]));
        let out = matmul_shape(&ea, &eb)?;
        let a = as_matrix(&x[0], batched[0], n, &ea, true)?;
        let b = as_matrix(&x[1], batched[1], n, &eb, false)?;
        let rank = ea.len().max(eb.len()).max(2);
        let a = if batched[0] { with_rank(&a, rank)? } else { a };
        let b = if batched[1] { with_rank(&b, rank)? } else { b };
        reshape_examples(&matmul(a, b)?, n, &out)
    }
}
