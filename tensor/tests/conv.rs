//! Convolution and pooling kernels against JAX float64
//! (`tensor/tests/data/conv_reference.py` prints every expected number).

use dp_tensor::{same_padding, ConvSpec, PoolSpec, Tensor};

fn fx(shape: &[usize]) -> Tensor {
    let n: usize = shape.iter().product();
    Tensor::from_vec((0..n).map(|i| (0.37 * i as f64 + 0.1).sin()).collect(), shape).unwrap()
}
fn fw(shape: &[usize]) -> Tensor {
    let n: usize = shape.iter().product();
    Tensor::from_vec((0..n).map(|i| 0.5 * (0.53 * i as f64).cos()).collect(), shape).unwrap()
}
fn fc(shape: &[usize]) -> Tensor {
    let n: usize = shape.iter().product();
    Tensor::from_vec((0..n).map(|i| (0.3 * i as f64).sin() - 0.2).collect(), shape).unwrap()
}
/// A weighted sum that changes with any single element.
fn ck(t: &Tensor) -> f64 {
    t.to_vec()
        .iter()
        .enumerate()
        .map(|(i, v)| v * (0.7 * i as f64 + 0.2).cos())
        .sum()
}
fn close(a: f64, b: f64) {
    assert!((a - b).abs() <= 1e-11 * (1.0 + b.abs()), "{a} vs {b}");
}

struct Case {
    x: [usize; 4],
    w: [usize; 4],
    spec: ConvSpec,
    out: [usize; 4],
    y: f64,
    gx: f64,
    gw: f64,
    y0: f64,
}

fn check_conv(c: &Case) {
    let (x, w) = (fx(&c.x), fw(&c.w));
    let y = x.conv2d(&w, &c.spec).unwrap();
    assert_eq!(y.shape(), c.out);
    close(ck(&y), c.y);
    close(y.to_vec()[0], c.y0);
    let g = fc(&c.out);
    let gx = Tensor::conv2d_input_grad(&g, &w, &c.x, &c.spec).unwrap();
    assert_eq!(gx.shape(), c.x);
    close(ck(&gx), c.gx);
    let gw = Tensor::conv2d_weight_grad(&x, &g, &c.w, &c.spec).unwrap();
    assert_eq!(gw.shape(), c.w);
    close(ck(&gw), c.gw);
}

fn spec(stride: [usize; 2], padding: [[usize; 2]; 2], dilation: [usize; 2], groups: usize) -> ConvSpec {
    ConvSpec {
        stride,
        padding,
        dilation,
        groups,
    }
}

#[test]
fn conv2d_plain() {
    check_conv(&Case {
        x: [2, 3, 7, 6],
        w: [4, 3, 3, 2],
        spec: spec([1, 1], [[0, 0], [0, 0]], [1, 1], 1),
        out: [2, 4, 5, 5],
        y: 0.792975049137369,
        gx: 3.608076393156326,
        gw: -5.438103501370968,
        y0: 2.8910035179810687,
    });
}

#[test]
fn conv2d_stride_padding_dilation() {
    check_conv(&Case {
        x: [2, 3, 7, 6],
        w: [4, 3, 3, 2],
        spec: spec([2, 1], [[1, 2], [0, 1]], [1, 2], 1),
        out: [2, 4, 4, 5],
        y: -0.8759322390834332,
        gx: 7.530163225763039,
        gw: 10.044642667137623,
        y0: -1.1119992168724664,
    });
}

#[test]
fn conv2d_groups_and_same_padding() {
    let padding = [same_padding(6, 3, 2, 1), same_padding(5, 3, 2, 1)];
    assert_eq!(padding, [[0, 1], [1, 1]]);
    check_conv(&Case {
        x: [3, 4, 6, 5],
        w: [6, 2, 3, 3],
        spec: spec([2, 2], padding, [1, 1], 2),
        out: [3, 6, 3, 3],
        y: 59.507997124289126,
        gx: 0.8194223509972645,
        gw: 8.665781716953987,
        y0: -0.663970288327121,
    });
}

#[test]
fn conv1d_as_height_one() {
    check_conv(&Case {
        x: [1, 2, 1, 9],
        w: [3, 2, 1, 4],
        spec: spec([1, 3], [[0, 0], [2, 1]], [1, 1], 1),
        out: [1, 3, 1, 3],
        y: 0.5641067817131016,
        gx: -0.2934838098279949,
        gw: 13.761432864512862,
        y0: 0.41998707106472,
    });
}

