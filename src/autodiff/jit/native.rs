//! Runs of scalar instructions as machine code (x86-64, System V ABI): each
//! register instruction becomes two to four SSE2 instructions over the
//! register file in memory, so a micrograd-style plan runs at the speed of
//! its dependent arithmetic instead of paying an interpreter's dispatch per
//! node.
//!
//! This is a template compiler, not an optimiser: the code computes exactly
//! what [`super::program`]'s loop computes, in the same order, with the same
//! roundings (SSE2 `addsd`/`mulsd`/`divsd`/`sqrtsd` are the IEEE operations
//! Rust's `f64` arithmetic is; no FMA contraction), and every result is
//! stored to its register as the loop stores it. Operators without a short
//! exact SSE2 form (`exp`, `tanh`, `**`, comparisons, ...) call the same
//! `UnaryOp::apply` / `BinaryOp::apply` the loop calls. Like the loop, the
//! code keeps the previous instruction's result in a CPU register (`xmm0`)
//! and reads it from there, so a chain of dependent operations never waits
//! on a store and a reload.
//!
//! Compiling costs tens of nanoseconds per instruction (the assembler is
//! `dynasmrt`). `DP_JIT_NATIVE=0` keeps every run on the loop, to compare.

use super::program::{ScalarInstr, ScalarOp};
use dp_tensor::{BinaryOp, UnaryOp};
use dynasmrt::mmap::{ExecutableBuffer, MutableBuffer};
use dynasmrt::x64::X64Relocation;
use dynasmrt::{dynasm, AssemblyOffset, DynamicLabel, DynasmApi, DynasmLabelApi, VecAssembler};

/// The shortest run compiled to machine code, or `None` when
/// `DP_JIT_NATIVE=0` turned machine code off. Shorter runs stay on the loop
/// (the call into machine code and a page of memory of its own are not worth
/// it for a few operations); `DP_JIT_NATIVE=all` compiles every run, so the
/// test suites can exercise the code generator on small programs.
pub fn min_run() -> Option<usize> {
    match std::env::var_os("DP_JIT_NATIVE") {
        Some(v) if v == "0" => None,
        Some(v) if v == "all" => Some(1),
        _ => Some(16),
    }
}

/// A compiled run of scalar instructions.
pub struct NativeRun {
    code: ExecutableBuffer,
    /// One more than the largest register index the code names.
    regs: usize,
}

impl std::fmt::Debug for NativeRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NativeRun({} bytes)", self.code.size())
    }
}

/// What the generated function returns when no guard failed.
const COMPLETED: u64 = u64::MAX;

/// The signature of the generated code: the register file in, `COMPLETED`
/// or the node of the guard that failed out.
type Entry = unsafe extern "C" fn(*mut f64) -> u64;

/// `UnaryOp::ALL[op]` of `x`, for the code to call (`emit` passes indices
/// it took from that table, so the NaN for another index never shows).
extern "C" fn call_unary(op: u64, x: f64) -> f64 {
    UnaryOp::ALL.get(op as usize).map_or(f64::NAN, |u| u.apply(x))
}

/// `BinaryOp::ALL[op]` of `a` and `b`, as [`call_unary`].
extern "C" fn call_binary(op: u64, a: f64, b: f64) -> f64 {
    BinaryOp::ALL.get(op as usize).map_or(f64::NAN, |o| o.apply(a, b))
}

/// Python's float `a % b`, for the code to call (`op` is unused: the
/// calling sequence is [`call_binary`]'s).
extern "C" fn call_mod(_op: u64, a: f64, b: f64) -> f64 {
    crate::ops::arith::float_mod(a, b)
}

/// Python's float `a // b`, as [`call_mod`].
extern "C" fn call_floor_div(_op: u64, a: f64, b: f64) -> f64 {
    crate::ops::arith::float_floor_div(a, b)
}

