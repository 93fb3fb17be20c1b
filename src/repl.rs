//! The interactive REPL (placeholder until the rustyline front end lands).

use std::sync::atomic::Ordering;

/// Installs a Ctrl-C handler that interrupts the running evaluation.
pub fn install_interrupt_handler() {
    let _ = ctrlc::set_handler(|| crate::eval::INTERRUPTED.store(true, Ordering::Relaxed));
}

/// Runs the REPL; returns the process exit code.
pub fn run() -> u8 {
    0
}
