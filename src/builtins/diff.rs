//! Differentiation builtins (docs/language.md §8): each returns a function value
//! that runs the transformation when called.

use super::{bool_arg, float_arg, func_arg, int_arg, native, register, Args};
use crate::autodiff::api::{self, Argnums};
use crate::diagnostics::{Diagnostic, ErrorKind};
use crate::value::Value;
use std::collections::HashMap;
use std::rc::Rc;

/// Registers grad, value_and_grad, vjp, jvp, jacfwd, jacrev, hessian, numgrad, check_grad, debug_nans.
pub fn register_all(t: &mut HashMap<Rc<str>, Value>) {
    for (name, with_value) in [("grad", false), ("value_and_grad", true)] {
        register(t, name, move |_, a: Args| {
            let v = a.bind(name, &["f", "argnums?"])?;
            let f = func_arg(name, "f", v[0].as_ref().unwrap_or(&Value::None))?;
            let argnums = argnums_arg(v[1].as_ref())?;
            let fname = format!("{name}({})", fn_name(&f));
            Ok(native(fname.clone(), move |it, args| {
                api::grad_call(it, &f, &argnums, args, name, with_value)
            }))
        });
    }
    register(t, "vjp", |it, a: Args| {
        a.only_kwargs("vjp", &[])?;
        let f = func_arg("vjp", "f", a.pos.first().unwrap_or(&Value::None))?;
        api::vjp_call(it, &f, a.pos[1..].to_vec(), a.span)
    });
    register(t, "jvp", |it, a: Args| {
        let v = a.bind("jvp", &["f", "primals", "tangents"])?;
        let f = func_arg("jvp", "f", v[0].as_ref().unwrap_or(&Value::None))?;
        api::jvp_call(
            it,
            &f,
            v[1].as_ref().unwrap_or(&Value::None),
            v[2].as_ref().unwrap_or(&Value::None),
            a.span,
        )
    });
    for name in ["jacfwd", "jacrev", "hessian"] {
        register(t, name, move |_, a: Args| {
            let v = a.bind(name, &["f"])?;
            let f = func_arg(name, "f", v[0].as_ref().unwrap_or(&Value::None))?;
            let fname = format!("{name}({})", fn_name(&f));
            Ok(match name {
                "jacfwd" => native(fname, move |it, args| api::jacfwd_call(it, &f, args)),
                "jacrev" => native(fname, move |it, args| api::jacrev_call(it, &f, args)),
                _ => {
                    let f2 = f.clone();
                    let inner = native(format!("jacrev({})", fn_name(&f)), move |it, args| {
                        api::jacrev_call(it, &f2, args)
                    });
                    native(fname, move |it, args| api::jacfwd_call(it, &inner, args))
                }
            })
        });
    }
    register(t, "numgrad", |_, a: Args| {
        let v = a.bind("numgrad", &["f", "eps?", "argnums?"])?;
        let f = func_arg("numgrad", "f", v[0].as_ref().unwrap_or(&Value::None))?;
        let eps = v[1]
            .as_ref()
            .map(|e| float_arg("numgrad", "eps", e))
            .transpose()?
            .unwrap_or(1e-6);
        if !(eps > 0.0 && eps.is_finite()) {
            return Err(crate::diagnostics::Diagnostic::new(
                crate::diagnostics::ErrorKind::Value,
                format!(
                    "`numgrad` needs a positive, finite eps, found {}",
                    dp_tensor::format_float(eps)
                ),
            ));
        }
        let argnums = argnums_arg(v[2].as_ref())?;
        Ok(native(format!("numgrad({})", fn_name(&f)), move |it, args| {
            api::numgrad_call(it, &f, eps, &argnums, args)
        }))
    });
    register(t, "check_grad", |it, a: Args| {
        a.only_kwargs("check_grad", &["order", "rtol", "atol"])?;
        let f = func_arg("check_grad", "f", a.pos.first().unwrap_or(&Value::None))?;
        let order = a
            .kwarg("order")
            .map(|o| int_arg("check_grad", "order", o))
            .transpose()?
            .unwrap_or(1);
        if !(1..=2).contains(&order) {
            // Silently checking fewer orders than asked would make a passing check meaningless.
            let at =
                a.kw.iter()
                    .position(|(k, _)| &**k == "order")
                    .and_then(|j| a.spans.get(a.pos.len() + j).copied())
                    .unwrap_or(a.span);
            return Err(crate::diagnostics::Diagnostic::new(
                crate::diagnostics::ErrorKind::Value,
                format!("`check_grad`: order must be 1 or 2, found {order}"),
            )
            .at(at));
        }
        let tol = |name: &str, default: f64| {
            a.kwarg(name)
                .map(|o| {
                    super::core::tolerance_arg("check_grad", name, o).map_err(|d| {
                        let at =
                            a.kw.iter()
                                .position(|(k, _)| &**k == name)
                                .and_then(|j| a.spans.get(a.pos.len() + j).copied())
                                .unwrap_or(a.span);
                        d.at(at)
                    })
                })
                .transpose()
                .map(|t| t.unwrap_or(default))
        };
        let rtol = tol("rtol", 1e-5)?;
        let atol = tol("atol", 1e-7)?;
        let args = Args {
            pos: a.pos[1..].to_vec(),
            kw: Vec::new(),
            span: a.span,
            spans: a.spans.get(1..).map(<[_]>::to_vec).unwrap_or_default(),
        };
        api::check_grad_call(it, &f, args, order, rtol, atol)
    });
    register(t, "debug_nans", |it, a: Args| {
        let v = a.bind("debug_nans", &["on"])?;
        it.diff.set_debug_nans(bool_arg(
            "debug_nans",
            "on",
            v[0].as_ref().unwrap_or(&Value::Bool(true)),
        )?);
        Ok(Value::None)
    });
    let _ = Argnums::One(0);
}

fn fn_name(f: &Value) -> String {
    match f {
        Value::Func(c) => c.proto.name.to_string(),
        Value::Native(n) => n.name.to_string(),
        _ => "?".into(),
    }
}

/// Reads `argnums=`.
fn argnums_arg(v: Option<&Value>) -> Result<Argnums, Diagnostic> {
    let one = |x: &Value| -> Result<usize, Diagnostic> {
        let i = int_arg("grad", "argnums", x)?;
        usize::try_from(i)
            .map_err(|_| Diagnostic::new(ErrorKind::Value, format!("argnums must be non-negative, found {i}")))
    };
    match v {
        None | Some(Value::None) => Ok(Argnums::One(0)),
        Some(Value::Tuple(t)) => {
            let list: Vec<usize> = t.iter().map(one).collect::<Result<_, _>>()?;
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
