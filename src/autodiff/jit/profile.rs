//! `DP_JIT_PROFILE=1`: where a jitted function's time goes. Every plan
//! times each of its steps as it runs (a primitive call, a fused kernel, a
//! run of scalar arithmetic), and `dp` prints one table per plan on stderr
//! when the program ends: the mean time of each step per run, its share of
//! the run, and the source line it comes from. Off by default: a plan then
//! pays one branch per step.

use std::cell::{Cell, RefCell};
use std::fmt::Write;
use std::rc::Rc;
use std::sync::OnceLock;
use std::time::Duration;

/// Whether `DP_JIT_PROFILE` is set (to anything but `0`), read once.
pub fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("DP_JIT_PROFILE").is_some_and(|v| v != "0"))
}

/// One step of a plan as the table shows it.
#[derive(Debug)]
pub struct Step {
    /// What the step computes ("`@` -> (256, 128)", "fused: `+`, tanh").
    pub label: String,
    /// `file:line:column` of the code it comes from (empty when unknown).
    pub at: String,
}

/// The times of one plan's steps, summed over its runs.
#[derive(Debug)]
pub struct Profile {
    function: String,
    steps: Vec<Step>,
    total: RefCell<Vec<Duration>>,
    runs: Cell<u64>,
}

impl Profile {
    /// Adds `spent` to step `k`.
    pub fn add(&self, k: usize, spent: Duration) {
        if let Some(t) = self.total.borrow_mut().get_mut(k) {
            *t += spent;
        }
    }

    /// Counts one finished run.
    pub fn finish_run(&self) {
        self.runs.set(self.runs.get() + 1);
    }
}

thread_local! {
    /// Every profiled plan made on this thread, in order of creation.
    static PLANS: RefCell<Vec<Rc<Profile>>> = const { RefCell::new(Vec::new()) };
}

/// A profile for a new plan of `function` with these steps, registered for
/// [`report`].
pub fn register(function: &str, steps: Vec<Step>) -> Rc<Profile> {
    let p = Rc::new(Profile {
        function: function.to_string(),
        total: RefCell::new(vec![Duration::ZERO; steps.len()]),
        steps,
        runs: Cell::new(0),
    });
    PLANS.with(|ps| ps.borrow_mut().push(p.clone()));
    p
}

/// The tables of every plan that ran, slowest step first within each
/// (none if no plan ran); the profiles are cleared.
pub fn report() -> Option<String> {
    let plans = PLANS.with(|ps| std::mem::take(&mut *ps.borrow_mut()));
    let mut out = String::new();
    for p in plans.iter().filter(|p| p.runs.get() > 0) {
        let runs = p.runs.get() as f64;
        let total = p.total.borrow();
        let sum: Duration = total.iter().sum();
        let per_run = sum.as_secs_f64() * 1e6 / runs;
        let _ = writeln!(
            out,
            "jit profile of `{}`: {} runs, {:.1} us per run, {} steps (DP_JIT_PROFILE)",
            p.function,
            p.runs.get(),
            per_run,
            p.steps.len()
        );
        let _ = writeln!(out, "  {:>10}  {:>5}  {:<48}  at", "us/run", "%", "step");
        let mut order: Vec<usize> = (0..p.steps.len()).collect();
        order.sort_by(|&a, &b| total[b].cmp(&total[a]));
        for k in order {
            let us = total[k].as_secs_f64() * 1e6 / runs;
            let share = if sum.is_zero() {
                0.0
            } else {
                100.0 * total[k].as_secs_f64() / sum.as_secs_f64()
            };
            let s = &p.steps[k];
            let _ = writeln!(out, "  {us:>10.2}  {share:>5.1}  {:<48}  {}", s.label, s.at);
        }
    }
    (!out.is_empty()).then_some(out)
}
