//! `Cumsum`: running sums along an axis, forwards or from the end. Linear:
//! its JVP is itself applied to the tangent, its VJP the running sums of the
//! cotangent taken the other way.

use super::rule_util::linear;
use super::{as_tensor, from_tensor, te, Prim, Primitive, R};
use crate::value::Value;
use dp_tensor::{SliceSpec, Tensor};

/// `cumsum(x, axis)`: element `i` along `axis` is the sum of elements `0..=i`
/// (of `i..` when `reverse`), added one after another as NumPy adds them, so
/// a differentiated or jitted `cumsum` gives the bits a plain one gives.
#[derive(Clone, Debug, PartialEq)]
pub struct Cumsum {
    /// The axis summed along.
    pub axis: usize,
    /// Sum from the last element back (the transpose of the forward sums).
    pub reverse: bool,
}

/// `t` reversed along `axis` (a contiguous copy).
fn flipped(t: &Tensor, axis: usize) -> R<Tensor> {
    let mut specs = vec![
        SliceSpec::Range {
            start: None,
            stop: None,
            step: 1
        };
        axis
    ];
    specs.push(SliceSpec::Range {
        start: None,
        stop: None,
        step: -1,
    });
    Ok(te(t.slice(&specs))?.contiguous())
}

impl Primitive for Cumsum {
    fn name(&self) -> String {
        "cumsum".into()
    }
    fn params(&self) -> Vec<String> {
        let mut p = vec![format!("axis={}", self.axis)];
        if self.reverse {
            p.push("reverse=true".into());
        }
        p
    }
    fn forward(&self, x: &[Value]) -> R<Value> {
        let t = as_tensor(&x[0])?;
        Ok(from_tensor(if self.reverse {
            flipped(&te(flipped(&t, self.axis)?.cumsum(self.axis))?, self.axis)?
        } else {
            te(t.cumsum(self.axis))?
        }))
    }
    fn vjp(&self, _x: &[Value], _y: &Value, g: &Value, _needs: &[bool]) -> R<Vec<Option<Value>>> {
        let transpose = Prim::Cumsum(Cumsum {
            axis: self.axis,
            reverse: !self.reverse,
        });
        Ok(vec![Some(super::apply(&transpose, std::slice::from_ref(g))?)])
    }
    fn jvp(&self, x: &[Value], t: &[Option<Value>], _y: &Value) -> R<Option<Value>> {
        linear(&Prim::Cumsum(self.clone()), x, t)
    }
    // The batch axis leads: the summed axis moves one place right.
    fn batch(&self, x: &[Value], _batched: &[bool], _n: usize) -> R<Value> {
        let moved = Prim::Cumsum(Cumsum {
            axis: self.axis + 1,
            reverse: self.reverse,
        });
        super::apply(&moved, x)
    }
}
