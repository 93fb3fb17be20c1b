//! Which steps of a plan share their work with the kernel library's helper
//! thread, chosen by measuring the plan's own runs.
//!
//! The kernels decide from sizes alone whether to hand half of a product or
//! of a long elementwise loop to the second core, with thresholds measured
//! on one machine. On another, that can be wrong in either direction: on a
//! 2-vCPU Xeon VM whose cores see each other's fresh writes slowly, a
//! 64x256 @ 256x128 product of operands just computed ran in 61 us on two
//! threads and 45 us on one, and the benches' MLP training step was no
//! faster on two threads than on one, while on a Zen 4 VM the same sharing
//! made it 1.4x faster. A plan runs the same steps on the same shapes again
//! and again, so it can afford to ask the machine: its first runs alternate
//! between sharing everywhere and nowhere, timing every step; then it tries
//! each step's faster choice together; from then on it runs the whole plan
//! the way that was fastest. Results are the same bits every way (kernels
//! cut their work so that no element depends on the cut), so only time is
//! at stake.

use std::cell::RefCell;
use std::time::Duration;

/// Timed blocks of each setting (the best run counts): enough to see
/// through a disturbed run on a shared machine, few enough that a training
/// loop is tuned within its first steps.
const ROUNDS: u32 = 3;

/// Runs of one setting in a row; only the last is timed. A run that follows
/// another setting's pays for where that one left the data (in the other
/// core's cache after a shared run: a serial run right after one measured
/// 15 % slower than after a serial run), so it only warms up.
const BLOCK: u32 = 2;

/// A step shares in the mixed setting only if sharing made it at least this
/// much faster (sharing occupies the second core, so a tie goes to serial).
const GAIN: f64 = 0.95;

/// The mixed setting is kept if its best run is at least this much faster
/// than the best uniform one.
const MIXED_GAIN: f64 = 0.98;

/// Settled runs watched together: if the best of them is more than
/// [`DRIFT`] times the tuned time, the plan is tuned again.
const WINDOW: u32 = 32;

/// See [`WINDOW`].
const DRIFT: f64 = 1.25;

/// One way of running the plan while it is being tuned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Setting {
    /// No step shares.
    Serial,
    /// Every step may share (as the kernels decide by size).
    Shared,
    /// Each step as it was faster on its own.
    Mixed,
}

impl Setting {
    fn index(self) -> usize {
        match self {
            Setting::Serial => 0,
            Setting::Shared => 1,
            Setting::Mixed => 2,
        }
    }
}

/// What one run does about sharing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum RunKind {
    /// Nothing to decide (one thread, or no step ever shares): every step
    /// as the kernels decide, untimed.
    Fixed,
    /// Decided: each step as [`Sharing::allowed`] says; the run is timed
    /// to notice when the decision stops fitting.
    Settled,
    /// A tuning run of one setting: the run and its steps are timed.
    Tuning(Setting),
}

impl RunKind {
    /// Whether the run is timed (and reported to [`Sharing::run_done`]).
    pub(super) fn timed(self) -> bool {
        self != RunKind::Fixed
    }
}

#[derive(Debug)]
enum Phase {
    /// Nothing to tune.
    Fixed,
    /// Serial and shared runs in blocks; `runs` completed so far.
    Uniform { runs: u32 },
    /// Mixed, serial and shared runs in blocks.
    Compare { runs: u32 },
    /// Every step runs as `allowed` says; `expected` is the best tuning run
    /// of that setting, and `runs` / `best` count and keep the best of the
    /// current window of settled runs.
    Settled {
        expected: Duration,
        runs: u32,
        best: Duration,
    },
}

