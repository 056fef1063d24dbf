//! Parser. Boolean structure is parsed iteratively with an explicit stack of
//! parenthesis frames, so hostile nesting cannot overflow the native stack;
//! predicates are flat and parsed directly.

use super::ast::{Compare, Expr, Literal, NameKind, NameRef, Span, TimeUnit};
use super::display::quote_str;
use super::lexer::{Keyword, Lexer, Tok, Token};
use crate::events::{Condition, Measure, Window};
use crate::syntax::{snippet, QuerySyntaxError};

/// Maximum nesting of parentheses plus pending `NOT`s.
pub const MAX_DEPTH: usize = 256;

const OPERAND: &[&str] = &["tag name", "\"(\"", "NOT", "ALL", "@segment"];
const LITERAL: &[&str] = &["a literal"];

type PResult<T> = Result<T, QuerySyntaxError>;

/// Parses a query into its syntax tree.
pub fn parse(text: &str) -> PResult<Expr> {
    parse_with_spans(text).map(|(expr, _)| expr)
}

/// Parses a query and also returns every tag, attribute and segment name
/// with its source span, in source order.
pub fn parse_with_spans(text: &str) -> PResult<(Expr, Vec<NameRef>)> {
    Parser { lx: Lexer::new(text), names: Vec::new() }.run()
}

/// Operands collected inside one pair of parentheses (or the top level).
/// Three levels of lists implement precedence AND > XOR > OR and make a chain
/// of one operator a single n-ary node, while a parenthesised group stays a
/// separate node.
#[derive(Default)]
struct Frame {
    /// Byte offset of the `(` (0 for the top level).
    open: usize,
    /// `NOT`s seen since the last operand; they apply to the next one.
    nots: usize,
    and_terms: Vec<Expr>,
    xor_terms: Vec<Expr>,
    or_terms: Vec<Expr>,
}

fn collapse(mut terms: Vec<Expr>, make: fn(Vec<Expr>) -> Expr) -> Expr {
    if terms.len() == 1 {
        if let Some(only) = terms.pop() {
            return only;
        }
    }
    make(terms)
}

impl Frame {
    fn new(open: usize) -> Self {
        Frame { open, ..Frame::default() }
    }

    /// Adds an operand, wrapped in the pending NOTs; returns how many.
    fn push(&mut self, mut expr: Expr) -> usize {
        let nots = std::mem::take(&mut self.nots);
        for _ in 0..nots {
            expr = Expr::Not(Box::new(expr));
        }
        self.and_terms.push(expr);
        nots
    }

    fn close_and(&mut self) {
        let terms = std::mem::take(&mut self.and_terms);
        self.xor_terms.push(collapse(terms, Expr::And));
    }

    fn close_xor(&mut self) {
        self.close_and();
        let terms = std::mem::take(&mut self.xor_terms);
        self.or_terms.push(collapse(terms, Expr::Xor));
    }

    fn finish(mut self) -> Expr {
        self.close_xor();
        collapse(self.or_terms, Expr::Or)
    }
}

struct Parser<'a> {
    lx: Lexer<'a>,
    names: Vec<NameRef>,
}

