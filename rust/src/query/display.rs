//! Canonical printing: `Display` output parses back to an equal tree.
//!
//! Keywords are uppercase, names are bare when possible and otherwise
//! `"quoted"`, and parentheses are minimal for precedence
//! NOT > AND > XOR > OR. A child with the same operator as its parent is
//! parenthesised, so nesting that the parser would have flattened survives.

use std::fmt::{self, Write};

use super::ast::{civil_from_days, Compare, Expr, Literal, TimeUnit, MICROS_PER_DAY};
use super::lexer::is_bare_name;
use crate::events::{Condition, Measure, Window};
use crate::syntax::is_bidi_control;

const PREC_OR: u8 = 1;
const PREC_XOR: u8 = 2;
const PREC_AND: u8 = 3;
const PREC_NOT: u8 = 4;
const PREC_ATOM: u8 = 5;

/// Writes `s` as a `"..."` string with escapes (control and bidi characters
/// as `\u{..}`), valid both as a string literal and a quoted name.
pub fn write_quoted<W: Write>(w: &mut W, s: &str) -> fmt::Result {
    w.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => w.write_str("\\\"")?,
            '\\' => w.write_str("\\\\")?,
            '\n' => w.write_str("\\n")?,
            '\t' => w.write_str("\\t")?,
            '\r' => w.write_str("\\r")?,
            c if c.is_control() || is_bidi_control(c) => write!(w, "\\u{{{:x}}}", u32::from(c))?,
            c => w.write_char(c)?,
        }
    }
    w.write_char('"')
}

/// Writes a tag/attribute/segment name, bare if it is a non-keyword identifier.
pub fn write_name<W: Write>(w: &mut W, name: &str) -> fmt::Result {
    if is_bare_name(name) {
        w.write_str(name)
    } else {
        write_quoted(w, name)
    }
}

/// `s` as a quoted, escaped string.
pub fn quote_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    let _ = write_quoted(&mut out, s); // writing to a String cannot fail
    out
}

/// `name` as it appears in canonical text.
pub fn format_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    let _ = write_name(&mut out, name);
    out
}

impl fmt::Display for Compare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

impl fmt::Display for TimeUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeUnit::Days => "DAYS",
            TimeUnit::Hours => "HOURS",
            TimeUnit::Minutes => "MINUTES",
        })
    }
}

/// Shortest text that parses back to the same `f64` *as a float*: Rust's
/// `Debug` is round-trip exact and always has a `.` or exponent (`1.0`,
/// `1e300`). NaN/infinity cannot come from the parser; they print as
/// `NaN`/`inf`/`-inf`, which do not parse.
fn write_float<W: Write>(w: &mut W, x: f64) -> fmt::Result {
    let s = format!("{x:?}");
    w.write_str(&s)?;
    if x.is_finite() && !s.contains(['.', 'e', 'E']) {
        w.write_str(".0")?;
    }
    Ok(())
}

fn write_date<W: Write>(w: &mut W, days: i64) -> fmt::Result {
    let (y, m, d) = civil_from_days(days);
    write!(w, "{y:04}-{m:02}-{d:02}")
}

fn write_timestamp<W: Write>(w: &mut W, micros: i64) -> fmt::Result {
    write_date(w, micros.div_euclid(MICROS_PER_DAY))?;
    let of_day = micros.rem_euclid(MICROS_PER_DAY);
    let secs = of_day / 1_000_000;
    let frac = of_day % 1_000_000;
    write!(w, "T{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)?;
    if frac != 0 {
        write!(w, ".{frac:06}")?;
    }
    w.write_char('Z')
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Str(s) => write_quoted(f, s),
            Literal::Int(n) => write!(f, "{n}"),
            Literal::Float(x) => write_float(f, *x),
            Literal::Bool(true) => f.write_str("TRUE"),
            Literal::Bool(false) => f.write_str("FALSE"),
            Literal::Date(d) => write_date(f, i64::from(*d)),
            Literal::Timestamp(t) => write_timestamp(f, *t),
        }
    }
}

/// WITHIN amount: integral values as integers (`30`), others as floats.
/// Below 2^53 an integer re-parses to exactly the same f64.
fn write_amount<W: Write>(w: &mut W, x: f64) -> fmt::Result {
    if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e15 {
        write!(w, "{}", x as i64)
    } else {
        write_float(w, x)
    }
}

