//! A plan's graph compiled for running: a flat list of primitive calls over
//! numbered slots, constants folded into the operands, and each operand
//! marked where it is used for the last time — the value then moves into the
//! primitive instead of being shared, so elementwise operations write into
//! their operand's buffer (memory planning: a slot's buffer is reused by the
//! next operation or freed as soon as nothing needs it, never at the end).

use crate::autodiff::capture::{AdjointRef, Extended};
use crate::autodiff::trace::Op;
use crate::diagnostics::R;
use crate::prim::{from_tensor, Prim};
use crate::syntax::span::Span;
use crate::value::{values_equal, Value};
use smallvec::SmallVec;
use std::cell::RefCell;
use std::rc::Rc;

/// Where an operand comes from.
#[derive(Debug, Clone)]
enum Operand {
    /// A slot (a node of the graph), shared.
    Slot(u32),
    /// A slot read for the last time: its value moves out.
    Last(u32),
    /// A constant of the graph.
    Const(Value),
}

/// One primitive call.
#[derive(Debug)]
struct Instr {
    prim: Prim,
    args: SmallVec<[Operand; 3]>,
    out: u32,
    /// For a guard: the value the traced code saw, which this run must reproduce.
    guard: Option<Value>,
    span: Span,
}

/// A compiled graph.
#[derive(Debug)]
pub struct Program {
    n_slots: usize,
    /// The slot of each input, with the value it must equal if the traced code read it.
    inputs: Vec<(u32, Option<Value>)>,
    instrs: Vec<Instr>,
    outputs: Vec<Operand>,
    /// The slots, kept between runs so a run does not allocate them.
    scratch: RefCell<Vec<Value>>,
}

/// How a run ended.
pub enum Outcome {
    /// The outputs, in order.
    Done(Vec<Value>),
    /// The guard at this node of the graph came out differently.
    Diverged(u32),
}

impl Program {
    /// Compiles `g` (a graph without custom nodes: see `Plan::new`).
    pub fn new(g: &Extended) -> Program {
        let nodes = &g.tape.nodes;
        let is_input: Vec<bool> = {
            let mut v = vec![false; nodes.len()];
            for &i in &g.inputs {
                v[i as usize] = true;
            }
            v
        };
        // A leaf that is no input is a constant: its uses read the value directly.
        let constant = |p: usize| nodes[p].op.is_leaf() && !is_input[p];
        let operand = |node: usize, k: usize| match nodes[node].parents.get(k).copied().flatten() {
            Some(p) if !constant(p as usize) => Operand::Slot(p),
            Some(p) => Operand::Const(nodes[p as usize].out.clone()),
            None => Operand::Const(nodes[node].inputs[k].clone()),
        };
        let mut instrs = Vec::new();
        for (i, node) in nodes.iter().enumerate() {
            let Op::Prim(prim) = &node.op else { continue };
            if prim.is_leaf() {
                continue;
            }
            instrs.push(Instr {
                prim: prim.clone(),
                args: (0..node.inputs.len()).map(|k| operand(i, k)).collect(),
                out: i as u32,
                guard: g.guards.contains(&(i as u32)).then(|| node.out.clone()),
                span: node.span,
            });
        }
        let outputs: Vec<Operand> = g
            .outputs
            .iter()
            .map(|o| match o {
                AdjointRef::Node(n) if !constant(*n as usize) => Operand::Slot(*n),
                AdjointRef::Node(n) => Operand::Const(nodes[*n as usize].out.clone()),
                AdjointRef::Const(v) => Operand::Const(v.clone()),
            })
            .collect();
        // Last uses, scanning backwards: the first sighting of a slot from the
        // end is its last use, unless an output still needs it.
        let mut needed = vec![false; nodes.len()];
        for o in &outputs {
            if let Operand::Slot(s) = o {
                needed[*s as usize] = true;
            }
        }
        for ins in instrs.iter_mut().rev() {
            for a in ins.args.iter_mut().rev() {
                if let Operand::Slot(s) = *a {
                    if !needed[s as usize] {
                        needed[s as usize] = true;
                        *a = Operand::Last(s);
                    }
                }
            }
        }
        Program {
            n_slots: nodes.len(),
            inputs: g
                .inputs
                .iter()
                .map(|&i| (i, g.guards.contains(&i).then(|| nodes[i as usize].out.clone())))
                .collect(),
            instrs,
            outputs,
            scratch: RefCell::default(),
        }
    }

