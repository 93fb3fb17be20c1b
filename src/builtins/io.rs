//! File input/output builtins: `load_csv`, `read_text`, `save`, `load`
//! (docs/language.md §9).
//!
//! Behaviour users can rely on:
//! - Relative paths resolve against the current working directory (not the
//!   script's folder). `save` replaces an existing file but never creates
//!   directories: the parent folder must exist. The new contents go to a
//!   temporary file in the same folder, renamed over the old file only once
//!   complete and synced, so a failed save leaves the old file intact.
//! - Only regular files are read: a directory, FIFO or device is an error
//!   (a FIFO would block forever).
//! - `load_csv(path, header=none)` follows
//!   `numpy.loadtxt(path, delimiter=",", ndmin=2, skiprows=header)`: always a
//!   2-d tensor (a single row is `(1, n)`, a single column `(n, 1)`, an empty
//!   file `(0, 1)`); blank lines and `#` comments are skipped. Without
//!   `header`, a first data line with no number in it is a header and is
//!   skipped. A cell that is not a number, or a row of a different length,
//!   is an error naming the line and column.
//! - `load_csv(path, columns=true)` reads the header's names and gives a dict
//!   from name to column: a 1-d tensor for a column whose first value is a
//!   number (then every value must be one: the error names the line and the
//!   column), else a tuple of strings.
//! - `read_text(path)` gives the whole file as one string, byte for byte
//!   (line endings kept); a file that is not UTF-8 is an error naming the
//!   line and column of the first bad byte.
//! - `save("x.npy", t)` writes one tensor (a float becomes a 0-d f64 array)
//!   in NPY format 1.0 as `'<f8'`, readable by `np.load`. Ints, bools, keys
//!   and strings are 0-d arrays of dtype `'<i8'`, `'|b1'`, `'<u8'` and
//!   `'<Un'`, so that they load back as the same kind of value.
//! - `save("x.npz", tree)` writes every leaf of a tuple/dict tree as one
//!   array in an uncompressed NPZ archive, keyed by its dotted path:
//!   `{w: .., layers: ({b: ..},)}` gives the keys `w` and `layers.0.b`.
//!   Leaves are stored as for `.npy`; `none` leaves are left out; a function
//!   or range is an error naming its path and how to leave it out. Dict keys must be non-empty, contain no `.`
//!   and not be all digits (such keys would not read back as written). Empty
//!   tuples and dicts inside the tree have no leaves and so are not stored.
//! - `load("x.npy")` gives a tensor, or a float for a 0-d float array; a 0-d
//!   int, bool, `'<u8'` or string array gives an int, bool, key or str. Any plain
//!   numeric dtype NumPy writes (float, int, uint, bool, either byte order, C
//!   or Fortran order) is read and converted to f64.
//! - `load("x.npz")` rebuilds the tree from the dotted keys: each group of
//!   keys becomes a dict, or a tuple when all its key segments are integers,
//!   each element at the position its key names. A position with no key is
//!   `none`, as `save` leaves `none` elements out: `(a, none, b)` loads back
//!   as written, not as `(a, b)` (a trailing `none` is lost). Stored and
//!   deflated (`np.savez_compressed`) archives are both read.

mod csv;
mod npy;
mod table;

use super::{register, Decl};
use crate::diagnostics::{excerpt, Diagnostic, ErrorKind};
use crate::eval::Interp;
use crate::files::FileError;
use crate::value::tree::{leaves_with_paths, path_string, PathStep};
use crate::value::{quote, Dict, Tuple, Value};
use dp_tensor::Tensor;
use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::path::Path;
use std::rc::Rc;

use crate::diagnostics::R;

/// How many characters of file contents (a bad CSV cell, an .npz key) a report quotes.
const CELL_EXCERPT: usize = 60;

