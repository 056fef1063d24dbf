//! Static findings about a query, without running it: contradictions (parts
//! that can match nobody), tautologies (parts that match everyone), redundant
//! terms, and, given a store, names whose audience is empty or unknown.
//!
//! The analysis is sound for emptiness: when it calls a query (or part of
//! one) empty, no store can give it a user. It is deliberately incomplete:
//! it reasons about one `AND` or `OR` at a time, about predicates on one
//! attribute with literals of one kind, and about behaviour conditions on one
//! event, and says nothing where it is unsure (floats in equality sets, mixed
//! literal kinds, `BETWEEN` windows against `EVER`).
//!
//! Positions: every name-bearing leaf recorded one [`NameRef`] in source
//! order, so walking the tree in order pairs each leaf with its span; a
//! node's span runs from its first leaf to its last.

use std::cmp::Ordering;

use super::ast::{Compare, Expr, Literal, NameKind, NameRef, Span};
use crate::events::{Condition, Measure, Window};
use crate::store::Store;

/// What a finding says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A part that can match nobody.
    Contradiction,
    /// A part that matches every user.
    Tautology,
    /// A term the rest already implies (or repeats).
    Redundant,
    /// A name whose audience in the store is empty.
    EmptyName,
    /// A name the store does not hold.
    UnknownName,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Contradiction => "contradiction",
            Kind::Tautology => "tautology",
            Kind::Redundant => "redundant",
            Kind::EmptyName => "empty name",
            Kind::UnknownName => "unknown name",
        }
    }
}

/// One finding, at a byte span of the query text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub kind: Kind,
    pub message: String,
    pub span: Span,
}

/// A finding with its span as character offsets (what Python and carets use).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub finding: Finding,
    pub start: usize,
    pub end: usize,
}

/// What is known about a whole query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// It matches nobody, on any store.
    Empty,
    /// It matches every user.
    All,
    Unknown,
}

/// The findings about `expr` (with its `names` from `parse_with_spans`), and
/// what is known of the whole; `store` adds the name checks.
pub fn lint(expr: &Expr, names: &[NameRef], store: Option<&Store>) -> (Vec<Finding>, Verdict) {
    let tree = Node::build(expr, names, &mut 0);
    let mut linter = Linter { findings: Vec::new(), store };
    let verdict = linter.visit(&tree);
    (linter.findings, verdict)
}

/// An expression with the span of its leaves.
struct Node<'e> {
    expr: &'e Expr,
    span: Span,
    children: Vec<Node<'e>>,
    /// The name recorded for a leaf.
    name: Option<&'e NameRef>,
}

impl<'e> Node<'e> {
    fn build(expr: &'e Expr, names: &'e [NameRef], next: &mut usize) -> Node<'e> {
        let children: Vec<Node<'e>> = match expr {
            Expr::Not(inner) => vec![Node::build(inner, names, next)],
            Expr::And(terms) | Expr::Or(terms) | Expr::Xor(terms) => {
                terms.iter().map(|t| Node::build(t, names, next)).collect()
            }
            _ => Vec::new(),
        };
        let name = match expr {
            Expr::All | Expr::Not(_) | Expr::And(_) | Expr::Or(_) | Expr::Xor(_) => None,
            _ => {
                let name = names.get(*next);
                *next += 1;
                name
            }
        };
        let span = match (&name, children.first(), children.last()) {
            (Some(n), _, _) => n.span,
            (None, Some(first), Some(last)) => Span { start: first.span.start, end: last.span.end },
            _ => Span { start: 0, end: 0 },
        };
        Node { expr, span, children, name }
    }
}

struct Linter<'s> {
    findings: Vec<Finding>,
    store: Option<&'s Store>,
}

