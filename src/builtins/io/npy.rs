//! The NumPy `.npy` format: one array, a small Python-literal header, then the
//! raw elements. We write version 1.0 with `'<f8'` (what `np.save` writes for a
//! float64 array), and 0-d `'<i8'`, `'|b1'`, `'<u8'` and `'<Un'` arrays for
//! ints, bools, keys and strings. We read every version NumPy writes, with any
//! plain numeric dtype (floats, signed/unsigned ints, bools; either byte order), in C or
//! Fortran order, converting the elements to f64.
//!
//! Errors are plain sentences without the file name: the caller adds it.

use dp_tensor::{checked_size, format_shape, Tensor};

const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// Encodes a tensor as a version 1.0 `.npy` file holding little-endian f64s,
/// or one byte per element (`'|b1'`, NumPy's bool) for a bool tensor.
pub fn encode(t: &Tensor) -> Vec<u8> {
    if t.is_bool() {
        let data: Vec<u8> = t.to_vec().into_iter().map(|x| u8::from(x != 0.0)).collect();
        return encode_raw("|b1", t.shape(), &data);
    }
    let mut data = Vec::with_capacity(8 * t.size());
    for x in t.to_vec() {
        data.extend_from_slice(&x.to_le_bytes());
    }
    encode_raw("<f8", t.shape(), &data)
}

/// A scalar that `save` stores as a 0-d array of its own dtype, so that it
/// loads back as the same kind of value (a checkpoint's step counter stays
/// an int).
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar {
    /// `'<i8'` (any signed or unsigned int except `'<u8'` reads back as one).
    Int(i64),
    /// `'|b1'`.
    Bool(bool),
    /// `'<u8'`: a random key's 64 bits.
    Key(u64),
    /// `'<Un'`: NumPy's fixed-width UTF-32 string.
    Str(String),
}

/// Encodes a scalar as a 0-d `.npy` array.
pub fn encode_scalar(x: &Scalar) -> Vec<u8> {
    match x {
        Scalar::Int(i) => encode_raw("<i8", &[], &i.to_le_bytes()),
        Scalar::Bool(b) => encode_raw("|b1", &[], &[u8::from(*b)]),
        Scalar::Key(k) => encode_raw("<u8", &[], &k.to_le_bytes()),
        Scalar::Str(s) => {
            // NumPy gives the empty string one (NUL) character.
            let n = s.chars().count().max(1);
            let mut data: Vec<u8> = s.chars().flat_map(|c| (c as u32).to_le_bytes()).collect();
            data.resize(4 * n, 0);
            encode_raw(&format!("<U{n}"), &[], &data)
        }
    }
}