#[derive(Debug)]
struct State {
    phase: Phase,
    /// Whether each step may share: the decision once settled, the mixed
    /// setting's proposal while comparing.
    allowed: Vec<bool>,
    /// Whether each step handed work to the helper in a shared run (never
    /// a scalar run, which is why no separate list of candidates is kept).
    shared: Vec<bool>,
    /// Each step's best time with sharing off (0) and on (1).
    step_best: Vec<[Duration; 2]>,
    /// The best whole run of each setting.
    run_best: [Duration; 3],
    /// Whether this is a tuning after the first (see [`Phase::Settled`]).
    retuning: bool,
}

/// The sharing decisions of one plan (see the module documentation).
#[derive(Debug)]
pub(super) struct Sharing {
    state: RefCell<State>,
}

impl Sharing {
    /// For a plan whose steps are `candidate` (true where a step runs a
    /// kernel that might share). With one thread, or no candidate step,
    /// there is nothing to tune.
    pub(super) fn new(candidate: &[bool]) -> Sharing {
        let n = candidate.len();
        let tune = dp_tensor::sharing_possible() && candidate.iter().any(|&c| c) && tuning_enabled();
        let mut state = State {
            phase: Phase::Fixed,
            allowed: vec![true; n],
            shared: vec![false; n],
            step_best: Vec::new(),
            run_best: [Duration::MAX; 3],
            retuning: false,
        };
        if tune {
            state.restart();
        }
        Sharing {
            state: RefCell::new(state),
        }
    }

    /// What the next run does.
    pub(super) fn next_run(&self) -> RunKind {
        match self.state.borrow().phase {
            Phase::Fixed => RunKind::Fixed,
            Phase::Settled { .. } => RunKind::Settled,
            Phase::Uniform { runs } => RunKind::Tuning(if (runs / BLOCK).is_multiple_of(2) {
                Setting::Serial
            } else {
                Setting::Shared
            }),
            Phase::Compare { runs } => RunKind::Tuning(match (runs / BLOCK) % 3 {
                0 => Setting::Mixed,
                1 => Setting::Serial,
                _ => Setting::Shared,
            }),
        }
    }

    /// Whether step `k` may share in a run of `kind`.
    pub(super) fn allowed(&self, kind: RunKind, k: usize) -> bool {
        match kind {
            RunKind::Fixed => true,
            RunKind::Tuning(Setting::Serial) => false,
            RunKind::Tuning(Setting::Shared) => true,
            RunKind::Settled | RunKind::Tuning(Setting::Mixed) => {
                self.state.borrow().allowed.get(k).copied().unwrap_or(true)
            }
        }
    }

    /// Records step `k`'s time in a tuning run of `setting`, and whether it
    /// handed work to the helper.
    pub(super) fn step_done(&self, setting: Setting, k: usize, spent: Duration, shared: bool) {
        let mut s = self.state.borrow_mut();
        if shared {
            if let Some(x) = s.shared.get_mut(k) {
                *x = true;
            }
        }
        let timed = s.timed();
        let column = usize::from(setting != Setting::Serial);
        // A step allowed to share that did not (the helper was backing off,
        // say, or still starting) measured nothing about sharing.
        if timed && setting != Setting::Mixed && (setting == Setting::Serial || shared) {
            if let Some(best) = s.step_best.get_mut(k) {
                best[column] = best[column].min(spent);
            }
        }
    }

    /// Records a completed run of `kind` that took `spent` (and handed work
    /// to the helper if `shared`), and moves the tuning on; returns the
    /// decision when this run settled it (for the `DP_JIT_PROFILE` table).
    pub(super) fn run_done(&self, kind: RunKind, spent: Duration, shared: bool) -> Option<Decision> {
        let was_settled = matches!(self.state.borrow().phase, Phase::Settled { .. });
        self.advance(kind, spent, shared);
        let s = self.state.borrow();
        match s.phase {
            Phase::Settled { .. } if !was_settled => {
                let us = |d: Duration| {
                    if d == Duration::MAX {
                        "-".to_string()
                    } else {
                        format!("{:.1} us", d.as_secs_f64() * 1e6)
                    }
                };
                let [serial, shared, mixed] = s.run_best;
                let two_threads: Vec<bool> = s.allowed.iter().zip(&s.shared).map(|(&a, &sh)| a && sh).collect();
                let how = match two_threads.iter().filter(|&&t| t).count() {
                    0 => "one thread",
                    n if n == s.shared.iter().filter(|&&x| x).count() => "two threads wherever a kernel splits",
                    _ => "two threads for the steps marked 2",
                };
                Some(Decision {
                    summary: format!(
                        "runs on {how} (measured, best run: one thread {}, two {}, mixed {})",
                        us(serial),
                        us(shared),
                        us(mixed),
                    ),
                    two_threads,
                })
            }
            _ => None,
        }
    }