impl Linter<'_> {
    fn note(&mut self, kind: Kind, span: Span, message: String) {
        self.findings.push(Finding { kind, message, span });
    }

    fn visit(&mut self, node: &Node<'_>) -> Verdict {
        match node.expr {
            Expr::All => Verdict::All,
            Expr::Not(_) => match self.visit(&node.children[0]) {
                Verdict::Empty => Verdict::All,
                Verdict::All => Verdict::Empty,
                Verdict::Unknown => Verdict::Unknown,
            },
            Expr::And(_) => self.and(node),
            Expr::Or(_) => self.or(node),
            Expr::Xor(_) => self.xor(node),
            _ => self.leaf(node),
        }
    }

    fn and(&mut self, node: &Node<'_>) -> Verdict {
        let verdicts: Vec<Verdict> = node.children.iter().map(|c| self.visit(c)).collect();
        if verdicts.contains(&Verdict::Empty) {
            return Verdict::Empty;
        }
        let mut empty = false;
        let terms = &node.children;
        for (i, a) in terms.iter().enumerate() {
            if matches!(a.expr, Expr::All) && terms.len() > 1 {
                self.note(Kind::Redundant, a.span, "ALL in an AND changes nothing".to_owned());
            }
            for (j, b) in terms.iter().enumerate().skip(i + 1) {
                if a.expr == b.expr {
                    self.note(Kind::Redundant, b.span, format!("{} repeats an earlier term of this AND", shown(b)));
                    continue;
                }
                if let Some(message) = complement(a, b).or_else(|| complement(b, a)) {
                    self.note(Kind::Contradiction, node.span, message);
                    empty = true;
                    continue;
                }
                // `A AND NOT B` with A inside B, and the other way round.
                if let Some(message) = excluded(a, b).or_else(|| excluded(b, a)) {
                    self.note(Kind::Contradiction, node.span, message);
                    empty = true;
                    continue;
                }
                match (implies(a.expr, b.expr), implies(b.expr, a.expr)) {
                    (Some(true), _) => self.note(
                        Kind::Redundant,
                        terms[j].span,
                        format!("{} is implied by {} in the same AND", shown(b), shown(a)),
                    ),
                    (_, Some(true)) => self.note(
                        Kind::Redundant,
                        terms[i].span,
                        format!("{} is implied by {} in the same AND", shown(a), shown(b)),
                    ),
                    _ => {}
                }
            }
        }
        if let Some(message) = attribute_contradiction(terms) {
            self.note(Kind::Contradiction, node.span, message);
            empty = true;
        }
        if empty {
            Verdict::Empty
        } else if verdicts.iter().all(|v| *v == Verdict::All) {
            Verdict::All
        } else {
            Verdict::Unknown
        }
    }

    fn or(&mut self, node: &Node<'_>) -> Verdict {
        let verdicts: Vec<Verdict> = node.children.iter().map(|c| self.visit(c)).collect();
        let terms = &node.children;
        let mut all = verdicts.contains(&Verdict::All);
        for (i, a) in terms.iter().enumerate() {
            for b in terms.iter().skip(i + 1) {
                if a.expr == b.expr {
                    self.note(Kind::Redundant, b.span, format!("{} repeats an earlier term of this OR", shown(b)));
                    continue;
                }
                if is_negation(a.expr, b.expr) || is_null_pair(a.expr, b.expr) {
                    self.note(Kind::Tautology, node.span, format!("{} OR {} matches every user", shown(a), shown(b)));
                    all = true;
                    continue;
                }
                match (implies(a.expr, b.expr), implies(b.expr, a.expr)) {
                    (Some(true), _) => self.note(
                        Kind::Redundant,
                        a.span,
                        format!("{} adds nobody: {} in the same OR holds its users", shown(a), shown(b)),
                    ),
                    (_, Some(true)) => self.note(
                        Kind::Redundant,
                        b.span,
                        format!("{} adds nobody: {} in the same OR holds its users", shown(b), shown(a)),
                    ),
                    _ => {}
                }
            }
        }
        if all {
            Verdict::All
        } else if verdicts.iter().all(|v| *v == Verdict::Empty) {
            Verdict::Empty
        } else {
            Verdict::Unknown
        }
    }

    fn xor(&mut self, node: &Node<'_>) -> Verdict {
        for child in &node.children {
            self.visit(child);
        }
        let terms = &node.children;
        for (i, a) in terms.iter().enumerate() {
            for b in terms.iter().skip(i + 1) {
                if a.expr == b.expr {
                    self.note(
                        Kind::Redundant,
                        b.span,
                        format!("{} appears twice in this XOR: the two cancel out", shown(b)),
                    );
                }
            }
        }
        if terms.len() == 2 && terms[0].expr == terms[1].expr {
            self.note(Kind::Contradiction, node.span, "x XOR x matches nobody".to_owned());
            return Verdict::Empty;
        }
        Verdict::Unknown
    }

    /// Names checked against the store (when there is one).
    fn leaf(&mut self, node: &Node<'_>) -> Verdict {
        let (Some(store), Some(name)) = (self.store, node.name) else {
            return Verdict::Unknown;
        };
        let span = name.span;
        let known = match name.kind {
            NameKind::Tag => store.tags().get(&name.name).map(|users| users.is_empty()),
            NameKind::Segment => store.segments().get(&name.name).map(|_| false),
            NameKind::Event => store.events().events.get(&name.name).map(|h| h.ever.is_empty()),
            NameKind::Attribute => {
                if let Some(attribute) = store.attributes().get(&name.name) {
                    let absent = match node.expr {
                        Expr::Cmp { op: Compare::Eq, value, .. } => {
                            literal_text(value).map(|v| !attribute.values.contains_key(&v))
                        }
                        Expr::In { values, negated: false, .. } => values
                            .iter()
                            .map(literal_text)
                            .collect::<Option<Vec<_>>>()
                            .map(|vs| vs.iter().all(|v| !attribute.values.contains_key(v))),
                        _ => None,
                    };
                    if absent == Some(true) {
                        self.note(Kind::EmptyName, span, format!("no user has {}", shown(node)));
                        return Verdict::Empty;
                    }
                    Some(attribute.values.is_empty())
                } else {
                    store.numerics().get(&name.name).map(|n| n.column.non_null_count() == 0)
                }
            }
        };
        match known {
            None => {
                let kind = match name.kind {
                    NameKind::Tag => "tag",
                    NameKind::Segment => "segment",
                    NameKind::Event => "event",
                    NameKind::Attribute => "attribute",
                };
                self.note(Kind::UnknownName, span, format!("the store has no {kind} '{}'", name.name));
                Verdict::Unknown
            }
            Some(true) if !matches!(node.expr, Expr::IsNull { negated: false, .. }) => {
                self.note(Kind::EmptyName, span, format!("'{}' has no users in the store", name.name));
                Verdict::Empty
            }
            _ => Verdict::Unknown,
        }
    }
}

