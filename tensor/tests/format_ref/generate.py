"""Expected strings for tensor/tests/format.rs, from NumPy.

Run: python3 tensor/tests/format_ref/generate.py > /tmp/cases.rs   (NumPy 2.x)

The LAYOUT (brackets, rows, wrapping, blank lines, summarising) is NumPy's
own: `np.array2string(a, separator=', ', ...)`, which is what `repr(array)`
uses inside `array(...)`. The ELEMENT TEXT is NumPy's `FloatingFormat`
(floatmode 'unique' without a precision, 'maxprec' with one, legacy off),
whose notation and widths come from NumPy itself, with dp's mapping applied
to the digits (produced by NumPy's dragon4):

  * positional with no fraction digits: NumPy `1.`   -> dp `1.0`
    (dragon4 trim='0' instead of '.'; the fraction column is then at least
    one digit wide, and nan/inf widths follow from that);
  * scientific with no mantissa fraction digits: NumPy `1.e+16` -> dp `1e+16`
    (dragon4 trim='-' when the common precision is 0);
  * a tensor whose outer axes have length <= 1 and that fits on one line is
    printed without column padding (no columns to align): NumPy
    `[0.5 , 0.25]` -> dp `[0.5, 0.25]`;  with sign=' ' such unpadded
    elements keep their leading space;
  * 0-d tensors print as Python's repr of the float (as NumPy's str of a
    0-d array does).

As a check of this port, the script also prints every case with the mapping
turned off (NumPy's element text, always padded) and asserts that this equals
NumPy's own `np.array2string(..., floatmode=..., separator=', ')` verbatim.
"""
import sys
import numpy as np
from numpy._core import arrayprint as ap

LEGACY = ap.format_options.get()['legacy']


class DpFloat:
    def __init__(self, shown, precision, suppress, sign, numpy_text=False):
        finite = shown[np.isfinite(shown)]
        mode = 'unique' if precision is None else 'maxprec'
        f = ap.FloatingFormat(finite, precision, mode, suppress, sign=sign, legacy=LEGACY)
        self.f, self.sign, self.precision = f, sign, precision
        # numpy_text: NumPy's element text unmapped, to check this port against NumPy.
        self.numpy_text = numpy_text
        self.exp = f.exp_format
        if self.exp:
            p = f.precision
            rest = (p + 1 if p > 0 or numpy_text else 0) + 2 + f.exp_size
        else:
            self.pad_right = max(f.pad_right, 0 if numpy_text else 1) if finite.size else 0
            rest = 1 + self.pad_right
        self.pad_left = f.pad_left
        nonfinite = shown[~np.isfinite(shown)]
        if nonfinite.size:
            neginf = sign != '-' or bool(np.any(nonfinite == -np.inf))
            self.pad_left = max(self.pad_left, 3 + neginf - rest)
        self.width = self.pad_left + rest

    def text(self, x, padded):
        x = float(x)
        plus = self.sign == '+'
        if not np.isfinite(x):
            s = ('-' if x == -np.inf else '+' if plus else '') + ('nan' if x != x else 'inf')
            if padded:
                return s.rjust(self.width)
            return (' ' if self.sign == ' ' and x != -np.inf else '') + s
        pl = self.pad_left if padded else None
        if self.exp:
            p = self.f.precision
            s = np.format_float_scientific(x, precision=p, min_digits=p, unique=True,
                                           trim='k' if p > 0 or self.numpy_text else '-', sign=plus,
                                           pad_left=pl, exp_digits=self.f.exp_size)
        else:
            s = np.format_float_positional(x, precision=self.precision, unique=True,
                                           fractional=True, trim='.' if self.numpy_text else '0',
                                           sign=plus, pad_left=pl,
                                           pad_right=self.pad_right if padded else None)
        if not padded and self.sign == ' ' and not np.signbit(x):
            s = ' ' + s
        return s