    fn advance(&self, kind: RunKind, spent: Duration, shared: bool) {
        let mut s = self.state.borrow_mut();
        if let RunKind::Tuning(setting) = kind {
            // As for steps: a run allowed to share that shared nothing is no
            // sample of sharing.
            if s.timed() && (setting == Setting::Serial || shared) {
                let best = &mut s.run_best[setting.index()];
                *best = (*best).min(spent);
            }
        }
        match s.phase {
            Phase::Fixed => {}
            Phase::Uniform { runs } => {
                let runs = runs + 1;
                if runs < 2 * ROUNDS * BLOCK {
                    s.phase = Phase::Uniform { runs };
                } else if !s.shared.iter().any(|&x| x) && !s.retuning {
                    // Nothing shared in any run that allowed it: the sizes
                    // keep every kernel on one thread, and there is nothing
                    // to decide. (Not concluded when tuning again: that is
                    // mostly under load, when the helper backs off for whole
                    // runs; the measurements then settle on one thread, and
                    // the plan stays watched.)
                    s.allowed.fill(true);
                    s.phase = Phase::Fixed;
                } else {
                    s.propose();
                }
            }
            Phase::Compare { runs } => {
                let runs = runs + 1;
                if runs < 3 * ROUNDS * BLOCK {
                    s.phase = Phase::Compare { runs };
                } else {
                    s.settle(true, false);
                }
            }
            Phase::Settled { expected, runs, best } => {
                let (runs, best) = (runs + 1, best.min(spent));
                s.phase = if runs < WINDOW {
                    Phase::Settled { expected, runs, best }
                } else if best.as_secs_f64() > expected.as_secs_f64() * DRIFT {
                    // Even the best run of a window is well slower than the
                    // tuning promised: the plan now runs in other company
                    // (operands fresh from other code, other work on the
                    // other core), so ask the machine again.
                    s.retuning = true;
                    s.restart();
                    return;
                } else {
                    Phase::Settled {
                        expected: expected.min(best),
                        runs: 0,
                        best: Duration::MAX,
                    }
                };
            }
        }
    }
}

/// Whether plans tune their sharing: `DP_JIT_TUNE=0` (read once) leaves
/// every step to the kernels' size thresholds, as plain code runs, to
/// measure what the tuning gains.
fn tuning_enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("DP_JIT_TUNE").is_none_or(|v| v != "0"))
}

/// A settled decision, as the profile table shows it.
pub(super) struct Decision {
    /// One sentence: the setting chosen and the runs it was chosen from.
    pub summary: String,
    /// Whether each step runs on two threads.
    pub two_threads: Vec<bool>,
}

impl State {
    /// Whether the current tuning run is timed (the last of its block).
    fn timed(&self) -> bool {
        match self.phase {
            Phase::Uniform { runs } | Phase::Compare { runs } => runs % BLOCK == BLOCK - 1,
            Phase::Fixed | Phase::Settled { .. } => false,
        }
    }

    /// Starts tuning from scratch.
    fn restart(&mut self) {
        let n = self.allowed.len();
        self.phase = Phase::Uniform { runs: 0 };
        self.shared = vec![false; n];
        self.step_best = vec![[Duration::MAX; 2]; n];
        self.run_best = [Duration::MAX; 3];
    }