/// Registers the I/O builtins.
pub fn register_all(t: &mut HashMap<Rc<str>, Value>) {
    let load_csv_decl = Decl {
        sig: "load_csv(path: str, header: bool = none, columns: bool = false) -> tensor | dict",
        summary: "Reads a CSV file: numbers as a 2-d tensor (like `numpy.loadtxt` with `ndmin=2`), or with \
                  `columns=true` a dict of named columns.",
        doc: "Blank lines and `#` comments are ignored. A first line with no number in it is a header and \
              is skipped (`header=true` skips the first line whatever it holds, `header=false` skips \
              nothing). With `columns=true` the header names the columns and the result is a dict from \
              name to column: a 1-d tensor when the column's first value is a number (then every value \
              must be), else a tuple of strings (see `encode_labels`, also `data.encode`, for integer \
              codes). A cell that is not a number where one is needed, or a row of another length, is an \
              error naming its line and column. Relative paths are resolved against the current \
              working directory.",
        example: "let data = load_csv(\"data.csv\", header=true);",
    };
    register(t, load_csv_decl, |_: &mut Interp, a| {
        let path = a.str_as(0, "the path").map_err(|d| d.at(a.span_of(0)))?;
        let header = match a.value(1) {
            Value::None => None,
            _ => Some(a.bool_as(1, "`header`")?),
        };
        if a.bool_as(2, "`columns`")? {
            if header == Some(false) {
                return Err(Diagnostic::new(
                    ErrorKind::Value,
                    "`load_csv`: `columns=true` names the columns from the header row, so it needs `header` \
                     true or left out",
                )
                .at(a.span_at(1)));
            }
            return load_table(&path, header == Some(true)).map_err(|d| d.at(a.span_of(0)));
        }
        load_csv(&path, header).map_err(|d| d.at(a.span_of(0)))
    });
    let read_text = Decl {
        sig: "read_text(path: str) -> str",
        summary: "Reads a UTF-8 text file as one string (for a corpus, a template, a config).",
        doc: "The text is returned exactly as stored, line endings included; iterate over it (`for c in \
              text`), index and slice it as any string. A file that is not UTF-8 is an error naming the \
              line and column of the first bad byte; files larger than 256 MiB are refused. Relative paths \
              are resolved against the current working directory (build them from `script_dir()` for a \
              file beside the script).",
        example: "let text = read_text(\"data.csv\");\nlen(text)  # 12",
    };
    register(t, read_text, |_: &mut Interp, a| {
        let path = a.str_as(0, "the path").map_err(|d| d.at(a.span_of(0)))?;
        // The source-file reader: regular files only, size bounded, UTF-8 checked.
        let text = crate::files::read_source(Path::new(&*path), false)
            .map_err(|e| cannot_read("read_text", &path, &e).at(a.span_of(0)))?;
        Ok(Value::str(text.as_str()))
    });
    let script_dir = Decl {
        sig: "script_dir() -> str",
        summary: "The directory of the running script, for data files that travel with it.",
        doc: "Relative paths given to `load_csv`, `read_text`, `load` and `save` are resolved against the current \
              working directory, as in Python; a script that reads a file beside itself builds its path \
              from `script_dir()` and so runs from any directory. For `dp -e` and the REPL it is the \
              directory they were started in (`.`).",
        example: "# a file in the folder `data` beside the script\nlet path = f\"{script_dir()}/data/digits.csv\";",
    };
    register(t, script_dir, |it: &mut Interp, _| {
        let dir = it.main_dir().map(|d| d.display().to_string()).unwrap_or_default();
        Ok(Value::str(if dir.is_empty() { "." } else { dir.as_str() }))
    });
    let save = Decl {
        sig: "save(path: str, tree)",
        summary: "Writes a tensor to a `.npy` file, or a tree of tensors to a `.npz` archive (readable by NumPy).",
        doc: "In an `.npz`, each leaf is stored under its dotted path (`layers.0.w`). The file is replaced \
              atomically: a failed save leaves the old file intact. The folder must exist.",
        example: "save(\"w.npz\", {w: ones((2, 2)), b: zeros(2)});",
    };
    register(t, save, |it: &mut Interp, a| {
        if it.read_only {
            return Err(Diagnostic::new(
                ErrorKind::Io,
                "`save` is disabled: this interpreter may not write files",
            ));
        }
        let path = a.str_as(0, "the path").map_err(|d| d.at(a.span_of(0)))?;
        let tree = a.value(1);
        let bytes = match format_of("save", &path).map_err(|d| d.at(a.span_of(0)))? {
            Format::Npy => encode_leaf(tree, &[]).map_err(|d| d.at(a.span_of(1)))?,
            Format::Npz => encode_npz(tree).map_err(|d| d.at(a.span_of(1)))?,
        };
        write_file(&path, &bytes).map_err(|d| d.at(a.span_of(0)))?;
        Ok(Value::None)
    });
    let load = Decl {
        sig: "load(path: str)",
        summary: "Reads a `.npy` file as a tensor, or a `.npz` archive as the tree `save` wrote.",
        doc: "Any plain numeric dtype NumPy writes is converted to f64; a 0-d array gives a float. \
              Compressed archives (`np.savez_compressed`) are read too. In an `.npz`, keys that are all \
              integers make a tuple with each array at the position its key names, and `none` where no \
              key names a position (`save` leaves `none` elements out, so `(a, none, b)` loads back as \
              written); other keys make a dict (NumPy's `arr_0`, `arr_1`, ... are names).",
        example: concat!("save(\"w.npy\", ones(3));\n", "load(\"w.npy\")  # [1.0, 1.0, 1.0]",),
    };
    register(t, load, |_: &mut Interp, a| {
        let path = a.str_as(0, "the path").map_err(|d| d.at(a.span_of(0)))?;
        let loaded = match format_of("load", &path).map_err(|d| d.at(a.span_of(0)))? {
            Format::Npy => decode_npy(&path, &read_file("load", &path)?),
            Format::Npz => load_npz(&path),
        };
        loaded.map_err(|d| d.at(a.span_of(0)))
    });
}

