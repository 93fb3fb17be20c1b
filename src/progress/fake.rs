//! An in-memory terminal screen for testing the live bar: indicatif draws on
//! it through the same calls it makes on a real terminal (cursor moves, line
//! clears, writes), and [`FakeTerminal::screen`] shows what a user would see.

use std::io;
use std::sync::{Arc, Mutex, PoisonError};

/// The screen's width in characters.
const WIDTH: usize = 100;

/// A screen of text lines with a cursor; clones share the screen.
#[derive(Clone, Debug, Default)]
pub struct FakeTerminal(Arc<Mutex<Screen>>);

#[derive(Debug, Default)]
struct Screen {
    lines: Vec<Vec<char>>,
    row: usize,
    col: usize,
}

impl Screen {
    fn line(&mut self) -> &mut Vec<char> {
        if self.lines.len() <= self.row {
            self.lines.resize(self.row + 1, Vec::new());
        }
        &mut self.lines[self.row]
    }

    fn write(&mut self, s: &str) {
        for c in s.chars() {
            match c {
                '\n' => {
                    self.line();
                    self.row += 1;
                    self.col = 0;
                    continue;
                }
                '\r' => {
                    self.col = 0;
                    continue;
                }
                _ => {}
            }
            // As a real terminal, wrap before a character that no longer fits
            // (indicatif pads each line to the width and relies on this).
            if self.col >= WIDTH {
                self.row += 1;
                self.col = 0;
            }
            let col = self.col;
            let line = self.line();
            if line.len() <= col {
                line.resize(col + 1, ' ');
            }
            line[col] = c;
            self.col += 1;
        }
    }
}

impl FakeTerminal {
    /// A blank screen.
    pub fn new() -> FakeTerminal {
        FakeTerminal::default()
    }

    /// The screen's lines as a user would see them, trailing blanks removed.
    pub fn screen(&self) -> String {
        let s = self.lock();
        let mut lines: Vec<String> = s
            .lines
            .iter()
            .map(|l| l.iter().collect::<String>().trim_end().to_string())
            .collect();
        while lines.last().is_some_and(String::is_empty) {
            lines.pop();
        }
        lines.join("\n")
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Screen> {
        // A panic while drawing leaves a screen that is still readable.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl indicatif::TermLike for FakeTerminal {
    fn width(&self) -> u16 {
        WIDTH as u16
    }

    fn move_cursor_up(&self, n: usize) -> io::Result<()> {
        let mut s = self.lock();
        s.row = s.row.saturating_sub(n);
        Ok(())
    }

    fn move_cursor_down(&self, n: usize) -> io::Result<()> {
        self.lock().row += n;
        Ok(())
    }

    fn move_cursor_right(&self, n: usize) -> io::Result<()> {
        self.lock().col += n;
        Ok(())
    }

    fn move_cursor_left(&self, n: usize) -> io::Result<()> {
        let mut s = self.lock();
        s.col = s.col.saturating_sub(n);
        Ok(())
    }

    fn write_line(&self, s: &str) -> io::Result<()> {
        let mut screen = self.lock();
        screen.write(s);
        screen.write("\n");
        Ok(())
    }

    fn write_str(&self, s: &str) -> io::Result<()> {
        self.lock().write(s);
        Ok(())
    }

    fn clear_line(&self) -> io::Result<()> {
        let mut s = self.lock();
        s.line().clear();
        s.col = 0;
        Ok(())
    }

    fn flush(&self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use indicatif::TermLike;

    #[test]
    fn overwrites_like_a_terminal() {
        let t = FakeTerminal::new();
        t.write_line("first").unwrap();
        t.write_str("bar 1/3").unwrap();
        t.clear_line().unwrap();
        t.write_str("bar 2/3").unwrap();
        t.move_cursor_up(1).unwrap();
        t.clear_line().unwrap();
        t.write_line("printed").unwrap();
        assert_eq!(t.screen(), "printed\nbar 2/3");
        // A full line leaves the cursor at the edge: the next character wraps.
        t.write_str(&"x".repeat(WIDTH)).unwrap();
        t.write_str("y").unwrap();
        assert_eq!(t.screen().lines().last(), Some("y"));
    }
}
