//! Syntax tree of the segment-query DSL, plus the civil-calendar helpers used
//! for date and timestamp literals.

/// A constant value on the right-hand side of a predicate.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// Days since 1970-01-01.
    Date(i32),
    /// Microseconds since 1970-01-01T00:00:00Z.
    Timestamp(i64),
}

/// Comparisons of attribute predicates are the same as behaviour counts'.
pub use crate::events::Compare;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeUnit {
    Days,
    Hours,
    Minutes,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// The universe of users.
    All,
    Tag(String),
    /// Reference to a saved segment (`@name`).
    Segment(String),
    Cmp {
        attr: String,
        op: Compare,
        value: Literal,
    },
    In {
        attr: String,
        values: Vec<Literal>,
        negated: bool,
    },
    Between {
        attr: String,
        low: Literal,
        high: Literal,
        negated: bool,
    },
    IsNull {
        attr: String,
        negated: bool,
    },
    Within {
        attr: String,
        amount: f64,
        unit: TimeUnit,
    },
    /// `DID event [measure] window` / `FIRST event window` (see `events::condition`).
    Behaviour(crate::events::Condition),
    Not(Box<Expr>),
    /// n-ary; a chain `a AND b AND c` parses to one node with three children.
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Xor(Vec<Expr>),
}

/// Byte range `start..end` in the query text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

/// What a name in the query refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NameKind {
    Tag,
    Attribute,
    Segment,
    /// An event name after `DID` / `FIRST`.
    Event,
}

/// One occurrence of a name, so later stages (binding, evaluation) can point
/// their errors at the source text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameRef {
    pub kind: NameKind,
    /// The name after unquoting/unescaping.
    pub name: String,
    /// Span of the whole token, quotes (and the `@` of a segment) included.
    pub span: Span,
}

pub const MICROS_PER_DAY: i64 = 86_400_000_000;

pub fn is_leap_year(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

/// Days in month `m` (1-12) of year `y`; 0 for an invalid month.
pub fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of the proleptic Gregorian date `y-m-d`
/// (H. Hinnant's `days_from_civil`). Computed in i128 so no input overflows;
/// the result is only meaningful for valid dates.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = i128::from(y) - i128::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400; // [0, 399]
    let mp = (i128::from(m) + 9) % 12; // March = 0
    let doy = (153 * mp + 2) / 5 + i128::from(d) - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    (era * 146_097 + doe - 719_468) as i64
}

/// Inverse of [`days_from_civil`]: `(year, month, day)` for days since the epoch.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = i128::from(z) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i128::from(m <= 2);
    (y as i64, m as u32, d as u32)
}