#[test]
fn conv2d_adjoints_are_transposes() {
    // <conv(x, w), g> = <x, input_grad(g, w)> = <w, weight_grad(x, g)>, also
    // across batch chunks and on strided (transposed) views.
    let s = spec([2, 3], [[2, 1], [0, 2]], [2, 1], 3);
    let x = fx(&[5, 6, 9, 8]);
    let w = fw(&[9, 2, 2, 3]);
    let y = x.conv2d(&w, &s).unwrap();
    let g = fc(y.shape());
    let dot = |a: &Tensor, b: &Tensor| a.to_vec().iter().zip(b.to_vec()).map(|(p, q)| p * q).sum::<f64>();
    let lhs = dot(&y, &g);
    close(dot(&x, &Tensor::conv2d_input_grad(&g, &w, x.shape(), &s).unwrap()), lhs);
    close(
        dot(&w, &Tensor::conv2d_weight_grad(&x, &g, w.shape(), &s).unwrap()),
        lhs,
    );
    let xt = fx(&[5, 6, 8, 9]).transpose(&[0, 1, 3, 2]).unwrap();
    let yt = xt.conv2d(&w, &s).unwrap();
    close(ck(&yt), ck(&xt.contiguous().conv2d(&w, &s).unwrap()));
}

#[test]
fn conv2d_rejects_bad_shapes_without_panicking() {
    let s = spec([1, 1], [[0, 0], [0, 0]], [1, 1], 1);
    let x = fx(&[1, 3, 4, 4]);
    assert!(x.conv2d(&fw(&[2, 2, 3, 3]), &s).is_err()); // channel mismatch
    assert!(x.conv2d(&fw(&[2, 3, 5, 3]), &s).is_err()); // kernel larger than input
    assert!(x.conv2d(&fw(&[2, 3, 0, 3]), &s).is_err()); // empty kernel
    assert!(fx(&[3, 4, 4]).conv2d(&fw(&[2, 3, 3, 3]), &s).is_err()); // 3-d input
    assert!(x
        .conv2d(&fw(&[2, 3, 3, 3]), &spec([0, 1], [[0, 0], [0, 0]], [1, 1], 1))
        .is_err());
    assert!(x
        .conv2d(&fw(&[2, 1, 3, 3]), &spec([1, 1], [[0, 0], [0, 0]], [1, 1], 2))
        .is_err());
    let huge = spec([1, 1], [[usize::MAX, 1], [0, 0]], [1, 1], 1);
    assert!(x.conv2d(&fw(&[2, 3, 3, 3]), &huge).is_err());
    assert!(Tensor::conv2d_input_grad(&fc(&[1, 2, 3, 3]), &fw(&[2, 3, 3, 3]), &[1, 3, 4, 4], &s).is_err());
    // An empty batch is fine.
    let e = fx(&[0, 3, 4, 4]).conv2d(&fw(&[2, 3, 3, 3]), &s).unwrap();
    assert_eq!(e.shape(), [0, 2, 2, 2]);
}

fn pool_spec(size: [usize; 2], stride: [usize; 2], padding: [[usize; 2]; 2]) -> PoolSpec {
    PoolSpec { size, stride, padding }
}

fn ties(shape: &[usize]) -> Tensor {
    Tensor::from_vec(fx(shape).to_vec().iter().map(|v| (2.0 * v).floor()).collect(), shape).unwrap()
}

#[test]
fn max_pool2d_values_and_gradient() {
    let s = pool_spec([3, 2], [2, 2], [[1, 1], [0, 1]]);
    let x = fx(&[2, 3, 7, 6]);
    let y = x.max_pool2d(&s).unwrap();
    assert_eq!(y.shape(), [2, 3, 4, 3]);
    close(ck(&y), 0.4303228465889752);
    let gx = Tensor::max_pool2d_scatter(&fc(y.shape()), &x, &s).unwrap();
    close(ck(&gx), -3.2587402295230126);
}

#[test]
fn max_pool2d_ties_go_to_the_first_maximum() {
    let s = pool_spec([3, 3], [1, 1], [[1, 1], [1, 1]]);
    let x = ties(&[2, 3, 7, 6]);
    let y = x.max_pool2d(&s).unwrap();
    close(ck(&y), -2.5614881086497183);
    close(
        ck(&Tensor::max_pool2d_scatter(&fc(y.shape()), &x, &s).unwrap()),
        -3.5254761715167566,
    );
    let s = pool_spec([2, 2], [2, 2], [[0, 0], [0, 0]]);
    let x = ties(&[2, 2, 5, 5]);
    let y = x.max_pool2d(&s).unwrap();
    assert_eq!(y.shape(), [2, 2, 2, 2]);
    close(ck(&y), 3.665241315650055);
    close(
        ck(&Tensor::max_pool2d_scatter(&fc(y.shape()), &x, &s).unwrap()),
        3.1649622919787963,
    );
}