    /// Runs the program on `inputs` (one per input, of the traced shapes).
    pub fn run(&self, inputs: &[Value]) -> R<Outcome> {
        let mut slots = std::mem::take(&mut *self.scratch.borrow_mut());
        slots.resize(self.n_slots, Value::None);
        let r = self.run_in(&mut slots, inputs);
        // Nothing outlives the run in the slots (their buffers go back to the allocator now).
        slots.iter_mut().for_each(|s| *s = Value::None);
        *self.scratch.borrow_mut() = slots;
        r
    }

    fn run_in(&self, slots: &mut [Value], inputs: &[Value]) -> R<Outcome> {
        for ((slot, guard), v) in self.inputs.iter().zip(inputs) {
            if guard.as_ref().is_some_and(|g| !values_equal(v, g)) {
                return Ok(Outcome::Diverged(*slot));
            }
            slots[*slot as usize] = v.clone();
        }
        for ins in &self.instrs {
            let args: SmallVec<[Value; 3]> = ins
                .args
                .iter()
                .map(|a| match a {
                    Operand::Slot(s) => slots[*s as usize].clone(),
                    Operand::Last(s) => std::mem::replace(&mut slots[*s as usize], Value::None),
                    Operand::Const(v) => v.clone(),
                })
                .collect();
            let v = apply_owned(&ins.prim, args).map_err(|d| d.at(ins.span))?;
            if ins.guard.as_ref().is_some_and(|g| !values_equal(&v, g)) {
                return Ok(Outcome::Diverged(ins.out));
            }
            slots[ins.out as usize] = v;
        }
        Ok(Outcome::Done(
            self.outputs
                .iter()
                .map(|o| match o {
                    Operand::Slot(s) | Operand::Last(s) => slots[*s as usize].clone(),
                    Operand::Const(v) => v.clone(),
                })
                .collect(),
        ))
    }
}

/// Applies `prim` to `args`, which it owns: an elementwise operation whose
/// tensor operand nothing else holds writes its result into that buffer
/// (the kernels' `_owned` forms compute exactly what the plain ones do).
fn apply_owned(prim: &Prim, args: SmallVec<[Value; 3]>) -> R<Value> {
    // Scalar graphs (micrograd-style code) are mostly these: as the primitives compute them.
    match (prim, args.as_slice()) {
        (Prim::Binary(b), [Value::Float(x), Value::Float(y)]) => return Ok(Value::Float(b.0.apply(*x, *y))),
        (Prim::Unary(u), [Value::Float(x)]) => return Ok(Value::Float(u.0.apply(*x))),
        _ => {}
    }
    let op = match prim {
        Prim::Unary(_) | Prim::Binary(_) => prim,
        _ => return crate::prim::raw(prim, &args),
    };
    let mut it = args.into_iter();
    let (a, b) = (it.next(), it.next());
    match (op, a, b) {
        (Prim::Unary(u), Some(Value::Tensor(t)), None) => match Rc::try_unwrap(t) {
            Ok(t) => Ok(from_tensor(t.unary_owned(u.0))),
            Err(t) => crate::prim::raw(prim, &[Value::Tensor(t)]),
        },
        (Prim::Binary(bin), Some(Value::Tensor(x)), Some(y)) => match (Rc::try_unwrap(x), y) {
            (Ok(x), Value::Float(s)) => Ok(from_tensor(x.binary_scalar_owned(s, bin.0, false))),
            (Ok(x), Value::Tensor(y)) => Ok(from_tensor(
                x.binary_owned(&y, bin.0).map_err(crate::prim::tensor_error)?,
            )),
            (Ok(x), y) => crate::prim::raw(prim, &[Value::Tensor(Rc::new(x)), y]),
            (Err(x), y) => crate::prim::raw(prim, &[Value::Tensor(x), y]),
        },
        (Prim::Binary(bin), Some(Value::Float(s)), Some(Value::Tensor(x))) => match Rc::try_unwrap(x) {
            Ok(x) => Ok(from_tensor(x.binary_scalar_owned(s, bin.0, true))),
            Err(x) => crate::prim::raw(prim, &[Value::Float(s), Value::Tensor(x)]),
        },
        (_, a, b) => {
            let args: SmallVec<[Value; 3]> = a.into_iter().chain(b).collect();
            crate::prim::raw(prim, &args)
        }
    }
}