/// The two binary formats, chosen by the file extension.
enum Format {
    Npy,
    Npz,
}

fn format_of(fname: &str, path: &str) -> R<Format> {
    match Path::new(path).extension().and_then(|e| e.to_str()) {
        Some("npy") => Ok(Format::Npy),
        Some("npz") => Ok(Format::Npz),
        _ => {
            let mut d = Diagnostic::new(
                ErrorKind::Value,
                format!(
                    "`{fname}` cannot tell the format of {}: the path must end in .npy or .npz",
                    quote(path)
                ),
            )
            .with_note(".npy holds one tensor; .npz holds a tuple or dict of tensors");
            if fname == "load" && path.ends_with(".csv") {
                d = d.with_help("use `load_csv` to read a CSV file");
            }
            Err(d)
        }
    }
}

/// Where a relative path was looked for, as a note.
fn cwd_note(d: Diagnostic, path: &str) -> Diagnostic {
    if Path::new(path).is_relative() {
        d.with_note("relative paths are resolved against the current working directory")
    } else {
        d
    }
}

fn read_file(fname: &str, path: &str) -> R<Vec<u8>> {
    crate::files::read_regular(Path::new(path)).map_err(|e| cannot_read(fname, path, &e))
}

/// The report for a file that cannot be read (missing, a directory, a FIFO, ...).
fn cannot_read(fname: &str, path: &str, e: &FileError) -> Diagnostic {
    cwd_note(
        Diagnostic::new(
            ErrorKind::Io,
            format!("`{fname}` cannot read {}: {}", quote(path), e.reason()),
        ),
        path,
    )
}

/// Replaces the file at `path` with `bytes` through a temporary file, so
/// that a write that fails (full disk, quota) leaves the old file as it was.
fn write_file(path: &str, bytes: &[u8]) -> R<()> {
    crate::files::write_atomic(Path::new(path), bytes).map_err(|e| {
        let mut d = Diagnostic::new(
            ErrorKind::Io,
            format!("`save` cannot write {}: {}", quote(path), e.reason()),
        );
        if e.is_not_found() {
            d = d.with_note("`save` does not create directories: the folder must already exist");
        }
        cwd_note(d, path)
    })
}

