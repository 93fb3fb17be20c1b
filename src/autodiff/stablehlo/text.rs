//! The MLIR text of a StableHLO function: value types, SSA names, constants.

use crate::diagnostics::{Diagnostic, ErrorKind, R};
use crate::value::Value;
use dp_tensor::DType;
use std::fmt::Write;

/// An element type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem {
    /// `f64`: dp's floats and float tensors.
    F64,
    /// `i1`: bool tensors (comparison results, masks).
    I1,
    /// `i64`: gather and scatter indices.
    I64,
}

/// A tensor type: shape and element type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ty {
    /// The dimensions (empty for a scalar).
    pub shape: Vec<usize>,
    /// The element type.
    pub elem: Elem,
}

impl Ty {
    /// A type of `shape` and `elem`.
    pub fn new(shape: &[usize], elem: Elem) -> Ty {
        Ty {
            shape: shape.to_vec(),
            elem,
        }
    }

    /// The type of a dp value in the graph (floats and tensors only).
    pub fn of(v: &Value) -> R<Ty> {
        match v.peek() {
            Value::Float(_) | Value::Int(_) => Ok(Ty::new(&[], Elem::F64)),
            Value::Bool(_) => Ok(Ty::new(&[], Elem::I1)),
            Value::Tensor(t) => Ok(Ty::new(
                t.shape(),
                if t.dtype() == DType::Bool { Elem::I1 } else { Elem::F64 },
            )),
            other => Err(Diagnostic::new(
                ErrorKind::Type,
                format!(
                    "`graph_stablehlo`: the graph holds {}, which is not a tensor",
                    other.describe()
                ),
            )),
        }
    }

    /// This shape with element type `elem`.
    pub fn with_elem(&self, elem: Elem) -> Ty {
        Ty::new(&self.shape, elem)
    }

    /// The number of elements.
    pub fn size(&self) -> usize {
        self.shape.iter().product()
    }
}

impl std::fmt::Display for Ty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("tensor<")?;
        for d in &self.shape {
            write!(f, "{d}x")?;
        }
        f.write_str(match self.elem {
            Elem::F64 => "f64>",
            Elem::I1 => "i1>",
            Elem::I64 => "i64>",
        })
    }
}

/// A value of the function: its SSA name and type.
#[derive(Clone, Debug)]
pub struct V {
    /// `%3`, `%arg0`.
    pub name: String,
    /// Its type.
    pub ty: Ty,
}

impl V {
    /// A named value.
    pub fn new(name: String, ty: Ty) -> V {
        V { name, ty }
    }
}

/// The body of `@main` being written.
#[derive(Default)]
pub struct Emitter {
    body: String,
    next: usize,
}

impl Emitter {
    /// Appends `%N = {rhs}` (an operation producing one value of `ty`).
    pub fn op(&mut self, rhs: &str, ty: Ty) -> V {
        let name = format!("%{}", self.next);
        self.next += 1;
        let _ = writeln!(self.body, "    {name} = {rhs}");
        V::new(name, ty)
    }

    /// A fresh SSA name, for a value defined inside a region.
    pub fn fresh(&mut self) -> String {
        let name = format!("%{}", self.next);
        self.next += 1;
        name
    }

    /// Appends `%N:k = {rhs}` (an operation producing `tys.len()` values)
    /// and returns its results `%N#0`, `%N#1`, ...
    pub fn ops(&mut self, rhs: &str, tys: &[Ty]) -> Vec<V> {
        let name = self.fresh();
        let _ = writeln!(self.body, "    {name}:{} = {rhs}", tys.len());
        tys.iter()
            .enumerate()
            .map(|(i, ty)| V::new(format!("{name}#{i}"), ty.clone()))
            .collect()
    }

    /// A scalar constant of `elem` with value `x`.
    pub fn scalar(&mut self, x: f64, elem: Elem) -> V {
        let lit = match elem {
            Elem::F64 => format!("0x{:016X}", x.to_bits()),
            Elem::I1 => (x != 0.0).to_string(),
            Elem::I64 => format!("{}", x as i64),
        };
        let ty = Ty::new(&[], elem);
        self.op(&format!("stablehlo.constant dense<{lit}> : {ty}"), ty)
    }

    /// `x` filling a tensor of `ty`.
    pub fn full(&mut self, x: f64, ty: &Ty) -> V {
        let s = self.scalar(x, ty.elem);
        self.broadcast(s, &ty.shape)
    }

