//! The `dp` command line: REPL, scripts, snippets and checks.

use clap::{Parser, Subcommand};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// dp — a differentiable programming language.
#[derive(Parser, Debug)]
#[command(name = "dp", version, about, long_about = None, args_conflicts_with_subcommands = true, disable_help_subcommand = true)]
struct Cli {
    /// Run a snippet and print the value of its last expression (words after it are its `args()`).
    #[arg(short = 'e', long = "eval", value_name = "CODE")]
    eval: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
    /// A script to run, followed by its arguments (available as `args()`).
    #[arg(value_name = "FILE", trailing_var_arg = true, allow_hyphen_values = true)]
    script: Vec<String>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a script.
    Run {
        /// The script.
        file: PathBuf,
        /// Arguments passed to the script (`args()`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Parse and resolve a script without running it; report every error.
    Check {
        /// The script.
        file: PathBuf,
    },
    /// Run a script and print the extended computational graph of its first
    /// `grad`/`vjp`: the forward nodes and the adjoint nodes of every backward
    /// pass, one line each (the program's own output goes to stderr).
    Graph {
        /// Print Graphviz DOT instead of the table.
        #[arg(long)]
        dot: bool,
        /// Also show the graph after the optimisation passes (constant
        /// folding, algebraic simplification, common subexpressions, dead
        /// code), with what each pass removed, the kernels fusion makes and
        /// what memory planning does under jit.
        #[arg(long)]
        optimized: bool,
        /// The script.
        file: PathBuf,
        /// Arguments passed to the script (`args()`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Start the interactive REPL.
    Repl,
    /// Show the signature and documentation of a builtin (`dp help grad`), a
    /// stdlib function (`dp help optim.adam`) or a stdlib module (`dp help
    /// optim`); without NAME, list the builtins and modules; `dp help
    /// --markdown` prints the whole reference (docs/reference.md).
    Help {
        /// The function or module, e.g. `grad`, `nn.mlp` or `nn`.
        name: Option<String>,
        /// Print the whole reference (docs/reference.md) as Markdown.
        #[arg(long)]
        markdown: bool,
    },
}

fn use_color() -> bool {
    std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal()
}

fn main() -> ExitCode {
    keep_freed_memory();
    let cli = Cli::parse();
    // The interpreter runs on a thread with a large stack so that deep (but
    // bounded) recursion in user programs never overflows the native stack.
    let handle = std::thread::Builder::new()
        .name("dp".into())
        .stack_size(dp::eval::interp::INTERPRETER_STACK)
        .spawn(move || run(cli));
    match handle.map(|h| h.join()) {
        Ok(Ok(code)) => ExitCode::from(code),
        _ => {
            dp::cli_io::err_line!("dp: internal error: the interpreter thread failed");
            ExitCode::from(70)
        }
    }
}

fn run(cli: Cli) -> u8 {
    let color = use_color();
    let runs_code = !matches!(cli.command, Some(Command::Check { .. } | Command::Help { .. }));
    if runs_code {
        if let Err(code) = check_memory_setting().and_then(|()| check_settings()) {
            return code;
        }
    }
    if let Some(code) = cli.eval {
        // Words after the snippet are its arguments (`dp -e 'print(args())' a b`).
        return run_snippet(&code, cli.script, color);
    }
    match cli.command {
        Some(Command::Run { file, args }) => run_file(&file, args, color),
        Some(Command::Check { file }) => check_file(&file, color),
        Some(Command::Graph {
            file,
            dot,
            optimized,
            args,
        }) => graph_file(&file, args, dot, optimized, color),
        Some(Command::Repl) => dp::repl::run(),
        Some(Command::Help { name, markdown }) => help(name.as_deref(), markdown),
        None => match cli.script.split_first() {
            Some((file, _)) if file.starts_with('-') && !Path::new(file).exists() => {
                dp::cli_io::err_line!("dp: unknown option `{file}` (see `dp --help`)");
                2
            }
            Some((file, rest)) => run_file(Path::new(file), rest.to_vec(), color),
            None => dp::repl::run(),
        },
    }
}

fn help(name: Option<&str>, markdown: bool) -> u8 {
    let builtins = dp::builtins::all();
    if markdown {
        dp::cli_io::out_text!("{}", dp::builtins::help::reference_markdown(&builtins));
        return 0;
    }
    let Some(name) = name else {
        dp::cli_io::out_line!("Builtins (`dp help NAME` for one; stdlib: `dp help nn.mlp`, `dp help optim.adam`):");
        for sig in dp::builtins::help::declarations(&builtins) {
            dp::cli_io::out_line!("  {:<16} {}", sig.name, sig.decl.summary);
        }
        dp::cli_io::out_line!("Standard-library modules (`dp help NAME` for one's description and functions):");
        dp::cli_io::out_line!("  {}", dp::stdlib::NAMES.join(" "));
        return 0;
    };
    match dp::builtins::help::help_for_name(&builtins, name) {
        Ok(text) => {
            dp::cli_io::out_text!("{text}");
            0
        }
        Err(msg) => {
            dp::cli_io::err_line!("dp help: {msg}");
            1
        }
    }
}

/// Stops with a usage error (status 2) when `DP_MAX_MEMORY` is set but is
/// not a memory size. The budget is otherwise read at the first tensor
/// allocation, so a typo went unnoticed by a program that makes no tensor
/// (`dp -e '1'`) and stopped the others at whatever line allocated first.
fn check_memory_setting() -> Result<(), u8> {
    if std::env::var_os(dp_tensor::MEMORY_ENV).is_none() {
        return Ok(());
    }
    dp_tensor::memory_limit().map(|_| ()).map_err(|e| {
        dp::cli_io::err_line!("dp: {e}");
        2
    })
}

/// Stops with a usage error (status 2) when `DP_SIMD`, `DP_NUM_THREADS`
/// or `DP_JIT` is set to a value they do not accept, as for
/// `DP_MAX_MEMORY`: each is read where it is first needed, and an unknown
/// value was silently taken as the default.
fn check_settings() -> Result<(), u8> {
    let checks = [
        dp_tensor::check_simd_setting(),
        dp_tensor::check_threads_setting(),
        dp::autodiff::jit::check_jit_setting(),
    ];
    for check in checks {
        if let Err(e) = check {
            dp::cli_io::err_line!("dp: {e}");
            return Err(2);
        }
    }
    Ok(())
}

fn report(interp: &dp::Interp, errors: &[dp::Diagnostic], color: bool) {
    for d in errors {
        dp::cli_io::err_text!("{}", interp.render(d, color));
    }
}

/// The text of a script. A FIFO or device is read too (`dp /dev/stdin`):
/// Ctrl-C is not taken over yet, so it still ends a read that blocks.
fn read(file: &Path) -> Result<String, u8> {
    dp::files::read_program(file, true).map_err(|e| {
        dp::cli_io::err_line!("dp: cannot read {}: {}", file.display(), e.reason());
        2
    })
}

fn run_file(file: &Path, args: Vec<String>, color: bool) -> u8 {
    let src = match read(file) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let mut interp = dp::Interp::new(Box::new(std::io::BufWriter::new(std::io::stdout())));
    interp.script_args = args;
    // On a terminal each printed line shows at once; into a pipe or file,
    // output stays block-buffered (flushed at exit, on an error and on Ctrl-C).
    interp.flush_each_print = std::io::stdout().is_terminal();
    interp.progress.display = dp::progress::Display::for_stdout();
    dp::repl::install_interrupt_handler();
    let dir = file.parent().map(|p| {
        if p.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            p.to_path_buf()
        }
    });
    let ran = interp.run_source(&file.display().to_string(), &src, dir);
    print_jit_profile();
    match ran {
        Ok(_) => 0,
        Err(errors) => {
            report(&interp, &errors, color);
            1
        }
    }
}

fn run_snippet(code: &str, args: Vec<String>, color: bool) -> u8 {
    let mut interp = dp::Interp::new(Box::new(std::io::BufWriter::new(std::io::stdout())));
    interp.script_args = args;
    interp.flush_each_print = std::io::stdout().is_terminal();
    interp.progress.display = dp::progress::Display::for_stdout();
    // As in the REPL, a missing final `;` is added (`dp -e 'let x = 3'`).
    let code = dp::repl::with_semicolon(code).unwrap_or_else(|| code.to_string());
    let ran = interp.run_source("<-e>", &code, Some(PathBuf::from(".")));
    print_jit_profile();
    match ran {
        Ok(Some(v)) if !matches!(v, dp::Value::None) => {
            dp::cli_io::out_line!("{}", v.repr_with(&interp.print_options));
            0
        }
        Ok(_) => 0,
        Err(errors) => {
            report(&interp, &errors, color);
            1
        }
    }
}

/// Under `DP_JIT_PROFILE`, the time of each step of every jit plan that ran.
fn print_jit_profile() {
    if let Some(table) = dp::autodiff::jit::profile::report() {
        eprint!("{table}");
    }
}

fn graph_file(file: &Path, args: Vec<String>, dot: bool, optimized: bool, color: bool) -> u8 {
    let src = match read(file) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let mut interp = dp::Interp::new(Box::new(std::io::stderr()));
    // The script runs as `dp FILE ARGS` runs it, its arguments included.
    interp.script_args = args;
    interp.diff.start_capture();
    let dir = file.parent().map(Path::to_path_buf);
    if let Err(errors) = interp.run_source(&file.display().to_string(), &src, dir) {
        report(&interp, &errors, color);
        return 1;
    }
    let Some(graph) = interp.diff.take_captured() else {
        dp::cli_io::err_line!(
            "dp graph: {} ran no grad, value_and_grad, vjp or jacrev, so there is no graph to show",
            file.display()
        );
        return 1;
    };
    let show = |g: &dp::autodiff::capture::Extended| {
        if dot {
            dp::autodiff::graph::to_dot(g, &interp.sources)
        } else {
            dp::autodiff::graph::to_table(g, &interp.sources)
        }
    };
    if !optimized {
        dp::cli_io::out_text!("{}", show(&graph));
        return 0;
    }
    use dp::autodiff::optimize::{optimize, PassKind};
    let (better, reports) = optimize(&graph, &PassKind::ALL);
    let stats = |g: &dp::autodiff::capture::Extended| {
        let s = dp::autodiff::stats::stats(g);
        // The rows do not add up to the nodes by themselves (a backward node
        // used once is written inside the row that uses it): the breakdown
        // says what the total is made of.
        let seeds = g.seeds.len();
        let constants = s.nodes.saturating_sub(s.inputs + s.forward + s.backward + seeds);
        let count = |n: usize, what: &str| match n {
            0 => String::new(),
            1 => format!(", 1 {what}"),
            n => format!(", {n} {what}s"),
        };
        format!(
            "{} nodes ({} input{}, {} forward, {} backward{}{}), {} FLOPs, {} bytes of intermediates",
            s.nodes,
            s.inputs,
            if s.inputs == 1 { "" } else { "s" },
            s.forward,
            s.backward,
            count(seeds, "seed"),
            count(constants, "constant"),
            s.flops,
            s.bytes
        )
    };
    if dot {
        // One DOT graph per output: the optimised one (the other is `dp graph --dot`).
        dp::cli_io::out_text!("{}", show(&better));
        return 0;
    }
    let mut text = format!("before optimisation: {}\n{}\n", stats(&graph), show(&graph));
    text.push_str("passes:\n");
    // The passes repeat until a round changes nothing; that last round only
    // confirms it, so it is shown only when it is the sole round.
    let rounds: Vec<_> = reports.chunks(PassKind::ALL.len()).collect();
    let shown = match rounds.split_last() {
        Some((last, earlier)) if !earlier.is_empty() && last.iter().all(|r| r.before == r.after) => earlier,
        _ => &rounds[..],
    };
    for (k, round) in shown.iter().enumerate() {
        for r in round.iter() {
            let what = if r.before == r.after {
                "no change".to_string()
            } else {
                format!("{} -> {} nodes", r.before, r.after)
            };
            let again = if k > 0 {
                format!("  (round {})", k + 1)
            } else {
                String::new()
            };
            text.push_str(&format!("  {:<9} {what}{again}\n", r.pass.name()));
        }
    }
    // Fusion does not remove nodes: it decides which run as one kernel in a plan.
    use dp::autodiff::jit::fuse;
    let groups = fuse::groups(&better);
    let fused: usize = groups.iter().map(|g| g.members.len()).sum();
    let products = groups.iter().filter(|g| g.product.is_some()).count();
    let broadcasts: usize = groups.iter().map(|g| g.absorbed.len()).sum();
    if groups.is_empty() {
        text.push_str(&format!(
            "  {:<9} nothing to fuse (no chain of elementwise tensor operations)\n",
            "fuse"
        ));
    } else {
        let unstored = fused + products + broadcasts - groups.len();
        text.push_str(&format!(
            "  {:<9} {} elementwise node{}{}{} -> {} kernel{} ({} intermediate{} never stored)\n",
            "fuse",
            fused,
            if fused == 1 { "" } else { "s" },
            match broadcasts {
                0 => String::new(),
                1 => ", 1 broadcast".into(),
                b => format!(", {b} broadcasts"),
            },
            match products {
                0 => String::new(),
                1 => " and 1 matmul epilogue".into(),
                p => format!(" and {p} matmul epilogues"),
            },
            groups.len(),
            if groups.len() == 1 { "" } else { "s" },
            unstored,
            if unstored == 1 { "" } else { "s" },
        ));
    }
    text.push_str(&memory_line(&better));
    let mut marks = std::collections::HashMap::new();
    for (k, g) in groups.iter().enumerate() {
        for &m in &g.members {
            marks.insert(m, format!("  fused #{}", k + 1));
        }
        if let Some(p) = &g.product {
            marks.insert(p.node, format!("  fused #{} (matmul, epilogue in the GEMM)", k + 1));
        }
        for &b in &g.absorbed {
            marks.insert(b, format!("  fused #{} (broadcast as the kernel reads it)", k + 1));
        }
    }
    let table = dp::autodiff::graph::to_table_marked(&better, &interp.sources, &marks);
    text.push_str(&format!("\nafter optimisation: {}\n{}", stats(&better), table));
    dp::cli_io::out_text!("{}", text);
    0
}

/// The `memory` line of `dp graph --optimized`: what memory planning makes
/// of a run of the optimised graph under `jit`.
fn memory_line(g: &dp::autodiff::capture::Extended) -> String {
    let Some(m) = dp::autodiff::jit::memory_plan(g) else {
        return format!(
            "  {:<9} not planned (a plan cannot run this graph: it has a derivative rule written in dp, \
             or a value differentiated outside it)\n",
            "memory"
        );
    };
    if m.tensors == 0 {
        return format!(
            "  {:<9} no tensor intermediates (scalars live in registers)\n",
            "memory"
        );
    }
    let fresh = m.tensors - m.in_place - m.views;
    let plural = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut parts = vec![plural(fresh, "new buffer", "new buffers")];
    if m.in_place > 0 {
        parts.push(format!("{} written in place over an operand's last use", m.in_place));
    }
    if m.views > 0 {
        parts.push(plural(m.views, "view", "views"));
    }
    format!(
        "  {:<9} {}: {}; each buffer freed after its last use: at most {} bytes alive at once ({} if every buffer lived to the end)\n",
        "memory",
        plural(m.tensors, "tensor result", "tensor results"),
        parts.join(", "),
        m.peak_bytes,
        m.total_bytes,
    )
}

fn check_file(file: &Path, color: bool) -> u8 {
    let src = match read(file) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let mut interp = dp::Interp::new(Box::new(std::io::sink()));
    match interp.check_source(&file.display().to_string(), &src, file.parent().map(Path::to_path_buf)) {
        Ok(()) => {
            dp::cli_io::out_line!("{}: ok", file.display());
            0
        }
        Err(errors) => {
            report(&interp, &errors, color);
            1
        }
    }
}

/// Tells glibc's allocator to keep freed memory for reuse instead of giving
/// it back to the OS at once. A training step frees and reallocates the same
/// tensor sizes every iteration; with the defaults, the interpreter thread's
/// heap shrank and regrew each step, and refaulting those pages (zeroed by the
/// kernel) cost a third of an MLP step. Memory stays bounded by the peak use.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning parameters; it is called
    // before any other thread exists.
    unsafe {
        // Blocks up to 32 MiB (glibc's maximum) come from the heap, and the
        // heap is trimmed only when 512 MiB sit free at its top.
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20);
    }
}
