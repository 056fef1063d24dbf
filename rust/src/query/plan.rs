//! Binding and planning: a parsed [`Expr`] becomes a [`Plan`] whose leaves point
//! at the store's bitmaps and indexes. Names are resolved (unknown ones get
//! suggestions), literals are checked against attribute types, saved segments are
//! expanded in place (cycles refused), and the tree is normalised: nested AND/OR
//! flattened, `AND NOT x` turned into an exclusion, duplicates removed.

use std::collections::HashSet;
use std::sync::Arc;

use croaring::Bitmap;

use super::ast::{Compare, Expr, Literal, TimeUnit, MICROS_PER_DAY};
use super::lexer::{Lexer, Tok};
use super::{parse_cached, render_at};
use crate::error::{Error, Result};
use crate::events::{Condition, History, Measure};
use crate::logical::Logical;
use crate::numeric::Scalar;
use crate::store::{Categorical, Numeric, Store};

/// Segments may reference segments; this bounds the expansion depth.
const MAX_SEGMENT_DEPTH: usize = 64;

/// A bound leaf: evaluating it yields one bitmap.
#[derive(Clone)]
pub enum Leaf {
    /// A tag or a categorical value: the bitmap itself, no work.
    Bitmap(Arc<Bitmap>),
    /// Categorical `IN (...)`: union of the value bitmaps.
    AnyOf(Vec<Arc<Bitmap>>),
    /// Categorical `!=` / `NOT IN`: users with a value, minus those values.
    NoneOf { attribute: Arc<Categorical>, values: Vec<Arc<Bitmap>> },
    /// Categorical `IS [NOT] NULL`.
    CategoricalNull { attribute: Arc<Categorical>, negated: bool },
    /// Numeric range; `None` bounds are open.
    Range { numeric: Arc<Numeric>, low: Option<(Scalar, bool)>, high: Option<(Scalar, bool)> },
    /// Numeric `!=`.
    NotEqual { numeric: Arc<Numeric>, value: Scalar },
    /// Numeric `IS [NOT] NULL`.
    NumericNull { numeric: Arc<Numeric>, negated: bool },
    /// A behaviour condition over days `first..=last` of one event's history.
    Behaviour { history: Arc<History>, condition: Condition, first: i32, last: i32 },
}

impl Leaf {
    /// A label naming what the leaf was bound to (see [`Plan::identified`]).
    fn identity(&self) -> String {
        let ptrs = |maps: &[Arc<Bitmap>]| maps.iter().map(|b| format!("{:p}", Arc::as_ptr(b))).collect::<Vec<_>>();
        match self {
            Leaf::Bitmap(b) => format!("#{:p}", Arc::as_ptr(b)),
            Leaf::AnyOf(maps) => format!("#any{:?}", ptrs(maps)),
            Leaf::NoneOf { attribute, values } => format!("#none{:p}{:?}", Arc::as_ptr(attribute), ptrs(values)),
            Leaf::CategoricalNull { attribute, negated } => format!("#cnull{:p}{negated}", Arc::as_ptr(attribute)),
            Leaf::Range { numeric, low, high } => format!("#range{:p}{low:?}{high:?}", Arc::as_ptr(numeric)),
            Leaf::NotEqual { numeric, value } => format!("#ne{:p}{value:?}", Arc::as_ptr(numeric)),
            Leaf::NumericNull { numeric, negated } => format!("#nnull{:p}{negated}", Arc::as_ptr(numeric)),
            Leaf::Behaviour { history, condition, first, last } => {
                format!("#did{:p}{condition:?}{first}..{last}", Arc::as_ptr(history))
            }
        }
    }
}

#[derive(Clone)]
pub enum Plan {
    Universe,
    Empty,
    Leaf {
        label: String,
        leaf: Leaf,
    },
    /// Users in every `include` and in no `exclude`; no include means the universe.
    And {
        include: Vec<Plan>,
        exclude: Vec<Plan>,
    },
    Or(Vec<Plan>),
    Xor(Vec<Plan>),
    Not(Box<Plan>),
    /// A saved segment, expanded.
    Segment {
        name: String,
        body: Box<Plan>,
    },
}

