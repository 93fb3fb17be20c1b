//! Special functions of one real argument, as scalar functions and as
//! elementwise [`Tensor`] methods: the error functions ([`erf`], [`erfc`],
//! [`erfcx`]), the log-gamma family ([`lgamma`], [`digamma`],
//! [`polygamma`]) and the modified Bessel functions of orders 0 and 1
//! ([`i0`], [`i1`], [`i0e`], [`i1e`]). Values follow SciPy's
//! `scipy.special` (poles, limits, NaN handling) and are accurate to a few
//! units of 1e-16 relative.

mod bessel;
mod chebyshev;
mod erf;
mod gamma;
mod tables;

pub use bessel::{i0, i0e, i1, i1e};
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

    /// Elementwise [`i0`].
    pub fn i0(&self) -> Tensor {
        self.map(i0)
    }

    /// Elementwise [`i0e`].
    pub fn i0e(&self) -> Tensor {
        self.map(i0e)
    }

    /// Elementwise [`i1`].
    pub fn i1(&self) -> Tensor {
        self.map(i1)
    }

    /// Elementwise [`i1e`].
    pub fn i1e(&self) -> Tensor {
        self.map(i1e)
    }
}