#[test]
fn max_pool2d_gather_is_the_transpose_of_scatter() {
    let s = pool_spec([3, 2], [1, 2], [[1, 0], [1, 1]]);
    let x = ties(&[2, 3, 7, 6]);
    let v = fw(x.shape());
    let gathered = v.max_pool2d_gather(&x, &s).unwrap();
    let g = fc(gathered.shape());
    let scattered = Tensor::max_pool2d_scatter(&g, &x, &s).unwrap();
    let dot = |a: &Tensor, b: &Tensor| a.to_vec().iter().zip(b.to_vec()).map(|(p, q)| p * q).sum::<f64>();
    close(dot(&gathered, &g), dot(&v, &scattered));
}

#[test]
fn avg_pool2d_values_and_gradient() {
    let s = pool_spec([3, 2], [2, 2], [[1, 1], [0, 1]]);
    let x = fx(&[2, 3, 7, 6]);
    let y = x.avg_pool2d(&s).unwrap();
    assert_eq!(y.shape(), [2, 3, 4, 3]);
    close(ck(&y), 0.5457458968144857);
    let gx = Tensor::avg_pool2d_backward(&fc(y.shape()), x.shape(), &s).unwrap();
    close(ck(&gx), -1.2200675722732668);
}

#[test]
fn pooling_rejects_bad_arguments_without_panicking() {
    let x = fx(&[1, 1, 4, 4]);
    assert!(x.max_pool2d(&pool_spec([2, 2], [0, 1], [[0, 0], [0, 0]])).is_err());
    assert!(x.max_pool2d(&pool_spec([2, 2], [1, 1], [[2, 0], [0, 0]])).is_err()); // pad > size / 2
    assert!(x.avg_pool2d(&pool_spec([5, 2], [1, 1], [[0, 0], [0, 0]])).is_err());
    assert!(fx(&[4, 4])
        .max_pool2d(&pool_spec([2, 2], [1, 1], [[0, 0], [0, 0]]))
        .is_err());
    assert!(Tensor::avg_pool2d_backward(
        &fc(&[1, 1, 3, 3]),
        &[1, 1, 4, 4],
        &pool_spec([2, 2], [2, 2], [[0, 0], [0, 0]])
    )
    .is_err());
}

#[test]
fn batches_run_in_cache_sized_chunks_with_each_sample_as_if_alone() {
    // 7 samples of 16x12x12 with 3x3 taps unfold to 20736 elements each, so
    // the batch runs in several chunks on any L2 of 2 MiB or less (a
    // quarter of it is the chunk), the last one shorter when the chunk is
    // 2, 3 or 4 samples. Each sample's output and input gradient must be
    // those of the sample convolved alone, to the bit (each output element
    // is the same sum in the same order: the packed kernel's at these
    // sizes); the weight gradient adds the chunks' parts, so only to
    // rounding.
    let s = spec([1, 1], [[1, 1], [1, 1]], [1, 1], 1);
    let (n, xs, ws) = (7, [16, 12, 12], [8, 16, 3, 3]);
    let x = fx(&[n, xs[0], xs[1], xs[2]]);
    let w = fw(&ws);
    let y = x.conv2d(&w, &s).unwrap();
    let g = fc(y.shape());
    let gx = Tensor::conv2d_input_grad(&g, &w, x.shape(), &s).unwrap();
    let gw = Tensor::conv2d_weight_grad(&x, &g, &ws, &s).unwrap();
    let sample = |t: &Tensor, i: usize| {
        let per: usize = t.shape()[1..].iter().product();
        let mut shape = t.shape().to_vec();
        shape[0] = 1;
        Tensor::from_vec(t.to_vec()[i * per..(i + 1) * per].to_vec(), &shape).unwrap()
    };
    let mut gw_sum = vec![0.0; gw.to_vec().len()];
    for i in 0..n {
        let (xi, gi) = (sample(&x, i), sample(&g, i));
        assert_eq!(
            xi.conv2d(&w, &s).unwrap().to_vec(),
            sample(&y, i).to_vec(),
            "output of sample {i}"
        );
        let gxi = Tensor::conv2d_input_grad(&gi, &w, xi.shape(), &s).unwrap();
        assert_eq!(gxi.to_vec(), sample(&gx, i).to_vec(), "input gradient of sample {i}");
        let gwi = Tensor::conv2d_weight_grad(&xi, &gi, &ws, &s).unwrap();
        for (acc, v) in gw_sum.iter_mut().zip(gwi.to_vec()) {
            *acc += v;
        }
    }
    for (a, b) in gw.to_vec().iter().zip(&gw_sum) {
        close(*a, *b);
    }
}
