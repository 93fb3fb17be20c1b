//! Hints for habits brought from Python, NumPy and PyTorch: a name dp spells
//! differently (`concatenate` is `concat`), a shape passed as separate
//! arguments (`zeros(3, 4)`), `max(a, b)` meant elementwise. They are added
//! to reports that already exist, as their help line; the error itself is
//! unchanged.

use crate::diagnostics::Diagnostic;
use crate::value::native::Args;
use crate::value::signature::Signature;
use crate::value::Value;

/// Names from Python, NumPy and PyTorch with the dp spelling of the same thing.
/// A target starting with `` ` `` is not a function name but advice to show
/// as is (an operator); every other target must be a builtin, which the
/// test `every_numpy_alias_names_a_builtin` checks.
const NUMPY_ALIASES: &[(&str, &str)] = &[
    ("concatenate", "concat"),
    ("cat", "concat"),
    ("array", "tensor"),
    ("asarray", "tensor"),
    ("as_tensor", "tensor"),
    ("amax", "max"),
    ("amin", "min"),
    ("power", "pow"),
    ("absolute", "abs"),
    ("average", "mean"),
    ("ravel", "flatten"),
    ("permute", "transpose"),
    ("unsqueeze", "expand_dims"),
    ("view", "reshape"),
    ("numel", "size"),
    ("empty", "zeros"),
    ("empty_like", "zeros_like"),
    ("normal", "randn"),
    ("uniform", "rand"),
    ("inverse", "inv"),
    ("arctan2", "atan2"),
    ("clamp", "clip"),
    ("detach", "stop_gradient"),
    ("logical_not", "`not x`"),
    ("logical_and", "`a and b`"),
    ("logical_or", "`a or b`"),
    ("add", "`a + b`"),
    ("subtract", "`a - b`"),
    ("multiply", "`a * b`"),
    ("divide", "`a / b`"),
    ("mm", "`a @ b`"),
    ("True", "`true`"),
    ("False", "`false`"),
    ("None", "`none`"),
    ("null", "`none`"),
    ("nil", "`none`"),
];

/// Words that open a definition or a branch in Python or JavaScript, with
/// how dp writes the same thing. A program starting a statement with one
/// of them fails to parse at the next token, where the generic report
/// ("statements end with `;`") would mislead. They are legal dp names, so
/// most get the hint only where they start a statement.
const FOREIGN_KEYWORDS: &[(&str, &str)] = &[
    ("def", "dp defines a function with `fn`: `fn name(a, b) { ... }`"),
    ("function", "dp defines a function with `fn`: `fn name(a, b) { ... }`"),
    ("func", "dp defines a function with `fn`: `fn name(a, b) { ... }`"),
    (
        "lambda",
        "dp writes an anonymous function as `|x| x + 1` (or `|a, b| { ... }`)",
    ),
    ("elif", "dp writes `elif` as `else if`"),
    ("var", "dp declares a variable with `let`: `let x = ...`"),
    ("const", "dp declares a variable with `let`: `let x = ...`"),
];

/// The help line for `word` when it is a keyword of Python or JavaScript
/// where it stands: `before` is the text of the token before it on the same
/// line (`None` at the start of the input or of a line). `lambda` counts
/// anywhere, the others where a statement starts (`def f(x)` and `} elif
/// x`, but not `print(func x)`).
pub fn foreign_keyword(word: &str, before: Option<&str>) -> Option<&'static str> {
    let (_, help) = FOREIGN_KEYWORDS.iter().find(|(w, _)| *w == word)?;
    let fits = word == "lambda" || matches!(before, None | Some(";" | "{" | "}"));
    fits.then_some(*help)
}

/// Whether `help` is one of [`foreign_keyword`]'s lines (the parser then
/// treats the rest of the line as echoes of that error).
pub fn is_foreign_keyword_help(help: &str) -> bool {
    FOREIGN_KEYWORDS.iter().any(|(_, h)| *h == help)
}

/// The help line for a `:` where dp expects a block: Python's `if x:`.
pub const COLON_BLOCK: &str =
    "dp puts a block in braces, not after `:`: `if x > 0 { ... } else { ... }`, `for i in range(n) { ... }`";

