//! A plan's graph compiled for running: a flat list of primitive calls over
//! numbered slots, constants folded into the operands, and each operand
//! marked where it is used for the last time — the value then moves into the
//! primitive instead of being shared, so elementwise operations write into
//! their operand's buffer (memory planning: a slot's buffer is reused by the
//! next operation or freed as soon as nothing needs it, never at the end).
//!
//! Scalar arithmetic (the nodes of micrograd-style code, the scalar parts of
//! any step) runs on a register file of plain `f64`s instead: such an
//! instruction is an operator and three register numbers, with no `Value`
//! built, matched or dropped. Every node whose traced result is a float has a
//! register; instructions over values write it too when their result is one.

use crate::autodiff::capture::{AdjointRef, Extended};
use crate::autodiff::trace::Op;
use crate::diagnostics::{SourceMap, R};
use crate::prim::{from_tensor, Prim};
use crate::syntax::span::Span;
use crate::value::{values_equal, Value};

use super::native::NativeRun;
use super::profile::{Profile, Step as ProfiledStep};
use super::sharing::{RunKind, Sharing};
use dp_tensor::{BinaryOp, FusedArg, FusedKernel, UnaryOp};
use smallvec::SmallVec;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;

/// Where an operand comes from.
#[derive(Debug, Clone)]
enum Operand {
    /// A slot (a node of the graph), shared.
    Slot(u32),
    /// A slot read for the last time: its value moves out.
    Last(u32),
    /// A constant of the graph.
    Const(Value),
    /// A node computed by a scalar instruction: the float in its register.
    Reg(u32),
}

/// One step of a program.
#[derive(Debug)]
enum Instr {
    /// A primitive applied to values (boxed: an instruction is a few words,
    /// so a long scalar program streams through the cache compactly).
    Value(Box<ValueInstr>),
    /// A run of float arithmetic on registers: `Program::scalars[start..end]`,
    /// and the run as machine code where it was compiled (see [`super::native`]).
    Scalars(u32, u32, Option<Box<NativeRun>>),
    /// A group of elementwise nodes run as one fused kernel (see [`super::fuse`]).
    Fused(Box<FusedInstr>),
}

/// A fused elementwise kernel over its operands, computing one node.
#[derive(Debug)]
struct FusedInstr {
    kernel: FusedKernel,
    /// The kernel's arguments; with a `product`, followed by the product's
    /// two matrices (its kernel argument is a placeholder).
    args: SmallVec<[Operand; 4]>,
    /// The kernel argument computed as a matrix product into the kernel
    /// (matmul epilogue fusion, see `fuse`).
    product: Option<u16>,
    shape: Vec<usize>,
    out: u32,
    span: Span,
    /// The operations of the group, for `DP_JIT_PROFILE` (empty when it is off).
    names: String,
}

/// A float operation on registers: `out = op(a, b, c)` (unary operators
/// read `a` only, binary ones `a` and `b`).
#[derive(Debug, Clone, Copy)]
pub(super) struct ScalarInstr {
    pub(super) op: ScalarOp,
    pub(super) a: u32,
    pub(super) b: u32,
    pub(super) c: u32,
    pub(super) out: u32,
}

/// The operator of a [`ScalarInstr`]. The common arithmetic has variants of
/// its own, so the loop dispatches once per instruction; the fused forms
/// compute a product that nothing else reads together with the sum it feeds
/// (two roundings, exactly as the two nodes would: no FMA).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum ScalarOp {
    Add,
    Sub,
    Mul,
    Div,
    /// `a * b + c`.
    MulAdd,
    /// `c + a * b`.
    AddMul,
    /// `a * b - c`.
    MulSub,
    /// `c - a * b`.
    SubMul,
    Unary(UnaryOp),
    Binary(BinaryOp),
    /// Python's float `a % b` (`ops::arith::float_mod`).
    Mod,
    /// Python's float `a // b` (`ops::arith::float_floor_div`).
    FloorDiv,
    /// `where(a, b, c)` of floats: `b` where `a != 0.0` (a NaN too), else
    /// `c`, as the tensor kernel picks (relu's derivative selects so).
    Select,
    /// A guard: the run diverges at node `out` unless `a` holds the float in
    /// register `b` (the value the traced code saw), bit for bit.
    Check,
}

impl ScalarOp {
    fn of_binary(op: BinaryOp) -> ScalarOp {
        match op {
            BinaryOp::Add => ScalarOp::Add,
            BinaryOp::Sub => ScalarOp::Sub,
            BinaryOp::Mul => ScalarOp::Mul,
            BinaryOp::Div => ScalarOp::Div,
            other => ScalarOp::Binary(other),
        }
    }
}

