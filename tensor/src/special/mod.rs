//! Special functions of one real argument, as scalar functions and as
//! elementwise [`Tensor`] methods: the error functions ([`erf`], [`erfc`],
//! [`erfcx`]) and the log-gamma family ([`lgamma`], [`digamma`],
//! [`polygamma`]). Values follow SciPy's `scipy.special` (poles, limits,
//! NaN handling) and are accurate to a few units of 1e-16 relative.

mod chebyshev;
mod erf;
mod gamma;
mod tables;

pub use erf::{erf, erfc, erfcx};
pub use gamma::{digamma, lgamma, polygamma};

use crate::tensor::Tensor;

impl Tensor {
    /// Elementwise [`erf`].
    pub fn erf(&self) -> Tensor {
        self.map(erf)
    }

    /// Elementwise [`erfc`].
    pub fn erfc(&self) -> Tensor {
        self.map(erfc)
    }

    /// Elementwise [`erfcx`].
    pub fn erfcx(&self) -> Tensor {
        self.map(erfcx)
    }

    /// Elementwise [`lgamma`] (`ln |Gamma(x)|`).
    pub fn lgamma(&self) -> Tensor {
        self.map(lgamma)
    }

    /// Elementwise [`digamma`].
    pub fn digamma(&self) -> Tensor {
        self.map(digamma)
    }

    /// Elementwise [`polygamma`] of order `n` (`n = 1`: trigamma).
    pub fn polygamma(&self, n: u32) -> Tensor {
        self.map(|x| polygamma(n, x))
    }
}