/// A file's contents are not in the format its extension promises.
fn corrupt(path: &str, what: &str, why: impl std::fmt::Display) -> Diagnostic {
    Diagnostic::new(
        ErrorKind::Value,
        format!("{} is not a valid {what} file: {why}", quote(path)),
    )
}

/// The text of a CSV file.
fn read_csv_text(path: &str) -> R<String> {
    let bytes = read_file("load_csv", path)?;
    String::from_utf8(bytes).map_err(|e| {
        let at = crate::files::utf8_error_position(e.as_bytes(), e.utf8_error().valid_up_to());
        Diagnostic::new(
            ErrorKind::Value,
            format!("`load_csv` cannot read {}: it is not UTF-8 text: {at}", quote(path)),
        )
    })
}

/// A cell for a report: quoted, and cut short (a file that is not CSV at
/// all would be echoed whole, and it may hold secrets).
fn cell_text(text: &str) -> String {
    if text.is_empty() {
        "the empty cell".to_string()
    } else {
        quote(&excerpt(text, CELL_EXCERPT))
    }
}

/// The report for a row of another length than the first.
fn ragged(path: &str, line: usize, found: usize, first_line: usize, expected: usize) -> Diagnostic {
    Diagnostic::new(
        ErrorKind::Value,
        format!(
            "`load_csv`: line {line} of {} has {found} value{} but line {first_line} has {expected}",
            quote(path),
            if found == 1 { "" } else { "s" }
        ),
    )
    .with_note("every row of a CSV file must have the same number of values")
}

/// `load_csv(path, columns=true)`: a dict from column name to a 1-d tensor
/// or a tuple of strings.
fn load_table(path: &str, header_given: bool) -> R<Value> {
    let text = read_csv_text(path)?;
    let columns = table::parse(&text, header_given).map_err(|e| match e {
        table::TableError::Csv(csv::CsvError::Ragged {
            line,
            found,
            first_line,
            expected,
        }) => ragged(path, line, found, first_line, expected),
        table::TableError::Csv(csv::CsvError::BadCell { line, column, text }) => Diagnostic::new(
            ErrorKind::Value,
            format!(
                "`load_csv`: {} at line {line}, column {column} of {} is not a number",
                cell_text(&text),
                quote(path)
            ),
        ),
        table::TableError::NoHeader { line } => Diagnostic::new(
            ErrorKind::Value,
            match line {
                None => format!("`load_csv`: {} has no header row to name the columns", quote(path)),
                Some(l) => format!(
                    "`load_csv`: line {l} of {} holds numbers, not a header row naming the columns",
                    quote(path)
                ),
            },
        )
        .with_help("`columns=true` reads the first line as column names; pass `header=true` if it is one"),
        table::TableError::BadName { column, name, repeated } => Diagnostic::new(
            ErrorKind::Value,
            if repeated {
                format!(
                    "`load_csv`: column {column} of {} repeats the name {}",
                    quote(path),
                    quote(&name)
                )
            } else {
                format!(
                    "`load_csv`: column {column} of {} has an empty name in the header",
                    quote(path)
                )
            },
        ),
        table::TableError::NotNumber {
            line,
            column,
            name,
            text,
            first_line,
        } => Diagnostic::new(
            ErrorKind::Value,
            format!(
                "`load_csv`: {} at line {line} in column {} (column {column}) of {} is not a number",
                cell_text(&text),
                quote(&name),
                quote(path)
            ),
        )
        .with_note(format!(
            "the column is numeric because its first value (line {first_line}) is a number"
        )),
    })?;
    let mut d = Dict::new();
    for (name, column) in columns {
        let v = match column {
            table::Column::Numbers(xs) => {
                let n = xs.len();
                let t = Tensor::from_vec(xs, &[n]).map_err(crate::ops::tensor_error)?;
                Value::Tensor(Rc::new(t))
            }
            table::Column::Strings(ss) => Value::Tuple(ss.into_iter().map(|s| Value::Str(s.into())).collect::<Tuple>()),
        };
        d.insert(Rc::from(name.as_str()), v);
    }
    Ok(Value::Dict(d))
}