/// One primitive call.
#[derive(Debug)]
struct ValueInstr {
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
    /// The slot of each input, with the value it must equal if the traced
    /// code read it, and whether any instruction or output reads the slot
    /// (a float input that only scalar instructions use lives in its
    /// register alone: a scalar MLP's 337 parameters are never stored as values).
    inputs: Vec<(u32, Option<Value>, bool)>,
    instrs: Vec<Instr>,
    /// The scalar instructions, in runs that `Instr::Scalars` point into.
    scalars: Vec<ScalarInstr>,
    /// One more than the largest register index a scalar instruction names.
    scalar_regs: usize,
    outputs: Vec<Operand>,
    /// The slots, kept between runs so a run does not allocate them.
    scratch: RefCell<Vec<Value>>,
    /// The slots a run writes values to (inputs and value instructions'
    /// results), emptied after each run; the others stay `none`.
    written: Vec<u32>,
    /// The float registers as a run starts: one per node, then one per
    /// constant of a scalar instruction (runs only write node registers).
    regs_init: Vec<f64>,
    /// The registers, kept between runs like `scratch`.
    regs: RefCell<Vec<f64>>,
    /// Each instruction's time, under `DP_JIT_PROFILE`.
    profile: Option<Rc<Profile>>,
    /// Which instructions share their work with the helper thread, tuned
    /// on the first runs.
    sharing: Sharing,
}

/// What memory planning makes of one run of a program, as `dp graph
/// --optimized` reports it: which tensor results get a buffer of their own,
/// which write into an operand's, and how many bytes are alive at once when
/// each buffer goes back to the allocator at its last use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryPlan {
    /// Instructions whose result is a tensor.
    pub tensors: usize,
    /// Of those, elementwise results written into the buffer of an operand
    /// read for the last time (nothing else holding it).
    pub in_place: usize,
    /// Of those, views of an operand's buffer (a transpose, a reshape of
    /// contiguous elements).
    pub views: usize,
    /// Most bytes of intermediate buffers alive at once (the inputs, which
    /// the caller holds, not counted).
    pub peak_bytes: usize,
    /// Bytes of every intermediate buffer: what keeping all of them to the
    /// end, as a recorded graph does, would hold.
    pub total_bytes: usize,
}