impl Parser<'_> {
    fn run(mut self) -> PResult<(Expr, Vec<NameRef>)> {
        let mut cur = Frame::new(0);
        let mut parents: Vec<Frame> = Vec::new();
        // Open parentheses plus pending NOTs, in all frames.
        let mut depth = 0usize;
        loop {
            // Operand position.
            let tok = self.lx.next_token()?;
            let (operand, mut after_name) = match &tok.tok {
                Tok::Keyword(Keyword::Not) => {
                    depth += 1;
                    self.check_depth(depth, &tok)?;
                    cur.nots += 1;
                    continue;
                }
                Tok::LParen => {
                    depth += 1;
                    self.check_depth(depth, &tok)?;
                    parents.push(std::mem::replace(&mut cur, Frame::new(tok.start)));
                    continue;
                }
                Tok::Keyword(Keyword::All) => (Expr::All, false),
                Tok::Segment(name) => {
                    self.record(NameKind::Segment, name, &tok)?;
                    (Expr::Segment(name.clone()), false)
                }
                Tok::Ident(name) | Tok::Quoted(name) | Tok::Backtick(name) => (self.name_operand(name, &tok)?, true),
                Tok::Keyword(_) => return Err(self.keyword_as_name(&tok)),
                _ => return Err(self.unexpected(&tok, OPERAND)),
            };
            depth = depth.saturating_sub(cur.push(operand));

            // Operator position.
            loop {
                let tok = self.lx.next_token()?;
                match tok.tok {
                    Tok::Keyword(Keyword::And) => break,
                    Tok::Keyword(Keyword::Xor) => {
                        cur.close_and();
                        break;
                    }
                    Tok::Keyword(Keyword::Or) => {
                        cur.close_xor();
                        break;
                    }
                    Tok::RParen if !parents.is_empty() => {
                        if let Some(parent) = parents.pop() {
                            let inner = std::mem::replace(&mut cur, parent);
                            depth = depth.saturating_sub(1);
                            depth = depth.saturating_sub(cur.push(inner.finish()));
                        }
                        after_name = false;
                    }
                    Tok::Eof if parents.is_empty() => {
                        return Ok((cur.finish(), std::mem::take(&mut self.names)));
                    }
                    _ => return Err(self.after_operand_error(&tok, &cur, &parents, after_name)),
                }
            }
        }
    }

    fn check_depth(&self, depth: usize, tok: &Token) -> PResult<()> {
        if depth <= MAX_DEPTH {
            return Ok(());
        }
        Err(QuerySyntaxError::new(
            self.lx.source(),
            tok.start,
            format!("query nests too deeply (more than {MAX_DEPTH} levels of parentheses/NOT)"),
            Vec::new(),
            self.describe(tok),
        ))
    }

    fn describe(&self, tok: &Token) -> String {
        if tok.tok == Tok::Eof {
            return "end of input".to_owned();
        }
        let text = self.lx.source().get(tok.start..tok.end).unwrap_or("");
        format!("`{}`", snippet(text))
    }

    fn error(&self, tok: &Token, message: String, expected: &[&str]) -> QuerySyntaxError {
        QuerySyntaxError::new(
            self.lx.source(),
            tok.start,
            message,
            expected.iter().map(|s| (*s).to_owned()).collect(),
            self.describe(tok),
        )
    }

    fn unexpected(&self, tok: &Token, expected: &[&str]) -> QuerySyntaxError {
        self.error(tok, format!("unexpected {}", self.describe(tok)), expected)
    }

    fn keyword_as_name(&self, tok: &Token) -> QuerySyntaxError {
        let word = self.lx.source().get(tok.start..tok.end).unwrap_or("");
        self.error(
            tok,
            format!("unexpected keyword `{word}` (to use it as a name, quote it: {})", quote_str(word)),
            OPERAND,
        )
    }

    fn after_operand_error(&self, tok: &Token, cur: &Frame, parents: &[Frame], after_name: bool) -> QuerySyntaxError {
        let mut expected = vec!["AND", "OR", "XOR"];
        if parents.is_empty() {
            expected.push("end of input");
        } else {
            expected.push("\")\"");
        }
        if after_name {
            expected.push("comparison operator");
        }
        let message = if tok.tok == Tok::Eof && !parents.is_empty() {
            let open = QuerySyntaxError::new(self.lx.source(), cur.open, "", Vec::new(), "");
            format!("unexpected end of input: \"(\" at line {}, column {} is not closed", open.line, open.column)
        } else {
            format!("unexpected {}", self.describe(tok))
        };
        self.error(tok, message, &expected)
    }

    /// Records a name occurrence; empty names are rejected here.
    fn record(&mut self, kind: NameKind, name: &str, tok: &Token) -> PResult<()> {
        if name.is_empty() {
            return Err(self.error(tok, "empty name".to_owned(), &[]));
        }
        self.names.push(NameRef { kind, name: name.to_owned(), span: Span { start: tok.start, end: tok.end } });
        Ok(())
    }

    /// A name in operand position: an attribute predicate if a comparison
    /// operator follows, otherwise a tag.
    fn name_operand(&mut self, name: &str, tok: &Token) -> PResult<Expr> {
        if name.is_empty() {
            return Err(self.error(tok, "empty name".to_owned(), &[]));
        }
        // `DID` and `FIRST` are words, not keywords: they start a behaviour
        // condition only when an event name follows (a tag may be called "first").
        let behaviour = ["DID", "FIRST"].iter().find(|w| w.eq_ignore_ascii_case(name));
        if let (Tok::Ident(_), Some(word)) = (&tok.tok, behaviour) {
            if matches!(self.lx.peek()?.tok, Tok::Ident(_) | Tok::Quoted(_) | Tok::Backtick(_)) {
                return self.behaviour(*word == "FIRST");
            }
        }
        let is_predicate = matches!(
            self.lx.peek()?.tok,
            Tok::Eq
                | Tok::Ne
                | Tok::Lt
                | Tok::Le
                | Tok::Gt
                | Tok::Ge
                | Tok::Keyword(Keyword::In | Keyword::Not | Keyword::Between | Keyword::Is | Keyword::Within)
        );
        if !is_predicate {
            self.record(NameKind::Tag, name, tok)?;
            return Ok(Expr::Tag(name.to_owned()));
        }
        self.record(NameKind::Attribute, name, tok)?;
        self.predicate(name.to_owned())
    }

    fn predicate(&mut self, attr: String) -> PResult<Expr> {
        let op = self.lx.next_token()?;
        let cmp = match op.tok {
            Tok::Eq => Compare::Eq,
            Tok::Ne => Compare::Ne,
            Tok::Lt => Compare::Lt,
            Tok::Le => Compare::Le,
            Tok::Gt => Compare::Gt,
            Tok::Ge => Compare::Ge,
            Tok::Keyword(Keyword::In) => {
                let values = self.list()?;
                return Ok(Expr::In { attr, values, negated: false });
            }
            Tok::Keyword(Keyword::Between) => return self.between(attr, false),
            Tok::Keyword(Keyword::Not) => {
                let next = self.lx.next_token()?;
                return match next.tok {
                    Tok::Keyword(Keyword::In) => {
                        let values = self.list()?;
                        Ok(Expr::In { attr, values, negated: true })
                    }
                    Tok::Keyword(Keyword::Between) => self.between(attr, true),
                    _ => Err(self.unexpected(&next, &["IN", "BETWEEN"])),
                };
            }
            Tok::Keyword(Keyword::Is) => {
                let next = self.lx.next_token()?;
                let negated = match next.tok {
                    Tok::Keyword(Keyword::Null) => false,
                    Tok::Keyword(Keyword::Not) => {
                        let null = self.lx.next_token()?;
                        if null.tok != Tok::Keyword(Keyword::Null) {
                            return Err(self.unexpected(&null, &["NULL"]));
                        }
                        true
                    }
                    _ => return Err(self.unexpected(&next, &["NOT", "NULL"])),
                };
                return Ok(Expr::IsNull { attr, negated });
            }
            Tok::Keyword(Keyword::Within) => return self.within(attr),
            // Unreachable given the caller's peek, but stay total.
            _ => return Err(self.unexpected(&op, &["comparison operator"])),
        };
        let value = self.literal()?;
        Ok(Expr::Cmp { attr, op: cmp, value })
    }

    fn literal(&mut self) -> PResult<Literal> {
        let tok = self.lx.next_token()?;
        match tok.tok {
            Tok::Quoted(s) => Ok(Literal::Str(s)),
            Tok::Int(n) => Ok(Literal::Int(n)),
            Tok::Float(x) => Ok(Literal::Float(x)),
            Tok::Date(d) => Ok(Literal::Date(d)),
            Tok::Timestamp(t) => Ok(Literal::Timestamp(t)),
            Tok::Keyword(Keyword::True) => Ok(Literal::Bool(true)),
            Tok::Keyword(Keyword::False) => Ok(Literal::Bool(false)),
            Tok::Keyword(Keyword::Null) => Err(self.error(
                &tok,
                "NULL is not a value; test for it with `IS NULL` / `IS NOT NULL`".to_owned(),
                LITERAL,
            )),
            Tok::Ident(ref name) => Err(self.error(
                &tok,
                format!(
                    "unexpected name `{}` (string values must be quoted, e.g. {})",
                    snippet(name),
                    snippet(&quote_str(name))
                ),
                LITERAL,
            )),
            _ => Err(self.unexpected(&tok, LITERAL)),
        }
    }

    /// `( literal {, literal} )`
    fn list(&mut self) -> PResult<Vec<Literal>> {
        let open = self.lx.next_token()?;
        if open.tok != Tok::LParen {
            return Err(self.unexpected(&open, &["\"(\""]));
        }
        let mut values = Vec::new();
        loop {
            values.push(self.literal()?);
            let sep = self.lx.next_token()?;
            match sep.tok {
                Tok::Comma => {}
                Tok::RParen => return Ok(values),
                _ => return Err(self.unexpected(&sep, &["\",\"", "\")\""])),
            }
        }
    }

    fn between(&mut self, attr: String, negated: bool) -> PResult<Expr> {
        let low_token = self.lx.peek()?.clone();
        let low = self.literal()?;
        let and = self.lx.next_token()?;
        if and.tok != Tok::Keyword(Keyword::And) {
            return Err(self.unexpected(&and, &["AND"]));
        }
        let high = self.literal()?;
        // `BETWEEN 35 AND 25` can match nobody: almost always swapped bounds.
        if literal_order(&low, &high) == Some(std::cmp::Ordering::Greater) {
            return Err(self.error(
                &low_token,
                format!(
                    "empty range: BETWEEN {low} AND {high} has its low end above its high end \
                     (did you mean BETWEEN {high} AND {low}?)"
                ),
                &[],
            ));
        }
        Ok(Expr::Between { attr, low, high, negated })
    }

    fn within(&mut self, attr: String) -> PResult<Expr> {
        const AMOUNT: &[&str] = &["a non-negative number"];
        let tok = self.lx.next_token()?;
        let amount = match tok.tok {
            Tok::Int(n) if n >= 0 => n as f64,
            Tok::Float(x) if x >= 0.0 => x,
            Tok::Int(_) | Tok::Float(_) => {
                return Err(self.error(&tok, "WITHIN needs a non-negative amount".to_owned(), AMOUNT))
            }
            _ => return Err(self.unexpected(&tok, AMOUNT)),
        };
        let tok = self.lx.next_token()?;
        let unit = match &tok.tok {
            Tok::Ident(word) => time_unit(word),
            _ => None,
        };
        match unit {
            Some(unit) => Ok(Expr::Within { attr, amount, unit }),
            None => Err(self.unexpected(&tok, &["DAYS", "HOURS", "MINUTES"])),
        }
    }
}

