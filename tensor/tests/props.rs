//! Property tests against naive reference loops over random shapes (including
//! size-0 and size-1 axes) and non-contiguous views.
use dp_tensor::Rng as DRng;
use dp_tensor::*;
use proptest::prelude::*;

/// All multi-indices of `shape` in row-major order.
fn indices(shape: &[usize]) -> Vec<Vec<usize>> {
    let n: usize = shape.iter().product();
    let mut out = Vec::with_capacity(n);
    for mut flat in 0..n {
        let mut idx = vec![0; shape.len()];
        for d in (0..shape.len()).rev() {
            idx[d] = flat % shape[d];
            flat /= shape[d];
        }
        out.push(idx);
    }
    out
}

/// A tensor of `shape` with values from `seed`, laid out per `layout`:
/// 0 contiguous, 1 transposed view, 2 strided (step-2) slice view, 3 reversed last axis.
fn make(shape: &[usize], layout: u8, seed: u64) -> Tensor {
    let mut rng = DRng::new(seed);
    let round = |t: Tensor| t.map(|x| (x * 8.0).round() / 4.0); // small exact values
    match layout {
        1 => {
            let rev: Vec<usize> = shape.iter().rev().copied().collect();
            round(rng.normal(&rev).unwrap()).t()
        }
        2 if !shape.is_empty() => {
            let mut big = shape.to_vec();
            *big.last_mut().unwrap() *= 2;
            let base = round(rng.normal(&big).unwrap());
            let mut specs = vec![SliceSpec::full(); shape.len() - 1];
            specs.push(SliceSpec::Range {
                start: None,
                stop: None,
                step: 2,
            });
            base.slice(&specs).unwrap()
        }
        3 if !shape.is_empty() => {
            let base = round(rng.normal(shape).unwrap());
            let mut specs = vec![SliceSpec::full(); shape.len() - 1];
            specs.push(SliceSpec::Range {
                start: None,
                stop: None,
                step: -1,
            });
            base.slice(&specs).unwrap()
        }
        _ => round(rng.normal(shape).unwrap()),
    }
}

fn shape_strategy(max_nd: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(prop_oneof![Just(0usize), Just(1), 1usize..5], 0..=max_nd)
}

/// Derives a shape that broadcasts to `out`: drop some leading axes, set some to 1.
fn bshape(out: &[usize], drop: usize, ones_mask: u32) -> Vec<usize> {
    let drop = drop.min(out.len());
    out[drop..]
        .iter()
        .enumerate()
        .map(|(i, &d)| if ones_mask >> i & 1 == 1 { 1 } else { d })
        .collect()
}

fn bget(t: &Tensor, out_idx: &[usize]) -> f64 {
    let lead = out_idx.len() - t.ndim();
    let idx: Vec<usize> = (0..t.ndim())
        .map(|i| if t.shape()[i] == 1 { 0 } else { out_idx[lead + i] })
        .collect();
    t.get(&idx).unwrap()
}