impl Program {
    /// The memory plan of a run of this program, compiled from `g`: the
    /// instructions in order with the buffers the traced values had, an
    /// elementwise instruction taking over the buffer of a tensor operand of
    /// its result's shape read for the last time (as [`apply_owned`] and the
    /// fused kernels do when nothing else holds it), every other buffer
    /// freed at the last read of the last slot holding it.
    pub fn memory_plan(&self, g: &Extended) -> MemoryPlan {
        let nodes = &g.tape.nodes;
        let tensor = |s: u32| match nodes.get(s as usize).map(|n| &n.out) {
            Some(Value::Tensor(t)) => Some(t.clone()),
            _ => None,
        };
        let mut plan = MemoryPlan::default();
        // The buffer each slot holds (inputs and constants have none: their
        // memory is not the run's) and, per buffer, its bytes and holders.
        let mut buffer_of: Vec<Option<usize>> = vec![None; self.n_slots];
        let mut buffers: Vec<(usize, usize)> = Vec::new();
        let mut live = 0usize;
        for ins in &self.instrs {
            let slot = |a: &Operand| match a {
                Operand::Slot(s) | Operand::Last(s) => Some(*s),
                _ => None,
            };
            let traced = |a: &Operand| match a {
                Operand::Const(v) => Some(v.clone()),
                _ => slot(a).and_then(|s| nodes.get(s as usize)).map(|n| n.out.clone()),
            };
            // The operands that may lend their buffer, as the run decides:
            // any of a fused kernel's without a reduction; the tensor of a
            // unary primitive, and of a binary one whose other operand is a
            // tensor or a float (`apply_owned`: an int goes the general way).
            let (args, out, lenders): (&[Operand], u32, &[Operand]) = match ins {
                Instr::Value(v) => {
                    let kinds: SmallVec<[Option<Value>; 3]> = v.args.iter().map(traced).collect();
                    let lenders = match (&v.prim, kinds.as_slice()) {
                        (Prim::Unary(_), [Some(Value::Tensor(_))]) => &v.args[..1],
                        (Prim::Binary(_), [Some(Value::Tensor(_)), Some(Value::Tensor(_) | Value::Float(_))]) => {
                            &v.args[..1]
                        }
                        (Prim::Binary(_), [Some(Value::Float(_)), Some(Value::Tensor(_))]) => &v.args[1..2],
                        _ => &[],
                    };
                    (&v.args, v.out, lenders)
                }
                Instr::Fused(f) if f.product.is_none() && f.kernel.reduce.is_none() => (&f.args, f.out, &f.args),
                Instr::Fused(f) => (&f.args, f.out, &[]),
                Instr::Scalars(..) => continue,
            };
            if let Some(t) = tensor(out) {
                plan.tensors += 1;
                // A buffer a slot can lend: held by it alone, and all of it
                // (a slice's view covers part of its buffer).
                let lendable = |s: u32| {
                    let b = buffer_of[s as usize]?;
                    let whole = tensor(s).is_some_and(|o| o.is_contiguous() && o.size() * 8 == buffers[b].0);
                    (buffers[b].1 == 1 && whole).then_some(b)
                };
                // A view of its operand: a transpose, a reshape of contiguous
                // elements, or what the traced values show sharing a buffer (a
                // contiguous slice), of the operand's buffer in this run or of
                // an input's or a constant's (memory that is not the run's).
                let view = match (ins, args.first()) {
                    (Instr::Value(v), Some(a)) => {
                        let operand = match traced(a) {
                            Some(Value::Tensor(o)) => Some(o),
                            _ => None,
                        };
                        let shares = operand.as_ref().is_some_and(|o| {
                            matches!(v.prim, Prim::Transpose(_))
                                || (matches!(v.prim, Prim::Reshape(_)) && o.is_contiguous())
                                || o.shares_buffer(&t)
                        });
                        shares.then(|| slot(a).and_then(|s| buffer_of[s as usize]))
                    }
                    _ => None,
                };
                let taken = lenders.iter().find_map(|a| match a {
                    Operand::Last(s) if t.is_contiguous() => {
                        lendable(*s).filter(|_| tensor(*s).is_some_and(|o| o.shape() == t.shape()))
                    }
                    _ => None,
                });
                let buffer = match (view, taken) {
                    (Some(of), _) => {
                        plan.views += 1;
                        if let Some(b) = of {
                            buffers[b].1 += 1;
                        }
                        of
                    }
                    (None, Some(b)) => {
                        plan.in_place += 1;
                        // The operand's slot gives the buffer up below.
                        buffers[b].1 += 1;
                        Some(b)
                    }
                    (None, None) => {
                        let bytes = t.size() * 8;
                        buffers.push((bytes, 1));
                        live += bytes;
                        plan.total_bytes += bytes;
                        Some(buffers.len() - 1)
                    }
                };
                buffer_of[out as usize] = buffer;
                plan.peak_bytes = plan.peak_bytes.max(live);
            }
            for a in args {
                if let Operand::Last(s) = a {
                    if let Some(b) = buffer_of[*s as usize].take() {
                        buffers[b].1 -= 1;
                        if buffers[b].1 == 0 {
                            live -= buffers[b].0;
                        }
                    }
                }
            }
        }
        plan
    }
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
        // A node or constant as an operand.
        let by_ref = |r: &AdjointRef| match r {
            AdjointRef::Node(n) if !constant(*n as usize) => Operand::Slot(*n),
            AdjointRef::Node(n) => Operand::Const(nodes[*n as usize].out.clone()),
            AdjointRef::Const(v) => Operand::Const(v.clone()),
        };
        let operand = |node: usize, k: usize| match nodes[node].parents.get(k).copied().flatten() {
            Some(p) if !constant(p as usize) => Operand::Slot(p),
            Some(p) => Operand::Const(nodes[p as usize].out.clone()),
            None => Operand::Const(nodes[node].inputs[k].clone()),
        };
        // Scalar instructions: a float operator whose traced operands and
        // result are floats (no guard: a guarded node is checked as a value).
        let is_float = |p: usize| matches!(nodes[p].out, Value::Float(_));
        let mut regs: Vec<f64> = vec![0.0; nodes.len()];
        let mut in_reg_only = vec![false; nodes.len()];
        let mut instrs: Vec<Step> = Vec::new();
        // Fusion groups: members other than the root are computed inside the
        // root's kernel and never stored.
        let groups = if super::fuse::enabled() {
            super::fuse::groups(g)
        } else {
            Vec::new()
        };
        let mut fused_root: Vec<Option<usize>> = vec![None; nodes.len()];
        let mut fused_inside = vec![false; nodes.len()];
        for (k, gr) in groups.iter().enumerate() {
            let Some((root, inside)) = gr.members.split_last() else {
                continue;
            };
            fused_root[*root as usize] = Some(k);
            inside.iter().for_each(|&m| fused_inside[m as usize] = true);
            if let Some(p) = &gr.product {
                fused_inside[p.node as usize] = true;
            }
            gr.absorbed.iter().for_each(|&b| fused_inside[b as usize] = true);
        }
        let mut groups: Vec<Option<super::fuse::Group>> = groups.into_iter().map(Some).collect();
        for (i, node) in nodes.iter().enumerate() {
            let Op::Prim(prim) = &node.op else { continue };
            if prim.is_leaf() || fused_inside[i] {
                continue;
            }
            if let Some(gr) = fused_root[i].and_then(|k| groups[k].take()) {
                let mut args: SmallVec<[Operand; 4]> = gr.args.iter().map(by_ref).collect();
                if let Some(p) = &gr.product {
                    // The product is never stored: its argument is a placeholder,
                    // and the matrices it multiplies follow the kernel's arguments.
                    args[p.arg as usize] = Operand::Const(Value::Float(0.0));
                    args.push(operand(p.node as usize, 0));
                    args.push(operand(p.node as usize, 1));
                }
                let names = if super::profile::enabled() {
                    let product = gr.product.iter().map(|p| p.node);
                    let members = product
                        .chain(gr.absorbed.iter().copied())
                        .chain(gr.members.iter().copied());
                    members
                        .map(|m| nodes[m as usize].op.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                } else {
                    String::new()
                };
                instrs.push(Step::Fused(Box::new(FusedInstr {
                    kernel: gr.kernel,
                    product: gr.product.map(|p| p.arg),
                    args,
                    shape: gr.shape,
                    out: i as u32,
                    span: node.span,
                    names,
                })));
                continue;
            }
            let guard = g.guards.contains(&(i as u32)).then(|| node.out.clone());
            // On floats, every unary and binary operator computes a float (a
            // comparison 1.0 or 0.0), as `apply` does.
            let op = match prim {
                Prim::Unary(u) if node.inputs.len() == 1 => Some(ScalarOp::Unary(u.0)),
                Prim::Binary(b) if node.inputs.len() == 2 => Some(ScalarOp::of_binary(b.0)),
                // `x ** n` of a float is `powf(x, n)` (see `IntPow::forward`).
                Prim::IntPow(_) if node.inputs.len() == 1 => Some(ScalarOp::Binary(BinaryOp::Pow)),
                Prim::FloatMod(_) if node.inputs.len() == 2 => Some(ScalarOp::Mod),
                Prim::FloatFloorDiv(_) if node.inputs.len() == 2 => Some(ScalarOp::FloorDiv),
                Prim::Where(_) if node.inputs.len() == 3 => Some(ScalarOp::Select),
                _ => None,
            };
            // A constant operand's register: a float, or an int constant of a
            // binary operator, which meets a float converted (`x ** 2`, `x % 2`;
            // see the primitives' `forward`).
            let binary = matches!(
                prim,
                Prim::Binary(_) | Prim::FloatMod(_) | Prim::FloatFloorDiv(_) | Prim::Where(_)
            );
            let mut constant_reg = |v: &Value| match *v {
                Value::Float(c) => Some(const_reg(&mut regs, c)),
                Value::Int(c) if binary => Some(const_reg(&mut regs, c as f64)),
                _ => None,
            };
            // The register of each operand, if every one is a float.
            let mut operand_regs: Option<SmallVec<[u32; 2]>> = (0..node.inputs.len())
                .map(|k| match node.parents.get(k).copied().flatten() {
                    Some(p) if is_float(p as usize) && !constant(p as usize) => Some(p),
                    Some(p) if constant(p as usize) => constant_reg(&nodes[p as usize].out),
                    Some(_) => None,
                    None => constant_reg(&node.inputs[k]),
                })
                .collect();
            if let (Prim::IntPow(n), Some(r)) = (prim, &mut operand_regs) {
                r.push(const_reg(&mut regs, f64::from(n.0)));
            }
            if let (Some(op), Some(r), Value::Float(seen)) = (op, operand_regs, &node.out) {
                in_reg_only[i] = true;
                let b = r.get(1).copied().unwrap_or(r[0]);
                instrs.push(Step::Scalar(ScalarInstr {
                    op,
                    a: r[0],
                    b,
                    c: r.get(2).copied().unwrap_or(b),
                    out: i as u32,
                }));
                if guard.is_some() {
                    // A condition the traced code branched on: it must come out as it did.
                    let expected = const_reg(&mut regs, *seen);
                    instrs.push(Step::Scalar(ScalarInstr {
                        op: ScalarOp::Check,
                        a: i as u32,
                        b: expected,
                        c: expected,
                        out: i as u32,
                    }));
                }
                continue;
            }
            instrs.push(Step::Value(Box::new(ValueInstr {
                prim: prim.clone(),
                args: (0..node.inputs.len()).map(|k| operand(i, k)).collect(),
                out: i as u32,
                guard,
                span: node.span,
            })));
        }
        // A value instruction reading a node that lives in a register only.
        let from_reg = |o: &mut Operand| {
            if let Operand::Slot(p) = *o {
                if in_reg_only[p as usize] {
                    *o = Operand::Reg(p);
                }
            }
        };
        for ins in &mut instrs {
            match ins {
                Step::Value(v) => v.args.iter_mut().for_each(from_reg),
                Step::Fused(f) => f.args.iter_mut().for_each(from_reg),
                Step::Scalar(_) => {}
            }
        }
        let outputs: Vec<Operand> = g
            .outputs
            .iter()
            .map(by_ref)
            .map(|mut o| {
                from_reg(&mut o);
                o
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
            let args = match ins {
                Step::Value(v) => &mut v.args[..],
                Step::Fused(f) => &mut f.args[..],
                Step::Scalar(_) => continue,
            };
            for a in args.iter_mut().rev() {
                if let Operand::Slot(s) = *a {
                    if !needed[s as usize] {
                        needed[s as usize] = true;
                        *a = Operand::Last(s);
                    }
                }
            }
        }
        let results: Vec<u32> = instrs
            .iter()
            .filter_map(|ins| match ins {
                Step::Value(v) => Some(v.out),
                Step::Fused(f) => Some(f.out),
                Step::Scalar(_) => None,
            })
            .collect();
        let instrs = fuse_products(instrs, &outputs);
        let (instrs, scalars) = into_runs(instrs);
        let mut slot_read = vec![false; nodes.len()];
        let mut note = |o: &Operand| {
            if let Operand::Slot(s) | Operand::Last(s) = o {
                slot_read[*s as usize] = true;
            }
        };
        for ins in &instrs {
            match ins {
                Instr::Value(v) => v.args.iter().for_each(&mut note),
                Instr::Fused(f) => f.args.iter().for_each(&mut note),
                Instr::Scalars(..) => {}
            }
        }
        outputs.iter().for_each(&mut note);
        let inputs: Vec<(u32, Option<Value>, bool)> = g
            .inputs
            .iter()
            .map(|&i| {
                let guard = g.guards.contains(&i).then(|| nodes[i as usize].out.clone());
                (i, guard, slot_read[i as usize])
            })
            .collect();
        let written = inputs
            .iter()
            .filter(|(_, _, read)| *read)
            .map(|&(i, _, _)| i)
            .chain(results)
            .collect();
        let candidate: Vec<bool> = instrs.iter().map(|i| !matches!(i, Instr::Scalars(..))).collect();
        let sharing = Sharing::new(&candidate);
        Program {
            sharing,
            n_slots: nodes.len(),
            inputs,
            instrs,
            scalar_regs: scalars
                .iter()
                .map(|s| s.a.max(s.b).max(s.c).max(s.out) as usize + 1)
                .max()
                .unwrap_or(0),
            scalars,
            outputs,
            scratch: RefCell::default(),
            written,
            regs: RefCell::new(regs.clone()),
            regs_init: regs,
            profile: None,
        }
    }

    /// Times every instruction of every run from now on (`DP_JIT_PROFILE`):
    /// `function` names the plan in the table, `sources` places each step.
    pub fn profile(&mut self, g: &Extended, function: &str, sources: &SourceMap) {
        let shape = |node: u32| match &g.tape.nodes[node as usize].out {
            Value::Tensor(t) => dp_tensor::format_shape(t.shape()),
            other => other.type_name().to_string(),
        };
        let at = |span: Span| sources.location(span);
        let steps = self
            .instrs
            .iter()
            .map(|ins| match ins {
                Instr::Value(v) => ProfiledStep {
                    label: format!("{} -> {}", v.prim.name(), shape(v.out)),
                    at: at(v.span),
                },
                Instr::Fused(f) => ProfiledStep {
                    label: format!("fused {} -> {}", f.names, shape(f.out)),
                    at: at(f.span),
                },
                Instr::Scalars(start, end, native) => ProfiledStep {
                    label: format!(
                        "{} scalar operations{}",
                        end - start,
                        if native.is_some() { " (machine code)" } else { "" }
                    ),
                    at: String::new(),
                },
            })
            .collect();
        self.profile = Some(super::profile::register(function, steps));
    }

    /// Runs the program on `inputs` (one per input, of the traced shapes).
    pub fn run(&self, inputs: &[Value]) -> R<Outcome> {
        let mut slots = std::mem::take(&mut *self.scratch.borrow_mut());
        slots.resize(self.n_slots, Value::None);
        let mut regs = std::mem::take(&mut *self.regs.borrow_mut());
        if regs.len() != self.regs_init.len() {
            // Taken by a run still going on (never expected: primitives do not
            // call back into plans): start from the constants.
            regs = self.regs_init.clone();
        }
        let r = self.run_in(&mut slots, &mut regs, inputs);
        // Nothing outlives the run in the slots (their buffers go back to the allocator now).
        for &s in &self.written {
            slots[s as usize] = Value::None;
        }
        *self.scratch.borrow_mut() = slots;
        *self.regs.borrow_mut() = regs;
        r
    }

    fn run_in(&self, slots: &mut [Value], regs: &mut [f64], inputs: &[Value]) -> R<Outcome> {
        for ((slot, guard, read), v) in self.inputs.iter().zip(inputs) {
            if guard.as_ref().is_some_and(|g| !as_traced(v, g)) {
                return Ok(Outcome::Diverged(*slot));
            }
            if let Value::Float(x) = v {
                regs[*slot as usize] = *x;
            }
            if *read {
                slots[*slot as usize] = v.clone();
            }
        }
        let kind = self.sharing.next_run();
        let run_started = kind.timed().then(|| (Instant::now(), dp_tensor::shared_jobs()));
        for (k, ins) in self.instrs.iter().enumerate() {
            let started = self.profile.as_ref().map(|_| Instant::now());
            let diverged = match kind {
                RunKind::Fixed => self.step(ins, slots, regs)?,
                RunKind::Settled if self.sharing.allowed(kind, k) => self.step(ins, slots, regs)?,
                RunKind::Settled => dp_tensor::with_sharing(false, || self.step(ins, slots, regs))?,
                RunKind::Tuning(setting) => {
                    let (t, jobs) = (Instant::now(), dp_tensor::shared_jobs());
                    let allowed = self.sharing.allowed(kind, k);
                    let diverged = dp_tensor::with_sharing(allowed, || self.step(ins, slots, regs))?;
                    self.sharing
                        .step_done(setting, k, t.elapsed(), dp_tensor::shared_jobs() != jobs);
                    diverged
                }
            };
            if let (Some(p), Some(t)) = (&self.profile, started) {
                p.add(k, t.elapsed());
            }
            if let Some(node) = diverged {
                return Ok(Outcome::Diverged(node));
            }
        }
        if let Some((t, jobs)) = run_started {
            let shared = dp_tensor::shared_jobs() != jobs;
            if let (Some(decision), Some(p)) = (self.sharing.run_done(kind, t.elapsed(), shared), &self.profile) {
                p.set_sharing(decision.summary, decision.two_threads);
            }
        }
        if let Some(p) = &self.profile {
            p.finish_run();
        }
        Ok(Outcome::Done(
            self.outputs
                .iter()
                .map(|o| match o {
                    Operand::Slot(s) | Operand::Last(s) => slots[*s as usize].clone(),
                    Operand::Const(v) => v.clone(),
                    Operand::Reg(s) => Value::Float(regs[*s as usize]),
                })
                .collect(),
        ))
    }

    /// Runs one instruction; `Some(node)` when the guard at that node came
    /// out differently.
    fn step(&self, ins: &Instr, slots: &mut [Value], regs: &mut [f64]) -> R<Option<u32>> {
        {
            let ins = match ins {
                Instr::Scalars(start, end, native) => {
                    let code = &self.scalars[*start as usize..*end as usize];
                    return Ok(if regs.len() >= self.scalar_regs {
                        match native {
                            // SAFETY: `scalar_regs` is past every register of every run.
                            Some(native) => unsafe { native.run(regs) },
                            None => run_scalars::<false>(code, regs),
                        }
                    } else {
                        // Never expected (the registers are made for this
                        // program): the checked loop.
                        run_scalars::<true>(code, regs)
                    });
                }
                Instr::Fused(f) => {
                    let mut args = f
                        .args
                        .iter()
                        .map(|a| match fetch(slots, regs, a) {
                            Value::Float(x) => Ok(FusedArg::Scalar(x)),
                            // An int input of the plan, converted as plain code converts it.
                            Value::Int(i) => Ok(FusedArg::Scalar(i as f64)),
                            Value::Tensor(t) => {
                                Ok(FusedArg::Tensor(Rc::try_unwrap(t).unwrap_or_else(|t| (*t).clone())))
                            }
                            other => Err(crate::diagnostics::Diagnostic::new(
                                crate::diagnostics::ErrorKind::Type,
                                format!(
                                    "a fused kernel was given {} where its trace saw a number",
                                    other.describe()
                                ),
                            )
                            .at(f.span)),
                        })
                        .collect::<R<Vec<FusedArg>>>()?;
                    let t = match f.product {
                        None => f.kernel.run(args, &f.shape),
                        Some(k) => {
                            let matrix = |a: Option<FusedArg>| match a {
                                Some(FusedArg::Tensor(t)) => Ok(t),
                                _ => Err(crate::diagnostics::Diagnostic::new(
                                    crate::diagnostics::ErrorKind::Type,
                                    "a fused matrix product was given a number where its trace saw a matrix",
                                )
                                .at(f.span)),
                            };
                            let b = matrix(args.pop())?;
                            let a = matrix(args.pop())?;
                            f.kernel.run_on_product(&a, &b, args, k as usize)
                        }
                    }
                    .map_err(|e| crate::prim::tensor_error(e).at(f.span))?;
                    let v = from_tensor(t);
                    if let Value::Float(x) = v {
                        // A sum of all elements: later scalar instructions read its register.
                        regs[f.out as usize] = x;
                    }
                    slots[f.out as usize] = v;
                    return Ok(None);
                }
                Instr::Value(ins) => ins,
            };
            let args: SmallVec<[Value; 3]> = ins.args.iter().map(|a| fetch(slots, regs, a)).collect();
            let v = apply_owned(&ins.prim, args).map_err(|d| d.at(ins.span))?;
            if ins.guard.as_ref().is_some_and(|g| !as_traced(&v, g)) {
                return Ok(Some(ins.out));
            }
            if let Value::Float(x) = v {
                regs[ins.out as usize] = x;
            }
            slots[ins.out as usize] = v;
            Ok(None)
        }
    }
}

/// Whether a guarded value is the one the traced code saw: floats bit for
/// bit (a read `-0.0` prints differently from `0.0`; a nan equals itself).
fn as_traced(now: &Value, seen: &Value) -> bool {
    match (now, seen) {
        (Value::Float(a), Value::Float(b)) => a.to_bits() == b.to_bits(),
        _ => values_equal(now, seen),
    }
}

/// An instruction while a program is being compiled (scalar ones are later
/// packed into runs).
enum Step {
    Value(Box<ValueInstr>),
    Scalar(ScalarInstr),
    Fused(Box<FusedInstr>),
}

/// Merges each product that only a sum or difference reads into that
/// instruction (`MulAdd` and kin): micrograd-style code is mostly such pairs
/// (`act + w * x` forward, sums of `g * w` backward), and one dispatch does
/// both. Registers are written once per run, so the product can be computed
/// where the sum is, later than its own node.
fn fuse_products(steps: Vec<Step>, outputs: &[Operand]) -> Vec<Step> {
    let reg_of = |o: &Operand| match o {
        Operand::Reg(r) => Some(*r as usize),
        _ => None,
    };
    let mut reads: Vec<u32> = Vec::new();
    let mut note = |r: usize| {
        if r >= reads.len() {
            reads.resize(r + 1, 0);
        }
        reads[r] += 1;
    };
    for step in &steps {
        match step {
            Step::Scalar(s) => {
                note(s.a as usize);
                if !matches!(s.op, ScalarOp::Unary(_)) {
                    note(s.b as usize);
                }
                if matches!(
                    s.op,
                    ScalarOp::MulAdd | ScalarOp::AddMul | ScalarOp::MulSub | ScalarOp::SubMul | ScalarOp::Select
                ) {
                    note(s.c as usize);
                }
            }
            Step::Value(v) => v.args.iter().filter_map(reg_of).for_each(&mut note),
            Step::Fused(f) => f.args.iter().filter_map(reg_of).for_each(&mut note),
        }
    }
    outputs.iter().filter_map(reg_of).for_each(&mut note);
    // The step computing each register that is a product read exactly once.
    let mut product_at: std::collections::HashMap<u32, usize> = std::collections::HashMap::new();
    for (k, step) in steps.iter().enumerate() {
        if let Step::Scalar(s) = step {
            if s.op == ScalarOp::Mul && reads.get(s.out as usize) == Some(&1) {
                product_at.insert(s.out, k);
            }
        }
    }
    let mut steps: Vec<Option<Step>> = steps.into_iter().map(Some).collect();
    for k in 0..steps.len() {
        let Some(Step::Scalar(s)) = &steps[k] else { continue };
        let s = *s;
        let (fused, product, other) = match s.op {
            ScalarOp::Add if product_at.contains_key(&s.a) => (ScalarOp::MulAdd, s.a, s.b),
            ScalarOp::Add if product_at.contains_key(&s.b) => (ScalarOp::AddMul, s.b, s.a),
            ScalarOp::Sub if product_at.contains_key(&s.a) => (ScalarOp::MulSub, s.a, s.b),
            ScalarOp::Sub if product_at.contains_key(&s.b) => (ScalarOp::SubMul, s.b, s.a),
            _ => continue,
        };
        // Invariant: `product_at` only holds indices of scalar products.
        let Some(at) = product_at.remove(&product) else {
            continue;
        };
        let Some(Step::Scalar(m)) = steps[at].take() else {
            continue;
        };
        steps[k] = Some(Step::Scalar(ScalarInstr {
            op: fused,
            a: m.a,
            b: m.b,
            c: other,
            out: s.out,
        }));
    }
    steps.into_iter().flatten().collect()
}

/// Packs consecutive scalar instructions into runs.
fn into_runs(steps: Vec<Step>) -> (Vec<Instr>, Vec<ScalarInstr>) {
    let mut instrs = Vec::new();
    let mut scalars: Vec<ScalarInstr> = Vec::new();
    let mut run_start = None;
    let min_native = super::native::min_run();
    let close = |instrs: &mut Vec<Instr>, scalars: &[ScalarInstr], start: &mut Option<usize>| {
        if let Some(b) = start.take() {
            let run = &scalars[b..];
            let compiled = if min_native.is_some_and(|m| run.len() >= m) {
                NativeRun::compile(run).map(Box::new)
            } else {
                None
            };
            instrs.push(Instr::Scalars(b as u32, scalars.len() as u32, compiled));
        }
    };
    for step in steps {
        match step {
            Step::Scalar(s) => {
                run_start.get_or_insert(scalars.len());
                scalars.push(s);
            }
            Step::Value(v) => {
                close(&mut instrs, &scalars, &mut run_start);
                instrs.push(Instr::Value(v));
            }
            Step::Fused(f) => {
                close(&mut instrs, &scalars, &mut run_start);
                instrs.push(Instr::Fused(f));
            }
        }
    }
    close(&mut instrs, &scalars, &mut run_start);
    (instrs, scalars)
}

/// Runs scalar instructions on the registers; `Some(node)` when the guard
/// of that node came out differently. `CHECKED == false` is for registers
/// that hold every index the instructions name (`Program::scalar_regs`):
/// bounds checks were a sixth of the loop's time.
#[inline(always)]
pub(super) fn run_scalars<const CHECKED: bool>(code: &[ScalarInstr], regs: &mut [f64]) -> Option<u32> {
    // The previous instruction's result, kept in a register: an operand that
    // is that result is taken from here rather than reloaded from `regs`, so
    // a chain of dependent operations does not wait on a store and a reload
    // at every link (store forwarding costs about as much as the arithmetic).
    let (mut last, mut last_val) = (u32::MAX, 0.0f64);
    for s in code {
        let read = |r: u32| {
            if r == last {
                last_val
            } else if CHECKED {
                regs[r as usize]
            } else {
                // SAFETY: unchecked runs are only given registers holding
                // every index their instructions name.
                unsafe { *regs.get_unchecked(r as usize) }
            }
        };
        let (a, b, c) = (read(s.a), read(s.b), read(s.c));
        let v = match s.op {
            ScalarOp::Add => a + b,
            ScalarOp::Sub => a - b,
            ScalarOp::Mul => a * b,
            ScalarOp::Div => a / b,
            ScalarOp::MulAdd => a * b + c,
            ScalarOp::AddMul => c + a * b,
            ScalarOp::MulSub => a * b - c,
            ScalarOp::SubMul => c - a * b,
            ScalarOp::Unary(u) => u.apply(a),
            ScalarOp::Binary(op) => op.apply(a, b),
            ScalarOp::Mod => crate::ops::arith::float_mod(a, b),
            ScalarOp::FloorDiv => crate::ops::arith::float_floor_div(a, b),
            ScalarOp::Select => {
                if a != 0.0 {
                    b
                } else {
                    c
                }
            }
            ScalarOp::Check => {
                // Bit for bit: a read `-0.0` prints differently from `0.0`.
                if a.to_bits() != b.to_bits() {
                    return Some(s.out);
                }
                continue;
            }
        };
        if CHECKED {
            regs[s.out as usize] = v;
        } else {
            // SAFETY: as for `read`.
            unsafe { *regs.get_unchecked_mut(s.out as usize) = v };
        }
        (last, last_val) = (s.out, v);
    }
    None
}

/// An operand's value for this run (a last use moves it out of its slot).
#[inline]
fn fetch(slots: &mut [Value], regs: &[f64], a: &Operand) -> Value {
    match a {
        Operand::Slot(s) => slots[*s as usize].clone(),
        Operand::Last(s) => std::mem::replace(&mut slots[*s as usize], Value::None),
        Operand::Const(v) => v.clone(),
        Operand::Reg(s) => Value::Float(regs[*s as usize]),
    }
}

/// A register holding the constant `c`, added after the nodes' registers.
fn const_reg(regs: &mut Vec<f64>, c: f64) -> u32 {
    regs.push(c);
    (regs.len() - 1) as u32
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