/// Binding strength of `e` as printed. Single-child n-ary nodes print as
/// their child; empty ones as `ALL` (AND) or `NOT ALL` (OR/XOR), their
/// identities. The parser never produces either shape.
fn prec(mut e: &Expr) -> u8 {
    loop {
        match e {
            Expr::And(v) | Expr::Or(v) | Expr::Xor(v) => match (e, v.as_slice()) {
                (_, [only]) => e = only,
                (Expr::And(_), []) => return PREC_ATOM,
                (_, []) => return PREC_NOT,
                (Expr::Or(_), _) => return PREC_OR,
                (Expr::Xor(_), _) => return PREC_XOR,
                _ => return PREC_AND,
            },
            Expr::Not(_) => return PREC_NOT,
            _ => return PREC_ATOM,
        }
    }
}

/// Writes `e`, parenthesised if it binds less tightly than `min`.
fn write_child(f: &mut fmt::Formatter<'_>, e: &Expr, min: u8) -> fmt::Result {
    if prec(e) < min {
        f.write_char('(')?;
        write_expr(f, e)?;
        f.write_char(')')
    } else {
        write_expr(f, e)
    }
}

fn write_nary(f: &mut fmt::Formatter<'_>, terms: &[Expr], sep: &str, level: u8, empty: &str) -> fmt::Result {
    match terms {
        [] => f.write_str(empty),
        [only] => write_expr(f, only),
        _ => {
            for (i, t) in terms.iter().enumerate() {
                if i > 0 {
                    f.write_str(sep)?;
                }
                // Same level needs parentheses too, or it would be flattened.
                write_child(f, t, level + 1)?;
            }
            Ok(())
        }
    }
}

fn write_expr(f: &mut fmt::Formatter<'_>, e: &Expr) -> fmt::Result {
    match e {
        Expr::All => f.write_str("ALL"),
        Expr::Tag(name) => write_name(f, name),
        Expr::Segment(name) => {
            f.write_char('@')?;
            write_name(f, name)
        }
        Expr::Cmp { attr, op, value } => {
            write_name(f, attr)?;
            write!(f, " {op} {value}")
        }
        Expr::In { attr, values, negated } => {
            write_name(f, attr)?;
            f.write_str(if *negated { " NOT IN (" } else { " IN (" })?;
            for (i, v) in values.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{v}")?;
            }
            f.write_char(')')
        }
        Expr::Between { attr, low, high, negated } => {
            write_name(f, attr)?;
            let kw = if *negated { "NOT BETWEEN" } else { "BETWEEN" };
            write!(f, " {kw} {low} AND {high}")
        }
        Expr::IsNull { attr, negated } => {
            write_name(f, attr)?;
            f.write_str(if *negated { " IS NOT NULL" } else { " IS NULL" })
        }
        Expr::Within { attr, amount, unit } => {
            write_name(f, attr)?;
            f.write_str(" WITHIN ")?;
            write_amount(f, *amount)?;
            write!(f, " {unit}")
        }
        Expr::Behaviour(condition) => write_behaviour(f, condition),
        Expr::Not(inner) => {
            f.write_str("NOT ")?;
            write_child(f, inner, PREC_NOT)
        }
        Expr::And(terms) => write_nary(f, terms, " AND ", PREC_AND, "ALL"),
        Expr::Xor(terms) => write_nary(f, terms, " XOR ", PREC_XOR, "NOT ALL"),
        Expr::Or(terms) => write_nary(f, terms, " OR ", PREC_OR, "NOT ALL"),
    }
}

fn write_behaviour(f: &mut fmt::Formatter<'_>, c: &Condition) -> fmt::Result {
    f.write_str(if c.first { "FIRST " } else { "DID " })?;
    write_name(f, &c.event)?;
    match &c.measure {
        Measure::Once => {}
        Measure::Times(op, n) => write!(f, " {} {n} TIMES", op.symbol())?,
        Measure::Days(op, n) => write!(f, " ON {} {n} DAYS", op.symbol())?,
        Measure::Total { column, op, value } => {
            f.write_str(" TOTAL ")?;
            write_name(f, column)?;
            write!(f, " {} ", op.symbol())?;
            write_amount(f, *value)?;
        }
    }
    match c.window {
        Window::Last(n) => write!(f, " WITHIN {n} DAYS"),
        Window::Between(a, b) => {
            f.write_str(" BETWEEN ")?;
            write_date(f, i64::from(a))?;
            f.write_str(" AND ")?;
            write_date(f, i64::from(b))
        }
        Window::Ever => f.write_str(" EVER"),
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_expr(f, self)
    }
}
