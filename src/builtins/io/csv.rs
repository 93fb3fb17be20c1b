//! Numeric CSV parsing with the semantics of
//! `numpy.loadtxt(path, delimiter=",", ndmin=2, skiprows=header)`: the result
//! is always 2-d, `#` starts a comment, blank lines are skipped, cells may be
//! padded with spaces, and every row must have the same number of cells.

/// Why a CSV text could not be read; lines and columns count from 1.
#[derive(Debug, PartialEq)]
pub enum CsvError {
    /// A cell that is not a number.
    BadCell { line: usize, column: usize, text: String },
    /// A row whose length differs from the first row's.
    Ragged {
        line: usize,
        found: usize,
        first_line: usize,
        expected: usize,
    },
}

/// One data line of a CSV text: its line number (from 1) and its cells, trimmed.
#[derive(Debug)]
pub struct Row<'a> {
    /// The line number in the file, counting from 1.
    pub line: usize,
    /// The cells between commas, without surrounding spaces.
    pub cells: Vec<&'a str>,
}

/// The data lines of `text`: a byte-order mark, `#` comments and blank lines
/// are dropped; with `skip_first` the first line of the text is dropped
/// whatever it holds (NumPy's `skiprows=1`).
pub fn rows(text: &str, skip_first: bool) -> Vec<Row<'_>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.lines()
        .enumerate()
        .skip(usize::from(skip_first))
        .filter_map(|(i, raw)| {
            let line = raw.split('#').next().unwrap_or("");
            (!line.trim().is_empty()).then(|| Row {
                line: i + 1,
                cells: line.split(',').map(str::trim).collect(),
            })
        })
        .collect()
}

/// Whether a cell reads as a number.
pub fn is_number(cell: &str) -> bool {
    cell.parse::<f64>().is_ok()
}

/// Whether a row is a header: none of its cells is a number, and not all
/// are empty. (A data row whose every value is unreadable is implausible; a
/// header of numbers is not detected and must be asked for with `header=true`.)
pub fn looks_like_header(row: &Row) -> bool {
    !row.cells.iter().any(|c| is_number(c)) && row.cells.iter().any(|c| !c.is_empty())
}

/// The ragged-row error when `row` does not have the `expected` number of
/// cells of the row on line `first_line`.
pub fn check_width(row: &Row, first_line: usize, expected: usize) -> Result<(), CsvError> {
    if row.cells.len() == expected {
        return Ok(());
    }
    Err(CsvError::Ragged {
        line: row.line,
        found: row.cells.len(),
        first_line,
        expected,
    })
}

/// Parses `text` into row-major values and the (rows, columns) shape.
/// With `header` `Some(true)` the first line is skipped whatever it holds;
/// with `None` the first data line is skipped when it is a header (no cell
/// is a number). A text with no data rows gives shape (0, 1), as NumPy does.
pub fn parse(text: &str, header: Option<bool>) -> Result<(Vec<f64>, [usize; 2]), CsvError> {
    let mut rows = rows(text, header == Some(true));
    if header.is_none() && rows.first().is_some_and(looks_like_header) {
        rows.remove(0);
    }
    let mut data = Vec::new();
    let mut first: Option<(usize, usize)> = None;
    for row in &rows {
        for (j, cell) in row.cells.iter().enumerate() {
            match cell.parse::<f64>() {
                Ok(x) => data.push(x),
                Err(_) => {
                    return Err(CsvError::BadCell {
                        line: row.line,
                        column: j + 1,
                        text: cell.to_string(),
                    })
                }
            }
        }
        match first {
            None => first = Some((row.line, row.cells.len())),
            Some((first_line, expected)) => check_width(row, first_line, expected)?,
        }
    }
    let cols = first.map_or(1, |(_, n)| n);
    Ok((data, [rows.len(), cols]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_numpy_loadtxt() {
        let (d, s) = parse("a,b\r\n1, 2.5\n\n# note\n-3e2,inf # tail\n", Some(true)).unwrap();
        assert_eq!(s, [2, 2]);
        assert_eq!(d, vec![1.0, 2.5, -300.0, f64::INFINITY]);
        assert_eq!(parse("", Some(false)).unwrap(), (vec![], [0, 1]));
        assert_eq!(parse("7\n8\n", None).unwrap(), (vec![7.0, 8.0], [2, 1]));
    }

    #[test]
    fn detects_a_header_of_names_only() {
        let (d, s) = parse("# comment\nx, y\n1,2\n", None).unwrap();
        assert_eq!((d, s), (vec![1.0, 2.0], [1, 2]));
        // A row with one number is data: its other cell is an error.
        assert_eq!(
            parse("x,1\n1,2\n", None),
            Err(CsvError::BadCell {
                line: 1,
                column: 1,
                text: "x".into()
            })
        );
        assert!(parse("x,y\n1,2\n", Some(false)).is_err());
    }

    #[test]
    fn reports_line_and_column() {
        assert_eq!(
            parse("1,2\n3,x\n", None),
            Err(CsvError::BadCell {
                line: 2,
                column: 2,
                text: "x".into()
            })
        );
        assert_eq!(
            parse("1,,2\n", Some(false)),
            Err(CsvError::BadCell {
                line: 1,
                column: 2,
                text: String::new()
            })
        );
        assert_eq!(
            parse("h\n1,2\n\n3\n", Some(true)),
            Err(CsvError::Ragged {
                line: 4,
                found: 1,
                first_line: 2,
                expected: 2
            })
        );
    }
}
