//! NumPy-style tensor printing.
//!
//! Most expected strings come from NumPy 2.x through
//! `tests/format_ref/generate.py` (output in `tests/format_ref/cases.rs`):
//! the layout is NumPy's `np.array2string(a, separator=', ')` verbatim and the
//! element text NumPy's, mapped to dp's Python-style floats as documented
//! there (`1.` -> `1.0`, `1.e+16` -> `1e+16`, no column padding when the
//! tensor fits on one line, 0-d tensors as Python's repr). The hand-written
//! cases below cover what NumPy prints differently or not at all: zero-size
//! tensors (NumPy prints `[]`), booleans, dp's `{:.N}`, invalid input.

use dp_tensor::*;

const NAN: f64 = f64::NAN;
const INF: f64 = f64::INFINITY;

/// A tensor printed with options.
struct Case {
    name: &'static str,
    data: Vec<f64>,
    shape: Vec<usize>,
    opts: PrintOptions,
    expected: &'static str,
}

/// A tensor of the values `i / divisor - offset` for `i` in `0..n`, printed with options.
struct SeqCase {
    name: &'static str,
    n: usize,
    divisor: f64,
    offset: f64,
    shape: Vec<usize>,
    opts: PrintOptions,
    expected: &'static str,
}

/// A tensor printed with an element spec.
struct SpecCase {
    name: &'static str,
    spec: &'static str,
    data: Vec<f64>,
    shape: Vec<usize>,
    expected: &'static str,
}

include!("format_ref/cases.rs");

fn t(data: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_vec(data.to_vec(), shape).unwrap()
}

/// Asserts every (name, actual, expected) pair, reporting all mismatches.
fn check_all(results: Vec<(String, String, &str)>) {
    let bad: Vec<String> = results
        .iter()
        .filter(|(_, actual, expected)| actual != expected)
        .map(|(name, actual, expected)| format!("{name}:\n--- got\n{actual}\n--- expected\n{expected}"))
        .collect();
    assert!(
        bad.is_empty(),
        "{} of {} cases differ:\n{}",
        bad.len(),
        results.len(),
        bad.join("\n")
    );
}

#[test]
fn matches_numpy_layout() {
    let cases = numpy_cases();
    assert!(cases.len() >= 60);
    check_all(
        cases
            .into_iter()
            .map(|c| {
                (
                    c.name.to_string(),
                    format_tensor(&t(&c.data, &c.shape), &c.opts),
                    c.expected,
                )
            })
            .collect(),
    );
}

#[test]
fn matches_numpy_summarised_layout() {
    check_all(
        numpy_seq_cases()
            .into_iter()
            .map(|c| {
                let data: Vec<f64> = (0..c.n).map(|i| i as f64 / c.divisor - c.offset).collect();
                (
                    c.name.to_string(),
                    format_tensor(&t(&data, &c.shape), &c.opts),
                    c.expected,
                )
            })
            .collect(),
    );
}

#[test]
fn element_specs_match_python_format() {
    check_all(
        spec_cases()
            .into_iter()
            .map(|c| {
                let spec = ElementSpec::parse(c.spec).unwrap();
                let actual = format_tensor_with(&t(&c.data, &c.shape), &spec, &PrintOptions::default());
                (c.name.to_string(), actual, c.expected)
            })
            .collect(),
    );
}

#[test]
fn display_is_format_tensor_with_defaults() {
    for c in numpy_cases() {
        if c.opts == PrintOptions::default() {
            assert_eq!(t(&c.data, &c.shape).to_string(), c.expected, "{}", c.name);
        }
    }
}

#[test]
fn views_print_their_elements_not_their_buffer() {
    // The transpose of [[0, 1, 2], [3, 4, 5]], as NumPy prints `a.T`.
    let x = Tensor::arange(0.0, 6.0, 1.0).unwrap().reshape(&[2, 3]).unwrap();
    assert_eq!(x.t().to_string(), "[[0.0, 3.0],\n [1.0, 4.0],\n [2.0, 5.0]]");
    // A broadcast view (stride 0) and the same values materialised.
    let b = t(&[1.5, -2.0], &[2]).broadcast_to(&[3, 2]).unwrap();
    assert_eq!(b.to_string(), b.contiguous().to_string());
    assert_eq!(b.to_string(), "[[ 1.5, -2.0],\n [ 1.5, -2.0],\n [ 1.5, -2.0]]");
}