fn load_csv(path: &str, header: Option<bool>) -> R<Value> {
    let text_all = read_csv_text(path)?;
    let (data, shape) = csv::parse(&text_all, header).map_err(|e| match e {
        csv::CsvError::BadCell { line, column, text } => {
            let d = Diagnostic::new(
                ErrorKind::Value,
                format!(
                    "`load_csv`: {} at line {line}, column {column} of {} is not a number",
                    cell_text(&text),
                    quote(path)
                ),
            );
            // A word in the first data row suggests a table of named columns; further down, a typo.
            let rows = csv::rows(&text_all, header == Some(true));
            let skip = header.is_none() && rows.first().is_some_and(csv::looks_like_header);
            let first_data = rows.get(usize::from(skip)).map(|r| r.line);
            if text.is_empty() || first_data != Some(line) {
                d
            } else {
                d.with_help("to read a file with a header row and columns of strings, pass `columns=true`")
            }
        }
        csv::CsvError::Ragged {
            line,
            found,
            first_line,
            expected,
        } => ragged(path, line, found, first_line, expected),
    })?;
    let t = Tensor::from_vec(data, &shape).map_err(crate::ops::tensor_error)?;
    Ok(Value::Tensor(std::rc::Rc::new(t)))
}

/// A leaf as a `.npy` file: ints, bools, keys and strings as 0-d arrays of
/// their own dtype (so that they load back as they were), the rest as f64.
fn encode_leaf(leaf: &Value, path: &[PathStep]) -> R<Vec<u8>> {
    let scalar = match leaf.strip() {
        Value::Int(i) => Some(npy::Scalar::Int(*i)),
        Value::Bool(b) => Some(npy::Scalar::Bool(*b)),
        Value::Key(k) => Some(npy::Scalar::Key(*k)),
        Value::Str(s) => Some(npy::Scalar::Str(s.to_string())),
        _ => None,
    };
    match scalar {
        Some(x) => Ok(npy::encode_scalar(&x)),
        None => Ok(npy::encode(&leaf_tensor("save", leaf, path)?)),
    }
}

/// A tree leaf as a tensor: tensors as they are, numbers as 0-d arrays.
fn leaf_tensor(fname: &str, leaf: &Value, path: &[PathStep]) -> R<Tensor> {
    match leaf.strip() {
        Value::Tensor(t) => Ok((**t).clone()),
        Value::Float(x) => Ok(Tensor::scalar(*x)),
        Value::Int(i) => Ok(Tensor::scalar(*i as f64)),
        Value::Bool(b) => Ok(Tensor::scalar(f64::from(u8::from(*b))).marked_bool()),
        Value::Tuple(_) | Value::Dict(_) if path.is_empty() => Err(Diagnostic::new(
            ErrorKind::Type,
            format!("`{fname}` to a .npy file needs one tensor, found {}", leaf.describe()),
        )
        .with_help("use a path ending in .npz to save a tuple or dict of tensors")),
        other => {
            let at = if path.is_empty() {
                String::new()
            } else {
                format!(" at {}", path_string(path))
            };
            let d = Diagnostic::new(
                ErrorKind::Type,
                format!(
                    "`{fname}` can only store tensors, numbers, bools, strings and keys, found {}{at}",
                    other.describe()
                ),
            );
            Err(match path.last() {
                Some(PathStep::Key(k)) => d.with_help(format!(
                    "leave it out: save `remove(tree, {})` (for a nested dict, remove it there), or set it to `none`",
                    quote(k)
                )),
                Some(PathStep::Index(_)) => d.with_help("leave it out: replace it with `none`, which `save` skips"),
                None => d,
            })
        }
    }
}

/// The dotted .npz key of a leaf path, checking that it will read back as written.
fn npz_key(path: &[PathStep]) -> R<String> {
    let mut parts = Vec::with_capacity(path.len());
    for (i, step) in path.iter().enumerate() {
        match step {
            PathStep::Index(n) => parts.push(n.to_string()),
            PathStep::Key(k) => {
                let problem = if k.is_empty() {
                    Some("is empty")
                } else if k.contains('.') {
                    Some("contains `.`, which separates the parts of .npz keys")
                } else if k.bytes().all(|b| b.is_ascii_digit()) {
                    Some("is all digits, which .npz keys use for tuple positions")
                } else {
                    None
                };
                if let Some(problem) = problem {
                    return Err(Diagnostic::new(
                        ErrorKind::Value,
                        format!(
                            "`save` cannot store the dict key {} at {}: it {problem}",
                            quote(k),
                            path_string(&path[..=i])
                        ),
                    ));
                }
                parts.push(k.to_string());
            }
        }
    }
    Ok(parts.join("."))
}

