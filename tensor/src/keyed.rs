//! Splittable random keys in the style of JAX: every draw is a pure function
//! of a key, so a program that passes keys around gives the same numbers on
//! every run and platform, whatever order its parts run in.
//!
//! A key is 64 bits. Each operation seeds a ChaCha20 generator (the
//! `chacha20` crate) from the key, a 64-bit operand and a fixed domain tag,
//! and picks a ChaCha stream by purpose: drawing numbers, splitting, folding
//! data in. Using separate streams keeps the keys made by `split` unrelated
//! to the numbers drawn from the parent key. Raw bits become floats and
//! integers through [`crate::Rng`] (53-bit uniforms, Marsaglia's polar
//! method, Lemire's bounded integers), which is also the global generator:
//! `Rng::new(s)` reads the very stream that `Key::new(s)` draws from.

use crate::error::{checked_size, normalize_axis, Result, TensorError};
use crate::rng::Rng;
use crate::tensor::Tensor;
use chacha20::ChaCha20Rng;
use rand_core::{Rng as _, SeedableRng};

/// A splittable random key: the whole state a keyed draw depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key(pub u64);

/// Bytes 16..32 of every ChaCha seed, so that dp's keys never share a
/// keystream with another use of ChaCha20 seeded from small integers.
const DOMAIN: &[u8; 16] = b"dp.random.key.v1";

/// ChaCha stream numbers, one per purpose.
const DRAW: u64 = 0;
const SPLIT: u64 = 1;
const FOLD: u64 = 2;

impl Key {
    /// The key for a seed (`key(seed)` in dp); the key's bits are the seed.
    pub fn new(seed: u64) -> Key {
        Key(seed)
    }

