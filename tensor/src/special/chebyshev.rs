//! Evaluation of Chebyshev expansions.

/// `sum c[k] T_k(t)` for `t` in `[-1, 1]` by Clenshaw's recurrence, which is
/// stable there (the rounding error stays a few units of `sum |c[k]|`).
#[inline]
pub(crate) fn clenshaw(c: &[f64], t: f64) -> f64 {
    let t2 = 2.0 * t;
    let (mut b1, mut b2) = (0.0, 0.0);
    for &ck in c[1..].iter().rev() {
        let b0 = t2 * b1 - b2 + ck;
        b2 = b1;
        b1 = b0;
    }
    c[0] + t * b1 - b2
}