    /// A dp value (a float, int, bool or tensor the graph uses) as a
    /// constant, bit-exact: a splat for a tensor of one repeated value, else
    /// its little-endian bytes in hexadecimal.
    pub fn constant(&mut self, v: &Value) -> R<V> {
        let ty = Ty::of(v)?;
        let data: Vec<f64> = match v.peek() {
            Value::Float(x) => vec![*x],
            Value::Int(i) => vec![*i as f64],
            Value::Bool(b) => vec![if *b { 1.0 } else { 0.0 }],
            Value::Tensor(t) => t.to_vec(),
            _ => Vec::new(),
        };
        if data
            .iter()
            .all(|x| x.to_bits() == data.first().map_or(0, |f| f.to_bits()))
        {
            return Ok(self.full(data.first().copied().unwrap_or(0.0), &ty));
        }
        let f64_ty = ty.with_elem(Elem::F64);
        let mut hex = String::with_capacity(2 + 16 * data.len());
        hex.push_str("0x");
        for x in &data {
            for b in x.to_le_bytes() {
                let _ = write!(hex, "{b:02X}");
            }
        }
        let c = self.op(&format!("stablehlo.constant dense<\"{hex}\"> : {f64_ty}"), f64_ty);
        Ok(self.coerce(c, &ty))
    }

    /// `v` converted to element type `elem` (bools as 0/1 numbers, numbers
    /// as bools by `!= 0`, as dp treats them).
    pub fn convert(&mut self, v: V, elem: Elem) -> V {
        if v.ty.elem == elem {
            return v;
        }
        let ty = v.ty.with_elem(elem);
        if elem == Elem::I1 {
            let zero = self.full(0.0, &v.ty);
            let ty_in = &v.ty;
            return self.op(
                &format!(
                    "stablehlo.compare NE, {}, {}, {} : ({ty_in}, {ty_in}) -> {ty}",
                    v.name,
                    zero.name,
                    compare_type(ty_in.elem)
                ),
                ty,
            );
        }
        self.op(&format!("stablehlo.convert {} : ({}) -> {ty}", v.name, v.ty), ty)
    }

    /// `v` as float64.
    pub fn f64(&mut self, v: V) -> V {
        self.convert(v, Elem::F64)
    }

    /// `v` broadcast (NumPy rules: trailing dimensions aligned, size-1
    /// dimensions stretched) to `shape`.
    pub fn broadcast(&mut self, v: V, shape: &[usize]) -> V {
        if v.ty.shape == shape {
            return v;
        }
        let lead = shape.len() - v.ty.shape.len().min(shape.len());
        let dims: Vec<usize> = (lead..shape.len()).collect();
        let ty = Ty::new(shape, v.ty.elem);
        self.op(
            &format!(
                "stablehlo.broadcast_in_dim {}, dims = {} : ({}) -> {ty}",
                v.name,
                list(&dims),
                v.ty
            ),
            ty,
        )
    }

    /// `v` reshaped to `shape` (same number of elements).
    pub fn reshape(&mut self, v: V, shape: &[usize]) -> V {
        if v.ty.shape == shape {
            return v;
        }
        let ty = Ty::new(shape, v.ty.elem);
        self.op(&format!("stablehlo.reshape {} : ({}) -> {ty}", v.name, v.ty), ty)
    }

    /// `v` made of type `ty`: its element type converted and its shape
    /// reshaped (a scalar the graph holds as a 1-element tensor, say).
    pub fn coerce(&mut self, v: V, ty: &Ty) -> V {
        let v = self.convert(v, ty.elem);
        if v.ty.size() == ty.size() {
            self.reshape(v, &ty.shape)
        } else {
            self.broadcast(v, &ty.shape)
        }
    }
}

/// The comparison type of `stablehlo.compare` for an element type.
pub fn compare_type(elem: Elem) -> &'static str {
    match elem {
        Elem::F64 => "FLOAT",
        Elem::I1 => "UNSIGNED",
        Elem::I64 => "SIGNED",
    }
}

/// `[1, 2, 3]`.
pub fn list(xs: &[usize]) -> String {
    let items: Vec<String> = xs.iter().map(|x| x.to_string()).collect();
    format!("[{}]", items.join(", "))
}

/// The module around the body of `@main`.
pub fn module(name: &str, params: &[String], body: Emitter, results: &[V]) -> String {
    let types: Vec<String> = results.iter().map(|r| r.ty.to_string()).collect();
    let names: Vec<&str> = results.iter().map(|r| r.name.as_str()).collect();
    let mut s = String::new();
    let _ = writeln!(s, "module @{name} {{");
    let _ = writeln!(
        s,
        "  func.func public @main({}) -> ({}) {{",
        params.join(", "),
        types.join(", ")
    );
    s.push_str(&body.body);
    let _ = writeln!(s, "    return {} : {}", names.join(", "), types.join(", "));
    s.push_str("  }\n}\n");
    s
}