fn encode_npz(tree: &Value) -> R<Vec<u8>> {
    if !matches!(tree.peek(), Value::Tuple(_) | Value::Dict(_)) {
        return Err(Diagnostic::new(
            ErrorKind::Type,
            format!(
                "`save` to a .npz file needs a tuple or dict of tensors, found {}",
                tree.describe()
            ),
        )
        .with_help("use a path ending in .npy to save one tensor"));
    }
    let zip_err =
        |e: zip::result::ZipError| Diagnostic::new(ErrorKind::Io, format!("`save` cannot build the .npz archive: {e}"));
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (path, leaf) in leaves_with_paths(tree)? {
        // `none` leaves carry no data (e.g. the gradient of an int parameter): they are not stored.
        if matches!(leaf, Value::None) {
            continue;
        }
        let key = npz_key(&path)?;
        let bytes = encode_leaf(&leaf, &path)?;
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .large_file(bytes.len() >= u32::MAX as usize);
        w.start_file(format!("{key}.npy"), options).map_err(zip_err)?;
        w.write_all(&bytes).map_err(|e| zip_err(e.into()))?;
    }
    Ok(w.finish().map_err(zip_err)?.into_inner())
}

/// A 0-d array loads as a float (a bool for a 0-d bool array), anything
/// else as a tensor.
fn tensor_value(t: Tensor) -> Value {
    crate::prim::from_tensor(t)
}

/// A `.npy` file as a value: the scalars `save` writes as themselves,
/// anything else as a tensor (or float).
fn decode_leaf(bytes: &[u8]) -> Result<Value, String> {
    Ok(match npy::decode_scalar(bytes)? {
        Some(npy::Scalar::Int(i)) => Value::Int(i),
        Some(npy::Scalar::Bool(b)) => Value::Bool(b),
        Some(npy::Scalar::Key(k)) => Value::Key(k),
        Some(npy::Scalar::Str(s)) => Value::str(s),
        None => tensor_value(npy::decode(bytes)?),
    })
}

fn decode_npy(path: &str, bytes: &[u8]) -> R<Value> {
    decode_leaf(bytes).map_err(|why| corrupt(path, ".npy", why))
}

/// The keys of an .npz archive, grouped by their dotted segments.
enum Node {
    Leaf(Value),
    Group(BTreeMap<String, Node>),
}

fn load_npz(path: &str) -> R<Value> {
    let file = crate::files::open_regular(Path::new(path)).map_err(|e| cannot_read("load", path, &e))?;
    let bad = |why: String| corrupt(path, ".npz", why);
    let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|e| bad(e.to_string()))?;
    let mut root = BTreeMap::new();
    for i in 0..archive.len() {
        let mut member = archive.by_index(i).map_err(|e| bad(e.to_string()))?;
        if member.is_dir() {
            continue;
        }
        let name = member.name().map_err(|e| bad(e.to_string()))?.into_owned();
        let key = name.strip_suffix(".npy").unwrap_or(&name).to_string();
        let mut bytes = Vec::new();
        member
            .read_to_end(&mut bytes)
            .map_err(|e| bad(format!("member {}: {e}", quote(&excerpt(&name, CELL_EXCERPT)))))?;
        let value = decode_leaf(&bytes)
            .map_err(|why| bad(format!("member {}: {why}", quote(&excerpt(&name, CELL_EXCERPT)))))?;
        insert_key(&mut root, &key, value).map_err(bad)?;
    }
    build(root, &bad)
}

