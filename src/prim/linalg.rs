//! Linear algebra primitives: `MatMul` (NumPy `matmul`).

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
}