def dp_print(a, precision=None, threshold=1000, edgeitems=3, linewidth=75, suppress=False, sign='-'):
    a = np.asarray(a, dtype=float)
    assert a.size > 0
    if a.ndim == 0:
        return repr(float(a))
    summarise = a.size > threshold
    shown = ap._leading_trailing(a, edgeitems) if summarise else a
    fmt = DpFloat(shown.ravel(), precision, suppress, sign)

    def run(padded):
        return np.array2string(a, max_line_width=linewidth, threshold=threshold, edgeitems=edgeitems,
                               separator=', ', formatter={'float_kind': lambda x: fmt.text(x, padded)})

    out = None
    if all(d <= 1 for d in a.shape[:-1]):
        s = run(False)
        if '\n' not in s:
            out = s
    if out is None:
        out = run(True)
    # The check of this port: unmapped, padded, it is NumPy's output verbatim.
    mode = 'unique' if precision is None else 'maxprec'
    npy = np.array2string(a, max_line_width=linewidth, threshold=threshold, edgeitems=edgeitems,
                          separator=', ', precision=precision if precision is not None else 8,
                          floatmode=mode, suppress_small=suppress, sign=sign)
    raw = DpFloat(shown.ravel(), precision, suppress, sign, numpy_text=True)
    mine = np.array2string(a, max_line_width=linewidth, threshold=threshold, edgeitems=edgeitems,
                           separator=', ', formatter={'float_kind': lambda x: raw.text(x, True)})
    assert mine == npy, (mine, npy)
    checks[0] += 1
    return out


def spec_print(a, spec, threshold=1000, edgeitems=3, linewidth=75):
    """format_tensor_with: Python's format(x, spec) per element, padded to the widest."""
    fill_align, sign, zero, width, prec, typ = spec
    a = np.asarray(a, dtype=float)
    if a.ndim == 0:
        return format(float(a), build(spec))
    summarise = a.size > threshold
    shown = ap._leading_trailing(a, edgeitems) if summarise else a
    widest = max(len(format(float(x), build(spec))) for x in shown.ravel())
    wide = (fill_align, sign, zero, max(width or 0, widest), prec, typ)

    def run(padded):
        s = build(wide if padded else spec)
        return np.array2string(a, max_line_width=linewidth, threshold=threshold, edgeitems=edgeitems,
                               separator=', ', formatter={'float_kind': lambda x: format(float(x), s)})
    if all(d <= 1 for d in a.shape[:-1]):
        s = run(False)
        if '\n' not in s:
            return s
    return run(True)


def build(spec):
    fill_align, sign, zero, width, prec, typ = spec
    return f"{fill_align}{sign}{'0' if zero else ''}{width or ''}{'' if prec is None else '.' + str(prec)}{typ}"


checks = [0]


def rust_str(s):
    return '"' + s.replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n') + '"'


def rust_f(x):
    x = float(x)
    if x != x:
        return 'NAN'
    if x == np.inf:
        return 'INF'
    if x == -np.inf:
        return '-INF'
    r = repr(x)
    return r if ('.' in r or 'e' in r) else r + '.0'


def data_expr(a):
    return '&[' + ', '.join(rust_f(x) for x in np.asarray(a, dtype=float).ravel()) + ']'


def opts_expr(**kw):
    fields = []
    for k, v in kw.items():
        if k == 'precision':
            fields.append(f'precision: Some({v})')
        elif k == 'sign':
            fields.append('sign: Sign::' + {'-': 'Negative', '+': 'Plus', ' ': 'Space'}[v])
        elif k == 'suppress':
            fields.append(f'suppress: {"true" if v else "false"}')
        else:
            fields.append(f'{k}: {v}')
    if not fields:
        return '&PrintOptions::default()'
    return '&PrintOptions { ' + ', '.join(fields) + ', ..PrintOptions::default() }'


def shape_expr(a):
    return '&[' + ', '.join(str(d) for d in np.shape(a)) + ']'


NAN, INF = np.nan, np.inf


