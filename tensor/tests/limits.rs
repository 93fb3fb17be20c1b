//! Shape arithmetic at the edges: zero-size tensors with huge axes, sums and
//! products of axis sizes that would wrap, and the memory budget. Every case
//! must be an error or a correct small result, never a panic, a wrapped
//! shape or an attempt to allocate the impossible.
//! (The memory budget is process-wide, so its test has a binary of its own: `memory.rs`.)
use dp_tensor::*;
use proptest::prelude::*;

const HUGE: usize = 1 << 62;

#[test]
fn zero_size_tensors_may_have_huge_axes_but_not_beyond_an_int() {
    let z = Tensor::zeros(&[HUGE, 0]).unwrap();
    assert_eq!(z.size(), 0);
    assert_eq!(z.to_vec(), Vec::<f64>::new());
    assert!(Tensor::zeros(&[1 << 63, 0]).is_err(), "an axis must fit in an i64");
    assert!(Tensor::zeros(&[usize::MAX, 0]).is_err());
    assert!(checked_size(&[1 << 40, 1 << 40, 0]).is_ok());
    assert!(matches!(
        checked_size(&[1 << 40, 1 << 40]),
        Err(TensorError::TooLarge { .. })
    ));
}

#[test]
fn concatenation_sums_axes_without_wrapping() {
    let half = Tensor::zeros(&[HUGE / 2, 0]).unwrap();
    let joined = Tensor::concat(&[&half, &half], 0).unwrap();
    assert_eq!(joined.shape(), &[HUGE, 0]);
    let z = Tensor::zeros(&[HUGE, 0]).unwrap();
    assert!(Tensor::concat(&[&z, &z], 0).is_err(), "2^63 rows do not fit an int");
    assert!(
        Tensor::concat(&[&z, &z, &z, &z], 0).is_err(),
        "2^64 rows must not wrap to 0"
    );
    // Along the empty axis the result is empty too, and nothing loops over the rows.
    let side = Tensor::concat(&[&z, &z], 1).unwrap();
    assert_eq!(side.shape(), &[HUGE, 0]);
    assert!(Tensor::stack(&[&z, &z], 1).unwrap().shape() == [HUGE, 2, 0]);
}

#[test]
fn reductions_of_zero_size_tensors_check_their_result_shape() {
    let z = Tensor::zeros(&[HUGE, 0]).unwrap();
    assert!(matches!(
        z.reduce(ReduceOp::Sum, &[1], false),
        Err(TensorError::TooLarge { .. })
    ));
    assert_eq!(z.reduce(ReduceOp::Sum, &[0], false).unwrap().shape(), &[0]);
    let w = Tensor::zeros(&[1 << 40, 1 << 40, 0]).unwrap();
    assert!(w.reduce(ReduceOp::Sum, &[2], true).is_err(), "2^80 must not wrap to 0");
    assert!(w.argmax(Some(2), false).is_err());
    let s = Tensor::zeros(&[3, 0])
        .unwrap()
        .reduce(ReduceOp::Sum, &[1], false)
        .unwrap();
    assert_eq!(s.to_vec(), vec![0.0; 3]);
    let taken = z.take(&Tensor::from_vec(vec![0.0], &[1]).unwrap(), 1);
    assert!(taken.is_err(), "index 0 is out of range for an empty axis");
}

#[test]
fn zero_size_tensors_print_summarised_without_allocating_per_row() {
    let z = Tensor::zeros(&[HUGE, 0]).unwrap();
    assert_eq!(z.to_string(), "[[], [], [], ..., [], [], []]");
    assert_eq!(Tensor::zeros(&[3, 0]).unwrap().to_string(), "[[], [], []]");
    assert_eq!(Tensor::zeros(&[0, HUGE]).unwrap().to_string(), "[]");
    let mut calls = 0;
    let s = Tensor::zeros(&[2, 3]).unwrap().format_with(&mut |x| {
        calls += 1;
        format!("{x:.1}")
    });
    assert_eq!((s.as_str(), calls), ("[[0.0, 0.0, 0.0],\n [0.0, 0.0, 0.0]]", 6));
}

proptest! {
    #[test]
    fn concat_shape_is_the_exact_sum_or_an_error(a in 0usize..(1 << 63), b in 0usize..(1 << 63)) {
        let (x, y) = (Tensor::zeros(&[a, 0]).unwrap(), Tensor::zeros(&[b, 0]).unwrap());
        match Tensor::concat(&[&x, &y], 0) {
            Ok(t) => prop_assert_eq!(t.shape()[0] as u128, a as u128 + b as u128),
            Err(_) => prop_assert!(a as u128 + b as u128 > i64::MAX as u128),
        }
    }

    #[test]
    fn checked_size_agrees_with_exact_arithmetic(dims in proptest::collection::vec(0usize..(1 << 40), 0..5)) {
        let exact: u128 = dims.iter().map(|&d| d as u128).product();
        match checked_size(&dims) {
            Ok(n) => prop_assert_eq!(n as u128, exact),
            // Within the element limit, only the memory budget (a share of
            // the memory available as the test runs) may refuse a shape.
            Err(TensorError::OutOfMemory { .. }) => prop_assert!(exact * 8 > 1 << 30),
            Err(_) => prop_assert!(exact > MAX_ELEMENTS as u128),
        }
    }
}