impl Plan {
    /// Canonical text of the node: identical text means identical users, so it
    /// keys the cache of repeated sub-expressions.
    pub fn label(&self) -> String {
        match self {
            Plan::Universe => "ALL".into(),
            Plan::Empty => "NOT ALL".into(),
            Plan::Leaf { label, .. } => label.clone(),
            Plan::And { include, exclude } => {
                let mut parts: Vec<String> = include.iter().map(|p| format!("({})", p.label())).collect();
                parts.extend(exclude.iter().map(|p| format!("NOT ({})", p.label())));
                parts.join(" AND ")
            }
            Plan::Or(children) => join(children, " OR "),
            Plan::Xor(children) => join(children, " XOR "),
            Plan::Not(inner) => format!("NOT ({})", inner.label()),
            Plan::Segment { name, .. } => format!("@{}", super::format_name(name)),
        }
    }

    /// A built bitmap as an operand. Its label names the bitmap itself, so
    /// that different bitmaps never share one (labels key repeated
    /// sub-expressions).
    pub fn bitmap(bitmap: Arc<Bitmap>) -> Plan {
        Plan::Leaf { label: format!("#{:p}", Arc::as_ptr(&bitmap)), leaf: Leaf::Bitmap(bitmap) }
    }

    /// `a AND b`, flattened into `a` when it is an AND already.
    pub fn and(a: Plan, b: Plan) -> Plan {
        match a {
            Plan::And { mut include, exclude } => {
                include.push(b);
                Plan::And { include, exclude }
            }
            a => Plan::And { include: vec![a, b], exclude: vec![] },
        }
    }

    /// `a AND NOT b`, flattened into `a` when it is an AND already.
    pub fn and_not(a: Plan, b: Plan) -> Plan {
        match a {
            Plan::And { include, mut exclude } => {
                exclude.push(b);
                Plan::And { include, exclude }
            }
            a => Plan::And { include: vec![a], exclude: vec![b] },
        }
    }

    /// `a OR b`, flattened into `a` when it is an OR already.
    pub fn or(a: Plan, b: Plan) -> Plan {
        match a {
            Plan::Or(mut children) => {
                children.push(b);
                Plan::Or(children)
            }
            a => Plan::Or(vec![a, b]),
        }
    }

    /// `a XOR b`, flattened into `a` when it is an XOR already.
    pub fn xor(a: Plan, b: Plan) -> Plan {
        match a {
            Plan::Xor(mut children) => {
                children.push(b);
                Plan::Xor(children)
            }
            a => Plan::Xor(vec![a, b]),
        }
    }

    /// The plan with names replaced by the identity of what they were bound
    /// to, and the universe named as an operand, for a lazy audience that
    /// may later be combined with audiences of other snapshots or stores: a
    /// name like `t0` can mean different bitmaps there (labels key repeated
    /// sub-expressions), and `NOT x` must stay relative to this universe.
    pub fn identified(self, universe: &Arc<Bitmap>) -> Plan {
        let all = || Plan::bitmap(universe.clone());
        let each = |plans: Vec<Plan>| plans.into_iter().map(|p| p.identified(universe)).collect::<Vec<_>>();
        match self {
            Plan::Universe => all(),
            Plan::Empty => Plan::Empty,
            Plan::Leaf { leaf: Leaf::CategoricalNull { attribute, negated: false }, .. } => {
                let with_value = Leaf::CategoricalNull { attribute, negated: true };
                Plan::and_not(all(), Plan::Leaf { label: with_value.identity(), leaf: with_value })
            }
            Plan::Leaf { leaf: Leaf::NumericNull { numeric, negated: false }, .. } => {
                let with_value = Leaf::NumericNull { numeric, negated: true };
                Plan::and_not(all(), Plan::Leaf { label: with_value.identity(), leaf: with_value })
            }
            Plan::Leaf { leaf, .. } => Plan::Leaf { label: leaf.identity(), leaf },
            Plan::And { include, exclude } => {
                let mut include = each(include);
                if include.is_empty() {
                    include.push(all());
                }
                Plan::And { include, exclude: each(exclude) }
            }
            Plan::Or(children) => Plan::Or(each(children)),
            Plan::Xor(children) => Plan::Xor(each(children)),
            Plan::Not(inner) => Plan::and_not(all(), inner.identified(universe)),
            Plan::Segment { body, .. } => body.identified(universe),
        }
    }

    /// Number of nodes.
    pub fn size(&self) -> usize {
        1 + match self {
            Plan::And { include, exclude } => include.iter().chain(exclude).map(Plan::size).sum(),
            Plan::Or(children) | Plan::Xor(children) => children.iter().map(Plan::size).sum(),
            Plan::Not(inner) => inner.size(),
            Plan::Segment { body, .. } => body.size(),
            Plan::Universe | Plan::Empty | Plan::Leaf { .. } => 0,
        }
    }

