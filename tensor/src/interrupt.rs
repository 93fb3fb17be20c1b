//! A process-wide request to stop, polled by long kernels between blocks.
//!
//! The dp interpreter's Ctrl-C handler sets [`INTERRUPTED`]; a kernel that
//! sees it stops early and leaves its output zeroed rather than finished. The
//! one who sets the flag therefore discards every result computed while it is
//! set (dp reports "interrupted" as soon as the operation returns).

use std::sync::atomic::{AtomicBool, Ordering};

/// Set to ask running kernels to stop; cleared by whoever starts new work.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Whether a stop was requested (one relaxed load: cheap enough per block).
#[inline]
pub(crate) fn requested() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}
