//! Tokenizer. The parser pulls tokens lazily, so the first error in source
//! order is the one reported.

use super::ast::{days_from_civil, days_in_month, MICROS_PER_DAY};
use crate::syntax::{snippet, QuerySyntaxError};

/// Reserved words (matched ASCII-case-insensitively). Time units (DAYS, ...)
/// are deliberately *not* reserved: they are only special after `WITHIN n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Keyword {
    And,
    Or,
    Xor,
    Not,
    In,
    Between,
    Is,
    Null,
    Within,
    All,
    True,
    False,
}

const KEYWORDS: [(&str, Keyword); 12] = [
    ("AND", Keyword::And),
    ("OR", Keyword::Or),
    ("XOR", Keyword::Xor),
    ("NOT", Keyword::Not),
    ("IN", Keyword::In),
    ("BETWEEN", Keyword::Between),
    ("IS", Keyword::Is),
    ("NULL", Keyword::Null),
    ("WITHIN", Keyword::Within),
    ("ALL", Keyword::All),
    ("TRUE", Keyword::True),
    ("FALSE", Keyword::False),
];

impl Keyword {
    pub fn lookup(word: &str) -> Option<Keyword> {
        if word.len() > 7 {
            return None; // longest keyword is BETWEEN
        }
        KEYWORDS.iter().find(|(k, _)| k.eq_ignore_ascii_case(word)).map(|&(_, kw)| kw)
    }

    pub fn as_str(self) -> &'static str {
        KEYWORDS.iter().find(|&&(_, kw)| kw == self).map_or("", |&(k, _)| k)
    }
}

pub fn is_reserved(word: &str) -> bool {
    Keyword::lookup(word).is_some()
}

pub fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

pub fn is_ident_continue(c: char) -> bool {
    c == '_' || c == '.' || c.is_alphanumeric()
}

/// True if `name` can be written without quotes (identifier, not a keyword).
pub fn is_bare_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if is_ident_start(c) => chars.all(is_ident_continue) && !is_reserved(name),
        _ => false,
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// Bare identifier that is not a keyword.
    Ident(String),
    Keyword(Keyword),
    /// `"..."`: a tag/attribute name in operand position, a string literal
    /// in value position.
    Quoted(String),
    /// `` `...` ``: always a name.
    Backtick(String),
    /// `@name`, `@"name"` or ``@`name` ``.
    Segment(String),
    Int(i64),
    Float(f64),
    Date(i32),
    Timestamp(i64),
    LParen,
    RParen,
    Comma,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Eof,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    /// Byte offsets into the query text.
    pub start: usize,
    pub end: usize,
}

pub struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    peeked: Option<Token>,
}

type LexResult<T> = Result<T, QuerySyntaxError>;

impl<'a> Lexer<'a> {
    pub fn new(src: &'a str) -> Self {
        Lexer { src, pos: 0, peeked: None }
    }