/// The help line for an unbound `name` that is the NumPy or PyTorch name of
/// something dp has; `exists` says whether a name is bound (the suggested
/// builtin may have been shadowed or, in a future version, renamed).
pub fn numpy_alias(name: &str, exists: impl Fn(&str) -> bool) -> Option<String> {
    let (_, target) = NUMPY_ALIASES.iter().find(|(np, _)| *np == name)?;
    if target.starts_with('`') {
        return Some(format!("dp writes `{name}` as {target}"));
    }
    exists(target).then(|| format!("dp calls `{name}` `{target}`: did you mean `{target}`?"))
}

/// The NumPy/PyTorch names that map to a builtin, for the test that each exists.
pub fn numpy_alias_targets() -> impl Iterator<Item = &'static str> {
    NUMPY_ALIASES.iter().map(|(_, t)| *t).filter(|t| !t.starts_with('`'))
}

/// `d`, a failure of a builtin call, with a hint when the call looks like a
/// Python habit and `d` has no help of its own yet.
pub fn for_failed_call(sig: &Signature, args: &Args, d: Diagnostic) -> Diagnostic {
    if d.help.is_some() {
        return d;
    }
    match call_hint(sig, args) {
        Some(h) => d.with_help(h),
        None => d,
    }
}

fn call_hint(sig: &Signature, args: &Args) -> Option<String> {
    let name = sig.name;
    if matches!(name, "max" | "min") && args.pos.len() == 2 && args.kw.is_empty() {
        let elementwise = if name == "max" { "maximum" } else { "minimum" };
        return Some(format!(
            "`{name}(x, axis)` reduces `x` over an axis; to compare two values elementwise write `{elementwise}(a, b)`"
        ));
    }
    // NumPy's `np.trace(x)` is `matrix_trace(x)`: `trace` records a function's graph.
    if name == "trace"
        && args
            .pos
            .first()
            .is_some_and(|v| v.is_numeric() || matches!(v, Value::Tuple(_)))
    {
        return Some("`trace(f)` records the graph of a function; NumPy's `trace` (the sum of a matrix's diagonal) is `matrix_trace(x)`".into());
    }
    shape_hint(sig, args)
}

/// `zeros(3, 4)` → "did you mean `zeros((3, 4))`?": for a creator whose first
/// parameter is `shape`, when more positional ints are given than it takes,
/// the leading ones are taken as the shape.
fn shape_hint(sig: &Signature, args: &Args) -> Option<String> {
    let first = sig.params.first()?;
    let n_params = sig.params.iter().take_while(|p| !p.kw_only).count();
    if first.name != "shape" || args.pos.len() <= n_params || sig.rest.is_some() {
        return None;
    }
    let n_shape = args.pos.len() - (n_params - 1);
    let dims = args.pos[..n_shape]
        .iter()
        .map(|v| match v {
            Value::Int(i) => Some(i.to_string()),
            _ => None,
        })
        .collect::<Option<Vec<String>>>()?;
    let rest: Vec<String> = args.pos[n_shape..].iter().map(Value::repr).collect();
    let mut call = format!("({})", dims.join(", "));
    for r in rest {
        call.push_str(", ");
        call.push_str(&r);
    }
    Some(format!(
        "a shape is one argument, a tuple: did you mean `{}({call})`?",
        sig.name
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_are_suggested_only_when_the_target_exists() {
        assert_eq!(
            numpy_alias("concatenate", |n| n == "concat").as_deref(),
            Some("dp calls `concatenate` `concat`: did you mean `concat`?")
        );
        assert_eq!(numpy_alias("concatenate", |_| false), None);
        assert_eq!(
            numpy_alias("multiply", |_| false).as_deref(),
            Some("dp writes `multiply` as `a * b`")
        );
        assert_eq!(numpy_alias("zeros", |_| true), None);
    }

    #[test]
    fn every_numpy_alias_names_a_builtin() {
        let it = crate::Interp::new(Box::new(std::io::sink()));
        for t in numpy_alias_targets() {
            assert!(it.builtins.contains_key(t), "`{t}` is not a builtin");
        }
    }
}