def small_cases():
    """(name, array, options) for printing with literal data."""
    c = []
    add = lambda name, a, **kw: c.append((name, np.asarray(a, dtype=float), kw))
    add('one_d_integers', [1, 2, 3])
    add('one_d_mixed_fractions', [0.5, 0.25, 1.0])
    add('one_d_negative', [-1.5, 2, -3.25])
    add('one_d_single', [7.0])
    add('one_d_negative_zero', [-0.0, 1.0])
    add('one_d_shortest_round_trip', [0.1, 0.2, 1 / 3])
    add('two_d_integers', [[1, 2], [3, 4]])
    add('two_d_mixed_widths', [[1, -2.25], [10.5, 3]])
    add('two_d_column', [[1.5], [-2], [30]])
    add('two_d_single_row', [[1.5, -2.0, 30.25]])
    add('two_d_single_element', [[4.0]])
    add('three_d', np.arange(24.0).reshape(2, 3, 4))
    add('three_d_fractions', (np.arange(12.0) / 8 - 0.5).reshape(3, 2, 2))
    add('four_d', np.arange(16.0).reshape(2, 2, 2, 2) - 8)
    add('single_row_3d', [[[1.0, 2.5]]])
    add('tiny_switches_to_scientific', [1e-5, 1.0, 1000.0])
    add('ratio_over_1000_is_scientific', [1.0, 1001.0])
    add('ratio_1000_stays_positional', [1.0, 1000.0])
    add('large_is_scientific', [1e8, 1.0])
    add('just_below_1e8_ratio_is_scientific', [99999999.0, 1.0, 2.5])
    add('just_below_1e8_suppressed_is_positional', [99999999.0, 1.0, 2.5], suppress=True)
    add('suppress_at_1e8_is_scientific', [1e8, 1.0, 2.5], suppress=True)
    add('transposed_layout', np.arange(6.0).reshape(2, 3).T)
    add('huge_and_tiny', [1e300, 1e-300, -1.0])
    add('three_digit_exponents', [[1e100, 2.5], [-3e-5, 1.0]])
    add('zero_and_tiny', [0.0, 1e-10])
    add('subnormal', [5e-324, 1.0])
    add('scientific_single_digit_mantissas', [[1e16, 1.0], [-2.0, 3e-9]])
    add('scientific_2d_mixed', [[1.5e-7, 123456.0], [-0.5, 42.0]])
    add('zeros_positional', [[0.0, 0.0], [0.0, -0.0]])
    add('nan_inf_1d', [NAN, 1.0, -INF])
    add('nan_inf_2d', [[1.0, NAN], [-INF, 2.5]])
    add('nan_inf_wide_numbers', [[1234.5, NAN], [INF, -2.0]])
    add('only_nan', [[NAN, NAN], [NAN, NAN]])
    add('only_inf', [[INF, -INF], [INF, INF]])
    add('nan_scientific', [[1e-9, NAN], [-INF, 1.0]])
    add('precision_3', [[1 / 3, 2 / 3], [1.0, -10 / 7]], precision=3)
    add('precision_3_short_values_keep_their_digits', [[0.5, 0.25], [1.0, 0.125]], precision=3)
    add('precision_2_ties_to_even', [[0.125, 0.375], [2.5, 1.0]], precision=2)
    add('precision_0', [[2.5, 0.5], [1.5, -3.7]], precision=0)
    add('precision_3_scientific', [[1e-6 / 3, 1.0], [2.0, 12345.678]], precision=3)
    add('precision_3_rounds_up_to_fewer_digits', [[1.9999, 0.5], [2.0, 3.0]], precision=3)
    add('precision_1_rounding_changes_exponent', [[9.96e5, 1.0], [1e-5, 2.0]], precision=1)
    add('suppress_tiny_positional', [[1e-10, 1.0], [1000.5, 2.0]], suppress=True)
    add('suppress_with_precision', [[1e-10, 1.0], [1000.5, -2.0]], suppress=True, precision=3)
    add('suppress_still_scientific_over_1e8', [[1e-10, 1.0], [1e9, 2.0]], suppress=True)
    add('sign_plus', [[1.0, -2.5], [0.0, 3.25]], sign='+')
    add('sign_plus_nan_inf', [[1.0, NAN], [INF, -INF]], sign='+')
    add('sign_plus_scientific', [[1e-9, -1.0], [2.0, NAN]], sign='+')
    add('sign_space_no_negatives', [[1.0, 2.5], [0.0, 3.25]], sign=' ')
    add('sign_space_with_negative', [[1.0, -2.5], [0.0, 3.25]], sign=' ')
    add('sign_space_one_line', [1.0, 2.5, NAN], sign=' ')
    add('sign_plus_one_line', [1.0, -2.5, NAN, INF], sign='+')
    add('linewidth_wraps_long_row', np.arange(30.0) * 1.25)
    add('linewidth_20', np.arange(12.0) / 4, linewidth=20)
    add('linewidth_tiny_never_loops', [[1.0, 2.0], [3.0, 4.0]], linewidth=1)
    add('two_d_rows_wrap', (np.arange(40.0) / 3).reshape(2, 20))
    add('one_d_long_wraps_with_padding', np.arange(40.0) / 3)
    add('threshold_small_summarises', np.arange(20.0), threshold=10)
    add('threshold_small_edgeitems_1', np.arange(20.0).reshape(4, 5), threshold=10, edgeitems=1)
    add('threshold_zero_short_axes_not_elided', [[1.0, 2.0], [3.0, 4.0]], threshold=0)
    add('scientific_pads_with_exact_digits', [0.3, 1 / 7, 1e-5])
    add('precision_0_summarised_edgeitems_1', np.arange(2000.0).reshape(40, 50), precision=0, threshold=0, edgeitems=1)
    add('zero_d', np.float64(2.5))
    add('zero_d_large', np.float64(1e8))
    add('zero_d_tiny', np.float64(1e-5))
    add('zero_d_precision_ignored', np.float64(1 / 3), precision=3)
    return c