/// A version 1.0 `.npy` file of the given dtype, shape and raw element bytes.
fn encode_raw(descr: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dict = format!(
        "{{'descr': '{descr}', 'fortran_order': False, 'shape': {}, }}",
        format_shape(shape)
    );
    // NumPy pads the header with spaces and a final newline so that the data
    // starts on a 64-byte boundary (magic 6 + version 2 + length 2 = 10).
    let unpadded = MAGIC.len() + 4 + dict.len() + 1;
    let total = unpadded.div_ceil(64) * 64;
    let header_len = total - MAGIC.len() - 4;
    let mut out = Vec::with_capacity(total + data.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    // A shape long enough to overflow u16 would need tens of thousands of axes.
    out.extend_from_slice(&(header_len.min(u16::MAX as usize) as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.resize(total - 1, b' ');
    out.push(b'\n');
    out.extend_from_slice(data);
    out
}

/// Splits a `.npy` file into its parsed header and the bytes of its elements
/// (checked to be long enough for the shape).
fn split(bytes: &[u8]) -> Result<(Header, &[u8]), String> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err("it does not start with the .npy magic bytes (\\x93NUMPY)".into());
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let (header_len, start): (usize, usize) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        _ => return Err(format!("unsupported .npy format version {major}.{minor}")),
    };
    let header_end = start
        .checked_add(header_len)
        .filter(|&e| e <= bytes.len())
        .ok_or("its header is truncated")?;
    let header = std::str::from_utf8(&bytes[start..header_end]).map_err(|_| "its header is not text".to_string())?;
    let header = parse_header(header)?;
    let n = checked_size(&header.shape).map_err(|e| e.to_string())?;
    let data = &bytes[header_end..];
    let need = n.checked_mul(header.dtype.size).ok_or("its shape is too large")?;
    if data.len() < need {
        return Err(format!(
            "it is truncated: shape {} of {} needs {need} bytes of data, found {}",
            format_shape(&header.shape),
            header.descr,
            data.len()
        ));
    }
    Ok((header, &data[..need]))
}

/// The scalar a 0-d array of an int, bool, uint64 or string dtype holds;
/// `None` for anything else (read those with [`decode`]).
pub fn decode_scalar(bytes: &[u8]) -> Result<Option<Scalar>, String> {
    let (header, data) = split(bytes)?;
    if !header.shape.is_empty() {
        return Ok(None);
    }
    let d = header.dtype;
    Ok(match d.kind {
        b'U' => {
            let mut s = String::new();
            for c in data.chunks_exact(4) {
                let mut b = [c[0], c[1], c[2], c[3]];
                if d.big_endian {
                    b.reverse();
                }
                let code = u32::from_le_bytes(b);
                // NumPy pads short strings with NUL characters.
                if code == 0 {
                    break;
                }
                s.push(
                    char::from_u32(code)
                        .ok_or_else(|| format!("its string holds the invalid character code {code}"))?,
                );
            }
            Some(Scalar::Str(s))
        }
        b'b' => Some(Scalar::Bool(d.read(data) != 0.0)),
        b'u' if d.size == 8 => Some(Scalar::Key(d.read_bits(data))),
        // Every int of at most 32 bits, and i8, fits an i64 exactly.
        b'i' | b'u' => Some(Scalar::Int(d.read_bits(data) as i64)),
        _ => None,
    })
}

/// Decodes a `.npy` file into a tensor of f64.
pub fn decode(bytes: &[u8]) -> Result<Tensor, String> {
    let (header, data) = split(bytes)?;
    if header.dtype.kind == b'U' {
        return Err(format!(
            "its dtype `{}` is a string type: only single strings (0-d arrays, as `save` writes them) can be read",
            header.descr
        ));
    }
    let values: Vec<f64> = data
        .chunks_exact(header.dtype.size)
        .map(|c| header.dtype.read(c))
        .collect();
    let t = if header.fortran_order && header.shape.len() > 1 {
        // Column-major data is the row-major data of the reversed shape, transposed.
        let mut rev = header.shape.clone();
        rev.reverse();
        let t = Tensor::from_vec(values, &rev).map_err(|e| e.to_string())?;
        let perm: Vec<usize> = (0..rev.len()).rev().collect();
        t.transpose(&perm).map_err(|e| e.to_string())?.contiguous()
    } else {
        Tensor::from_vec(values, &header.shape).map_err(|e| e.to_string())?
    };
    // `read` gives exactly 0.0/1.0 for bools.
    Ok(if header.dtype.kind == b'b' { t.marked_bool() } else { t })
}

/// The parts of a `.npy` header we use.
struct Header {
    descr: String,
    dtype: Dtype,
    fortran_order: bool,
    shape: Vec<usize>,
}

/// A plain numeric element type.
#[derive(Clone, Copy)]
struct Dtype {
    kind: u8,
    size: usize,
    big_endian: bool,
}

impl Dtype {
    /// Parses a NumPy type string such as `<f8`, `|u1` or `>i4`.
    fn parse(descr: &str) -> Option<Dtype> {
        let b = descr.as_bytes();
        if b.len() < 3 {
            return None;
        }
        let big_endian = match b[0] {
            b'>' => true,
            b'<' | b'|' | b'=' => false,
            _ => return None,
        };
        let size: usize = std::str::from_utf8(b.get(2..)?).ok()?.parse().ok()?;
        if b[1] == b'U' {
            // A fixed-width string of `size` UTF-32 characters.
            return (1..=1 << 20).contains(&size).then_some(Dtype {
                kind: b'U',
                size: 4 * size,
                big_endian,
            });
        }
        let ok = match b[1] {
            b'f' => matches!(size, 4 | 8),
            b'i' | b'u' => matches!(size, 1 | 2 | 4 | 8),
            b'b' => size == 1,
            _ => false,
        };
        ok.then_some(Dtype {
            kind: b[1],
            size,
            big_endian,
        })
    }

    /// The raw bits of one integer element of at most 8 bytes, sign-extended
    /// for signed kinds.
    fn read_bits(self, c: &[u8]) -> u64 {
        let mut buf = [0u8; 8];
        buf[..self.size].copy_from_slice(c);
        if self.big_endian {
            buf[..self.size].reverse();
        }
        let raw = u64::from_le_bytes(buf);
        if self.kind == b'i' && self.size < 8 {
            let shift = 64 - 8 * self.size as u32;
            ((raw << shift) as i64 >> shift) as u64
        } else {
            raw
        }
    }

    /// Reads one element from exactly `self.size` bytes.
    fn read(self, c: &[u8]) -> f64 {
        let mut buf = [0u8; 8];
        buf[..self.size].copy_from_slice(c);
        if self.big_endian {
            buf[..self.size].reverse();
        }
        let sign_extend = |bits: u32| {
            let shift = 64 - bits;
            ((u64::from_le_bytes(buf) << shift) as i64 >> shift) as f64
        };
        match (self.kind, self.size) {
            (b'f', 4) => f32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as f64,
            (b'f', _) => f64::from_le_bytes(buf),
            (b'i', s) => sign_extend(8 * s as u32),
            (b'b', _) => f64::from(u8::from(buf[0] != 0)),
            _ => u64::from_le_bytes(buf) as f64,
        }
    }
}

/// A Python literal as found in `.npy` headers.
#[derive(Debug, PartialEq)]
enum Lit {
    Str(String),
    Bool(bool),
    Int(u64),
    /// Any other number (negative, fractional, beyond u64), as written.
    Num(String),
    Seq(Vec<Lit>),
    Dict(Vec<(Lit, Lit)>),
}

fn parse_header(text: &str) -> Result<Header, String> {
    let bad = |what: &str| format!("its header is malformed ({what})");
    let mut p = LitParser {
        s: text.as_bytes(),
        i: 0,
        depth: 0,
        too_deep: false,
    };
    let parsed = p.value();
    if p.too_deep {
        return Err(bad(&format!("brackets nested more than {MAX_NESTING} deep")));
    }
    let Lit::Dict(entries) = parsed.ok_or_else(|| bad("not a Python dict"))? else {
        return Err(bad("not a Python dict"));
    };
    let get = |k: &str| {
        entries
            .iter()
            .find(|(key, _)| *key == Lit::Str(k.into()))
            .map(|(_, v)| v)
    };
    let descr = match get("descr") {
        Some(Lit::Str(s)) => s.clone(),
        Some(_) => return Err("its dtype is a structured or nested type, which dp cannot read".into()),
        None => return Err(bad("no 'descr'")),
    };
    let dtype = Dtype::parse(&descr).ok_or_else(|| {
        format!("its dtype `{descr}` is not a plain number type (floats, ints and bools can be read)")
    })?;
    let fortran_order = match get("fortran_order") {
        Some(Lit::Bool(b)) => *b,
        _ => return Err(bad("no 'fortran_order'")),
    };
    let shape = match get("shape") {
        Some(Lit::Seq(items)) => items
            .iter()
            .enumerate()
            .map(|(k, d)| {
                let wrong = |why: &str| format!("its header's 'shape' is invalid: dimension {k} {why}");
                match d {
                    Lit::Int(n) if *n <= i64::MAX as u64 => Ok(*n as usize),
                    Lit::Int(n) => Err(wrong(&format!("is {n}, too large for an int"))),
                    Lit::Num(t) if t.starts_with('-') && !t.contains(['.', 'e', 'E']) => {
                        Err(wrong(&format!("is {t}, which is negative")))
                    }
                    Lit::Num(t) if !t.contains(['.', 'e', 'E']) => Err(wrong(&format!("is {t}, too large for an int"))),
                    Lit::Num(t) => Err(wrong(&format!("is {t}, not an integer"))),
                    _ => Err(wrong("is not a number")),
                }
            })
            .collect::<Result<Vec<usize>, String>>()?,
        Some(_) => return Err("its header's 'shape' is invalid: not a tuple of dimensions".into()),
        None => return Err(bad("no 'shape'")),
    };
    Ok(Header {
        descr,
        dtype,
        fortran_order,
        shape,
    })
}

/// How deeply brackets may nest in a header (real ones nest two deep: the
/// dict and its shape tuple). The parser recurses per level, so a header of
/// millions of `(` must stop here rather than overflow the stack.
const MAX_NESTING: usize = 32;

/// A recursive-descent parser for the few Python literals headers contain.
struct LitParser<'a> {
    s: &'a [u8],
    i: usize,
    /// Current bracket nesting.
    depth: usize,
    /// Whether parsing stopped at brackets nested beyond [`MAX_NESTING`].
    too_deep: bool,
}