#[test]
fn zero_size_tensors_are_nested_empty_brackets_on_one_line() {
    // NumPy prints every zero-size array as `[]`; dp keeps the shape visible.
    let z = |shape: &[usize]| Tensor::zeros(shape).unwrap();
    let o = PrintOptions::default();
    assert_eq!(format_tensor(&z(&[0]), &o), "[]");
    assert_eq!(format_tensor(&z(&[2, 0]), &o), "[[], []]");
    assert_eq!(format_tensor(&z(&[0, 3]), &o), "[]");
    assert_eq!(format_tensor(&z(&[3, 2, 0]), &o), "[[[], []], [[], []], [[], []]]");
    assert_eq!(format_tensor(&z(&[2, 0, 3]), &o), "[[], []]");
    // More brackets than the threshold: summarised like elements.
    let few = PrintOptions {
        threshold: 5,
        edgeitems: 2,
        ..o.clone()
    };
    assert_eq!(format_tensor(&z(&[10, 0]), &few), "[[], [], ..., [], []]");
    assert_eq!(format_tensor(&z(&[5, 0]), &few), "[[], [], [], [], []]");
    // With no edge items NumPy still shows the last entry of an axis.
    let none = PrintOptions { edgeitems: 0, ..few };
    assert_eq!(format_tensor(&z(&[10, 0]), &none), "[..., []]");
    let spec = ElementSpec::parse(".2f").unwrap();
    assert_eq!(format_tensor_with(&z(&[2, 0]), &spec, &o), "[[], []]");
}

#[test]
fn zero_d_tensors_print_as_floats() {
    let o = PrintOptions {
        precision: Some(2),
        sign: Sign::Plus,
        ..PrintOptions::default()
    };
    assert_eq!(format_tensor(&Tensor::scalar(1.0 / 3.0), &o), "0.3333333333333333");
    assert_eq!(format_tensor(&Tensor::scalar(NAN), &o), "nan");
    assert_eq!(Tensor::scalar(-0.0).to_string(), "-0.0");
    let spec = ElementSpec::parse("8.3f").unwrap();
    assert_eq!(format_tensor_with(&Tensor::scalar(1.5), &spec, &o), "   1.500");
}

#[test]
fn edgeitems_zero_shows_only_the_last_entry() {
    // NumPy's layout keeps the last entry. (NumPy would also pick the
    // notation from the whole tensor, `[..., 1.999e+03]`, through a slicing
    // quirk: a[-0:] is all of a. dp picks it from the shown entry.)
    let o = PrintOptions {
        edgeitems: 0,
        ..PrintOptions::default()
    };
    let x = Tensor::arange(0.0, 2000.0, 1.0).unwrap();
    assert_eq!(format_tensor(&x, &o), "[..., 1999.0]");
    let m = x.reshape(&[1000, 2]).unwrap();
    assert_eq!(format_tensor(&m, &o), "[...,\n [..., 1999.0]]");
}

#[test]
fn extreme_options_do_not_panic() {
    let x = Tensor::arange(0.0, 2000.0, 1.0).unwrap().reshape(&[40, 50]).unwrap();
    let extremes = [
        PrintOptions {
            linewidth: 0,
            ..PrintOptions::default()
        },
        PrintOptions {
            linewidth: usize::MAX,
            ..PrintOptions::default()
        },
        PrintOptions {
            edgeitems: usize::MAX,
            threshold: 0,
            ..PrintOptions::default()
        },
        PrintOptions {
            precision: Some(usize::MAX),
            ..PrintOptions::default()
        },
    ];
    for o in &extremes {
        let s = format_tensor(&x, o);
        assert!(s.starts_with("[[") && s.ends_with("]]"), "{s}");
    }
    // Infinite line width: every row on one line.
    assert_eq!(format_tensor(&x, &extremes[1]).lines().count(), 7);
    // Edge items covering everything: printed in full.
    assert!(!format_tensor(&x, &extremes[2]).contains("..."));
}

#[test]
fn deepest_tensor_prints() {
    let shape = vec![1; MAX_NDIM];
    let s = Tensor::ones(&shape).unwrap().to_string();
    assert_eq!(s, format!("{}1.0{}", "[".repeat(MAX_NDIM), "]".repeat(MAX_NDIM)));
}

#[test]
fn a_thousand_elements_print_in_full() {
    let x = Tensor::arange(0.0, 1000.0, 1.0)
        .unwrap()
        .reshape(&[10, 10, 10])
        .unwrap();
    let s = x.to_string();
    assert!(!s.contains("..."));
    // 10 blocks of 10 rows, blank lines between the blocks.
    assert_eq!(s.lines().count(), 10 * 10 + 9);
    assert!(s.starts_with("[[[  0.0,   1.0,"), "{s}");
    assert!(s.ends_with(" 998.0, 999.0]]]"), "{s}");
}

