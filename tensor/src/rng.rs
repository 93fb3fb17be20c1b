//! Seeded, platform-independent random number generation.

use crate::error::{checked_size, Result, TensorError};
use crate::tensor::Tensor;

/// A reproducible pseudo-random generator.
///
/// Algorithm: **xoshiro256\*\*** whose 256-bit state is filled from the seed
/// by four steps of **SplitMix64**. Uniform floats take the top 53 bits of a
/// 64-bit output (`(x >> 11) * 2^-53`, in `[0, 1)`). Normals use the
/// **Marsaglia polar method** (only `ln` and `sqrt`), producing pairs; the
/// second value of a pair is kept for the next draw. Integers in a range use
/// Lemire's unbiased multiply-and-reject method. All of this is integer or
/// IEEE-754 arithmetic, so sequences are identical on every platform (up to
/// the platform's `ln`, which is correctly rounded on all mainstream libms
/// for the inputs that matter).
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
    spare_normal: Option<f64>,
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    /// Creates a generator from a 64-bit seed.
    pub fn new(seed: u64) -> Rng {
        let mut sm = seed;
        let s = [
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
        ];
        Rng { s, spare_normal: None }
    }

    /// The next raw 64-bit output of xoshiro256**.
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// A uniform float in `[0, 1)` with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A standard normal value (Marsaglia polar method).
    pub fn next_normal(&mut self) -> f64 {
        if let Some(z) = self.spare_normal.take() {
            return z;
        }
        let (z, spare) = polar_pair(|| self.next_f64());
        self.spare_normal = Some(spare);
        z
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

    /// A tensor of uniform values in `[0, 1)`.
    pub fn uniform(&mut self, shape: &[usize]) -> Result<Tensor> {
        let mut data = crate::buffer::alloc(shape)?;
        let n = checked_size(shape)?;
        data.extend((0..n).map(|_| self.next_f64()));
        Tensor::from_vec(data, shape)
    }

    /// A tensor of standard normal values.
    pub fn normal(&mut self, shape: &[usize]) -> Result<Tensor> {
        let mut data = crate::buffer::alloc(shape)?;
        let n = checked_size(shape)?;
        data.extend((0..n).map(|_| self.next_normal()));
        Tensor::from_vec(data, shape)
    }

    /// A tensor of integers uniformly drawn from `[lo, hi)` (stored as `f64`).
    pub fn randint(&mut self, lo: i64, hi: i64, shape: &[usize]) -> Result<Tensor> {
        if lo >= hi {
            return Err(TensorError::Invalid(format!(
                "randint needs low < high, got low={} and high={}",
                lo, hi
            )));
        }
        let mut data = crate::buffer::alloc(shape)?;
        let n = checked_size(shape)?;
        let range = (hi as i128 - lo as i128) as u64;
        data.extend((0..n).map(|_| (lo as i128 + self.next_below(range) as i128) as f64));
        Tensor::from_vec(data, shape)
    }

    /// A random permutation of `0..n` (Fisher-Yates), as a 1-d tensor.
    pub fn permutation(&mut self, n: usize) -> Result<Tensor> {
        let mut v = crate::buffer::alloc(&[n])?;
        v.extend((0..n).map(|i| i as f64));
        for i in (1..n).rev() {
            let j = self.next_below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
        Tensor::from_vec(v, &[n])
    }
}

/// Two independent standard normal values from uniforms in [0, 1) drawn by
/// `uniform` (Marsaglia polar method: only `ln` and `sqrt`, which are
/// correctly rounded on mainstream platforms, unlike `sin`/`cos`).
pub(crate) fn polar_pair(mut uniform: impl FnMut() -> f64) -> (f64, f64) {
    loop {
        let u = 2.0 * uniform() - 1.0;
        let v = 2.0 * uniform() - 1.0;
        let s = u * u + v * v;
        if s > 0.0 && s < 1.0 {
            let f = (-2.0 * s.ln() / s).sqrt();
            return (u * f, v * f);
        }
    }
}
