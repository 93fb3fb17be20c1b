//! Seeded, platform-independent random number generation: one ChaCha20
//! stream and the arithmetic that turns its bits into floats and integers.
//! Both the global generator (`seed`/`rand`/`randn`) and keyed draws
//! ([`crate::Key`]) sample through this type, so there is one algorithm for
//! every distribution.

use crate::error::{checked_size, Result, TensorError};
use crate::tensor::Tensor;
use chacha20::ChaCha20Rng;
use rand_core::Rng as _;

/// A reproducible pseudo-random generator.
///
/// Algorithm: a **ChaCha20** keystream (the `chacha20` crate); `Rng::new(s)`
/// is exactly the stream that `Key::new(s)` draws from, so `seed(s)` followed
/// by draws gives the numbers of the same draws from `key(s)`. Uniform floats
/// take the top 53 bits of a 64-bit output (`(x >> 11) * 2^-53`, in
/// `[0, 1)`). Normals use the **Marsaglia polar method** (only `ln` and
/// `sqrt`), producing pairs; the second value of a pair is kept for the next
/// draw. Integers in a range use Lemire's unbiased multiply-and-reject
/// method. All of this is integer or IEEE-754 arithmetic, so sequences are
/// identical on every platform (up to the platform's `ln`, which is
/// correctly rounded on all mainstream libms for the inputs that matter).
#[derive(Debug)]
pub struct Rng {
    stream: ChaCha20Rng,
    spare_normal: Option<f64>,
}

impl Rng {
    /// Creates a generator from a 64-bit seed: the draw stream of `Key::new(seed)`.
    pub fn new(seed: u64) -> Rng {
        crate::Key::new(seed).generator()
    }

    /// A generator reading `stream` from its current position.
    pub(crate) fn from_stream(stream: ChaCha20Rng) -> Rng {
        Rng {
            stream,
            spare_normal: None,
        }
    }

    /// The next raw 64-bit output of the stream.
    pub fn next_u64(&mut self) -> u64 {
        self.stream.next_u64()
    }

    /// A uniform float in `[0, 1)` with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform float in `(0, 1)`: the midpoints of the 53-bit grid, so
    /// that `ln` of it is always finite (used by Gumbel noise).
    pub fn next_open(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
    }