def seq_cases():
    """(name, n, divisor, offset, shape, options): data (i / divisor) - offset."""
    return [
        ('summarised_2000x3', 6000, 7.0, 0.0, (2000, 3), {}),
        ('summarised_2000x3_precision_4', 6000, 7.0, 0.0, (2000, 3), {'precision': 4}),
        ('summarised_10x10x10', 1000, 4.0, 100.0, (10, 10, 10), {'threshold': 999}),
        ('summarised_1d_10000', 10000, 1.0, 0.0, (10000,), {}),
        ('summarised_1d_edgeitems_5', 5000, 8.0, 0.0, (5000,), {'edgeitems': 5}),
        ('summarised_4d', 4096, 2.0, 0.0, (8, 8, 8, 8), {}),
        ('summarised_wide_rows', 3000, 3.0, 500.0, (3, 1000), {}),
    ]


SPECS = [
    ('fixed_3', ('', '', False, None, 3, 'f')),
    ('width_8_fixed_3', ('', '', False, 8, 3, 'f')),
    ('left_aligned', ('<', '', False, 9, 2, 'f')),
    ('center_star_fill', ('*^', '', False, 10, 1, 'f')),
    ('zero_padded_plus', ('', '+', True, 8, 2, 'f')),
    ('scientific_2', ('', '', False, None, 2, 'e')),
    ('upper_scientific', ('', '', False, None, 1, 'E')),
    ('general_4', ('', '', False, None, 4, 'g')),
    ('general_default', ('', '', False, None, None, 'g')),
    ('space_sign_fixed', ('', ' ', False, None, 1, 'f')),
    ('empty_spec_is_repr', ('', '', False, None, None, '')),
    ('sign_aware_width', ('=', '', False, 7, 1, 'f')),
]

SPEC_DATA = [
    ('row', np.array([1.0, -2.5, 1234.5678])),
    ('grid', np.array([[1.0, NAN], [-INF, 2.5]])),
    ('mixed', np.array([[1e-5, 123.0], [-0.0, 1e20]])),
]


def main():
    out = []
    emit = out.append
    emit('// Generated by tests/format_ref/generate.py from NumPy %s; do not edit by hand.' % np.__version__)
    emit('')
    emit('/// Cases for `format_tensor`.')
    emit('fn numpy_cases() -> Vec<Case> {')
    emit('    vec![')
    for name, a, kw in small_cases():
        s = dp_print(a, **kw)
        emit(f'        Case {{ name: "{name}", data: vec!{data_expr(a)[1:]}, shape: vec!{shape_expr(a)[1:]}, opts: {opts_expr(**kw)[1:]}, expected: {rust_str(s)} }},')
    emit('    ]')
    emit('}')
    emit('')
    emit('/// Cases for `format_tensor` of the values `i / divisor - offset`.')
    emit('fn numpy_seq_cases() -> Vec<SeqCase> {')
    emit('    vec![')
    for name, n, div, off, shape, kw in seq_cases():
        a = (np.arange(n, dtype=float) / div - off).reshape(shape)
        s = dp_print(a, **kw)
        emit(f'        SeqCase {{ name: "{name}", n: {n}, divisor: {rust_f(div)}, offset: {rust_f(off)}, shape: vec!{shape_expr(a)[1:]}, opts: {opts_expr(**kw)[1:]}, expected: {rust_str(s)} }},')
    emit('    ]')
    emit('}')
    emit('')
    emit('/// Cases for `format_tensor_with` (Python `format` per element).')
    emit('fn spec_cases() -> Vec<SpecCase> {')
    emit('    vec![')
    for sname, spec in SPECS:
        for dname, a in SPEC_DATA:
            s = spec_print(a, spec)
            emit(f'        SpecCase {{ name: "{sname}/{dname}", spec: {rust_str(build(spec))}, data: vec!{data_expr(a)[1:]}, shape: vec!{shape_expr(a)[1:]}, expected: {rust_str(s)} }},')
    emit('    ]')
    emit('}')
    print('\n'.join(out))
    print(f'{checks[0]} cases: the unmapped port reproduces NumPy verbatim', file=sys.stderr)


main()