/// A leaf as a short text for messages.
fn shown(node: &Node<'_>) -> String {
    let text = node.expr.to_string();
    if text.chars().count() > 60 {
        format!("`{}…`", text.chars().take(59).collect::<String>())
    } else {
        format!("`{text}`")
    }
}

fn is_negation(a: &Expr, b: &Expr) -> bool {
    matches!(b, Expr::Not(inner) if **inner == *a) || matches!(a, Expr::Not(inner) if **inner == *b)
}

/// `x IS NULL` and `x IS NOT NULL` together.
fn is_null_pair(a: &Expr, b: &Expr) -> bool {
    matches!((a, b), (Expr::IsNull { attr: x, negated: n }, Expr::IsNull { attr: y, negated: m }) if x == y && n != m)
}

/// `x AND NOT x`.
fn complement(a: &Node<'_>, b: &Node<'_>) -> Option<String> {
    is_negation(a.expr, b.expr).then(|| format!("{} AND {} matches nobody", shown(a), shown(b)))
}

/// `A AND NOT B` where every user of A is in B.
fn excluded(a: &Node<'_>, b: &Node<'_>) -> Option<String> {
    let Expr::Not(inner) = b.expr else { return None };
    (implies(a.expr, inner) == Some(true))
        .then(|| format!("{} AND {} matches nobody: every user of the first is in `{}`", shown(a), shown(b), inner))
}