impl LitParser<'_> {
    fn skip_ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.skip_ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// Items up to `close`, separated by commas (a trailing comma allowed).
    fn seq(&mut self, close: u8, item: &mut dyn FnMut(&mut Self) -> Option<()>) -> Option<()> {
        loop {
            if self.eat(close) {
                return Some(());
            }
            item(self)?;
            if !self.eat(b',') {
                return self.eat(close).then_some(());
            }
        }
    }

    /// A dict, tuple or list whose opening bracket `c` is next.
    fn container(&mut self, c: u8) -> Option<Lit> {
        self.i += 1;
        match c {
            b'{' => {
                let mut entries = Vec::new();
                self.seq(b'}', &mut |p| {
                    let k = p.value()?;
                    p.eat(b':').then_some(())?;
                    entries.push((k, p.value()?));
                    Some(())
                })?;
                Some(Lit::Dict(entries))
            }
            b'(' | b'[' => {
                let mut items = Vec::new();
                let close = if c == b'(' { b')' } else { b']' };
                self.seq(close, &mut |p| {
                    items.push(p.value()?);
                    Some(())
                })?;
                Some(Lit::Seq(items))
            }
            _ => None,
        }
    }

    fn value(&mut self) -> Option<Lit> {
        self.skip_ws();
        let c = *self.s.get(self.i)?;
        if matches!(c, b'{' | b'(' | b'[') {
            self.depth += 1;
            if self.depth > MAX_NESTING {
                self.too_deep = true;
                return None;
            }
            let v = self.container(c);
            self.depth -= 1;
            return v;
        }
        match c {
            b'\'' | b'"' => {
                self.i += 1;
                let start = self.i;
                while *self.s.get(self.i)? != c {
                    // Escapes never occur in dtype strings; skip the escaped byte.
                    self.i += if self.s[self.i] == b'\\' { 2 } else { 1 };
                }
                let text = String::from_utf8_lossy(self.s.get(start..self.i)?).into_owned();
                self.i += 1;
                Some(Lit::Str(text))
            }
            b'0'..=b'9' | b'-' | b'+' | b'.' => {
                // Any number is read, so that a wrong shape can be reported as what it is.
                let start = self.i;
                self.i += 1;
                while let Some(&d) = self.s.get(self.i) {
                    let exp_sign = matches!(d, b'-' | b'+') && matches!(self.s[self.i - 1], b'e' | b'E');
                    if !(d.is_ascii_digit() || matches!(d, b'.' | b'e' | b'E') || exp_sign) {
                        break;
                    }
                    self.i += 1;
                }
                let text = std::str::from_utf8(&self.s[start..self.i]).ok()?;
                // Python 2 wrote long integers with an `L` suffix.
                if matches!(self.s.get(self.i), Some(b'L' | b'l')) {
                    self.i += 1;
                }
                if !text.bytes().any(|b| b.is_ascii_digit()) {
                    return None;
                }
                Some(match text.parse::<u64>() {
                    Ok(n) if !text.starts_with('+') => Lit::Int(n),
                    _ => Lit::Num(text.to_string()),
                })
            }
            _ if self.s[self.i..].starts_with(b"True") => {
                self.i += 4;
                Some(Lit::Bool(true))
            }
            _ if self.s[self.i..].starts_with(b"False") => {
                self.i += 5;
                Some(Lit::Bool(false))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_padded_to_64_bytes() {
        let t = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
        let b = encode(&t);
        let hl = u16::from_le_bytes([b[8], b[9]]) as usize;
        assert_eq!((10 + hl) % 64, 0);
        assert_eq!(b[10 + hl - 1], b'\n');
        assert_eq!(b.len(), 10 + hl + 48);
        let back = decode(&b).unwrap();
        assert_eq!(back.shape(), &[2, 3]);
        assert_eq!(back.to_vec(), t.to_vec());
    }

    /// A version 1.0 file with the given header text and data bytes.
    fn npy_with(header: &str, data: &[u8]) -> Vec<u8> {
        let mut b = MAGIC.to_vec();
        b.extend_from_slice(&[1, 0]);
        b.extend_from_slice(&(header.len() as u16).to_le_bytes());
        b.extend_from_slice(header.as_bytes());
        b.extend_from_slice(data);
        b
    }

    #[test]
    fn reads_other_dtypes_and_fortran_order() {
        // np.array([[1, -2], [3, 4]], dtype='>i2', order='F'): column-major, big-endian.
        let data: Vec<u8> = [1i16, 3, -2, 4].iter().flat_map(|v| v.to_be_bytes()).collect();
        let t = decode(&npy_with(
            "{'descr': '>i2', 'fortran_order': True, 'shape': (2, 2), }",
            &data,
        ))
        .unwrap();
        assert_eq!(t.shape(), &[2, 2]);
        assert_eq!(t.to_vec(), vec![1.0, -2.0, 3.0, 4.0]);
        // np.array([True, False]) and np.array([255], dtype='u1') and float32 1.5.
        let t = decode(&npy_with(
            "{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }",
            &[1, 0],
        ))
        .unwrap();
        assert_eq!(t.to_vec(), vec![1.0, 0.0]);
        assert!(t.is_bool());
        let t = decode(&npy_with(
            "{'descr': '|u1', 'fortran_order': False, 'shape': (1,), }",
            &[255],
        ))
        .unwrap();
        assert_eq!(t.to_vec(), vec![255.0]);
        let t = decode(&npy_with(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (), }",
            &1.5f32.to_le_bytes(),
        ));
        assert_eq!(t.unwrap().to_vec(), vec![1.5]);
        let t = decode(&npy_with(
            "{'descr': '<i8', 'fortran_order': False, 'shape': (1L,), }",
            &(-7i64).to_le_bytes(),
        ));
        assert_eq!(t.unwrap().to_vec(), vec![-7.0]);
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        let f8 = |shape: &str| format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}");
        let cases = [
            Vec::new(),
            b"\x93NUMPY".to_vec(),
            b"\x93NUMPY\x01\x00\xff\xff{".to_vec(),
            b"\x93NUMPY\x09\x00\x00\x00".to_vec(),
            npy_with("{'descr': '<f8', 'fortran_order':", &[]),
            npy_with("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", &[0; 8]),
            npy_with(
                "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,), }",
                &[0; 8],
            ),
            npy_with("{'descr': '<f8', 'shape': (1,), }", &[0; 8]),
            npy_with(&f8("(9,)"), &[0; 8]),
            npy_with(&f8("(99999999999, 99999999999)"), &[0; 8]),
            npy_with(&f8("(99999999999999999999999,)"), &[0; 8]),
            npy_with(&f8("(1.5,)"), &[0; 8]),
            npy_with("'", &[]),
        ];
        for bytes in cases {
            assert!(decode(&bytes).is_err(), "{bytes:?}");
        }
    }

    #[test]
    fn deep_brackets_are_an_error_not_a_stack_overflow() {
        let header = "(".repeat(20_000_000);
        let mut b = MAGIC.to_vec();
        b.extend_from_slice(&[2, 0]);
        b.extend_from_slice(&(header.len() as u32).to_le_bytes());
        b.extend_from_slice(header.as_bytes());
        let e = decode(&b).unwrap_err();
        assert_eq!(e, "its header is malformed (brackets nested more than 32 deep)");
    }

    #[test]
    fn bad_dimensions_are_named() {
        let f8 = |shape: &str| format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}");
        let err = |shape: &str| decode(&npy_with(&f8(shape), &[])).unwrap_err();
        let invalid = "its header's 'shape' is invalid: dimension";
        assert_eq!(err("(2, -3)"), format!("{invalid} 1 is -3, which is negative"));
        assert_eq!(err("(2.5,)"), format!("{invalid} 0 is 2.5, not an integer"));
        assert_eq!(err("(1e3,)"), format!("{invalid} 0 is 1e3, not an integer"));
        assert_eq!(
            err("(18446744073709551615, 0)"),
            format!("{invalid} 0 is 18446744073709551615, too large for an int")
        );
        assert_eq!(
            err("(99999999999999999999999,)"),
            format!("{invalid} 0 is 99999999999999999999999, too large for an int")
        );
        assert_eq!(err("('a',)"), format!("{invalid} 0 is not a number"));
        assert_eq!(err("7"), "its header's 'shape' is invalid: not a tuple of dimensions");
        // A zero-size array with a huge (but valid) leading axis loads.
        let t = decode(&npy_with(&f8("(9223372036854775807, 0)"), &[])).unwrap();
        assert_eq!(t.shape(), &[9223372036854775807, 0]);
    }
}