    pub fn is_leaf(&self) -> bool {
        matches!(self, Plan::Leaf { .. } | Plan::Universe | Plan::Empty)
    }
}

fn join(children: &[Plan], op: &str) -> String {
    children.iter().map(|p| format!("({})", p.label())).collect::<Vec<_>>().join(op)
}

pub struct Binder<'a> {
    store: &'a Store,
    text: &'a str,
    /// Evaluation instant in microseconds since the epoch, for `WITHIN`.
    as_of: Option<i64>,
    /// Segments being expanded, to refuse cycles.
    expanding: Vec<String>,
}

impl<'a> Binder<'a> {
    pub fn new(store: &'a Store, text: &'a str, as_of: Option<i64>) -> Self {
        Binder { store, text, as_of, expanding: Vec::new() }
    }

    pub fn bind(&mut self, expr: &Expr) -> Result<Plan> {
        Ok(match expr {
            Expr::All => Plan::Universe,
            Expr::Tag(name) => match self.store.tags().get(name) {
                Some(bitmap) => leaf(expr, Leaf::Bitmap(bitmap.clone())),
                None => return Err(self.unknown("tag", name, self.store.all_names())),
            },
            Expr::Segment(name) => self.segment(name)?,
            Expr::Cmp { attr, op, value } => self.compare(expr, attr, *op, value)?,
            Expr::In { attr, values, negated } => self.is_in(expr, attr, values, *negated)?,
            Expr::Between { attr, low, high, negated } => {
                let numeric = self.numeric(attr)?;
                let low = self.scalar(attr, &numeric, low)?;
                let high = self.scalar(attr, &numeric, high)?;
                let inside = leaf(
                    expr,
                    Leaf::Range { numeric: numeric.clone(), low: Some((low, true)), high: Some((high, true)) },
                );
                if *negated {
                    // NOT BETWEEN matches users with a value outside the range, never nulls.
                    let non_null = Plan::Leaf {
                        label: format!("{} IS NOT NULL", super::format_name(attr)),
                        leaf: Leaf::NumericNull { numeric, negated: true },
                    };
                    let Plan::Leaf { leaf: range, .. } = inside else { unreachable!() };
                    let range = Plan::Leaf {
                        label: format!(
                            "{} BETWEEN {} AND {}",
                            super::format_name(attr),
                            low_text(expr),
                            high_text(expr)
                        ),
                        leaf: range,
                    };
                    Plan::And { include: vec![non_null], exclude: vec![range] }
                } else {
                    inside
                }
            }
            Expr::IsNull { attr, negated } => {
                if let Some(numeric) = self.store.numerics().get(attr) {
                    leaf(expr, Leaf::NumericNull { numeric: numeric.clone(), negated: *negated })
                } else {
                    let attribute = self.categorical(attr)?;
                    leaf(expr, Leaf::CategoricalNull { attribute, negated: *negated })
                }
            }
            Expr::Within { attr, amount, unit } => self.within(expr, attr, *amount, *unit)?,
            Expr::Behaviour(condition) => self.behaviour(expr, condition)?,
            Expr::Not(inner) => match self.bind(inner)? {
                Plan::Not(x) => *x,
                Plan::Universe => Plan::Empty,
                Plan::Empty => Plan::Universe,
                other => Plan::Not(Box::new(other)),
            },
            Expr::And(children) => {
                let (mut include, mut exclude) = (Vec::new(), Vec::new());
                for child in children {
                    match self.bind(child)? {
                        Plan::And { include: i, exclude: e } => {
                            include.extend(i);
                            exclude.extend(e);
                        }
                        Plan::Not(x) => exclude.push(*x),
                        Plan::Universe => {}
                        Plan::Empty => return Ok(Plan::Empty),
                        other => include.push(other),
                    }
                }
                dedup(&mut include);
                dedup(&mut exclude);
                if include.len() == 1 && exclude.is_empty() {
                    include.remove(0)
                } else if include.is_empty() && exclude.is_empty() {
                    Plan::Universe
                } else {
                    Plan::And { include, exclude }
                }
            }
            Expr::Or(children) => {
                let mut flat = Vec::new();
                for child in children {
                    match self.bind(child)? {
                        Plan::Or(inner) => flat.extend(inner),
                        Plan::Empty => {}
                        Plan::Universe => return Ok(Plan::Universe),
                        other => flat.push(other),
                    }
                }
                dedup(&mut flat);
                match flat.len() {
                    0 => Plan::Empty,
                    1 => flat.remove(0),
                    _ => Plan::Or(flat),
                }
            }
            Expr::Xor(children) => {
                let bound: Vec<Plan> = children.iter().map(|c| self.bind(c)).collect::<Result<_>>()?;
                Plan::Xor(bound)
            }
        })
    }

