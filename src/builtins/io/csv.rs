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

/// Parses `text` into row-major values and the (rows, columns) shape.
/// With `header`, the first line is skipped whatever it holds. A text with no
/// data rows gives shape (0, 1), as NumPy does.
pub fn parse(text: &str, header: bool) -> Result<(Vec<f64>, [usize; 2]), CsvError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut data = Vec::new();
    let mut rows = 0usize;
    let mut first: Option<(usize, usize)> = None;
    for (i, raw) in text.lines().enumerate().skip(usize::from(header)) {
        let line = raw.split('#').next().unwrap_or("");
        if line.trim().is_empty() {
            continue;
        }
        let before = data.len();
        for (j, cell) in line.split(',').enumerate() {
            let cell = cell.trim();
            match cell.parse::<f64>() {
                Ok(x) => data.push(x),
                Err(_) => {
                    return Err(CsvError::BadCell {
                        line: i + 1,
                        column: j + 1,
                        text: cell.to_string(),
                    })
                }
            }
        }
        let found = data.len() - before;
        match first {
            None => first = Some((i + 1, found)),
            Some((first_line, expected)) if expected != found => {
                return Err(CsvError::Ragged {
                    line: i + 1,
                    found,
                    first_line,
                    expected,
                })
            }
            Some(_) => {}
        }
        rows += 1;
    }
    let cols = first.map_or(1, |(_, n)| n);
    Ok((data, [rows, cols]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_numpy_loadtxt() {
        let (d, s) = parse("a,b\r\n1, 2.5\n\n# note\n-3e2,inf # tail\n", true).unwrap();
        assert_eq!(s, [2, 2]);
        assert_eq!(d, vec![1.0, 2.5, -300.0, f64::INFINITY]);
        assert_eq!(parse("", false).unwrap(), (vec![], [0, 1]));
        assert_eq!(parse("7\n8\n", false).unwrap(), (vec![7.0, 8.0], [2, 1]));
    }

    #[test]
    fn reports_line_and_column() {
        assert_eq!(
            parse("1,2\n3,x\n", false),
            Err(CsvError::BadCell {
                line: 2,
                column: 2,
                text: "x".into()
            })
        );
        assert_eq!(
            parse("1,,2\n", false),
            Err(CsvError::BadCell {
                line: 1,
                column: 2,
                text: String::new()
            })
        );
        assert_eq!(
            parse("h\n1,2\n\n3\n", true),
            Err(CsvError::Ragged {
                line: 4,
                found: 1,
                first_line: 2,
                expected: 2
            })
        );
    }
}