impl NativeRun {
    /// Compiles `code`; `None` where this machine has no code generator or
    /// the run cannot be encoded (register offsets past 2 GiB).
    pub fn compile(code: &[ScalarInstr]) -> Option<NativeRun> {
        if !cfg!(all(target_arch = "x86_64", unix)) {
            return None;
        }
        let regs = code
            .iter()
            .map(|s| s.a.max(s.b).max(s.c).max(s.out) as usize + 1)
            .max()
            .unwrap_or(0);
        if regs > (i32::MAX as usize) / 8 {
            return None;
        }
        let bytes = emit(code)?;
        let mut buf = MutableBuffer::new(bytes.len()).ok()?;
        buf.set_len(bytes.len());
        buf.copy_from_slice(&bytes);
        let code = buf.make_exec().ok()?;
        Some(NativeRun { code, regs })
    }

    /// Runs the code on `regs`; `Some(node)` when the guard of that node
    /// came out differently (as `run_scalars`).
    ///
    /// # Safety
    /// `regs` must hold every register the code names (`Program::scalar_regs` of
    /// the program the run belongs to).
    pub unsafe fn run(&self, regs: &mut [f64]) -> Option<u32> {
        debug_assert!(regs.len() >= self.regs);
        // SAFETY: the buffer holds a complete function with the `Entry`
        // signature (emitted by `emit`), and every register offset it uses is
        // below `self.regs`, which the caller guarantees is within `regs`.
        let r = unsafe {
            let f: Entry = std::mem::transmute::<*const u8, Entry>(self.code.ptr(AssemblyOffset(0)));
            f(regs.as_mut_ptr())
        };
        (r != COMPLETED).then_some(r as u32)
    }
}

/// Where an operand is during code generation.
#[derive(Clone, Copy, PartialEq)]
enum Src {
    /// In `xmm0`: the previous instruction's result.
    Last,
    /// In the register file, at this byte offset.
    Mem(i32),
}