    fn unknown<'n>(&self, kind: &'static str, name: &str, known: impl IntoIterator<Item = &'n String>) -> Error {
        let mut err = Error::unknown(kind, name, known);
        if let Error::UnknownName { context, .. } = &mut err {
            if let Some(at) = render_at(self.text, name) {
                *context = at;
            }
        }
        err
    }

    fn segment(&mut self, name: &str) -> Result<Plan> {
        let text = match self.store.segments().get(name) {
            Some(text) => text.clone(),
            None => return Err(self.unknown("segment", name, self.store.segments().keys())),
        };
        if let Some(start) = self.expanding.iter().position(|n| n == name) {
            let mut cycle = self.expanding[start..].to_vec();
            cycle.push(name.to_string());
            return Err(Error::invalid(format!(
                "segment cycle: {}",
                cycle.iter().map(|n| format!("@{n}")).collect::<Vec<_>>().join(" -> ")
            )));
        }
        if self.expanding.len() >= MAX_SEGMENT_DEPTH {
            return Err(Error::invalid(format!("segments nest deeper than {MAX_SEGMENT_DEPTH} levels")));
        }
        let parsed =
            parse_cached(&text).map_err(|e| Error::invalid(format!("saved segment @{name} does not parse: {e}")))?;
        self.expanding.push(name.to_string());
        let mut inner = Binder {
            store: self.store,
            text: &text,
            as_of: self.as_of,
            expanding: std::mem::take(&mut self.expanding),
        };
        let body = inner.bind(&parsed.0);
        self.expanding = inner.expanding;
        self.expanding.pop();
        Ok(Plan::Segment { name: name.to_string(), body: Box::new(body?) })
    }

    fn behaviour(&self, expr: &Expr, condition: &Condition) -> Result<Plan> {
        let mut condition = condition.clone();
        condition.event = crate::names::nfc(&condition.event).into_owned();
        if let Measure::Total { column, .. } = &mut condition.measure {
            *column = crate::names::nfc(column).into_owned();
        }
        let log = self.store.events();
        if !log.events.contains_key(&condition.event) {
            return Err(self.unknown("event", &condition.event, log.events.keys()));
        }
        let (history, (first, last)) = condition.bind(log, self.as_of)?;
        Ok(leaf(expr, Leaf::Behaviour { history, condition, first, last }))
    }

    fn categorical(&self, attr: &str) -> Result<Arc<Categorical>> {
        if let Some(attribute) = self.store.attributes().get(attr) {
            return Ok(attribute.clone());
        }
        Err(self.unknown("attribute", attr, self.store.attributes().keys().chain(self.store.numerics().keys())))
    }

    fn numeric(&self, attr: &str) -> Result<Arc<Numeric>> {
        if let Some(numeric) = self.store.numerics().get(attr) {
            return Ok(numeric.clone());
        }
        if self.store.attributes().contains_key(attr) {
            return Err(Error::type_error(format!(
                "attribute '{attr}' is categorical (string values); ranges need a numeric, date or timestamp attribute"
            )));
        }
        Err(self.unknown("attribute", attr, self.store.attributes().keys().chain(self.store.numerics().keys())))
    }

    fn compare(&self, expr: &Expr, attr: &str, op: Compare, value: &Literal) -> Result<Plan> {
        if let Some(numeric) = self.store.numerics().get(attr) {
            let scalar = self.scalar(attr, numeric, value)?;
            let numeric = numeric.clone();
            let leaf_of = |low, high| Leaf::Range { numeric: numeric.clone(), low, high };
            return Ok(leaf(
                expr,
                match op {
                    Compare::Lt => leaf_of(None, Some((scalar, false))),
                    Compare::Le => leaf_of(None, Some((scalar, true))),
                    Compare::Eq => leaf_of(Some((scalar, true)), Some((scalar, true))),
                    Compare::Ge => leaf_of(Some((scalar, true)), None),
                    Compare::Gt => leaf_of(Some((scalar, false)), None),
                    Compare::Ne => Leaf::NotEqual { numeric, value: scalar },
                },
            ));
        }
        let attribute = self.categorical(attr)?;
        let text = category_text(attr, value)?;
        let values = attribute.values.get(&text).cloned().into_iter().collect::<Vec<_>>();
        match op {
            Compare::Eq => Ok(leaf(expr, match values.into_iter().next() {
                Some(bitmap) => Leaf::Bitmap(bitmap),
                None => Leaf::AnyOf(vec![]),
            })),
            Compare::Ne => Ok(leaf(expr, Leaf::NoneOf { attribute, values })),
            _ => Err(Error::type_error(format!(
                "attribute '{attr}' is categorical (string values) and has no order; {} needs a numeric, date or timestamp attribute",
                op
            ))),
        }
    }

    fn is_in(&self, expr: &Expr, attr: &str, literals: &[Literal], negated: bool) -> Result<Plan> {
        if let Some(numeric) = self.store.numerics().get(attr) {
            let mut plans = Vec::new();
            for literal in literals {
                let scalar = self.scalar(attr, numeric, literal)?;
                plans.push(Leaf::Range {
                    numeric: numeric.clone(),
                    low: Some((scalar, true)),
                    high: Some((scalar, true)),
                });
            }
            let any = Plan::Or(
                plans
                    .into_iter()
                    .enumerate()
                    .map(|(i, leaf)| Plan::Leaf {
                        label: format!("{} = {}", super::format_name(attr), literal_text(&literals[i])),
                        leaf,
                    })
                    .collect(),
            );
            if !negated {
                return Ok(any);
            }
            let non_null = Plan::Leaf {
                label: format!("{} IS NOT NULL", super::format_name(attr)),
                leaf: Leaf::NumericNull { numeric: numeric.clone(), negated: true },
            };
            return Ok(Plan::And { include: vec![non_null], exclude: vec![any] });
        }
        let attribute = self.categorical(attr)?;
        let mut values = Vec::new();
        for literal in literals {
            if let Some(bitmap) = attribute.values.get(&category_text(attr, literal)?) {
                values.push(bitmap.clone());
            }
        }
        Ok(leaf(expr, if negated { Leaf::NoneOf { attribute, values } } else { Leaf::AnyOf(values) }))
    }

    fn within(&self, expr: &Expr, attr: &str, amount: f64, unit: TimeUnit) -> Result<Plan> {
        let numeric = self.numeric(attr)?;
        let as_of = self.as_of.ok_or_else(|| {
            Error::invalid(format!(
                "`{attr} WITHIN ...` needs an evaluation time: pass as_of= (uoseg never reads the clock by itself)"
            ))
        })?;
        let unit_micros = match unit {
            TimeUnit::Days => MICROS_PER_DAY,
            TimeUnit::Hours => 3_600_000_000,
            TimeUnit::Minutes => 60_000_000,
        } as f64;
        let span_micros = amount * unit_micros;
        let (low, high) = match numeric.logical {
            Logical::Timestamp { ticks_per_second } => {
                let per_micro = ticks_per_second as f64 / 1e6;
                (ticks(as_of as f64 * per_micro - span_micros * per_micro), ticks(as_of as f64 * per_micro))
            }
            Logical::Date => {
                // "Today" is as_of's calendar day in the store's time zone.
                let today = self.store.zone().day_of(as_of) as f64;
                (ticks(today - span_micros / MICROS_PER_DAY as f64), ticks(today))
            }
            other => {
                return Err(Error::type_error(format!(
                    "attribute '{attr}' is {}; WITHIN needs a date or timestamp attribute",
                    other.name()
                )))
            }
        };
        Ok(leaf(expr, Leaf::Range { numeric, low: Some((low, true)), high: Some((high, true)) }))
    }

    /// A literal as a value of this numeric attribute, or a type error naming both types.
    fn scalar(&self, attr: &str, numeric: &Numeric, literal: &Literal) -> Result<Scalar> {
        let mismatch = || {
            Error::type_error(format!(
                "attribute '{attr}' is {} but {} is {}",
                numeric.logical.name(),
                literal_text(literal),
                literal_kind(literal)
            ))
        };
        let temporal = match literal {
            Literal::Str(text) => match (numeric.logical, temporal_literal(text)) {
                (Logical::Date | Logical::Timestamp { .. }, Some(parsed)) => parsed,
                (Logical::Date | Logical::Timestamp { .. }, None) => {
                    return Err(Error::type_error(format!(
                        "attribute '{attr}' is {} but {:?} is not a date or timestamp (write 2026-01-31 or 2026-01-31T08:00:00)",
                        numeric.logical.name(),
                        text
                    )))
                }
                _ => return Err(mismatch()),
            },
            other => other.clone(),
        };
        Ok(match (numeric.logical, &temporal) {
            (Logical::Int | Logical::Float, Literal::Int(v)) => Scalar::Int(*v),
            (Logical::Int | Logical::Float, Literal::Float(v)) => Scalar::Float(*v),
            (Logical::Date, Literal::Date(days)) => Scalar::Int(i64::from(*days)),
            (Logical::Date, Literal::Timestamp(micros)) => exact_ratio(*micros, MICROS_PER_DAY),
            (Logical::Timestamp { ticks_per_second }, Literal::Date(days)) => {
                Scalar::Int(i64::from(*days) * 86_400 * ticks_per_second)
            }
            (Logical::Timestamp { ticks_per_second }, Literal::Timestamp(micros)) => {
                if ticks_per_second >= 1_000_000 {
                    match micros.checked_mul(ticks_per_second / 1_000_000) {
                        Some(t) => Scalar::Int(t),
                        None => Scalar::Float(*micros as f64 * (ticks_per_second / 1_000_000) as f64),
                    }
                } else {
                    exact_ratio(*micros, 1_000_000 / ticks_per_second)
                }
            }
            _ => return Err(mismatch()),
        })
    }
}