#[test]
fn dp_precision_placeholder_means_decimals() {
    // No type letter with a precision: dp's `{:.N}`, N digits after the point
    // (Python would count significant digits).
    let spec = ElementSpec::parse(".2").unwrap();
    let x = t(&[1.0, NAN, -INF, 2.5], &[2, 2]);
    assert_eq!(
        format_tensor_with(&x, &spec, &PrintOptions::default()),
        "[[1.00,  nan],\n [-inf, 2.50]]"
    );
    assert_eq!(spec.format(1234.5678), "1234.57");
    // The old closure API lays out the same way, calling it once per shown element.
    let mut calls = 0;
    let s = x.format_with(&mut |v| {
        calls += 1;
        spec.format(v)
    });
    assert_eq!((s.as_str(), calls), ("[[1.00,  nan],\n [-inf, 2.50]]", 4));
    let mut calls = 0;
    let big = Tensor::arange(0.0, 10000.0, 1.0).unwrap();
    let s = big.format_with(&mut |v| {
        calls += 1;
        format!("{v:.0}")
    });
    assert_eq!((s.as_str(), calls), ("[0, 1, 2, ..., 9997, 9998, 9999]", 6));
}

#[test]
fn element_spec_scalars_match_python_format() {
    // Expected values from Python 3.11 `format(x, spec)`.
    let cases = [
        (9.9999, ".3g", "10"),
        (9.9999e-05, ".2g", "0.0001"),
        (123456789.0, ".3g", "1.23e+08"),
        (0.5, ".0g", "0.5"),
        (1e-300, "g", "1e-300"),
        (100000.0, "g", "100000"),
        (1000000.0, "g", "1e+06"),
        (0.0001, ".1g", "0.0001"),
        (0.0, "g", "0"),
        (-0.0, ".3g", "-0"),
        (2.5, ".0f", "2"),
        (0.125, ".2f", "0.12"),
        (1e22, "e", "1.000000e+22"),
        (5e-324, ".3e", "4.941e-324"),
        (INF, "+G", "+INF"),
        (NAN, " f", " nan"),
        (-NAN, "+f", "+nan"),
        (-1.5, "^9.2f", "  -1.50  "),
        (1.5, "x<7", "1.5xxxx"),
        (-0.0, "+.1f", "-0.0"),
        (-2.0, "=+8.1f", "-    2.0"),
        (12.5, ">+9.1e", " +1.2e+01"),
        (1.5, "<08", "1.500000"),
        (1.5, "_^+10.3f", "__+1.500__"),
        (1e16, "", "1e+16"),
        (1.0, " ", " 1.0"),
    ];
    for (x, spec, expected) in cases {
        assert_eq!(
            ElementSpec::parse(spec).unwrap().format(x),
            expected,
            "format({x}, {spec:?})"
        );
    }
}

#[test]
fn element_spec_rejects_what_it_does_not_support() {
    for spec in [
        "#f",
        ",",
        "_f",
        "z.2f",
        ".",
        "5.f",
        "d",
        "%",
        "s",
        ".2fx",
        "1001",
        ".1001",
        "99999999999999999999999",
    ] {
        let e = ElementSpec::parse(spec).unwrap_err();
        assert!(e.to_string().contains("unsupported format spec"), "{spec}: {e}");
    }
    assert_eq!(ElementSpec::parse("1000.1000f").unwrap().format(1.0).len(), 1000 + 2);
    assert_eq!(ElementSpec::parse("").unwrap(), ElementSpec::default());
}

#[test]
fn sign_parses_numpy_spellings() {
    assert_eq!(Sign::parse("-").unwrap(), Sign::Negative);
    assert_eq!(Sign::parse("+").unwrap(), Sign::Plus);
    assert_eq!(Sign::parse(" ").unwrap(), Sign::Space);
    assert!(Sign::parse("plus").is_err());
}

#[test]
fn bool_elements_slot_into_the_same_layout() {
    let o = PrintOptions::default();
    let data = [true, false, true, true];
    let view = |shape: &'static [usize], strides: &'static [isize]| StridedView {
        data: &data,
        shape,
        strides,
        offset: 0,
    };
    // NumPy: [[ True, False], [ True,  True]], with dp's words.
    assert_eq!(
        format_strided(&view(&[2, 2], &[2, 1]), &o, BoolFormat::new).unwrap(),
        "[[ true, false],\n [ true,  true]]"
    );
    assert_eq!(
        format_strided(&view(&[4], &[1]), &o, BoolFormat::new).unwrap(),
        "[true, false, true, true]"
    );
    assert_eq!(format_strided(&view(&[], &[]), &o, BoolFormat::new).unwrap(), "true");
}