/// The machine code for `code`, as position-independent bytes.
fn emit(code: &[ScalarInstr]) -> Option<Vec<u8>> {
    let mut ops: VecAssembler<X64Relocation> = VecAssembler::new(0);
    // rbx holds the register file (callee-saved, so it survives calls); the
    // push also aligns the stack to 16 bytes for those calls.
    dynasm!(ops
        ; .arch x64
        ; push rbx
        ; mov rbx, rdi
    );
    let mut last: Option<u32> = None;
    let mut failures: Vec<(DynamicLabel, u32)> = Vec::new();
    for s in code {
        let src = |r: u32| {
            if last == Some(r) {
                Src::Last
            } else {
                Src::Mem(r as i32 * 8)
            }
        };
        let (a, b, c) = (src(s.a), src(s.b), src(s.c));
        match s.op {
            ScalarOp::Add | ScalarOp::Sub | ScalarOp::Mul | ScalarOp::Div => {
                // xmm0 = a; xmm1 = b where b is the value in xmm0 a load replaces.
                let b_reg = if a != Src::Last && b == Src::Last {
                    dynasm!(ops ; .arch x64 ; movapd xmm1, xmm0);
                    true
                } else {
                    false
                };
                load(&mut ops, 0, a);
                match (s.op, b, b_reg) {
                    (ScalarOp::Add, _, true) => dynasm!(ops ; .arch x64 ; addsd xmm0, xmm1),
                    (ScalarOp::Sub, _, true) => dynasm!(ops ; .arch x64 ; subsd xmm0, xmm1),
                    (ScalarOp::Mul, _, true) => dynasm!(ops ; .arch x64 ; mulsd xmm0, xmm1),
                    (_, _, true) => dynasm!(ops ; .arch x64 ; divsd xmm0, xmm1),
                    // a and b both the previous result.
                    (ScalarOp::Add, Src::Last, _) => dynasm!(ops ; .arch x64 ; addsd xmm0, xmm0),
                    (ScalarOp::Sub, Src::Last, _) => dynasm!(ops ; .arch x64 ; subsd xmm0, xmm0),
                    (ScalarOp::Mul, Src::Last, _) => dynasm!(ops ; .arch x64 ; mulsd xmm0, xmm0),
                    (_, Src::Last, _) => dynasm!(ops ; .arch x64 ; divsd xmm0, xmm0),
                    (ScalarOp::Add, Src::Mem(o), _) => dynasm!(ops ; .arch x64 ; addsd xmm0, QWORD [rbx + o]),
                    (ScalarOp::Sub, Src::Mem(o), _) => dynasm!(ops ; .arch x64 ; subsd xmm0, QWORD [rbx + o]),
                    (ScalarOp::Mul, Src::Mem(o), _) => dynasm!(ops ; .arch x64 ; mulsd xmm0, QWORD [rbx + o]),
                    (_, Src::Mem(o), _) => dynasm!(ops ; .arch x64 ; divsd xmm0, QWORD [rbx + o]),
                }
            }
            ScalarOp::MulAdd | ScalarOp::AddMul | ScalarOp::MulSub | ScalarOp::SubMul => {
                // The product a * b into xmm1, leaving xmm0 (the previous result) as it is.
                load(&mut ops, 1, a);
                match b {
                    Src::Last => dynasm!(ops ; .arch x64 ; mulsd xmm1, xmm0),
                    Src::Mem(o) => dynasm!(ops ; .arch x64 ; mulsd xmm1, QWORD [rbx + o]),
                }
                match s.op {
                    // p + c and p - c: into xmm1, then the result register.
                    ScalarOp::MulAdd | ScalarOp::MulSub => {
                        match (s.op, c) {
                            (ScalarOp::MulAdd, Src::Last) => dynasm!(ops ; .arch x64 ; addsd xmm1, xmm0),
                            (ScalarOp::MulAdd, Src::Mem(o)) => {
                                dynasm!(ops ; .arch x64 ; addsd xmm1, QWORD [rbx + o])
                            }
                            (_, Src::Last) => dynasm!(ops ; .arch x64 ; subsd xmm1, xmm0),
                            (_, Src::Mem(o)) => dynasm!(ops ; .arch x64 ; subsd xmm1, QWORD [rbx + o]),
                        }
                        dynasm!(ops ; .arch x64 ; movapd xmm0, xmm1);
                    }
                    // c + p and c - p: c into xmm0 (there already when it is the previous result).
                    _ => {
                        load(&mut ops, 0, c);
                        if s.op == ScalarOp::AddMul {
                            dynasm!(ops ; .arch x64 ; addsd xmm0, xmm1);
                        } else {
                            dynasm!(ops ; .arch x64 ; subsd xmm0, xmm1);
                        }
                    }
                }
            }
            ScalarOp::Unary(u) => {
                load(&mut ops, 0, a);
                match u {
                    UnaryOp::Square => dynasm!(ops ; .arch x64 ; mulsd xmm0, xmm0),
                    UnaryOp::Sqrt => dynasm!(ops ; .arch x64 ; sqrtsd xmm0, xmm0),
                    UnaryOp::Neg => dynasm!(ops
                        ; .arch x64
                        ; movq rax, xmm0
                        ; btc rax, 63
                        ; movq xmm0, rax
                    ),
                    UnaryOp::Abs => dynasm!(ops
                        ; .arch x64
                        ; movq rax, xmm0
                        ; btr rax, 63
                        ; movq xmm0, rax
                    ),
                    // `x <= 0 ? 0.0 : x` (NaN fails the comparison and passes through).
                    UnaryOp::Relu => dynasm!(ops
                        ; .arch x64
                        ; xorpd xmm2, xmm2
                        ; movapd xmm1, xmm0
                        ; cmpsd xmm1, xmm2, 2
                        ; andnpd xmm1, xmm0
                        ; movapd xmm0, xmm1
                    ),
                    _ => {
                        let op = UnaryOp::ALL.iter().position(|&o| o == u)? as i64;
                        call_out(&mut ops, op, call_unary as *const () as i64);
                    }
                }
            }
            ScalarOp::Binary(o) => {
                // a in xmm0, b in xmm1 (b first: it may be the value in xmm0).
                load(&mut ops, 1, b);
                load(&mut ops, 0, a);
                let op = BinaryOp::ALL.iter().position(|&b| b == o)? as i64;
                call_out(&mut ops, op, call_binary as *const () as i64);
            }
            ScalarOp::Mod | ScalarOp::FloorDiv => {
                load(&mut ops, 1, b);
                load(&mut ops, 0, a);
                let f = if s.op == ScalarOp::Mod {
                    call_mod as *const ()
                } else {
                    call_floor_div as *const ()
                };
                call_out(&mut ops, 0, f as i64);
            }
            ScalarOp::Select => {
                // Every result is in the register file too (stored below), so
                // the three operands load from there; a != 0.0 is "not equal,
                // or unordered" (a NaN selects b, as the loop).
                let (a, b, c) = (s.a as i32 * 8, s.b as i32 * 8, s.c as i32 * 8);
                let (pick_b, done) = (ops.new_dynamic_label(), ops.new_dynamic_label());
                dynasm!(ops
                    ; .arch x64
                    ; movsd xmm0, QWORD [rbx + a]
                    ; xorpd xmm1, xmm1
                    ; ucomisd xmm0, xmm1
                    ; jne =>pick_b
                    ; jp =>pick_b
                    ; movsd xmm0, QWORD [rbx + c]
                    ; jmp =>done
                    ; =>pick_b
                    ; movsd xmm0, QWORD [rbx + b]
                    ; =>done
                );
            }
            ScalarOp::Check => {
                // Bit for bit, as the loop compares; xmm0 keeps the previous result.
                match a {
                    Src::Last => dynasm!(ops ; .arch x64 ; movq rax, xmm0),
                    Src::Mem(o) => dynasm!(ops ; .arch x64 ; mov rax, QWORD [rbx + o]),
                }
                let fail = ops.new_dynamic_label();
                match b {
                    Src::Last => dynasm!(ops ; .arch x64 ; movq rcx, xmm0 ; cmp rax, rcx),
                    Src::Mem(o) => dynasm!(ops ; .arch x64 ; cmp rax, QWORD [rbx + o]),
                }
                dynasm!(ops ; .arch x64 ; jne =>fail);
                failures.push((fail, s.out));
                continue;
            }
        }
        let out = s.out as i32 * 8;
        dynasm!(ops ; .arch x64 ; movsd QWORD [rbx + out], xmm0);
        last = Some(s.out);
    }
    dynasm!(ops
        ; .arch x64
        ; mov rax, -1
        ; pop rbx
        ; ret
    );
    for (label, node) in failures {
        // A node index is below 2^31 (the registers fit in 2 GiB).
        let node = node as i32;
        dynasm!(ops
            ; .arch x64
            ; =>label
            ; mov eax, node
            ; pop rbx
            ; ret
        );
    }
    ops.finalize().ok()
}

