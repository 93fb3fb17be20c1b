//! The memory budget (its own test binary: the budget is process-wide, so
//! changing it must not race with other tests).
use dp_tensor::*;

#[test]
fn the_memory_budget_is_checked_before_allocating() {
    set_memory_limit(1_000_000);
    let e = Tensor::zeros(&[1000, 1000]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "tensor of shape (1000, 1000) needs 8.00 MB, over the memory limit of 1.00 MB (set DP_MAX_MEMORY to change it)"
    );
    assert!(Tensor::zeros(&[100, 100]).is_ok());
    let row = Tensor::zeros(&[1000]).unwrap();
    assert!(
        row.reshape(&[1000, 1]).unwrap().binary(&row, BinaryOp::Mul).is_err(),
        "outer"
    );
    assert!(
        row.broadcast_to(&[1000, 1000]).is_err(),
        "a view that could not be materialised"
    );
    assert!(dp_tensor::Rng::new(0).randint(0, 10, &[1 << 20]).is_err());
    assert!(Tensor::eye(1000).is_err());
    assert!(check_memory(2_000_000, || "string".into()).is_err());
    set_memory_limit(0);
    assert!(Tensor::zeros(&[1000, 1000]).is_ok(), "0 lifts the budget");
}
