//! Sorting, scans, top-k and unique against NumPy / JAX values (generated
//! by reference/gen_sorting.py), on data with ties, NaNs, infinities and
//! signed zeros, along every axis and on strided views.
use dp_tensor::*;

#[path = "reference/sorting_values.rs"]
mod want;

type Ref = (&'static [usize], &'static [f64]);

fn t(c: Ref) -> Tensor {
    Tensor::from_vec(c.1.to_vec(), c.0).unwrap()
}

/// Same shape and the same values (NaN matches NaN, `-0.0` matches `0.0`).
fn same(got: &Tensor, want: Ref) {
    assert_eq!(got.shape(), want.0);
    for (i, (g, w)) in got.to_vec().iter().zip(want.1).enumerate() {
        assert!(g == w || (g.is_nan() && w.is_nan()), "element {i}: got {g}, want {w}");
    }
}

#[test]
fn sort_and_argsort_match_numpy() {
    let x = t(want::X);
    same(&x.sort(0).unwrap(), want::X_SORT0);
    same(&x.sort(1).unwrap(), want::X_SORT1);
    same(&x.argsort(0).unwrap(), want::X_ARGSORT0);
    same(&x.argsort(1).unwrap(), want::X_ARGSORT1);
    let y = t(want::Y);
    let cases = [
        (want::Y_SORT0, want::Y_ARGSORT0),
        (want::Y_SORT1, want::Y_ARGSORT1),
        (want::Y_SORT2, want::Y_ARGSORT2),
    ];
    for (axis, (s, a)) in cases.into_iter().enumerate() {
        same(&y.sort(axis).unwrap(), s);
        same(&y.argsort(axis).unwrap(), a);
    }
}

#[test]
fn sorting_a_strided_view_sorts_its_elements() {
    // x.t() sorted along axis 1 is x sorted along axis 0, transposed.
    let x = t(want::X);
    let s = x.t().sort(1).unwrap();
    assert!(s.is_contiguous());
    same(&s.t(), want::X_SORT0);
    same(&x.t().argsort(1).unwrap().t(), want::X_ARGSORT0);
}

#[test]
fn argsort_is_stable_and_puts_nans_last() {
    let x = Tensor::from_vec(vec![2.0, f64::NAN, 1.0, 2.0, -0.0, 0.0, f64::NAN, 1.0], &[8]).unwrap();
    assert_eq!(
        x.argsort(0).unwrap().to_vec(),
        vec![4.0, 5.0, 2.0, 7.0, 0.0, 3.0, 1.0, 6.0]
    );
    let s = x.sort(0).unwrap().to_vec();
    assert_eq!(&s[..6], &[-0.0, 0.0, 1.0, 1.0, 2.0, 2.0]);
    assert!(s[0].is_sign_negative() && s[6].is_nan() && s[7].is_nan());
}

#[test]
fn sort_edge_cases() {
    let e = Tensor::zeros(&[3, 0]).unwrap();
    assert_eq!(e.sort(1).unwrap().shape(), &[3, 0]);
    assert_eq!(e.argsort(0).unwrap().shape(), &[3, 0]);
    let s = Tensor::scalar(1.0);
    assert!(matches!(s.sort(0), Err(TensorError::AxisOutOfRange { .. })));
    assert!(Tensor::zeros(&[2, 2]).unwrap().argsort(2).is_err());
    assert!(s.cumsum(0).is_err());
}

#[test]
fn cumsum_and_cumprod_match_numpy_exactly() {
    let y = t(want::Y);
    let cases = [
        (want::Y_CUMSUM0, want::Y_CUMPROD0),
        (want::Y_CUMSUM1, want::Y_CUMPROD1),
        (want::Y_CUMSUM2, want::Y_CUMPROD2),
    ];
    for (axis, (s, p)) in cases.into_iter().enumerate() {
        // Added in the same order as NumPy: equal to the last bit.
        assert_eq!(y.cumsum(axis).unwrap().to_vec(), s.1);
        assert_eq!(y.cumprod(axis).unwrap().to_vec(), p.1);
        // From a strided view too.
        let v = y.t().t();
        assert_eq!(v.cumsum(axis).unwrap().to_vec(), s.1);
    }
    let z = Tensor::from_vec(vec![1.0, f64::NAN, 2.0], &[3]).unwrap();
    let c = z.cumsum(0).unwrap().to_vec();
    assert!(c[0] == 1.0 && c[1].is_nan() && c[2].is_nan());
    assert_eq!(Tensor::zeros(&[0, 4]).unwrap().cumprod(0).unwrap().shape(), &[0, 4]);
}

