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
    /// The latest sharing decision: a sentence, and for each step whether
    /// it runs on two threads (see `sharing`).
    sharing: RefCell<Option<(String, Vec<bool>)>>,
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

    /// Records how the plan decided to share its steps' work: `summary`
    /// for the header, `two_threads[k]` for step `k`'s row.
    pub fn set_sharing(&self, summary: String, two_threads: Vec<bool>) {
        *self.sharing.borrow_mut() = Some((summary, two_threads));
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
        sharing: RefCell::new(None),
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
        let sharing = p.sharing.borrow();
        if let Some((summary, _)) = &*sharing {
            let _ = writeln!(out, "  {summary}");
        }
        let threads = |k: usize| match &*sharing {
            Some((_, two)) => {
                if two.get(k).copied().unwrap_or(false) {
                    "2"
                } else {
                    "1"
                }
            }
            None => "",
        };
        let _ = writeln!(out, "  {:>10}  {:>5}  {:>3}  {:<48}  at", "us/run", "%", "thr", "step");
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
            let _ = writeln!(
                out,
                "  {us:>10.2}  {share:>5.1}  {:>3}  {:<48}  {}",
                threads(k),
                s.label,
                s.at
            );
        }
    }
    (!out.is_empty()).then_some(out)
}
