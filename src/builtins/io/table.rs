//! `load_csv(path, columns=true)`: a CSV file with a header row read as a
//! table of named columns. A column whose first value is a number is a
//! numeric column (every value must then be a number); any other column is
//! a column of strings. The caller turns the columns into dp values.

use super::csv::{self, CsvError, Row};

/// One column of a table.
#[derive(Debug, PartialEq)]
pub enum Column {
    /// Numbers, one per data row.
    Numbers(Vec<f64>),
    /// Strings, one per data row, as written (trimmed).
    Strings(Vec<String>),
}

/// Why a text could not be read as a table.
#[derive(Debug, PartialEq)]
pub enum TableError {
    /// A ragged row (as for numeric CSV).
    Csv(CsvError),
    /// The text has no header row (no data line at all, or a first line of numbers).
    NoHeader { line: Option<usize> },
    /// A header cell that is empty or repeats an earlier name.
    BadName {
        column: usize,
        name: String,
        repeated: bool,
    },
    /// A cell of a numeric column that is not a number.
    NotNumber {
        line: usize,
        column: usize,
        name: String,
        text: String,
        first_line: usize,
    },
}

/// The named columns of `text`, in file order. The header is the first
/// data line; with `header_given` false (header detection) it must not
/// hold a number.
pub fn parse(text: &str, header_given: bool) -> Result<Vec<(String, Column)>, TableError> {
    let rows = csv::rows(text, false);
    let Some((head, body)) = rows.split_first() else {
        return Err(TableError::NoHeader { line: None });
    };
    if !header_given && !csv::looks_like_header(head) {
        return Err(TableError::NoHeader { line: Some(head.line) });
    }
    let mut names: Vec<String> = Vec::with_capacity(head.cells.len());
    for (j, name) in head.cells.iter().enumerate() {
        let repeated = names.iter().any(|n| n == name);
        if name.is_empty() || repeated {
            return Err(TableError::BadName {
                column: j + 1,
                name: name.to_string(),
                repeated,
            });
        }
        names.push(name.to_string());
    }
    for row in body {
        csv::check_width(row, head.line, names.len()).map_err(TableError::Csv)?;
    }
    let mut columns = Vec::with_capacity(names.len());
    for (j, name) in names.into_iter().enumerate() {
        let column = read_column(body, j, &name)?;
        columns.push((name, column));
    }
    Ok(columns)
}

/// Column `j` of the data rows: numbers when its first value is a number.
fn read_column(body: &[Row], j: usize, name: &str) -> Result<Column, TableError> {
    let numeric = body.first().is_none_or(|r| csv::is_number(r.cells[j]));
    if !numeric {
        return Ok(Column::Strings(body.iter().map(|r| r.cells[j].to_string()).collect()));
    }
    let mut out = Vec::with_capacity(body.len());
    for row in body {
        // Rows were checked to have one cell per name, so `j` is in range.
        let cell = row.cells[j];
        match cell.parse::<f64>() {
            Ok(x) => out.push(x),
            Err(_) => {
                return Err(TableError::NotNumber {
                    line: row.line,
                    column: j + 1,
                    name: name.to_string(),
                    text: cell.to_string(),
                    first_line: body[0].line,
                })
            }
        }
    }
    Ok(Column::Numbers(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_strings_by_first_value() {
        let t = parse("# iris\na, kind ,b\n1.5,x,2\n\n-3,y y,4e1\n", false).unwrap();
        assert_eq!(
            t,
            vec![
                ("a".to_string(), Column::Numbers(vec![1.5, -3.0])),
                ("kind".to_string(), Column::Strings(vec!["x".into(), "y y".into()])),
                ("b".to_string(), Column::Numbers(vec![2.0, 40.0])),
            ]
        );
        assert_eq!(
            parse("a,b\n", false).unwrap()[1],
            ("b".to_string(), Column::Numbers(vec![]))
        );
    }

    #[test]
    fn mistakes_are_named() {
        assert_eq!(parse("", false), Err(TableError::NoHeader { line: None }));
        assert_eq!(parse("1,2\n", false), Err(TableError::NoHeader { line: Some(1) }));
        assert!(parse("1,2\n3,4\n", true).is_ok());
        assert_eq!(
            parse("a,a\n", false),
            Err(TableError::BadName {
                column: 2,
                name: "a".into(),
                repeated: true
            })
        );
        assert_eq!(
            parse("a,b\n1,x\n2,y\nq,z\n", false),
            Err(TableError::NotNumber {
                line: 4,
                column: 1,
                name: "a".into(),
                text: "q".into(),
                first_line: 2
            })
        );
        assert!(matches!(
            parse("a,b\n1,2\n3\n", false),
            Err(TableError::Csv(CsvError::Ragged { line: 3, .. }))
        ));
    }
}