#[test]
fn topk_matches_jax() {
    let x = t(want::X);
    let cases = [
        (0, want::X_TOPK0_V, want::X_TOPK0_I),
        (1, want::X_TOPK1_V, want::X_TOPK1_I),
        (3, want::X_TOPK3_V, want::X_TOPK3_I),
        (6, want::X_TOPK6_V, want::X_TOPK6_I),
    ];
    for (k, v, i) in cases {
        let (vv, ii) = x.topk(k).unwrap();
        same(&vv, v);
        same(&ii, i);
    }
    assert!(x.topk(7).is_err());
    assert!(Tensor::scalar(1.0).topk(0).is_err());
    // 1-d, and ties broken by position.
    let y = Tensor::from_vec(vec![1.0, 5.0, 5.0, 2.0, 5.0], &[5]).unwrap();
    let (v, i) = y.topk(2).unwrap();
    assert_eq!((v.to_vec(), i.to_vec()), (vec![5.0, 5.0], vec![1.0, 2.0]));
}

#[test]
fn unique_matches_numpy() {
    let x = t(want::X);
    same(&x.unique().unwrap(), want::X_UNIQUE);
    let u = x.unique_all().unwrap();
    same(&u.values, want::X_UNIQUE);
    same(&u.indices, want::X_UNIQUE_INDICES);
    same(&u.inverse, want::X_UNIQUE_INVERSE);
    same(&u.counts, want::X_UNIQUE_COUNTS);
    // The first of -0.0 and 0.0 is the one kept (as in NumPy).
    let z = Tensor::from_vec(vec![-0.0, 0.0], &[2]).unwrap().unique().unwrap();
    assert!(z.to_vec()[0].is_sign_negative() && z.size() == 1);
    assert_eq!(Tensor::zeros(&[0]).unwrap().unique().unwrap().shape(), &[0]);
    assert_eq!(Tensor::scalar(3.0).unique().unwrap().to_vec(), vec![3.0]);
}

#[test]
fn take_along_axis_gathers_lane_by_lane() {
    let y = t(want::Y);
    for axis in 0..3 {
        // argsort then gather is sort.
        let g = y.take_along_axis(&y.argsort(axis).unwrap(), axis).unwrap();
        assert_eq!(g.to_vec(), y.sort(axis).unwrap().to_vec());
    }
    // NumPy: np.take_along_axis(x, [[0], [2], [-1]], 1) with broadcasting.
    let x = Tensor::from_vec((0..12).map(f64::from).collect(), &[3, 4]).unwrap();
    let i = Tensor::from_vec(vec![0.0, 2.0, -1.0], &[3, 1]).unwrap();
    let g = x.take_along_axis(&i, 1).unwrap();
    assert_eq!((g.shape(), g.to_vec()), (&[3usize, 1][..], vec![0.0, 6.0, 11.0]));
    // Indices broadcast over the other axis: the same rows for every column.
    let i = Tensor::from_vec(vec![2.0, 0.0], &[2, 1]).unwrap();
    let g = x.take_along_axis(&i, 0).unwrap();
    assert_eq!(
        (g.shape(), g.to_vec()),
        (&[2usize, 4][..], vec![8.0, 9.0, 10.0, 11.0, 0.0, 1.0, 2.0, 3.0])
    );
    // Errors: wrong rank, bad index, non-integer, mismatched other axis.
    assert!(x.take_along_axis(&Tensor::zeros(&[3]).unwrap(), 1).is_err());
    let bad = Tensor::from_vec(vec![4.0, 0.0, 0.0], &[3, 1]).unwrap();
    assert!(matches!(
        x.take_along_axis(&bad, 1),
        Err(TensorError::IndexOutOfRange { .. })
    ));
    let frac = Tensor::from_vec(vec![0.5, 0.0, 0.0], &[3, 1]).unwrap();
    assert!(matches!(
        x.take_along_axis(&frac, 1),
        Err(TensorError::NotInteger { .. })
    ));
    assert!(x.take_along_axis(&Tensor::zeros(&[2, 1]).unwrap(), 1).is_err());
    assert!(x.take_along_axis(&Tensor::zeros(&[3, 1]).unwrap(), 2).is_err());
}