    /// A ChaCha20 generator for this key, `operand` and `stream`.
    fn chacha(self, operand: u64, stream: u64) -> ChaCha20Rng {
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&self.0.to_le_bytes());
        seed[8..16].copy_from_slice(&operand.to_le_bytes());
        seed[16..].copy_from_slice(DOMAIN);
        let mut rng = ChaCha20Rng::from_seed(seed);
        rng.set_stream(stream);
        rng
    }

    /// The generator this key's draws read: `Rng::new(seed)` is
    /// `Key::new(seed).generator()`, so `seed(s); randn(3)` draws what
    /// `normal(key(s), 3)` does.
    pub fn generator(self) -> Rng {
        Rng::from_stream(self.chacha(0, DRAW))
    }

    /// `n` new keys derived from this one (JAX's `split`). The i-th key does
    /// not depend on `n`, and none of them repeats the parent's draws.
    pub fn split(self, n: usize) -> Vec<Key> {
        let mut rng = self.chacha(0, SPLIT);
        (0..n).map(|_| Key(rng.next_u64())).collect()
    }

    /// A new key derived from this one and `data` (JAX's `fold_in`), e.g.
    /// one key per step of a loop from the step number.
    pub fn fold_in(self, data: u64) -> Key {
        Key(self.chacha(data, FOLD).next_u64())
    }

    /// Uniform floats in `[0, 1)` of the given shape.
    pub fn uniform(self, shape: &[usize]) -> Result<Tensor> {
        self.generator().uniform(shape)
    }

    /// Standard normal floats of the given shape.
    pub fn normal(self, shape: &[usize]) -> Result<Tensor> {
        self.generator().normal(shape)
    }

    /// Standard Gumbel floats of the given shape.
    pub fn gumbel(self, shape: &[usize]) -> Result<Tensor> {
        self.generator().gumbel(shape)
    }

    /// Integers drawn uniformly from `[lo, hi)`, stored as `f64`.
    pub fn randint(self, lo: i64, hi: i64, shape: &[usize]) -> Result<Tensor> {
        self.generator().randint(lo, hi, shape)
    }

    /// A random permutation of `0..n` (Fisher-Yates), as indices.
    pub fn permutation_indices(self, n: usize) -> Result<Vec<usize>> {
        self.generator().permutation_indices(n)
    }

    /// A random permutation of `0..n`, as a 1-d tensor.
    pub fn permutation(self, n: usize) -> Result<Tensor> {
        self.generator().permutation(n)
    }

    /// 1.0 with probability `p` and 0.0 otherwise, elementwise; `p` is
    /// broadcast to `shape` (each probability must lie in `[0, 1]`).
    pub fn bernoulli(self, p: &Tensor, shape: &[usize]) -> Result<Tensor> {
        self.generator().bernoulli(p, shape)
    }

    /// Indices drawn from the categorical distribution with unnormalised
    /// log-probabilities `logits` along `axis` (the Gumbel-max trick).
    /// `shape` is the shape of the result; it defaults to the shape of
    /// `logits` without `axis`, which must broadcast to it.
    pub fn categorical(self, logits: &Tensor, axis: i64, shape: Option<&[usize]>) -> Result<Tensor> {
        if logits.ndim() == 0 {
            return Err(TensorError::Invalid(
                "categorical needs logits with at least one axis".into(),
            ));
        }
        let axis = normalize_axis(axis, logits.ndim())?;
        let k = logits.shape()[axis];
        if k == 0 {
            return Err(TensorError::Invalid(
                "categorical needs at least one category along the axis".into(),
            ));
        }
        // Move the category axis last, so that each sample reads one row.
        let mut perm: Vec<usize> = (0..logits.ndim()).filter(|&a| a != axis).collect();
        perm.push(axis);
        let moved = logits.transpose(&perm)?;
        let batch: Vec<usize> = perm[..perm.len() - 1].iter().map(|&a| logits.shape()[a]).collect();
        let out_shape = shape.map_or_else(|| batch.clone(), <[usize]>::to_vec);
        let mut full = out_shape.clone();
        full.push(k);
        let rows = moved.broadcast_to(&full).map_err(|_| {
            TensorError::Invalid(format!(
                "categorical: the logits' batch shape {} does not broadcast to the sample shape {}",
                crate::format_shape(&batch),
                crate::format_shape(&out_shape)
            ))
        })?;
        let rows = rows.to_vec();
        let mut d = self.generator();
        let mut out = crate::buffer::alloc(&out_shape)?;
        for row in 0..checked_size(&out_shape)? {
            let mut best = (f64::NEG_INFINITY, 0usize);
            for (j, &l) in rows[row * k..(row + 1) * k].iter().enumerate() {
                let v = l + d.next_gumbel();
                // `>` keeps the first maximum; a row of -inf logits picks 0.
                if v > best.0 {
                    best = (v, j);
                }
            }
            out.push(best.1 as f64);
        }
        Tensor::from_vec(out, &out_shape)
    }

    /// `count` indices into `0..n`: uniformly or with probabilities `p`
    /// (length `n`, non-negative, summing to a positive number), with or
    /// without replacement.
    pub fn choice(self, n: usize, count: usize, replace: bool, p: Option<&[f64]>) -> Result<Vec<usize>> {
        self.generator().choice(n, count, replace, p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_pure_functions_of_the_key() {
        let k = Key::new(42);
        assert_eq!(k.normal(&[5]).unwrap().to_vec(), k.normal(&[5]).unwrap().to_vec());
        assert_ne!(
            k.normal(&[5]).unwrap().to_vec(),
            Key::new(43).normal(&[5]).unwrap().to_vec()
        );
        // A longer draw starts with the shorter one.
        let long = k.uniform(&[8]).unwrap().to_vec();
        assert_eq!(&long[..3], &k.uniform(&[3]).unwrap().to_vec()[..]);
    }

    #[test]
    fn split_is_prefix_stable_and_distinct() {
        let k = Key::new(0);
        let a = k.split(2);
        let b = k.split(5);
        assert_eq!(a[..], b[..2]);
        let mut all: Vec<u64> = b.iter().map(|k| k.0).collect();
        all.push(k.0);
        all.push(k.fold_in(0).0);
        all.push(k.fold_in(1).0);
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 8);
        assert_eq!(k.fold_in(7), k.fold_in(7));
    }

    #[test]
    fn uniform_and_normal_have_plausible_moments() {
        let n = 20000;
        let u = Key::new(1).uniform(&[n]).unwrap().to_vec();
        assert!(u.iter().all(|x| (0.0..1.0).contains(x)));
        let mean: f64 = u.iter().sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.01, "{mean}");
        let z = Key::new(2).normal(&[n]).unwrap().to_vec();
        let m: f64 = z.iter().sum::<f64>() / n as f64;
        let v: f64 = z.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n as f64;
        assert!(m.abs() < 0.03 && (v - 1.0).abs() < 0.04, "{m} {v}");
    }

    #[test]
    fn integers_permutations_and_choices_are_in_range() {
        let r = Key::new(3).randint(-2, 3, &[1000]).unwrap().to_vec();
        assert!(r.iter().all(|x| (-2.0..3.0).contains(x)));
        for v in -2..3 {
            assert!(r.contains(&(v as f64)));
        }
        let mut p = Key::new(4).permutation_indices(50).unwrap();
        p.sort_unstable();
        assert_eq!(p, (0..50).collect::<Vec<_>>());
        let c = Key::new(5).choice(10, 10, false, None).unwrap();
        let mut s = c.clone();
        s.sort_unstable();
        assert_eq!(s, (0..10).collect::<Vec<_>>());
        // Zero-probability candidates are never drawn, with or without replacement.
        let p = [0.0, 1.0, 0.0, 3.0];
        assert!(Key::new(6)
            .choice(4, 200, true, Some(&p))
            .unwrap()
            .iter()
            .all(|&i| i == 1 || i == 3));
        let mut w = Key::new(7).choice(4, 2, false, Some(&p)).unwrap();
        w.sort_unstable();
        assert_eq!(w, vec![1, 3]);
        assert!(Key::new(7).choice(4, 3, false, Some(&p)).is_err());
        assert!(Key::new(7).choice(3, 4, false, None).is_err());
        assert!(Key::new(7).choice(2, 1, true, Some(&[-1.0, 2.0])).is_err());
    }

    #[test]
    fn categorical_follows_the_logits() {
        // Category 2 has almost all the mass; category 0 has none.
        let logits = Tensor::from_vec(vec![f64::NEG_INFINITY, 0.0, 10.0], &[3]).unwrap();
        let s = Key::new(8).categorical(&logits, -1, Some(&[500])).unwrap().to_vec();
        assert!(s.iter().all(|&i| i == 1.0 || i == 2.0));
        let twos = s.iter().filter(|&&i| i == 2.0).count();
        assert!(twos > 490, "{twos}");
        // Batched rows along axis 0: the result has the other axis' shape.
        let l = Tensor::from_vec(vec![0.0, -1e9, -1e9, 0.0], &[2, 2]).unwrap();
        assert_eq!(Key::new(9).categorical(&l, 0, None).unwrap().to_vec(), vec![0.0, 1.0]);
        assert!(Key::new(9).categorical(&l, 0, Some(&[3])).is_err());
        assert!(Key::new(9).categorical(&Tensor::scalar(1.0), 0, None).is_err());
    }

    #[test]
    fn bernoulli_checks_and_broadcasts_p() {
        let p = Tensor::from_vec(vec![0.0, 1.0], &[2]).unwrap();
        assert_eq!(
            Key::new(1).bernoulli(&p, &[3, 2]).unwrap().to_vec(),
            vec![0.0, 1.0, 0.0, 1.0, 0.0, 1.0]
        );
        assert!(Key::new(1).bernoulli(&Tensor::scalar(1.5), &[2]).is_err());
        assert!(Key::new(1).bernoulli(&p, &[3]).is_err());
        assert!(Key::new(1).randint(3, 3, &[1]).is_err());
    }
}