fn insert_key(root: &mut BTreeMap<String, Node>, key: &str, value: Value) -> Result<(), String> {
    let segments: Vec<&str> = key.split('.').collect();
    // Keys come from the file: quote only the start of a long one.
    let shown = quote(&excerpt(key, CELL_EXCERPT));
    if segments.iter().any(|s| s.is_empty()) {
        return Err(format!("the key {shown} has an empty part between dots"));
    }
    if segments.len() > crate::value::MAX_DEPTH {
        return Err(format!(
            "the key {shown} is nested more than {} levels deep",
            crate::value::MAX_DEPTH
        ));
    }
    let conflict = || format!("the key {shown} clashes with another key (one names an array inside the other)");
    let (last, groups) = segments.split_last().ok_or_else(conflict)?;
    let mut node = root;
    for seg in groups {
        let entry = node
            .entry(seg.to_string())
            .or_insert_with(|| Node::Group(BTreeMap::new()));
        node = match entry {
            Node::Group(g) => g,
            Node::Leaf(_) => return Err(conflict()),
        };
    }
    if node.insert(last.to_string(), Node::Leaf(value)).is_some() {
        return Err(conflict());
    }
    Ok(())
}

/// Turns a group into a dict, or a tuple when every key is an integer (a
/// position). A position with no key is `none`: `save` leaves `none`
/// elements out, so `(a, none, b)` is stored as `0` and `2` and must load
/// back with `b` at position 2, not as `(a, b)`. `bad` reports a key the
/// file should not hold.
fn build(group: BTreeMap<String, Node>, bad: &dyn Fn(String) -> Diagnostic) -> R<Value> {
    let is_index = |k: &str| !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit());
    let node_value = |n: Node| match n {
        Node::Leaf(v) => Ok(v),
        Node::Group(g) => build(g, bad),
    };
    if group.is_empty() || !group.keys().all(|k| is_index(k)) {
        let mut d = Dict::new();
        for (k, n) in group {
            d.insert(Rc::from(k.as_str()), node_value(n)?);
        }
        return Ok(Value::Dict(d));
    }
    let mut items = Vec::with_capacity(group.len());
    for (k, n) in group {
        let pos = tuple_position(&k).ok_or_else(|| {
            bad(format!(
                "the key {} names a tuple position past any tuple",
                quote(&excerpt(&k, CELL_EXCERPT))
            ))
        })?;
        items.push((pos, k, n));
    }
    items.sort_by_key(|(pos, _, _)| *pos);
    if let Some(w) = items.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(bad(format!(
            "the keys {} and {} both name tuple position {}",
            quote(&excerpt(&w[0].1, CELL_EXCERPT)),
            quote(&excerpt(&w[1].1, CELL_EXCERPT)),
            w[0].0
        )));
    }
    // The positions are sorted and the group is not empty.
    let (len, last_key) = items.last().map_or((0, ""), |(pos, k, _)| (pos + 1, k.as_str()));
    // A gap is filled with `none`s: a hostile key such as `9999999999` must
    // not build a tuple past the memory budget.
    crate::value::tuple::check_len(len as u128).map_err(|d| {
        d.with_note(format!(
            "the .npz key {} names tuple position {}",
            quote(&excerpt(last_key, CELL_EXCERPT)),
            len - 1
        ))
    })?;
    let mut out = Vec::new();
    out.try_reserve_exact(len)
        .map_err(|_| bad(format!("a tuple of {len} elements does not fit in memory")))?;
    for (pos, _, n) in items {
        out.resize(pos, Value::None);
        out.push(node_value(n)?);
    }
    Ok(Value::Tuple(out.into_iter().collect::<Tuple>()))
}

/// The tuple position a key of digits names (leading zeros allowed, as
/// NumPy writes none), `None` past any position a tuple can have.
fn tuple_position(key: &str) -> Option<usize> {
    let digits = key.trim_start_matches('0');
    if digits.is_empty() {
        return Some(0);
    }
    // 18 digits fit a u64; no tuple in memory has 10^18 elements.
    if digits.len() > 18 {
        return None;
    }
    digits.parse::<u64>().ok().and_then(|n| usize::try_from(n).ok())
}