/// Whether every user `a` holds is also in `b` (`None`: cannot tell).
fn implies(a: &Expr, b: &Expr) -> Option<bool> {
    match (a, b) {
        (Expr::Behaviour(x), Expr::Behaviour(y)) => behaviour_implies(x, y),
        _ => {
            let (x, y) = (Constraint::of(a)?, Constraint::of(b)?);
            (x.attr == y.attr).then(|| x.within(&y))?
        }
    }
}

/// `x` implies `y`: same event, `y` asks only "did, at least once" in a window
/// that holds `x`'s, and `x` is a DID or FIRST (both imply at least one event).
fn behaviour_implies(x: &Condition, y: &Condition) -> Option<bool> {
    if x.event != y.event || y.first || y.measure != Measure::Once {
        return None;
    }
    let holds = match (x.window, y.window) {
        (Window::Last(a), Window::Last(b)) => a <= b,
        (Window::Last(_), Window::Ever) | (Window::Ever, Window::Ever) => true,
        (Window::Between(a, b), Window::Between(c, d)) => c <= a && b <= d,
        _ => return None,
    };
    holds.then_some(true)
}

/// A literal as the text a categorical value would match; `None` where the
/// mapping is not certain (floats).
fn literal_text(literal: &Literal) -> Option<String> {
    match literal {
        Literal::Str(s) => Some(s.clone()),
        Literal::Int(i) => Some(i.to_string()),
        Literal::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A number of one literal kind, for range reasoning.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Num {
    /// Integers and floats compare with each other.
    Number(f64),
    Date(i32),
    Timestamp(i64),
}

impl Num {
    fn of(literal: &Literal) -> Option<Num> {
        match *literal {
            // Beyond 2^53 an integer is not exactly an f64: say nothing.
            Literal::Int(i) if i.unsigned_abs() <= 1 << 53 => Some(Num::Number(i as f64)),
            Literal::Float(x) if x.is_finite() => Some(Num::Number(x)),
            Literal::Date(d) => Some(Num::Date(d)),
            Literal::Timestamp(t) => Some(Num::Timestamp(t)),
            _ => None,
        }
    }

    fn cmp(self, other: Num) -> Option<Ordering> {
        match (self, other) {
            (Num::Number(a), Num::Number(b)) => a.partial_cmp(&b),
            (Num::Date(a), Num::Date(b)) => Some(a.cmp(&b)),
            (Num::Timestamp(a), Num::Timestamp(b)) => Some(a.cmp(&b)),
            _ => None,
        }
    }
}

/// The values one predicate allows (non-null values only): an interval and,
/// for `=` and `IN`, a finite set.
#[derive(Debug, Clone)]
struct Constraint<'e> {
    attr: &'e str,
    low: Option<(Num, bool)>,
    high: Option<(Num, bool)>,
    /// Allowed values by their text, for `=` / `IN` (numbers kept beside).
    points: Option<Vec<(String, Option<Num>)>>,
}

impl<'e> Constraint<'e> {
    fn of(expr: &'e Expr) -> Option<Constraint<'e>> {
        let mut c = match expr {
            Expr::Cmp { attr, .. } | Expr::Between { attr, .. } | Expr::In { attr, .. } => {
                Constraint { attr, low: None, high: None, points: None }
            }
            _ => return None,
        };
        match expr {
            Expr::Cmp { op: Compare::Eq, value, .. } => {
                c.points = Some(vec![(literal_text(value)?, Num::of(value))]);
            }
            Expr::In { values, negated: false, .. } => {
                c.points = Some(values.iter().map(|v| Some((literal_text(v)?, Num::of(v)))).collect::<Option<_>>()?);
            }
            Expr::Cmp { op, value, .. } => {
                let n = Num::of(value)?;
                match op {
                    Compare::Lt => c.high = Some((n, false)),
                    Compare::Le => c.high = Some((n, true)),
                    Compare::Gt => c.low = Some((n, false)),
                    Compare::Ge => c.low = Some((n, true)),
                    Compare::Eq | Compare::Ne => return None,
                }
            }
            Expr::Between { low, high, negated: false, .. } => {
                c.low = Some((Num::of(low)?, true));
                c.high = Some((Num::of(high)?, true));
            }
            _ => return None,
        }
        Some(c)
    }

    /// Whether `value` satisfies the interval (`None`: kinds differ).
    fn admits(&self, value: Num) -> Option<bool> {
        let above = match self.low {
            Some((low, inclusive)) => match value.cmp(low)? {
                Ordering::Greater => true,
                Ordering::Equal => inclusive,
                Ordering::Less => false,
            },
            None => true,
        };
        let below = match self.high {
            Some((high, inclusive)) => match value.cmp(high)? {
                Ordering::Less => true,
                Ordering::Equal => inclusive,
                Ordering::Greater => false,
            },
            None => true,
        };
        Some(above && below)
    }

    /// Every value `self` allows, `other` allows too (`None`: cannot tell).
    fn within(&self, other: &Constraint<'_>) -> Option<bool> {
        match (&self.points, &other.points) {
            (Some(mine), Some(theirs)) => Some(mine.iter().all(|(t, _)| theirs.iter().any(|(u, _)| u == t))),
            (Some(mine), None) => {
                let mut all = true;
                for (_, n) in mine {
                    all &= other.admits((*n)?)?;
                }
                Some(all)
            }
            (None, Some(_)) => None,
            (None, None) => {
                let low_ok = match (self.low, other.low) {
                    (_, None) => true,
                    (None, Some(_)) => false,
                    (Some((a, ai)), Some((b, bi))) => match a.cmp(b)? {
                        Ordering::Greater => true,
                        Ordering::Equal => bi || !ai,
                        Ordering::Less => false,
                    },
                };
                let high_ok = match (self.high, other.high) {
                    (_, None) => true,
                    (None, Some(_)) => false,
                    (Some((a, ai)), Some((b, bi))) => match a.cmp(b)? {
                        Ordering::Less => true,
                        Ordering::Equal => bi || !ai,
                        Ordering::Greater => false,
                    },
                };
                Some(low_ok && high_ok)
            }
        }
    }
}

/// Predicates on one attribute in one AND that no value satisfies together,
/// or a comparison beside `IS NULL`.
fn attribute_contradiction(terms: &[Node<'_>]) -> Option<String> {
    let constraints: Vec<(&Node<'_>, Constraint<'_>)> =
        terms.iter().filter_map(|t| Constraint::of(t.expr).map(|c| (t, c))).collect();
    for term in terms {
        if let Expr::IsNull { attr, negated: false } = term.expr {
            if let Some((other, _)) = constraints.iter().find(|(_, c)| c.attr == attr.as_str()) {
                return Some(format!(
                    "{} AND {} matches nobody: a comparison never matches nulls",
                    shown(term),
                    shown(other)
                ));
            }
        }
    }
    for (i, (a, x)) in constraints.iter().enumerate() {
        for (b, y) in constraints.iter().skip(i + 1) {
            if x.attr != y.attr {
                continue;
            }
            if disjoint(x, y) == Some(true) {
                return Some(format!("{} AND {} matches nobody: no value satisfies both", shown(a), shown(b)));
            }
        }
    }
    None
}

/// No value satisfies both (`None`: cannot tell).
fn disjoint(x: &Constraint<'_>, y: &Constraint<'_>) -> Option<bool> {
    match (&x.points, &y.points) {
        (Some(a), Some(b)) => Some(!a.iter().any(|(t, _)| b.iter().any(|(u, _)| u == t))),
        (Some(points), None) | (None, Some(points)) => {
            let range = if x.points.is_none() { x } else { y };
            let mut none = true;
            for (_, n) in points {
                none &= !range.admits((*n)?)?;
            }
            Some(none)
        }
        (None, None) => {
            let low = max_low(x.low, y.low)?;
            let high = min_high(x.high, y.high)?;
            match (low, high) {
                (Some((l, li)), Some((h, hi))) => Some(match l.cmp(h)? {
                    Ordering::Greater => true,
                    Ordering::Equal => !(li && hi),
                    Ordering::Less => false,
                }),
                _ => Some(false),
            }
        }
    }
}

type Bound = Option<(Num, bool)>;

fn max_low(a: Bound, b: Bound) -> Option<Bound> {
    Some(match (a, b) {
        (None, x) | (x, None) => x,
        (Some((x, xi)), Some((y, yi))) => match x.cmp(y)? {
            Ordering::Greater => Some((x, xi)),
            Ordering::Less => Some((y, yi)),
            Ordering::Equal => Some((x, xi && yi)),
        },
    })
}

fn min_high(a: Bound, b: Bound) -> Option<Bound> {
    Some(match (a, b) {
        (None, x) | (x, None) => x,
        (Some((x, xi)), Some((y, yi))) => match x.cmp(y)? {
            Ordering::Less => Some((x, xi)),
            Ordering::Greater => Some((y, yi)),
            Ordering::Equal => Some((x, xi && yi)),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::parser::parse_with_spans;

    fn run(text: &str) -> (Vec<(Kind, String)>, Verdict) {
        let (expr, names) = parse_with_spans(text).unwrap();
        let (findings, verdict) = lint(&expr, &names, None);
        let spans = findings.into_iter().map(|f| (f.kind, text[f.span.start..f.span.end].to_owned())).collect();
        (spans, verdict)
    }

    #[test]
    fn contradictions_make_the_query_empty() {
        for text in [
            "t3 AND NOT t3",
            "age < 20 AND age > 30",
            "age <= 20 AND age >= 20 AND age > 20",
            r#"city IN ("a", "b") AND city IN ("c")"#,
            r#"city = "a" AND city = "b""#,
            "age = 25 AND age > 30",
            "age IS NULL AND age > 3",
            "DID x WITHIN 7 DAYS AND NOT DID x WITHIN 30 DAYS",
            "DID x >= 2 TIMES WITHIN 7 DAYS AND NOT DID x EVER",
            "FIRST x WITHIN 3 DAYS AND NOT DID x WITHIN 3 DAYS",
            "vip AND (t AND NOT t)",
            "NOT ALL",
        ] {
            let (findings, verdict) = run(text);
            assert_eq!(verdict, Verdict::Empty, "{text}: {findings:?}");
        }
        let (findings, _) = run("vip AND age < 20 AND age > 30");
        // Spans cover names: from the AND's first name to its last.
        assert_eq!(findings, vec![(Kind::Contradiction, "vip AND age < 20 AND age".to_owned())]);
    }

    #[test]
    fn what_it_cannot_tell_it_leaves_alone() {
        for text in [
            "age < 30 AND age > 20",
            "age = 2 AND age = 2.0",
            "age BETWEEN 1 AND 5 AND age = 5",
            "d > 2026-01-01 AND d < 2026-01-01T12:00:00",
            "DID x WITHIN 30 DAYS AND NOT DID x WITHIN 7 DAYS",
            "DID x BETWEEN 2026-01-01 AND 2026-01-31 AND NOT DID x EVER",
            "rfm.r = 5 AND rfm.r = \"5\"",
            "a XOR b",
        ] {
            let (findings, verdict) = run(text);
            assert_eq!(verdict, Verdict::Unknown, "{text}");
            assert!(findings.iter().all(|(k, _)| *k != Kind::Contradiction), "{text}: {findings:?}");
        }
    }

    #[test]
    fn tautologies_and_redundant_terms_are_found() {
        assert_eq!(run("vip OR NOT vip").1, Verdict::All);
        assert_eq!(run("age IS NULL OR age IS NOT NULL").1, Verdict::All);
        let (findings, _) = run("vip AND age > 30 AND vip AND age > 20");
        assert_eq!(findings, vec![(Kind::Redundant, "vip".to_owned()), (Kind::Redundant, "age".to_owned())],);
        // The span is the implied term's (`age > 20`, the second `age`).
        let text = "vip AND age > 30 AND vip AND age > 20";
        let (expr, names) = parse_with_spans(text).unwrap();
        let (found, _) = lint(&expr, &names, None);
        assert_eq!(found[1].span.start, text.rfind("age").unwrap());
        let (findings, _) = run("DID x WITHIN 7 DAYS OR DID x WITHIN 30 DAYS");
        assert_eq!(findings[0].0, Kind::Redundant);
        assert_eq!(run("x XOR x").1, Verdict::Empty);
    }
}
