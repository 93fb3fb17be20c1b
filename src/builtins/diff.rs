//! Differentiation builtins (docs/language.md §8): each returns a function value
//! that runs the transformation when called.

use super::{int_arg, native, register, Args, Decl};
use crate::autodiff::api::{self, Argnums, DiffOpts};
use crate::autodiff::jacobian;
use crate::diagnostics::{Diagnostic, ErrorKind};
use crate::value::Value;
use std::collections::HashMap;
use std::rc::Rc;

/// Registers grad, value_and_grad, vjp, jvp, jacfwd, jacrev, hessian, numgrad, check_grad, debug_nans.
pub fn register_all(t: &mut HashMap<Rc<str>, Value>) {
    let grad_decls = [
        (
            Decl {
                sig: "grad(f: fn, argnums: int | tuple[int] = 0, has_aux: bool = false) -> fn",
                summary: "The gradient function of a scalar-valued `f`.",
                doc: "Returns a function taking `f`'s arguments and giving the gradient of `f` with respect to \
                      argument `argnums` (a tuple of indices gives a tuple of gradients). Arguments may be \
                      floats, tensors or trees (tuples, dicts) of them; each gradient has its argument's \
                      structure. Nests to any order. With `has_aux=true`, `f` returns `(loss, aux)` and the \
                      function gives `(gradient, aux)`; aux is not differentiated.",
                example: "grad(|x| x ** 3)(2.0)  # 12.0",
            },
            false,
        ),
        (
            Decl {
                sig: "value_and_grad(f: fn, argnums: int | tuple[int] = 0, has_aux: bool = false) -> fn",
                summary: "Like `grad`, but the function returns `(f(...), gradient)`.",
                doc: "Runs `f` once and gives its value together with the gradient, which costs no more \
                      than the gradient alone. With `has_aux=true`, `f` returns `(loss, aux)` and the \
                      function gives `((loss, aux), gradient)`.",
                example: "let (v, g) = value_and_grad(|x| sum(x * x))(tensor([1.0, 2.0]));",
            },
            true,
        ),
    ];
    for (decl, with_value) in grad_decls {
        register(t, decl, move |_, a| {
            let name = a.name();
            let f = a.func(0)?;
            let opts = DiffOpts {
                argnums: argnums_arg(a.given(1))?,
                has_aux: a.bool(2)?,
            };
            let fname = format!("{name}({})", fn_name(&f));
            Ok(native(fname.clone(), move |it, args| {
                api::grad_call(it, &f, &opts, args, name, with_value)
            }))
        });
    }
    register(
        t,
        Decl {
            sig: "vjp(f: fn, *primals, has_aux: bool = false) -> tuple",
            summary: "Reverse mode: `(f(*primals), pullback)`, where `pullback(ct)` maps an output cotangent to input cotangents.",
            doc: "`pullback` takes a cotangent shaped like `f`'s output and returns a tuple with one \
                  cotangent per primal. With `has_aux=true`, `f` returns `(output, aux)` and `vjp` gives \
                  `(output, pullback, aux)`.",
            example: concat!(
                "let (y, back) = vjp(|x| x * 2.0, tensor([1.0, 2.0]));\n",
                "back(ones(2))  # ([2.0, 2.0],)",
            ),
        },
        |it, a| {
            let f = a.func(0)?;
            api::vjp_call(it, &f, a.rest().to_vec(), a.bool(1)?, a.span)
        },
    );
    register(
        t,
        Decl {
            sig: "jvp(f: fn, primals: tuple, tangents: tuple) -> tuple",
            summary: "Forward mode: `(f(*primals), the derivative of f along tangents)`.",
            doc: "`primals` and `tangents` are tuples with one entry per argument of `f`, of matching \
                  structures.",
            example: "jvp(|x| x * x, (3.0,), (1.0,))  # (9.0, 6.0)",
        },
        |it, a| {
            let f = a.func(0)?;
            api::jvp_call(it, &f, a.value(1), a.value(2), a.span)
        },
    );
    let jac_decls = [
        Decl {
            sig: "jacfwd(f: fn, argnums: int | tuple[int] = 0, has_aux: bool = false) -> fn",
            summary: "The Jacobian function of `f`, computed in forward mode (one pass per input element).",
            doc: "The Jacobian of an output of shape `O` with respect to an input of shape `I` has shape \
                  `O + I`. Over trees (as in JAX) the result has the output's structure outside and the \
                  input's inside: a dict in and a dict out give a dict of dicts of blocks. A tuple \
                  `argnums` puts a tuple (one entry per argument) inside. With `has_aux=true`, `f` returns \
                  `(output, aux)` and the function gives `(jacobian, aux)`. Best when inputs are smaller \
                  than outputs.",
            example: concat!(
                "jacfwd(|x| x * x)(tensor([1.0, 2.0]))  # [[2.0, 0.0],\n",
                "                                       #  [0.0, 4.0]]",
            ),
        },
        Decl {
            sig: "jacrev(f: fn, argnums: int | tuple[int] = 0, has_aux: bool = false) -> fn",
            summary: "The Jacobian function of `f`, computed in reverse mode (one pass per output element).",
            doc: "Same result and structure as `jacfwd`; best when outputs are smaller than inputs.",
            example: concat!(
                "jacrev(|x| x * x)(tensor([1.0, 2.0]))  # [[2.0, 0.0],\n",
                "                                       #  [0.0, 4.0]]",
            ),
        },
        Decl {
            sig: "hessian(f: fn, argnums: int | tuple[int] = 0, has_aux: bool = false) -> fn",
            summary: "The Hessian function of a scalar-valued `f` (`jacfwd(jacrev(f))`).",
            doc: "For an input of shape `I` the Hessian has shape `I + I`; for a tree input, a tree of \
                  trees of blocks (`h.a.b` is the block of second derivatives in `a` and `b`). With \
                  `has_aux=true` the function gives `(hessian, aux)`.",
            example: concat!(
                "hessian(|x| sum(x ** 3))(tensor([1.0, 2.0]))  # [[ 6.0,  0.0],\n",
                "                                              #  [ 0.0, 12.0]]",
            ),
        },
    ];
    for decl in jac_decls {
        register(t, decl, move |_, a| {
            let name = a.name();
            let f = a.func(0)?;
            let opts = DiffOpts {
                argnums: argnums_arg(a.given(1))?,
                has_aux: a.bool(2)?,
            };
            let fname = format!("{name}({})", fn_name(&f));
            Ok(match name {
                "jacfwd" => native(fname, move |it, args| jacobian::jacfwd_call(it, &f, &opts, args)),
                "jacrev" => native(fname, move |it, args| jacobian::jacrev_call(it, &f, &opts, args)),
                _ => {
                    let (f2, inner_opts) = (f.clone(), opts.clone());
                    let inner = native(format!("jacrev({})", fn_name(&f)), move |it, args| {
                        jacobian::jacrev_call(it, &f2, &inner_opts, args)
                    });
                    native(fname, move |it, args| {
                        jacobian::jacfwd_named("hessian", it, &inner, &opts, args)
                    })
                }
            })
        });
    }
    register(
        t,
        Decl {
            sig: "linearize(f: fn, *primals) -> tuple",
            summary: "`(f(*primals), f_jvp)`, where `f_jvp(*tangents)` is the derivative of `f` at `primals` along `tangents`.",
            doc: "`f_jvp` takes one tangent per primal, each shaped like its primal, and gives the output's \
                  tangent (as `jvp(f, primals, tangents)[1]`). `f` runs once, here: `f_jvp` replays the \
                  derivative rules of the recorded call without running `f` again (a call with a custom \
                  rule, `custom_jvp` or `checkpoint`, inside `f` makes each `f_jvp` run `f` under `jvp`).",
            example: concat!(
                "let (y, f_jvp) = linearize(|x| sin(x), 0.5);\n",
                "f_jvp(2.0)  # 1.7551651237807455",
            ),
        },
        |it, a| {
            let f = a.func(0)?;
            crate::autodiff::linearize::linearize_call(it, &f, a.rest().to_vec(), a.span)
        },
    );
    register(
        t,
        Decl {
            sig: "hvp(f: fn, primals: tuple, tangents: tuple)",
            summary: "The Hessian of a scalar-valued `f` at `primals` times `tangents`, forward-over-reverse.",
            doc: "Equals `jvp(grad(f), primals, tangents)[1]` without forming the Hessian. For one \
                  primal the product is shaped like it; for several, a tuple with one product per \
                  primal (the gradient is taken in all of them).",
            example: "hvp(|x| sum(x ** 3), (tensor([1.0, 2.0]),), (tensor([1.0, 0.0]),))  # [6.0, 0.0]",
        },
        |it, a| {
            let f = a.func(0)?;
            api::hvp_call(it, &f, a.value(1), a.value(2), a.span)
        },
    );
    register(
        t,
        Decl {
            sig: "custom_vjp(f: fn, fwd: fn, bwd: fn) -> fn",
            summary: "`f` with a user-defined reverse-mode derivative: `fwd(*args)` returns `(output, residuals)`, `bwd(residuals, cotangent)` the input cotangents.",
            doc: "Called plainly, the function runs `f`. Under `grad`, `vjp` or `jacrev` it runs `fwd`, keeps \
                  the residuals, and in the backward pass `bwd(residuals, cotangent)` must return a tuple \
                  with one cotangent per argument, each shaped like its argument (a tree for a tree), or \
                  `none` for an argument with no cotangent. `bwd` is itself differentiated by enclosing \
                  differentiations, so the rule holds at every order. Forward mode (`jvp`, `jacfwd`, \
                  `linearize`; JAX refuses it) runs the transpose of `bwd`, which is linear in the \
                  cotangent, so `jacfwd` and `jacrev` give the same Jacobian; a `bwd` that branches on the \
                  cotangent's value is reported there (use `custom_jvp` for such a rule). Differentiated \
                  values must reach `f` as arguments, not from an enclosing scope.",
            example: "let clip_grad = custom_vjp(|x| x, |x| (x, none), |r, g| (clip(g, -1.0, 1.0),));\ngrad(|x| clip_grad(x) * 5.0)(2.0)  # 1.0",
        },
        |_, a| {
            let (f, fwd, bwd) = (a.func(0)?, a.func(1)?, a.func(2)?);
            let name = format!("custom_vjp({})", fn_name(&f));
            Ok(native(name.clone(), move |it, args| {
                crate::autodiff::custom::custom_vjp_call(it, &f, &fwd, &bwd, &name, args)
            }))
        },
    );
    register(
        t,
        Decl {
            sig: "custom_jvp(f: fn, jvp_rule: fn) -> fn",
            summary: "`f` with a user-defined derivative: `jvp_rule(primals, tangents)` returns `(output, tangent_output)`.",
            doc: "`primals` and `tangents` are tuples with one entry per argument. Called plainly, the \
                  function runs `f`. In forward mode the rule gives the tangent; in reverse mode (`grad`, \
                  `vjp`, `jacrev`) its tangent output, which must be linear in the tangents, is transposed \
                  automatically. The rule is differentiated by enclosing differentiations, so it holds at \
                  every order.",
            example: "let f = custom_jvp(|x| log(1.0 + exp(x)), |p, t| (log(1.0 + exp(p[0])), t[0] * sigmoid(p[0])));\ngrad(f)(1000.0)  # 1.0",
        },
        |_, a| {
            let (f, rule) = (a.func(0)?, a.func(1)?);
            let name = format!("custom_jvp({})", fn_name(&f));
            Ok(native(name.clone(), move |it, args| {
                crate::autodiff::custom::custom_jvp_call(it, &f, &rule, &name, args)
            }))
        },
    );
    register(
        t,
        Decl {
            sig: "checkpoint(f: fn) -> fn",
            summary: "`f` whose intermediates are recomputed in the backward pass instead of kept (rematerialization).",
            doc: "Under reverse mode a call records only its inputs and outputs; the backward pass runs `f` \
                  again under a fresh tape to backpropagate through it. Trades compute for memory: \
                  checkpointing each chunk of a long loop keeps one chunk's intermediates at a time. \
                  Same values and derivatives as `f`, at every order. A differentiated value that `f` takes \
                  from an enclosing scope instead of an argument makes that call recorded as usual.",
            example: "let chunk = checkpoint(|s, k| s * exp(-k));\ngrad(|k| chunk(2.0, k))(0.5)",
        },
        |_, a| {
            let f = a.func(0)?;
            let name = format!("checkpoint({})", fn_name(&f));
            Ok(native(name.clone(), move |it, args| {
                crate::autodiff::custom::checkpoint_call(it, &f, &name, args)
            }))
        },
    );
    register(
        t,
        Decl {
            sig: "vmap(f: fn, in_axes: any = 0, out_axes: any = 0) -> fn",
            summary: "`f` applied to every example of a batch at once: the batch axis is mapped over.",
            doc: "`in_axes` gives the batch axis of each argument: one int (or `none`) for all, or a tuple with \
                  one entry per argument, each an int, `none` (the argument is shared by every example) or a \
                  tuple/dict of them shaped like the argument. Negative axes count from the end. `out_axes` \
                  places the batch axis in the results the same way. Inside `f` a batched value is one \
                  example (its `shape` has no batch axis). Composes with `grad`, `jvp`, `jacfwd`, \
                  `custom_vjp`, `checkpoint` and itself in any order.",
            example:
                "vmap(|x, w| sum(x * w), in_axes=(0, none))(tensor([[1.0, 2.0], [3.0, 4.0]]), tensor([1.0, 10.0]))",
        },
        |_, a| {
            let f = a.func(0)?;
            let (in_axes, out_axes) = (a.value(1).clone(), a.value(2).clone());
            let name = format!("vmap({})", fn_name(&f));
            Ok(native(name, move |it, args| {
                crate::autodiff::vmap::vmap_call(it, &f, &in_axes, &out_axes, args)
            }))
        },
    );
    let numgrad = Decl {
        sig: "numgrad(f: fn, eps: float = 1e-6, argnums: int | tuple[int] = 0) -> fn",
        summary: "Like `grad`, by central finite differences (to check gradients).",
        doc: "Each partial derivative is `(f(x + eps) - f(x - eps)) / (2 eps)`; `eps` must be positive \
              and finite.",
        example: "numgrad(|x| x ** 2)(3.0)  # 6.000000000838668",
    };
    register(t, numgrad, |_, a| {
        let f = a.func(0)?;
        let eps = a.float(1)?;
        if !(eps > 0.0 && eps.is_finite()) {
            return Err(crate::diagnostics::Diagnostic::new(
                crate::diagnostics::ErrorKind::Value,
                format!(
                    "`numgrad` needs a positive, finite eps, found {}",
                    dp_tensor::format_float(eps)
                ),
            ));
        }
        let argnums = argnums_arg(a.given(2))?;
        Ok(native(format!("numgrad({})", fn_name(&f)), move |it, args| {
            api::numgrad_call(it, &f, eps, &argnums, args)
        }))
    });
    let check_grad = Decl {
        sig: "check_grad(f: fn, *args, order: int = 1, rtol: float = 1e-5, atol: float = 1e-7)",
        summary: "Checks `grad` (and with `order=2` the Hessian) of `f` at `args` against finite differences.",
        doc: "Fails with a report naming the first argument and element that differ beyond \
              `atol + rtol * |numeric|`; returns none when all agree.",
        example: "check_grad(|x| sum(sin(x)), tensor([0.1, 0.2]))",
    };
    register(t, check_grad, |it, a| {
        let f = a.func(0)?;
        let order = a.int(1).map_err(|d| d.at(a.span_at(1)))?;
        if !(1..=2).contains(&order) {
            // Silently checking fewer orders than asked would make a passing check meaningless.
            return Err(crate::diagnostics::Diagnostic::new(
                crate::diagnostics::ErrorKind::Value,
                format!("`check_grad`: order must be 1 or 2, found {order}"),
            )
            .at(a.span_at(1)));
        }
        let tol = |i: usize, name: &str| {
            super::core::tolerance_arg("check_grad", name, a.value(i)).map_err(|d| d.at(a.span_at(i)))
        };
        let rtol = tol(2, "rtol")?;
        let atol = tol(3, "atol")?;
        let args = Args {
            pos: a.rest().to_vec(),
            kw: Vec::new(),
            span: a.span,
            spans: a.spans.get(1..).map(<[_]>::to_vec).unwrap_or_default(),
        };
        api::check_grad_call(it, &f, args, order, rtol, atol)
    });
    let debug_nans = Decl {
        sig: "debug_nans(on: bool)",
        summary: "Turns checking every gradient's adjoints for nan and inf on or off.",
        doc: "While on, every backward pass checks each adjoint it computes: the first derivative rule \
              that makes an adjoint nan or inf stops the program with a report pointing at the forward \
              expression whose rule produced it (as JAX's `jax_debug_nans` does for gradients). Values \
              computed outside a backward pass are not checked (`isnan`/`isfinite` test them). Jitted \
              functions run without jit while it is on, so that their backward passes are checked too.",
        example: "debug_nans(true);\ndebug_nans(false);",
    };
    register(t, debug_nans, |it, a| {
        it.diff.set_debug_nans(a.bool(0)?);
        Ok(Value::None)
    });
    let _ = Argnums::One(0);
}

pub(super) fn fn_name(f: &Value) -> String {
    match f {
        Value::Func(c) => c.proto.name.to_string(),
        Value::Native(n) => n.name.to_string(),
        _ => "?".into(),
    }
}

/// Reads `argnums=`.
fn argnums_arg(v: Option<&Value>) -> Result<Argnums, Diagnostic> {
    let one = |x: &Value| -> Result<i64, Diagnostic> { int_arg("grad", "argnums", x) };
    match v {
        None | Some(Value::None) => Ok(Argnums::One(0)),
        Some(Value::Tuple(t)) => {
            let list: Vec<i64> = t.iter().map(one).collect::<Result<_, _>>()?;
            if let Some((_, i)) = list.iter().enumerate().find(|(k, i)| list[..*k].contains(i)) {
                return Err(Diagnostic::new(
                    ErrorKind::Value,
                    format!("argnums lists argument {i} twice"),
                ));
            }
            Ok(Argnums::Many(list))
        }
        Some(x) => Ok(Argnums::One(one(x)?)),
    }
}