impl Parser<'_> {
    /// After `DID` or `FIRST`: `event [measure] window`.
    fn behaviour(&mut self, first: bool) -> PResult<Expr> {
        let tok = self.lx.next_token()?;
        let event = match &tok.tok {
            Tok::Ident(name) | Tok::Quoted(name) | Tok::Backtick(name) => name.clone(),
            _ => return Err(self.unexpected(&tok, &["event name"])),
        };
        self.record(NameKind::Event, &event, &tok)?;
        let measure_tok = self.lx.peek()?.clone();
        let measure = if first { Measure::Once } else { self.measure()? };
        let window = self.window()?;
        let condition = Condition { event, first, measure, window };
        if let Err(e) = condition.check() {
            return Err(self.error(&measure_tok, e.to_string(), &[]));
        }
        Ok(Expr::Behaviour(condition))
    }

    fn measure(&mut self) -> PResult<Measure> {
        let tok = self.lx.peek()?.clone();
        if let Tok::Ident(word) = &tok.tok {
            if word.eq_ignore_ascii_case("ON") {
                self.lx.next_token()?;
                let op = self.compare()?;
                let n = self.count()?;
                self.unit_word(&["DAYS", "DAY"])?;
                return Ok(Measure::Days(op, n));
            }
            if word.eq_ignore_ascii_case("TOTAL") {
                self.lx.next_token()?;
                let column = self.lx.next_token()?;
                let column = match column.tok {
                    Tok::Ident(name) | Tok::Quoted(name) | Tok::Backtick(name) => name,
                    _ => return Err(self.unexpected(&column, &["value column name"])),
                };
                let op = self.compare()?;
                let value = self.lx.next_token()?;
                let value = match value.tok {
                    Tok::Int(n) => n as f64,
                    Tok::Float(x) => x,
                    _ => return Err(self.unexpected(&value, &["a number"])),
                };
                return Ok(Measure::Total { column, op, value });
            }
            return Ok(Measure::Once);
        }
        if matches!(tok.tok, Tok::Eq | Tok::Ne | Tok::Lt | Tok::Le | Tok::Gt | Tok::Ge) {
            let op = self.compare()?;
            let n = self.count()?;
            self.unit_word(&["TIMES", "TIME"])?;
            return Ok(Measure::Times(op, n));
        }
        Ok(Measure::Once)
    }

    fn window(&mut self) -> PResult<Window> {
        let tok = self.lx.next_token()?;
        match &tok.tok {
            Tok::Keyword(Keyword::Within) => {
                let amount = self.lx.next_token()?;
                let days = match amount.tok {
                    Tok::Int(n) if n >= 1 => u32::try_from(n).unwrap_or(u32::MAX),
                    Tok::Int(_) => {
                        return Err(self.error(
                            &amount,
                            "a window needs at least 1 day: WITHIN 1 DAYS is as_of's day".to_owned(),
                            &["a positive whole number of days"],
                        ))
                    }
                    _ => return Err(self.unexpected(&amount, &["a positive whole number of days"])),
                };
                self.unit_word(&["DAYS", "DAY"])?;
                Ok(Window::Last(days))
            }
            Tok::Keyword(Keyword::Between) => {
                let low_tok = self.lx.peek()?.clone();
                let low = self.date()?;
                let and = self.lx.next_token()?;
                if and.tok != Tok::Keyword(Keyword::And) {
                    return Err(self.unexpected(&and, &["AND"]));
                }
                let high = self.date()?;
                if low > high {
                    return Err(self.error(
                        &low_tok,
                        "empty range: BETWEEN's first date is after its second".to_owned(),
                        &[],
                    ));
                }
                Ok(Window::Between(low, high))
            }
            Tok::Ident(word) if word.eq_ignore_ascii_case("EVER") => Ok(Window::Ever),
            _ => Err(self.unexpected(&tok, &["WITHIN", "BETWEEN", "EVER"])),
        }
    }

    fn date(&mut self) -> PResult<i32> {
        let tok = self.lx.next_token()?;
        match tok.tok {
            Tok::Date(d) => Ok(d),
            _ => Err(self.unexpected(&tok, &["a date (YYYY-MM-DD)"])),
        }
    }

    fn compare(&mut self) -> PResult<Compare> {
        let tok = self.lx.next_token()?;
        Ok(match tok.tok {
            Tok::Eq => Compare::Eq,
            Tok::Ne => Compare::Ne,
            Tok::Lt => Compare::Lt,
            Tok::Le => Compare::Le,
            Tok::Gt => Compare::Gt,
            Tok::Ge => Compare::Ge,
            _ => return Err(self.unexpected(&tok, &["comparison operator"])),
        })
    }

    fn count(&mut self) -> PResult<u64> {
        let tok = self.lx.next_token()?;
        match tok.tok {
            Tok::Int(n) if n >= 0 => Ok(n as u64),
            _ => Err(self.unexpected(&tok, &["a whole number"])),
        }
    }

    fn unit_word(&mut self, words: &[&str]) -> PResult<()> {
        let tok = self.lx.next_token()?;
        match &tok.tok {
            Tok::Ident(word) if words.iter().any(|w| w.eq_ignore_ascii_case(word)) => Ok(()),
            _ => Err(self.unexpected(&tok, &words[..1])),
        }
    }
}