    /// A standard normal value (Marsaglia polar method: only `ln` and `sqrt`,
    /// which are correctly rounded on mainstream platforms, unlike `sin`/`cos`).
    pub fn next_normal(&mut self) -> f64 {
        if let Some(z) = self.spare_normal.take() {
            return z;
        }
        loop {
            let u = 2.0 * self.next_f64() - 1.0;
            let v = 2.0 * self.next_f64() - 1.0;
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                let f = (-2.0 * s.ln() / s).sqrt();
                self.spare_normal = Some(v * f);
                return u * f;
            }
        }
    }

    /// An unbiased integer in `[0, range)` (`range > 0`), Lemire's method.
    pub fn next_below(&mut self, range: u64) -> u64 {
        let mut m = self.next_u64() as u128 * range as u128;
        let mut low = m as u64;
        if low < range {
            let threshold = range.wrapping_neg() % range;
            while low < threshold {
                m = self.next_u64() as u128 * range as u128;
                low = m as u64;
            }
        }
        (m >> 64) as u64
    }

    /// A standard Gumbel value, `-ln(-ln(u))`.
    pub fn next_gumbel(&mut self) -> f64 {
        -(-self.next_open().ln()).ln()
    }

    /// Values of `f`, one per element, as a tensor of `shape`.
    pub fn fill(&mut self, shape: &[usize], mut f: impl FnMut(&mut Rng) -> f64) -> Result<Tensor> {
        let mut data = crate::buffer::alloc(shape)?;
        let n = checked_size(shape)?;
        for _ in 0..n {
            data.push(f(self));
        }
        Tensor::from_vec(data, shape)
    }

    /// A tensor of uniform values in `[0, 1)`.
    pub fn uniform(&mut self, shape: &[usize]) -> Result<Tensor> {
        self.fill(shape, Rng::next_f64)
    }

    /// A tensor of standard normal values.
    pub fn normal(&mut self, shape: &[usize]) -> Result<Tensor> {
        self.fill(shape, Rng::next_normal)
    }

    /// A tensor of standard Gumbel values.
    pub fn gumbel(&mut self, shape: &[usize]) -> Result<Tensor> {
        self.fill(shape, Rng::next_gumbel)
    }

    /// A tensor of integers uniformly drawn from `[lo, hi)` (stored as `f64`).
    pub fn randint(&mut self, lo: i64, hi: i64, shape: &[usize]) -> Result<Tensor> {
        if lo >= hi {
            return Err(TensorError::Invalid(format!(
                "randint needs lo < hi, got lo = {lo} and hi = {hi}"
            )));
        }
        let range = (hi as i128 - lo as i128) as u64;
        self.fill(shape, |r| (lo as i128 + r.next_below(range) as i128) as f64)
    }

    /// A random permutation of `0..n` (Fisher-Yates), as indices.
    pub fn permutation_indices(&mut self, n: usize) -> Result<Vec<usize>> {
        checked_size(&[n])?;
        crate::memory::check_memory(n as u128 * std::mem::size_of::<usize>() as u128, || {
            format!("a permutation of {n} elements")
        })?;
        let mut idx: Vec<usize> = Vec::new();
        idx.try_reserve_exact(n)
            .map_err(|_| TensorError::Invalid(format!("a permutation of {n} elements does not fit in memory")))?;
        idx.extend(0..n);
        for i in (1..n).rev() {
            let j = self.next_below(i as u64 + 1) as usize;
            idx.swap(i, j);
        }
        Ok(idx)
    }

    /// A random permutation of `0..n` (Fisher-Yates), as a 1-d tensor.
    pub fn permutation(&mut self, n: usize) -> Result<Tensor> {
        let idx = self.permutation_indices(n)?;
        Tensor::from_vec(idx.into_iter().map(|i| i as f64).collect(), &[n])
    }

    /// 1.0 with probability `p` and 0.0 otherwise, elementwise; `p` is
    /// broadcast to `shape` (each probability must lie in `[0, 1]`).
    pub fn bernoulli(&mut self, p: &Tensor, shape: &[usize]) -> Result<Tensor> {
        let p = p.broadcast_to(shape)?.to_vec();
        if let Some(bad) = p.iter().find(|x| !(0.0..=1.0).contains(*x)) {
            return Err(TensorError::Invalid(format!(
                "bernoulli needs probabilities in [0, 1], found {bad}"
            )));
        }
        let mut i = 0;
        self.fill(shape, |d| {
            let u = d.next_f64();
            let r = f64::from(u8::from(u < p[i]));
            i += 1;
            r
        })
    }

    /// `count` indices into `0..n`: uniformly or with probabilities `p`
    /// (length `n`, non-negative, summing to a positive number), with or
    /// without replacement.
    pub fn choice(&mut self, n: usize, count: usize, replace: bool, p: Option<&[f64]>) -> Result<Vec<usize>> {
        if !replace && count > n {
            return Err(TensorError::Invalid(format!(
                "choice cannot take {count} samples from {n} without replacement"
            )));
        }
        if n == 0 && count > 0 {
            return Err(TensorError::Invalid("choice cannot sample from nothing".into()));
        }
        let Some(p) = p else {
            if replace {
                return Ok((0..count).map(|_| self.next_below(n as u64) as usize).collect());
            }
            let mut perm = self.permutation_indices(n)?;
            perm.truncate(count);
            return Ok(perm);
        };
        if p.len() != n {
            return Err(TensorError::Invalid(format!(
                "choice needs p with one probability per candidate ({n}), found {}",
                p.len()
            )));
        }
        if p.iter().any(|x| !(x.is_finite() && *x >= 0.0)) {
            return Err(TensorError::Invalid(
                "choice needs finite, non-negative probabilities p".into(),
            ));
        }
        let total: f64 = p.iter().sum();
        if total <= 0.0 {
            return Err(TensorError::Invalid(
                "choice needs probabilities p with a positive sum".into(),
            ));
        }
        if replace {
            // Inverse CDF: the first index whose cumulative weight exceeds u * total.
            let mut cdf = Vec::with_capacity(n);
            let mut acc = 0.0;
            for x in p {
                acc += x;
                cdf.push(acc);
            }
            return Ok((0..count)
                .map(|_| {
                    let u = self.next_f64() * acc;
                    let i = cdf.partition_point(|&c| c <= u);
                    // Rounding can leave u at the very top: clamp to the last index with weight.
                    i.min(n - 1)
                })
                .collect());
        }
        let positive = p.iter().filter(|x| **x > 0.0).count();
        if count > positive {
            return Err(TensorError::Invalid(format!(
                "choice cannot take {count} samples without replacement: only {positive} candidates have p > 0"
            )));
        }
        // Gumbel-top-k: the `count` largest of ln(p) + Gumbel noise are a
        // weighted sample without replacement.
        let mut scored: Vec<(f64, usize)> = p
            .iter()
            .enumerate()
            .map(|(i, x)| (x.ln() + self.next_gumbel(), i))
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        Ok(scored.into_iter().take(count).map(|(_, i)| i).collect())
    }
}