/// A call of `f` (`call_unary` or `call_binary`) with the operator's index
/// `op` as its first argument; the floats are already in xmm0 (and xmm1).
fn call_out(ops: &mut VecAssembler<X64Relocation>, op: i64, f: i64) {
    dynasm!(ops
        ; .arch x64
        ; mov rdi, QWORD op
        ; mov rax, QWORD f
        ; call rax
    );
}

/// Loads `src` into `xmm{n}` (n is 0 or 1); nothing when it is already
/// there (the previous result, for n = 0).
fn load(ops: &mut VecAssembler<X64Relocation>, n: u8, src: Src) {
    match (n, src) {
        (0, Src::Last) => {}
        (0, Src::Mem(o)) => dynasm!(ops ; .arch x64 ; movsd xmm0, QWORD [rbx + o]),
        (_, Src::Last) => dynasm!(ops ; .arch x64 ; movapd xmm1, xmm0),
        (_, Src::Mem(o)) => dynasm!(ops ; .arch x64 ; movsd xmm1, QWORD [rbx + o]),
    }
}

#[cfg(all(test, target_arch = "x86_64", unix))]
mod tests {
    use super::*;
    use crate::autodiff::jit::program::run_scalars;

    /// A small deterministic generator (xorshift), so a failure names its seed.
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
    }

    /// Values that tell operators apart at their edges.
    const VALUES: [f64; 14] = [
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -2.5,
        3.0,
        1e-300,
        -1e300,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        0.7,
        -0.3,
    ];

    /// A random run over `n_in` initial registers: every operator, operands
    /// drawn from the inputs and earlier results (often the previous one, so
    /// the code's register-kept result is exercised in every position).
    fn program(rng: &mut Rng, n_in: u32, len: usize) -> Vec<ScalarInstr> {
        let fixed = [
            ScalarOp::Select,
            ScalarOp::Mod,
            ScalarOp::FloorDiv,
            ScalarOp::Add,
            ScalarOp::Sub,
            ScalarOp::Mul,
            ScalarOp::Div,
            ScalarOp::MulAdd,
            ScalarOp::AddMul,
            ScalarOp::MulSub,
            ScalarOp::SubMul,
        ];
        let mut code = Vec::new();
        let mut prev: Option<u32> = None;
        for _ in 0..len {
            let out = n_in + code.iter().filter(|s: &&ScalarInstr| s.op != ScalarOp::Check).count() as u32;
            let pick = |rng: &mut Rng| match prev {
                Some(p) if rng.below(3) == 0 => p,
                _ => rng.below(out as usize) as u32,
            };
            let (a, b, c) = (pick(rng), pick(rng), pick(rng));
            if rng.below(12) == 0 {
                // A guard: a register against itself (passes), or two inputs
                // (often fails). Not two computed values: a NaN's sign may
                // differ between the two (see `same_bits`), and a guard tells.
                let (a, b) = if rng.below(2) == 0 {
                    (a, a)
                } else {
                    (rng.below(n_in as usize) as u32, rng.below(n_in as usize) as u32)
                };
                code.push(ScalarInstr {
                    op: ScalarOp::Check,
                    a,
                    b,
                    c: b,
                    out: a,
                });
                continue;
            }
            let op = match rng.below(4) {
                0 | 1 => fixed[rng.below(fixed.len())],
                2 => ScalarOp::Unary(UnaryOp::ALL[rng.below(UnaryOp::ALL.len())]),
                _ => ScalarOp::Binary(BinaryOp::ALL[rng.below(BinaryOp::ALL.len())]),
            };
            code.push(ScalarInstr { op, a, b, c, out });
            prev = Some(out);
        }
        code
    }

    /// Equal bits, except that any NaN equals any NaN: which operand's NaN
    /// a commutative operator passes on depends on the operand order the
    /// compiler picked (in the loop as in this code), and no dp operation
    /// shows a NaN's sign or payload.
    fn same_bits(x: &[f64], y: &[f64]) -> bool {
        x.len() == y.len()
            && x.iter()
                .zip(y)
                .all(|(a, b)| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()))
    }

    #[test]
    fn machine_code_computes_what_the_loop_computes() {
        for seed in 1..400u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
            let n_in = 1 + rng.below(6) as u32;
            let len = 1 + rng.below(60);
            let code = program(&mut rng, n_in, len);
            let init: Vec<f64> = (0..n_in as usize + len)
                .map(|_| VALUES[rng.below(VALUES.len())])
                .collect();
            let mut looped = init.clone();
            let expected = run_scalars::<true>(&code, &mut looped);
            let native = NativeRun::compile(&code).expect("x86-64 compiles every run");
            let mut ran = init.clone();
            // SAFETY: `ran` has a register for every index the program names.
            let got = unsafe { native.run(&mut ran) };
            assert_eq!(got, expected, "seed {seed}: {code:?}");
            assert!(same_bits(&ran, &looped), "seed {seed}: {code:?}\n{ran:?}\n{looped:?}");
        }
    }

    #[test]
    fn a_failing_guard_stops_the_run_at_its_node() {
        // r2 = r0 + r1; check r2 against r3 (the traced value); r4 = r2 * r2.
        let code = [
            ScalarInstr {
                op: ScalarOp::Add,
                a: 0,
                b: 1,
                c: 1,
                out: 2,
            },
            ScalarInstr {
                op: ScalarOp::Check,
                a: 2,
                b: 3,
                c: 3,
                out: 2,
            },
            ScalarInstr {
                op: ScalarOp::Mul,
                a: 2,
                b: 2,
                c: 2,
                out: 4,
            },
        ];
        let native = NativeRun::compile(&code).expect("compiles");
        let mut regs = [1.0, 2.0, 0.0, 3.0, 0.0];
        // SAFETY: five registers, indices up to 4.
        assert_eq!(unsafe { native.run(&mut regs) }, None);
        assert_eq!(regs[4], 9.0);
        let mut regs = [1.0, 2.5, 0.0, 3.0, 0.0];
        // SAFETY: as above.
        assert_eq!(unsafe { native.run(&mut regs) }, Some(2));
        assert_eq!(regs[4], 0.0, "nothing after the failed guard runs");
        // -0.0 is not 0.0 to a guard.
        let mut regs = [-0.0, -0.0, 0.0, 0.0, 0.0];
        // SAFETY: as above.
        assert_eq!(unsafe { native.run(&mut regs) }, Some(2));
    }
}