#[test]
fn strided_views_are_checked() {
    let data = [1.0, 2.0, 3.0];
    let o = PrintOptions::default();
    let fmt = |shown: &[f64]| FloatFormat::new(shown, &PrintOptions::default());
    let v = |shape: &'static [usize], strides: &'static [isize], offset| StridedView {
        data: &data,
        shape,
        strides,
        offset,
    };
    // A reversed view is fine.
    assert_eq!(format_strided(&v(&[3], &[-1], 2), &o, fmt).unwrap(), "[3.0, 2.0, 1.0]");
    assert_eq!(format_strided(&v(&[0, 5], &[1, 1], 99), &o, fmt).unwrap(), "[]");
    for bad in [
        v(&[4], &[1], 0),
        v(&[3], &[-1], 1),
        v(&[3], &[1], 1),
        v(&[], &[], 3),
        v(&[2], &[1, 1], 0),
        v(&[3, 2], &[isize::MAX, isize::MAX], 0),
        v(&[1 << 40, 1 << 40], &[0, 0], 0),
    ] {
        assert!(format_strided(&bad, &o, fmt).is_err(), "{bad:?}");
    }
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Values of every kind the printer treats specially.
    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            -1000.0..1000.0f64,
            (-1.0..1.0f64).prop_map(|x| x * 1e-12),
            (-1.0..1.0f64).prop_map(|x| x * 1e200),
            Just(0.0),
            Just(-0.0),
            Just(NAN),
            Just(INF),
            Just(-INF),
            (0i32..100).prop_map(f64::from),
        ]
    }

    fn options() -> impl Strategy<Value = PrintOptions> {
        (
            prop::option::of(0usize..12),
            0usize..60,
            0usize..4,
            0usize..90,
            any::<bool>(),
            prop_oneof![Just(Sign::Negative), Just(Sign::Plus), Just(Sign::Space)],
        )
            .prop_map(
                |(precision, threshold, edgeitems, linewidth, suppress, sign)| PrintOptions {
                    precision,
                    threshold,
                    edgeitems,
                    linewidth,
                    suppress,
                    sign,
                },
            )
    }

    fn tensor() -> impl Strategy<Value = Tensor> {
        prop::collection::vec(0usize..5, 0..5).prop_flat_map(|shape| {
            let n: usize = shape.iter().product();
            prop::collection::vec(value(), n).prop_map(move |data| t(&data, &shape))
        })
    }

    /// The numbers in a printed tensor, in order.
    fn numbers(s: &str) -> Vec<f64> {
        s.split(|c: char| "[], \n".contains(c))
            .filter(|w| !w.is_empty() && *w != "...")
            .map(|w| w.parse().unwrap_or_else(|_| panic!("not a number: {w:?} in {s}")))
            .collect()
    }

    /// Same value, telling -0.0 from 0.0 and matching nan with nan.
    fn same(a: f64, b: f64) -> bool {
        (a.is_nan() && b.is_nan()) || (a == b && a.is_sign_negative() == b.is_sign_negative())
    }

    proptest! {
        #[test]
        fn every_option_prints_brackets_around_numbers(x in tensor(), opts in options()) {
            let s = format_tensor(&x, &opts);
            let opens = s.chars().filter(|&c| c == '[').count();
            prop_assert_eq!(opens, s.chars().filter(|&c| c == ']').count());
            prop_assert_eq!(s.starts_with('['), x.ndim() > 0);
            numbers(&s);
            // No line ends in a space: NumPy strips them where rows wrap.
            prop_assert!(s.lines().all(|l| !l.ends_with(' ') || l.trim().is_empty()), "{}", s);
        }

        #[test]
        fn without_a_precision_every_element_round_trips(x in tensor(), mut opts in options()) {
            opts.precision = None;
            opts.threshold = usize::MAX;
            let s = format_tensor(&x, &opts);
            let got = numbers(&s);
            let want = x.to_vec();
            prop_assert_eq!(got.len(), want.len(), "{}", s);
            for (g, w) in got.iter().zip(&want) {
                prop_assert!(same(*g, *w), "{} printed as {} in {}", w, g, s);
            }
        }

        #[test]
        fn format_with_calls_once_per_shown_number(x in tensor()) {
            let mut calls = 0;
            let s = x.format_with(&mut |v| {
                calls += 1;
                format_float(v)
            });
            prop_assert_eq!(calls, numbers(&s).len(), "{}", s);
            prop_assert_eq!(numbers(&s).len(), numbers(&x.to_string()).len());
        }

        #[test]
        fn specs_show_the_same_elements_as_print(
            x in tensor(),
            align in prop::sample::select(vec!["", "<", ">", "^"]),
            sign in prop::sample::select(vec!["", "+", " "]),
            width in prop::option::of(1usize..14),
            precision in prop::option::of(0usize..9),
            kind in prop::sample::select(vec!["", "f", "e", "g"]),
        ) {
            let spec = format!(
                "{align}{sign}{}{}{kind}",
                width.map_or(String::new(), |w| w.to_string()),
                precision.map_or(String::new(), |p| format!(".{p}"))
            );
            let spec = ElementSpec::parse(&spec).unwrap();
            let s = format_tensor_with(&x, &spec, &PrintOptions::default());
            prop_assert_eq!(numbers(&s).len(), numbers(&x.to_string()).len(), "{}", s);
        }
    }
}