#[test]
fn take_along_axis_scatter_is_the_adjoint() {
    // <gather(x), g> == <x, scatter(g)> for random x, g, with repeated indices.
    let x = dp_tensor::Rng::new(5).normal(&[3, 4, 2]).unwrap();
    let idx = Tensor::from_vec(
        vec![0.0, 3.0, 3.0, -1.0, 1.0, 2.0, 0.0, 0.0, 2.0, 1.0, 1.0, 1.0],
        &[3, 4, 1],
    )
    .unwrap();
    let gathered = x.take_along_axis(&idx, 1).unwrap();
    assert_eq!(gathered.shape(), &[3, 4, 2]);
    let g = dp_tensor::Rng::new(6).normal(gathered.shape()).unwrap();
    let back = Tensor::take_along_axis_scatter(&g, &idx, 1, x.shape()).unwrap();
    let dot = |a: &Tensor, b: &Tensor| a.to_vec().iter().zip(b.to_vec()).map(|(p, q)| p * q).sum::<f64>();
    assert!((dot(&gathered, &g) - dot(&x, &back)).abs() < 1e-12);
    assert!(Tensor::take_along_axis_scatter(&x, &idx, 1, &[3, 4]).is_err());
}

mod props {
    use dp_tensor::Rng as DRng;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Along any axis: argsort gathers the sorted values, each lane is
        /// ascending, and topk(n) reverses sort (for distinct values).
        #[test]
        fn prop_sort_argsort_topk_agree(shape in prop::collection::vec(0usize..5, 1..4), seed in any::<u64>(), axis_pick in any::<usize>()) {
            let x = DRng::new(seed).normal(&shape).unwrap();
            let axis = axis_pick % shape.len();
            let s = x.sort(axis).unwrap();
            let a = x.argsort(axis).unwrap();
            let n = shape[axis];
            let inner: usize = shape[axis + 1..].iter().product();
            let (xv, sv, av) = (x.to_vec(), s.to_vec(), a.to_vec());
            for (flat, &v) in sv.iter().enumerate() {
                let (outer, rest) = (flat / (n * inner), flat % (n * inner));
                let (i, j) = (rest / inner, rest % inner);
                let src = outer * n * inner + av[flat] as usize * inner + j;
                prop_assert_eq!(xv[src], v);
                if i > 0 {
                    prop_assert!(sv[flat - inner] <= v);
                }
            }
            let last = shape.len() - 1;
            let (top, _) = x.topk(shape[last]).unwrap();
            let mut rev = x.sort(last).unwrap().to_vec();
            for row in rev.chunks_mut(shape[last].max(1)) {
                row.reverse();
            }
            prop_assert_eq!(top.to_vec(), rev);
        }
    }
}

#[test]
fn empty_tensors_with_huge_axes_are_handled_without_walking_them() {
    let big = 1usize << 40;
    let e = Tensor::zeros(&[big, 0, big]).unwrap();
    for axis in 0..3 {
        assert_eq!(e.sort(axis).unwrap().shape(), e.shape());
        assert_eq!(e.argsort(axis).unwrap().shape(), e.shape());
        assert_eq!(e.cumsum(axis).unwrap().shape(), e.shape());
        assert_eq!(e.cumprod(axis).unwrap().shape(), e.shape());
    }
    assert_eq!(e.topk(0).unwrap().0.shape(), &[big, 0, 0]);
    assert_eq!(e.unique().unwrap().shape(), &[0]);
    let i = Tensor::zeros(&[big, 0, 1]).unwrap();
    assert_eq!(e.take_along_axis(&i, 2).unwrap().shape(), &[big, 0, 1]);
}

#[test]
fn searchsorted_counts_the_elements_at_or_below_each_value() {
    // NumPy: np.searchsorted([0, 1, 1, 2.5], v, side='right').
    let sorted = Tensor::from_vec(vec![0.0, 1.0, 1.0, 2.5], &[4]).unwrap();
    let v = Tensor::from_vec(vec![-1.0, 0.0, 0.5, 1.0, 2.0, 2.5, 9.0, f64::NAN, -0.0], &[3, 3]).unwrap();
    let i = sorted.searchsorted(&v).unwrap();
    assert_eq!(i.shape(), &[3, 3]);
    assert_eq!(i.to_vec(), vec![0.0, 1.0, 1.0, 3.0, 3.0, 4.0, 4.0, 4.0, 1.0]);
    // A scalar value, an empty table, and a table that is not 1-d.
    assert_eq!(sorted.searchsorted(&Tensor::scalar(1.5)).unwrap().to_vec(), vec![3.0]);
    let empty = Tensor::zeros(&[0]).unwrap();
    assert_eq!(empty.searchsorted(&v).unwrap().to_vec(), vec![0.0; 9]);
    assert!(Tensor::zeros(&[2, 2]).unwrap().searchsorted(&v).is_err());
}