    pub fn source(&self) -> &'a str {
        self.src
    }

    pub fn peek(&mut self) -> LexResult<&Token> {
        let tok = match self.peeked.take() {
            Some(t) => t,
            None => self.lex()?,
        };
        Ok(self.peeked.insert(tok))
    }

    pub fn next_token(&mut self) -> LexResult<Token> {
        match self.peeked.take() {
            Some(t) => Ok(t),
            None => self.lex(),
        }
    }

    fn char_at(&self, i: usize) -> Option<char> {
        self.src.get(i..).and_then(|s| s.chars().next())
    }

    fn byte_at(&self, i: usize) -> Option<u8> {
        self.src.as_bytes().get(i).copied()
    }

    fn digit_at(&self, i: usize) -> bool {
        self.byte_at(i).is_some_and(|b| b.is_ascii_digit())
    }

    fn skip_digits(&self, mut i: usize) -> usize {
        while self.digit_at(i) {
            i += 1;
        }
        i
    }

    fn slice(&self, start: usize, end: usize) -> &'a str {
        self.src.get(start..end).unwrap_or("")
    }

    fn err(&self, at: usize, message: String, found: String) -> QuerySyntaxError {
        QuerySyntaxError::new(self.src, at, message, Vec::new(), found)
    }

    fn lex(&mut self) -> LexResult<Token> {
        while let Some(c) = self.char_at(self.pos) {
            if !c.is_whitespace() {
                break;
            }
            self.pos += c.len_utf8();
        }
        let start = self.pos;
        let Some(c) = self.char_at(start) else {
            return Ok(Token { tok: Tok::Eof, start, end: start });
        };
        let (tok, end) = match c {
            // Full-width punctuation, as a Chinese input method types it, reads
            // as its ASCII counterpart.
            '(' | '（' => (Tok::LParen, start + c.len_utf8()),
            ')' | '）' => (Tok::RParen, start + c.len_utf8()),
            ',' | '，' => (Tok::Comma, start + c.len_utf8()),
            '=' => (Tok::Eq, start + 1),
            '!' if self.byte_at(start + 1) == Some(b'=') => (Tok::Ne, start + 2),
            '<' => match self.byte_at(start + 1) {
                Some(b'=') => (Tok::Le, start + 2),
                Some(b'>') => (Tok::Ne, start + 2),
                _ => (Tok::Lt, start + 1),
            },
            '>' => match self.byte_at(start + 1) {
                Some(b'=') => (Tok::Ge, start + 2),
                _ => (Tok::Gt, start + 1),
            },
            '"' | '“' => {
                let (s, end) = self.quoted(start, if c == '"' { '"' } else { '”' })?;
                (Tok::Quoted(s), end)
            }
            '`' => {
                let (s, end) = self.backtick(start)?;
                (Tok::Backtick(s), end)
            }
            '@' => self.segment(start)?,
            '+' | '-' if self.digit_at(start + 1) => self.number(start)?,
            '0'..='9' => self.number(start)?,
            c if is_ident_start(c) => {
                let end = self.scan_ident(start);
                let word = self.slice(start, end);
                let tok = match Keyword::lookup(word) {
                    Some(kw) => Tok::Keyword(kw),
                    None => Tok::Ident(word.to_owned()),
                };
                (tok, end)
            }
            c => return Err(self.unknown_char(start, c)),
        };
        self.pos = end;
        Ok(Token { tok, start, end })
    }

    fn unknown_char(&self, at: usize, c: char) -> QuerySyntaxError {
        let shown = snippet(c.encode_utf8(&mut [0; 4]));
        let hint = match c {
            '!' => " (did you mean `!=`?)",
            '.' if self.digit_at(at + 1) => " (numbers need a leading digit, e.g. 0.5)",
            '\'' => " (strings use double quotes: \"...\")",
            '&' | '|' => " (use AND / OR)",
            _ => "",
        };
        self.err(at, format!("unexpected character `{shown}`{hint}"), format!("`{shown}`"))
    }

    fn scan_ident(&self, start: usize) -> usize {
        let mut i = start;
        while let Some(c) = self.char_at(i) {
            if !is_ident_continue(c) {
                break;
            }
            i += c.len_utf8();
        }
        i
    }

    /// `"..."` (or `“...”`) starting at `start`; returns the unescaped text and
    /// end offset.
    fn quoted(&self, start: usize, close: char) -> LexResult<(String, usize)> {
        let unterminated =
            || self.err(start, format!("unterminated string: missing closing `{close}`"), "end of line".to_owned());
        let mut out = String::new();
        let mut i = start + self.char_at(start).map_or(1, char::len_utf8);
        loop {
            let Some(c) = self.char_at(i) else {
                return Err(unterminated());
            };
            match c {
                c if c == close => return Ok((out, i + c.len_utf8())),
                // A raw line break almost always means a forgotten quote.
                '\n' | '\r' => return Err(unterminated()),
                '\\' => {
                    if matches!(self.char_at(i + 1), None | Some('\n' | '\r')) {
                        return Err(unterminated());
                    }
                    let (ch, next) = self.escape(i)?;
                    out.push(ch);
                    i = next;
                }
                c => {
                    out.push(c);
                    i += c.len_utf8();
                }
            }
        }
    }

    /// Escape sequence at `at` (the backslash): `\" \\ \n \t \r \u{X..}`.
    fn escape(&self, at: usize) -> LexResult<(char, usize)> {
        let simple = match self.char_at(at + 1) {
            Some('"') => '"',
            Some('\\') => '\\',
            Some('n') => '\n',
            Some('t') => '\t',
            Some('r') => '\r',
            Some('u') => return self.unicode_escape(at),
            other => {
                // The caller has ruled out end of input and line breaks.
                let shown = snippet(&format!("\\{}", other.unwrap_or(' ')));
                return Err(self.err(
                    at,
                    format!("invalid escape sequence `{shown}` (valid: \\\" \\\\ \\n \\t \\r \\u{{XXXX}})"),
                    format!("`{shown}`"),
                ));
            }
        };
        Ok((simple, at + 2))
    }

    fn unicode_escape(&self, at: usize) -> LexResult<(char, usize)> {
        let bad = |why: &str| {
            let end =
                (at + 2..self.src.len().min(at + 12)).rev().find(|&e| self.src.is_char_boundary(e)).unwrap_or(at + 2);
            let shown = snippet(self.slice(at, end));
            self.err(at, format!("invalid unicode escape `{shown}`: {why}"), format!("`{shown}`"))
        };
        if self.byte_at(at + 2) != Some(b'{') {
            return Err(bad("expected \\u{XXXX}"));
        }
        let mut value: u32 = 0;
        let mut i = at + 3;
        let mut n = 0;
        while let Some(d) = self.byte_at(i).and_then(|b| char::from(b).to_digit(16)) {
            if n == 6 {
                return Err(bad("at most 6 hex digits"));
            }
            value = value * 16 + d;
            n += 1;
            i += 1;
        }
        if n == 0 || self.byte_at(i) != Some(b'}') {
            return Err(bad("expected 1-6 hex digits then `}`"));
        }
        match char::from_u32(value) {
            Some(c) => Ok((c, i + 1)),
            None => Err(bad("not a Unicode scalar value")),
        }
    }

    /// `` `...` `` with ``` `` ``` standing for one backtick; no other escapes.
    fn backtick(&self, start: usize) -> LexResult<(String, usize)> {
        let mut out = String::new();
        let mut i = start + 1;
        loop {
            match self.char_at(i) {
                Some('`') if self.byte_at(i + 1) == Some(b'`') => {
                    out.push('`');
                    i += 2;
                }
                Some('`') => return Ok((out, i + 1)),
                Some(c) if c != '\n' && c != '\r' => {
                    out.push(c);
                    i += c.len_utf8();
                }
                _ => {
                    return Err(self.err(
                        start,
                        "unterminated quoted name: missing closing backtick".to_owned(),
                        "end of line".to_owned(),
                    ))
                }
            }
        }
    }

    fn segment(&self, start: usize) -> LexResult<(Tok, usize)> {
        let i = start + 1;
        match self.char_at(i) {
            Some('"') => self.quoted(i, '"').map(|(s, end)| (Tok::Segment(s), end)),
            Some('`') => self.backtick(i).map(|(s, end)| (Tok::Segment(s), end)),
            // Keywords are fine here: the `@` already disambiguates.
            Some(c) if is_ident_start(c) => {
                let end = self.scan_ident(i);
                Ok((Tok::Segment(self.slice(i, end).to_owned()), end))
            }
            _ => Err(QuerySyntaxError::new(
                self.src,
                start,
                "expected a segment name after `@` (write @name or @\"quoted name\")",
                vec!["segment name".to_owned()],
                self.found_at(i),
            )),
        }
    }

    fn found_at(&self, i: usize) -> String {
        match self.char_at(i) {
            None => "end of input".to_owned(),
            Some(c) => format!("`{}`", snippet(c.encode_utf8(&mut [0; 4]))),
        }
    }

    /// The literal-looking run starting at `start`, for error messages.
    fn extent(&self, start: usize) -> String {
        let mut i = start;
        while let Some(c) = self.char_at(i) {
            if c.is_whitespace() || matches!(c, '(' | ')' | ',' | '"' | '`' | '（' | '）' | '，' | '“' | '”') {
                break;
            }
            i += c.len_utf8();
        }
        snippet(self.slice(start, i))
    }

    fn bad_literal(&self, start: usize, what: &str) -> QuerySyntaxError {
        let text = self.extent(start);
        self.err(start, format!("{what} `{text}`"), format!("`{text}`"))
    }

    /// Literals must not run straight into an identifier (`25abc`, `1.5.2`).
    fn check_literal_end(&self, start: usize, end: usize, what: &str) -> LexResult<()> {
        match self.char_at(end) {
            Some(c) if is_ident_continue(c) => Err(self.bad_literal(start, what)),
            _ => Ok(()),
        }
    }

    /// Integer, float, date or timestamp starting at `start` (maybe a sign).
    fn number(&self, start: usize) -> LexResult<(Tok, usize)> {
        let signed = matches!(self.byte_at(start), Some(b'+' | b'-'));
        let digits_start = start + usize::from(signed);
        let mut i = self.skip_digits(digits_start);
        if self.byte_at(i) == Some(b'-') && self.digit_at(i + 1) {
            if signed || i - digits_start != 4 {
                return Err(self.bad_literal(start, "invalid date (expected YYYY-MM-DD)"));
            }
            return self.datetime(start);
        }
        let mut is_float = false;
        if self.byte_at(i) == Some(b'.') {
            if !self.digit_at(i + 1) {
                return Err(self.bad_literal(start, "invalid number (expected a digit after `.`)"));
            }
            i = self.skip_digits(i + 1);
            is_float = true;
        }
        if matches!(self.byte_at(i), Some(b'e' | b'E')) {
            let mut j = i + 1;
            if matches!(self.byte_at(j), Some(b'+' | b'-')) {
                j += 1;
            }
            if !self.digit_at(j) {
                return Err(self.bad_literal(start, "invalid number (expected exponent digits)"));
            }
            i = self.skip_digits(j);
            is_float = true;
        }
        self.check_literal_end(start, i, "invalid number")?;
        let text = self.slice(start, i);
        let tok = if is_float {
            match text.parse::<f64>() {
                Ok(x) if x.is_finite() => Tok::Float(x),
                _ => return Err(self.bad_literal(start, "float literal out of range")),
            }
        } else {
            match text.parse::<i64>() {
                Ok(n) => Tok::Int(n),
                Err(_) => return Err(self.bad_literal(start, "integer literal out of 64-bit range")),
            }
        };
        Ok((tok, i))
    }

    /// Exactly `n` ASCII digits at `i`.
    fn fixed_digits(&self, i: usize, n: usize) -> Option<u32> {
        (i..i + n)
            .try_fold(0u32, |acc, k| self.byte_at(k).filter(u8::is_ascii_digit).map(|b| acc * 10 + u32::from(b - b'0')))
    }

    fn expect_byte(&self, i: usize, b: u8) -> Option<()> {
        (self.byte_at(i) == Some(b)).then_some(())
    }

    /// `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SS[.f{1,9}][Z|±HH:MM]` at `start`.
    /// A timestamp without offset is taken as UTC.
    fn datetime(&self, start: usize) -> LexResult<(Tok, usize)> {
        const FORMAT: &str = "invalid date/time (expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS[.ffffff][Z|+HH:MM])";
        let bad = || self.bad_literal(start, FORMAT);
        let invalid = |why: String| {
            let text = self.extent(start);
            self.err(start, format!("invalid date/time `{text}`: {why}"), format!("`{text}`"))
        };

        let parts = (|| {
            let y = self.fixed_digits(start, 4)?;
            self.expect_byte(start + 4, b'-')?;
            let m = self.fixed_digits(start + 5, 2)?;
            self.expect_byte(start + 7, b'-')?;
            let d = self.fixed_digits(start + 8, 2)?;
            Some((i64::from(y), m, d))
        })();
        let (y, m, d) = parts.ok_or_else(bad)?;
        if !(1..=12).contains(&m) {
            return Err(invalid(format!("month {m:02} is not in 01-12")));
        }
        let dim = days_in_month(y, m);
        if d == 0 || d > dim {
            return Err(invalid(format!("day {d:02} is not in 01-{dim} for {y:04}-{m:02}")));
        }
        let days = days_from_civil(y, m, d);
        let mut i = start + 10;
        if !(matches!(self.byte_at(i), Some(b'T' | b't')) && self.digit_at(i + 1)) {
            self.check_literal_end(start, i, "invalid date")?;
            // Years 0000-9999 are far inside i32 days.
            return Ok((Tok::Date(days as i32), i));
        }

        i += 1;
        let time = (|| {
            let hh = self.fixed_digits(i, 2)?;
            self.expect_byte(i + 2, b':')?;
            let mm = self.fixed_digits(i + 3, 2)?;
            self.expect_byte(i + 5, b':')?;
            let ss = self.fixed_digits(i + 6, 2)?;
            Some((hh, mm, ss))
        })();
        let (hh, mm, ss) = time.ok_or_else(bad)?;
        i += 8;

        let mut micros: i64 = 0;
        if self.byte_at(i) == Some(b'.') {
            let end = self.skip_digits(i + 1);
            let n = end - (i + 1);
            if n == 0 || n > 9 {
                return Err(bad());
            }
            // Keep microsecond precision; extra digits are truncated.
            for k in 0..6 {
                let digit = match self.byte_at(i + 1 + k) {
                    Some(b) if k < n => i64::from(b - b'0'),
                    _ => 0,
                };
                micros = micros * 10 + digit;
            }
            i = end;
        }

        let mut offset_secs: i64 = 0;
        match self.byte_at(i) {
            Some(b'Z' | b'z') => i += 1,
            Some(sign @ (b'+' | b'-')) => {
                let off = (|| {
                    let oh = self.fixed_digits(i + 1, 2)?;
                    self.expect_byte(i + 3, b':')?;
                    let om = self.fixed_digits(i + 4, 2)?;
                    Some((oh, om))
                })();
                let (oh, om) = off.ok_or_else(bad)?;
                if oh > 23 || om > 59 {
                    return Err(invalid(format!("UTC offset {oh:02}:{om:02} is out of range")));
                }
                offset_secs = i64::from(oh * 3600 + om * 60);
                if sign == b'-' {
                    offset_secs = -offset_secs;
                }
                i += 6;
            }
            _ => {}
        }
        if hh > 23 || mm > 59 || ss > 59 {
            return Err(invalid(format!("time {hh:02}:{mm:02}:{ss:02} is out of range")));
        }
        self.check_literal_end(start, i, "invalid timestamp")?;
        // Local time minus its UTC offset gives UTC.
        let secs = i64::from(hh * 3600 + mm * 60 + ss) - offset_secs;
        let ts = days * MICROS_PER_DAY + secs * 1_000_000 + micros;
        Ok((Tok::Timestamp(ts), i))
    }
}
