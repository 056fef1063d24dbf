//! Query syntax errors: position (offset, line, column) and a caret rendering
//! of the line at fault. Below `query` and `error`, so the one error enum can
//! hold a syntax error without `error` importing `query`.

use std::fmt::{self, Write};

/// A query that could not be parsed. Later stages may build one with
/// [`QuerySyntaxError::new`] to report errors (e.g. unknown names) in the same
/// format, using a byte offset from a name's span in the query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuerySyntaxError {
    pub message: String,
    /// 0-based offset of the fault, in chars.
    pub offset: usize,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in chars.
    pub column: usize,
    /// What would have been accepted at the fault (empty for lexical errors).
    pub expected: Vec<String>,
    /// Description of what was found there (`end of input` or a quoted snippet).
    pub found: String,
    /// The full query text.
    pub text: String,
}

/// Lines longer than this are shown as a window around the fault.
const MAX_SHOWN_CHARS: usize = 120;
/// Snippets of user text inside messages are cut to this many chars.
const MAX_SNIPPET_CHARS: usize = 40;

impl QuerySyntaxError {
    /// `byte_offset` is a byte index into `text` (clamped to its length).
    pub fn new(
        text: &str,
        byte_offset: usize,
        message: impl Into<String>,
        expected: Vec<String>,
        found: impl Into<String>,
    ) -> Self {
        let (mut offset, mut line, mut column) = (0, 1, 1);
        for (i, c) in text.char_indices() {
            if i >= byte_offset {
                break;
            }
            offset += 1;
            if c == '\n' {
                line += 1;
                column = 1;
            } else {
                column += 1;
            }
        }
        QuerySyntaxError {
            message: message.into(),
            offset,
            line,
            column,
            expected,
            found: found.into(),
            text: text.to_owned(),
        }
    }

    /// Multi-line human-readable report:
    ///
    /// ```text
    /// unexpected `35`
    /// line 1, column 15
    ///   age BETWEEN 1 35
    ///                 ^
    /// expected AND; found `35`
    /// ```
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = self.write_report(&mut out);
        out
    }

    fn write_report(&self, out: &mut String) -> fmt::Result {
        writeln!(out, "{}", self.message)?;
        writeln!(out, "line {}, column {}", self.line, self.column)?;

        let line_text = self.text.split('\n').nth(self.line.saturating_sub(1)).unwrap_or("");
        let line_text = line_text.strip_suffix('\r').unwrap_or(line_text);
        let chars: Vec<char> = line_text.chars().collect();
        let col = self.column.saturating_sub(1).min(chars.len());

        // Show a window around the fault so huge one-line queries stay readable.
        let (mut from, mut to) = (0, chars.len());
        if chars.len() > MAX_SHOWN_CHARS {
            from = col.saturating_sub(MAX_SHOWN_CHARS / 2);
            to = (from + MAX_SHOWN_CHARS).min(chars.len());
            from = to.saturating_sub(MAX_SHOWN_CHARS);
        }
        let mut shown = String::from("  ");
        let mut pad = 2;
        if from > 0 {
            shown.push('…');
            pad += 1;
        }
        for (k, &c) in chars.iter().enumerate().take(to).skip(from) {
            let d = printable(c);
            if k < col {
                pad += display_width(d);
            }
            shown.push(d);
        }
        if to < chars.len() {
            shown.push('…');
        }
        writeln!(out, "{}", shown.trim_end())?;
        write!(out, "{:pad$}^", "")?;

        if !self.expected.is_empty() {
            if let [only] = self.expected.as_slice() {
                write!(out, "\nexpected {only}")?;
            } else {
                write!(out, "\nexpected one of: {}", self.expected.join(", "))?;
            }
            if !self.found.is_empty() {
                write!(out, "; found {}", self.found)?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for QuerySyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

impl std::error::Error for QuerySyntaxError {}

/// Bidirectional-override characters can visually reorder a terminal line.
pub(crate) fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Replacement used when echoing a query line: keeps the caret aligned and the
/// terminal sane.
fn printable(c: char) -> char {
    if c == '\t' {
        ' '
    } else if c.is_control() || is_bidi_control(c) {
        '\u{FFFD}'
    } else {
        c
    }
}

/// Approximate terminal width: 0 for common combining marks, 2 for East Asian
/// wide characters and emoji, 1 otherwise. Only used to place the caret.
fn display_width(c: char) -> usize {
    match u32::from(c) {
        0x0300..=0x036F | 0x200B..=0x200F | 0x20D0..=0x20FF | 0xFE00..=0xFE0F => 0,
        0x1100..=0x115F
        | 0x2E80..=0x303E
        | 0x3041..=0x33FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x1F300..=0x1F64F
        | 0x1F900..=0x1F9FF
        | 0x20000..=0x3FFFD => 2,
        _ => 1,
    }
}

/// User text for use inside a message: truncated, control chars escaped.
pub(crate) fn snippet(s: &str) -> String {
    let mut out = String::new();
    for (n, c) in s.chars().enumerate() {
        if n == MAX_SNIPPET_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() || is_bidi_control(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}