    /// After the uniform runs: each sharing step shares in the mixed
    /// setting if that made it faster; if the proposal is one of the
    /// uniform settings, there is nothing more to compare.
    fn propose(&mut self) {
        for ((allowed, &[serial, shared]), &did_share) in self.allowed.iter_mut().zip(&self.step_best).zip(&self.shared)
        {
            *allowed = did_share && shared.as_secs_f64() < serial.as_secs_f64() * GAIN;
        }
        let sharing: Vec<bool> = self
            .allowed
            .iter()
            .zip(&self.shared)
            .filter(|(_, &sh)| sh)
            .map(|(&a, _)| a)
            .collect();
        if sharing.iter().all(|&a| !a) {
            self.settle(false, false);
        } else if sharing.iter().all(|&a| a) {
            self.settle(false, true);
        } else {
            // All three settings get the same number of fresh samples.
            self.run_best = [Duration::MAX; 3];
            self.phase = Phase::Compare { runs: 0 };
        }
    }

    /// Keeps the fastest setting measured (the mixed one only if it was
    /// tried): a setting that shares must beat serial by [`GAIN`], or by
    /// [`MIXED_GAIN`] where every sharing step already gained that much on
    /// its own (`steps_gained`: its saving may be a small part of the run),
    /// and mixed must beat both uniform ones by [`MIXED_GAIN`].
    fn settle(&mut self, mixed_tried: bool, steps_gained: bool) {
        let [serial, shared, mixed] = self.run_best;
        let best_uniform = serial.min(shared);
        let shared_gain = if steps_gained { MIXED_GAIN } else { GAIN };
        // The mixed setting already had to earn each step's sharing by GAIN,
        // so it only has to beat the uniform ones beyond noise.
        let expected = if mixed_tried && mixed.as_secs_f64() < best_uniform.as_secs_f64() * MIXED_GAIN {
            // `allowed` already holds the mixed setting.
            mixed
        } else if shared.as_secs_f64() < serial.as_secs_f64() * shared_gain {
            self.allowed.fill(true);
            shared
        } else {
            self.allowed.fill(false);
            serial
        };
        self.phase = Phase::Settled {
            expected,
            runs: 0,
            best: Duration::MAX,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(x: u64) -> Duration {
        Duration::from_micros(x)
    }

    /// Drives `s` through its tuning with step times from `time(setting, k)`
    /// and returns the settled decision (or `None` if it never settles).
    fn tune(s: &Sharing, steps: usize, time: impl Fn(Setting, usize) -> u64) -> Option<Vec<bool>> {
        for _ in 0..100 {
            let RunKind::Tuning(setting) = s.next_run() else {
                return Some((0..steps).map(|k| s.allowed(RunKind::Settled, k)).collect());
            };
            let mut total = 0;
            for k in 0..steps {
                let allowed = s.allowed(RunKind::Tuning(setting), k);
                let t = time(if allowed { Setting::Shared } else { Setting::Serial }, k);
                total += t;
                s.step_done(setting, k, us(t), allowed);
            }
            let _ = s.run_done(RunKind::Tuning(setting), us(total), setting != Setting::Serial);
        }
        None
    }

    fn candidates(n: usize) -> Vec<bool> {
        vec![true; n]
    }

    /// Drives `s` through a whole uniform phase in which no step shares.
    fn uniform_runs_sharing_nothing(s: &Sharing, t: u64) {
        for _ in 0..2 * ROUNDS * BLOCK {
            let RunKind::Tuning(setting) = s.next_run() else {
                panic!("still tuning")
            };
            s.step_done(setting, 0, us(t), false);
            let _ = s.run_done(RunKind::Tuning(setting), us(t), false);
        }
    }

    #[test]
    fn keeps_sharing_where_it_is_faster_everywhere() {
        if !dp_tensor::sharing_possible() || !tuning_enabled() {
            return;
        }
        let s = Sharing::new(&candidates(3));
        let settled = tune(&s, 3, |set, _| if set == Setting::Shared { 60 } else { 100 });
        assert_eq!(settled, Some(vec![true; 3]));
    }

    #[test]
    fn turns_sharing_off_where_it_is_slower() {
        if !dp_tensor::sharing_possible() || !tuning_enabled() {
            return;
        }
        let s = Sharing::new(&candidates(3));
        let settled = tune(&s, 3, |set, _| if set == Setting::Shared { 130 } else { 100 });
        assert_eq!(settled, Some(vec![false; 3]));
    }

    #[test]
    fn mixes_when_each_step_has_its_own_winner() {
        if !dp_tensor::sharing_possible() || !tuning_enabled() {
            return;
        }
        let s = Sharing::new(&candidates(2));
        // Step 0 gains from sharing, step 1 loses: the mixed run (60 + 100)
        // beats both uniform ones (60 + 150, 100 + 100).
        let settled = tune(&s, 2, |set, k| match (set, k) {
            (Setting::Shared, 0) => 60,
            (Setting::Shared, _) => 150,
            _ => 100,
        });
        assert_eq!(settled, Some(vec![true, false]));
    }

    #[test]
    fn a_tie_goes_to_serial() {
        if !dp_tensor::sharing_possible() || !tuning_enabled() {
            return;
        }
        let s = Sharing::new(&candidates(2));
        assert_eq!(tune(&s, 2, |_, _| 100), Some(vec![false; 2]));
    }

    #[test]
    fn settles_at_once_when_nothing_can_share() {
        let s = Sharing::new(&[false, false]);
        assert_eq!(s.next_run(), RunKind::Fixed);
        assert!(s.allowed(RunKind::Fixed, 0));
    }

    #[test]
    fn stops_tuning_when_no_step_shares_at_its_size() {
        if !dp_tensor::sharing_possible() || !tuning_enabled() {
            return;
        }
        let s = Sharing::new(&candidates(2));
        uniform_runs_sharing_nothing(&s, 10);
        assert_eq!(s.next_run(), RunKind::Fixed);
    }

    #[test]
    fn a_tuning_again_in_which_nothing_shares_settles_on_one_thread_and_keeps_watching() {
        if !dp_tensor::sharing_possible() || !tuning_enabled() {
            return;
        }
        let s = Sharing::new(&candidates(1));
        assert_eq!(
            tune(&s, 1, |set, _| if set == Setting::Shared { 60 } else { 100 }),
            Some(vec![true])
        );
        for _ in 0..WINDOW {
            let _ = s.run_done(RunKind::Settled, us(200), true);
        }
        // Tuning again while the helper backs off for whole runs: nothing shares.
        uniform_runs_sharing_nothing(&s, 100);
        assert_eq!(s.next_run(), RunKind::Settled);
        assert!(!s.allowed(RunKind::Settled, 0));
    }

    #[test]
    fn tunes_again_when_runs_drift_from_what_tuning_promised() {
        if !dp_tensor::sharing_possible() || !tuning_enabled() {
            return;
        }
        let s = Sharing::new(&candidates(1));
        let settled = tune(&s, 1, |set, _| if set == Setting::Shared { 60 } else { 100 });
        assert_eq!(settled, Some(vec![true]));
        // Runs as fast as promised (or within noise) keep the decision...
        for _ in 0..3 * WINDOW {
            assert_eq!(s.next_run(), RunKind::Settled);
            let _ = s.run_done(RunKind::Settled, us(70), true);
        }
        // ...a window whose best is far slower starts the tuning again, and
        // the new measurements decide.
        for _ in 0..WINDOW {
            assert_eq!(s.next_run(), RunKind::Settled);
            let _ = s.run_done(RunKind::Settled, us(120), true);
        }
        assert!(matches!(s.next_run(), RunKind::Tuning(_)));
        let settled = tune(&s, 1, |set, _| if set == Setting::Shared { 120 } else { 100 });
        assert_eq!(settled, Some(vec![false]));
    }
}