fn time_unit(word: &str) -> Option<TimeUnit> {
    const UNITS: [(&str, TimeUnit); 6] = [
        ("DAYS", TimeUnit::Days),
        ("DAY", TimeUnit::Days),
        ("HOURS", TimeUnit::Hours),
        ("HOUR", TimeUnit::Hours),
        ("MINUTES", TimeUnit::Minutes),
        ("MINUTE", TimeUnit::Minutes),
    ];
    UNITS.iter().find(|(w, _)| w.eq_ignore_ascii_case(word)).map(|&(_, unit)| unit)
}

/// How two literals compare as range bounds; `None` when they are not of
/// comparable kinds (the binder reports type errors).
pub(crate) fn literal_order(a: &Literal, b: &Literal) -> Option<std::cmp::Ordering> {
    use super::ast::MICROS_PER_DAY;
    let micros = |days: i32| i64::from(days).checked_mul(MICROS_PER_DAY);
    match (a, b) {
        (Literal::Int(x), Literal::Int(y)) => Some(x.cmp(y)),
        (Literal::Int(x), Literal::Float(y)) => (*x as f64).partial_cmp(y),
        (Literal::Float(x), Literal::Int(y)) => x.partial_cmp(&(*y as f64)),
        (Literal::Float(x), Literal::Float(y)) => x.partial_cmp(y),
        (Literal::Date(x), Literal::Date(y)) => Some(x.cmp(y)),
        (Literal::Timestamp(x), Literal::Timestamp(y)) => Some(x.cmp(y)),
        (Literal::Date(x), Literal::Timestamp(y)) => Some(micros(*x)?.cmp(y)),
        (Literal::Timestamp(x), Literal::Date(y)) => Some(x.cmp(&micros(*y)?)),
        _ => None,
    }
}