fn ticks(value: f64) -> Scalar {
    if value.fract() == 0.0 && value.abs() < 9.0e15 {
        Scalar::Int(value as i64)
    } else {
        Scalar::Float(value)
    }
}

/// `numerator / denominator` as an exact integer when it divides, else a float
/// (a fractional bound: `x > 1.5` is `x >= 2` for integer ticks).
fn exact_ratio(numerator: i64, denominator: i64) -> Scalar {
    if numerator % denominator == 0 {
        Scalar::Int(numerator / denominator)
    } else {
        Scalar::Float(numerator as f64 / denominator as f64)
    }
}

fn temporal_literal(text: &str) -> Option<Literal> {
    let mut lexer = Lexer::new(text.trim());
    let token = lexer.next_token().ok()?;
    let end = lexer.next_token().ok()?;
    match (token.tok, end.tok) {
        (Tok::Date(d), Tok::Eof) => Some(Literal::Date(d)),
        (Tok::Timestamp(t), Tok::Eof) => Some(Literal::Timestamp(t)),
        _ => None,
    }
}

/// Categorical values are strings; integers and booleans match their text
/// (so `rfm.r = 5` finds the value "5").
fn category_text(attr: &str, literal: &Literal) -> Result<String> {
    match literal {
        Literal::Str(s) => Ok(s.clone()),
        Literal::Int(i) => Ok(i.to_string()),
        Literal::Bool(b) => Ok(if *b { "true" } else { "false" }.to_string()),
        other => Err(Error::type_error(format!(
            "attribute '{attr}' is categorical (string values) but {} is {}",
            literal_text(other),
            literal_kind(other)
        ))),
    }
}

fn literal_text(literal: &Literal) -> String {
    literal.to_string()
}

fn literal_kind(literal: &Literal) -> &'static str {
    match literal {
        Literal::Str(_) => "a string",
        Literal::Int(_) => "an integer",
        Literal::Float(_) => "a float",
        Literal::Bool(_) => "a boolean",
        Literal::Date(_) => "a date",
        Literal::Timestamp(_) => "a timestamp",
    }
}

fn low_text(expr: &Expr) -> String {
    match expr {
        Expr::Between { low, .. } => literal_text(low),
        _ => String::new(),
    }
}

fn high_text(expr: &Expr) -> String {
    match expr {
        Expr::Between { high, .. } => literal_text(high),
        _ => String::new(),
    }
}

fn leaf(expr: &Expr, leaf: Leaf) -> Plan {
    Plan::Leaf { label: expr.to_string(), leaf }
}

/// Drop siblings with the same canonical text (`a AND a` is `a`).
fn dedup(plans: &mut Vec<Plan>) {
    let mut seen = HashSet::new();
    plans.retain(|p| seen.insert(p.label()));
}