fn same(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-9 * (1.0 + b.abs())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn binary_broadcast_matches_reference(
        out in shape_strategy(4), d1 in 0usize..3, m1 in 0u32..16, d2 in 0usize..3, m2 in 0u32..16,
        l1 in 0u8..4, l2 in 0u8..4, opi in 0usize..13, seed in 0u64..1000,
    ) {
        let sa = bshape(&out, d1, m1);
        let sb = bshape(&out, d2, m2);
        let a = make(&sa, l1, seed);
        let b = make(&sb, l2, seed + 1);
        let op = BinaryOp::ALL[opi];
        let r = a.binary(&b, op).unwrap();
        let expect_shape = broadcast_shapes(&sa, &sb).unwrap();
        prop_assert_eq!(r.shape(), &expect_shape[..]);
        for idx in indices(&expect_shape) {
            let e = op.apply(bget(&a, &idx), bget(&b, &idx));
            prop_assert!(same(r.get(&idx).unwrap(), e));
        }
        // owned variant agrees (and reuses when shapes allow)
        let r2 = a.contiguous().binary_owned(&b, op).unwrap();
        prop_assert!(r2.all_close(&r, 0.0, 0.0));
        // where_ with a broadcast condition
        let c = r.binary_scalar(0.0, BinaryOp::Gt, false);
        let w = Tensor::where_(&c, &a, &b).unwrap();
        for idx in indices(&expect_shape) {
            let e = if bget(&c, &idx) != 0.0 { bget(&a, &idx) } else { bget(&b, &idx) };
            prop_assert_eq!(w.get(&idx).unwrap(), e);
        }
    }

    #[test]
    fn unary_matches_scalar(shape in shape_strategy(3), l in 0u8..4, opi in 0usize..20, seed in 0u64..1000) {
        let a = make(&shape, l, seed);
        let op = UnaryOp::ALL[opi];
        let r = a.unary(op);
        let r2 = a.contiguous().unary_owned(op);
        for idx in indices(&shape) {
            let e = op.apply(a.get(&idx).unwrap());
            prop_assert!(same(r.get(&idx).unwrap(), e));
            prop_assert!(same(r2.get(&idx).unwrap(), e));
        }
    }

    #[test]
    fn reduce_matches_reference(shape in shape_strategy(4), l in 0u8..4, mask in 0u32..16, keep in any::<bool>(), opi in 0usize..4, seed in 0u64..1000) {
        let a = make(&shape, l, seed);
        let op = [ReduceOp::Sum, ReduceOp::Prod, ReduceOp::Max, ReduceOp::Min][opi];
        let axes: Vec<usize> = (0..shape.len()).filter(|&i| mask >> i & 1 == 1).rev().collect();
        let res = a.reduce(op, &axes, keep);
        let kept: Vec<usize> = (0..shape.len()).map(|i| if axes.contains(&i) { 1 } else { shape[i] }).collect();
        let count: usize = axes.iter().map(|&i| shape[i]).product();
        if count == 0 && kept.iter().product::<usize>() > 0 && matches!(op, ReduceOp::Max | ReduceOp::Min) && !axes.is_empty() {
            prop_assert!(res.is_err());
            return Ok(());
        }
        let r = res.unwrap();
        let r = if axes.is_empty() { r } else { r.reshape(&kept).unwrap() };
        for kidx in indices(&kept) {
            let mut acc = op.identity().unwrap_or(if op == ReduceOp::Max { f64::NEG_INFINITY } else { f64::INFINITY });
            for idx in indices(&shape) {
                if (0..shape.len()).all(|i| axes.contains(&i) || idx[i] == kidx[i]) {
                    acc = op.combine(acc, a.get(&idx).unwrap());
                }
            }
            prop_assert!(same(r.get(&kidx).unwrap(), acc), "{:?} {} {}", kidx, r.get(&kidx).unwrap(), acc);
        }
        if a.size() > 0 || op.identity().is_some() {
            let all = a.reduce_all(op).unwrap();
            let full: Vec<usize> = (0..shape.len()).collect();
            let via = a.reduce(op, &full, false).unwrap();
            if !full.is_empty() { prop_assert!(same(all, via.item().unwrap())); }
        }
    }

    #[test]
    fn argmax_matches_reference(shape in shape_strategy(3), l in 0u8..4, ax in 0usize..3, seed in 0u64..1000) {
        let a = make(&shape, l, seed);
        if shape.is_empty() { return Ok(()); }
        let ax = ax % shape.len();
        let res = a.argmax(Some(ax), false);
        if shape[ax] == 0 {
            if a.size() == 0 && shape.iter().enumerate().any(|(i, &d)| i != ax && d == 0) { prop_assert!(res.is_ok()); } else { prop_assert!(res.is_err()); }
            return Ok(());
        }
        let r = res.unwrap();
        let mut out_shape = shape.clone();
        out_shape.remove(ax);
        for oidx in indices(&out_shape) {
            let mut best = 0; let mut bv = f64::NEG_INFINITY;
            for i in 0..shape[ax] {
                let mut idx = oidx.clone(); idx.insert(ax, i);
                let v = a.get(&idx).unwrap();
                if i == 0 || v > bv { best = i; bv = v; }
            }
            prop_assert_eq!(r.get(&oidx).unwrap(), best as f64);
        }
    }

    #[test]
    fn matmul_matches_reference(
        m in 0usize..5, k in 0usize..5, n in 0usize..5, batch in shape_strategy(2),
        da in 0usize..3, ma in 0u32..4, db in 0usize..3, mb in 0u32..4,
        va in any::<bool>(), vb in any::<bool>(), la in 0u8..4, lb in 0u8..4, seed in 0u64..1000,
    ) {
        // a: batch' + (m, k) or (k,) ; b: batch'' + (k, n) or (k,)
        let mut sa = if va { vec![k] } else { let mut s = bshape(&batch, da, ma); s.extend([m, k]); s };
        let mut sb = if vb { vec![k] } else { let mut s = bshape(&batch, db, mb); s.extend([k, n]); s };
        if sa.is_empty() { sa = vec![k]; }
        if sb.is_empty() { sb = vec![k]; }
        let a = make(&sa, la, seed);
        let b = make(&sb, lb, seed + 7);
        let r = a.matmul(&b).unwrap();
        // Reference: promote, broadcast batch, loop.
        let a2 = if va { a.expand_dims(0).unwrap() } else { a.clone() };
        let b2 = if vb { b.expand_dims(1).unwrap() } else { b.clone() };
        let (ba, bb) = (&a2.shape()[..a2.ndim() - 2], &b2.shape()[..b2.ndim() - 2]);
        let bs = broadcast_shapes(ba, bb).unwrap();
        let (mm, nn) = (a2.shape()[a2.ndim() - 2], b2.shape()[b2.ndim() - 1]);
        let mut full = bs.clone(); full.extend([mm, nn]);
        let mut expect_shape = bs.clone();
        if !va { expect_shape.push(mm); }
        if !vb { expect_shape.push(nn); }
        prop_assert_eq!(r.shape(), &expect_shape[..]);
        let rf = r.reshape(&full).unwrap();
        for idx in indices(&full) {
            let bi = &idx[..bs.len()];
            let mut s = 0.0;
            for p in 0..k {
                let mut ia = bi.to_vec(); ia.extend([idx[bs.len()], p]);
                let mut ib = bi.to_vec(); ib.extend([p, idx[bs.len() + 1]]);
                s += bget(&a2, &ia) * bget(&b2, &ib);
            }
            prop_assert!(same(rf.get(&idx).unwrap(), s));
        }
    }

    #[test]
    fn slice_and_adjoint(shape in shape_strategy(3), l in 0u8..4, raw in prop::collection::vec((0u8..3, -6i64..6, -6i64..6, prop_oneof![-3i64..0, 1i64..4], any::<bool>(), any::<bool>()), 0..4), seed in 0u64..1000) {
        let x = make(&shape, l, seed);
        let specs: Vec<SliceSpec> = raw.iter().map(|&(kind, a, b, step, has_a, has_b)| match kind {
            0 => SliceSpec::Index(a),
            1 => SliceSpec::NewAxis,
            _ => SliceSpec::Range { start: has_a.then_some(a), stop: has_b.then_some(b), step },
        }).collect();
        let consumed = specs.iter().filter(|s| !matches!(s, SliceSpec::NewAxis)).count();
        let res = x.slice(&specs);
        if consumed > shape.len() { prop_assert!(res.is_err()); return Ok(()); }
        // Reference per axis via python-like index lists.
        let mut axis = 0; let mut ok = true; let mut lists: Vec<Option<Vec<usize>>> = vec![];
        for s in &specs {
            match s {
                SliceSpec::NewAxis => lists.push(None),
                SliceSpec::Index(i) => {
                    let n = shape[axis] as i64; let r = if *i < 0 { i + n } else { *i };
                    if r < 0 || r >= n { ok = false; }
                    lists.push(Some(vec![r.max(0) as usize; 1])); axis += 1;
                }
                SliceSpec::Range { start, stop, step } => {
                    let n = shape[axis] as i64;
                    let v: Vec<usize> = py_range(*start, *stop, *step, n);
                    lists.push(Some(v)); axis += 1;
                }
            }
        }
        if !ok { prop_assert!(res.is_err()); return Ok(()); }
        let y = res.unwrap();
        // Check the values element by element.
        for yidx in indices(y.shape()) {
            let mut xi = vec![]; let mut yi = 0; let mut ax = 0;
            for (s, l) in specs.iter().zip(&lists) {
                match s {
                    SliceSpec::NewAxis => { yi += 1; }
                    SliceSpec::Index(_) => { xi.push(l.as_ref().unwrap()[0]); ax += 1; }
                    SliceSpec::Range { .. } => { xi.push(l.as_ref().unwrap()[yidx[yi]]); yi += 1; ax += 1; }
                }
            }
            while ax < shape.len() { xi.push(yidx[yi]); yi += 1; ax += 1; }
            prop_assert_eq!(y.get(&yidx).unwrap(), x.get(&xi).unwrap());
        }
        // Adjoint identity <slice(x), g> == <x, slice_scatter(g)>.
        let g = make(y.shape(), 0, seed + 3);
        let lhs = y.binary(&g, BinaryOp::Mul).unwrap().reduce_all(ReduceOp::Sum).unwrap();
        let st = Tensor::slice_scatter(&g, &specs, &shape).unwrap();
        prop_assert_eq!(st.shape(), &shape[..]);
        let rhs = x.binary(&st, BinaryOp::Mul).unwrap().reduce_all(ReduceOp::Sum).unwrap();
        prop_assert!(same(lhs, rhs));
    }

    #[test]
    fn take_and_adjoint(shape in prop::collection::vec(1usize..4, 1..4), l in 0u8..4, ax in 0usize..3, ishape in shape_strategy(2), seed in 0u64..1000) {
        let x = make(&shape, l, seed);
        let ax = ax % shape.len();
        let n = shape[ax] as i64;
        let mut rng = DRng::new(seed);
        let idx = rng.randint(-n, n, &ishape).unwrap();
        let y = x.take(&idx, ax).unwrap();
        let mut es = shape[..ax].to_vec(); es.extend(&ishape); es.extend(&shape[ax + 1..]);
        prop_assert_eq!(y.shape(), &es[..]);
        for yi in indices(&es) {
            let ii = &yi[ax..ax + ishape.len()];
            let mut v = idx.get(ii).unwrap() as i64; if v < 0 { v += n; }
            let mut xi = yi[..ax].to_vec(); xi.push(v as usize); xi.extend(&yi[ax + ishape.len()..]);
            prop_assert_eq!(y.get(&yi).unwrap(), x.get(&xi).unwrap());
        }
        let g = make(&es, 0, seed + 5);
        let lhs = y.binary(&g, BinaryOp::Mul).unwrap().reduce_all(ReduceOp::Sum).unwrap();
        let st = Tensor::take_scatter(&g, &idx, ax, &shape).unwrap();
        let rhs = x.binary(&st, BinaryOp::Mul).unwrap().reduce_all(ReduceOp::Sum).unwrap();
        prop_assert!(same(lhs, rhs));
    }

    #[test]
    fn views_roundtrip(shape in shape_strategy(4), l in 0u8..4, seed in 0u64..1000) {
        let x = make(&shape, l, seed);
        let v = x.to_vec();
        prop_assert_eq!(x.contiguous().to_vec(), v.clone());
        prop_assert_eq!(x.reshape(&[x.size()]).unwrap().to_vec(), v.clone());
        prop_assert_eq!(x.t().t().to_vec(), v.clone());
        // sum_to_shape inverts broadcast_to
        let mut big = vec![2usize]; big.extend(&shape);
        let b = x.broadcast_to(&big).unwrap();
        let s = b.sum_to_shape(&shape).unwrap();
        prop_assert!(s.all_close(&x.binary_scalar(2.0, BinaryOp::Mul, false), 0.0, 0.0));
        // concat/stack
        let st = Tensor::stack(&[&x, &x], 0).unwrap();
        prop_assert_eq!(st.shape()[0], 2);
        if !shape.is_empty() {
            let c = Tensor::concat(&[&x, &x], shape.len() - 1).unwrap();
            prop_assert_eq!(c.shape()[shape.len() - 1], 2 * shape[shape.len() - 1]);
        }
    }
}

fn py_range(start: Option<i64>, stop: Option<i64>, step: i64, n: i64) -> Vec<usize> {
    let adj = |v: i64, lo: i64, hi: i64| {
        let v = if v < 0 { v + n } else { v };
        v.clamp(lo, hi)
    };
    let mut out = vec![];
    if step > 0 {
        let (mut s, e) = (start.map_or(0, |v| adj(v, 0, n)), stop.map_or(n, |v| adj(v, 0, n)));
        while s < e {
            out.push(s as usize);
            s += step;
        }
    } else {
        let (mut s, e) = (
            start.map_or(n - 1, |v| adj(v, -1, n - 1)),
            stop.map_or(-1, |v| adj(v, -1, n - 1)),
        );
        while s > e {
            out.push(s as usize);
            s += step;
        }
    }
    out
}
