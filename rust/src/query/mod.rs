//! Segment-query DSL: lexer, parser, AST and canonical printer.
//!
//! Entry points are [`parse`] and [`parse_with_spans`]; the canonical text of
//! an [`Expr`] is its `Display` output, which parses back to an equal tree.
//! The language is described in `docs/dsl.md`.

pub mod ast;
pub mod display;
pub mod exec;
mod fused;
pub mod lexer;
pub mod lint;
pub mod parser;
pub mod plan;

#[cfg(test)]
mod tests;

pub use crate::syntax::QuerySyntaxError;
pub use ast::{
    civil_from_days, days_from_civil, Compare, Expr, Literal, NameKind, NameRef, Span, TimeUnit, MICROS_PER_DAY,
};
pub use display::{format_name, quote_str};
pub use parser::{parse, parse_with_spans, MAX_DEPTH};

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use croaring::Bitmap;

use crate::names::nfc;
use crate::store::{Description, Kind, Store};

/// Parsed query texts, so a service that repeats its queries parses each once.
type Parsed = Arc<(Expr, Vec<NameRef>)>;
const CACHE_CAPACITY: usize = 4096;

fn cache() -> &'static Mutex<HashMap<String, Parsed>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Parsed>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Static findings about a query (see [`lint`]), with their spans as
/// character offsets (not bytes) into the query's NFC form.
pub fn lint_text(store: Option<&Store>, text: &str) -> crate::Result<(Vec<lint::Located>, lint::Verdict)> {
    let parsed = parse_cached(text).map_err(syntax)?;
    let text = nfc(text);
    let (findings, verdict) = lint::lint(&parsed.0, &parsed.1, store);
    let chars = |byte: usize| text.get(..byte).map_or(0, |prefix| prefix.chars().count());
    let located = findings
        .into_iter()
        .map(|finding| {
            let (start, end) = (chars(finding.span.start), chars(finding.span.end));
            lint::Located { finding, start, end }
        })
        .collect();
    Ok((located, verdict))
}

/// The names of tags, attributes and events `text` reads, directly or
/// through the saved `segments` it uses (for loading only those parts of a
/// store file). A text that does not parse needs nothing: running it will
/// report the syntax error.
pub fn names_needed(text: &str, segments: &BTreeMap<String, String>) -> std::collections::BTreeSet<String> {
    let mut needed = std::collections::BTreeSet::new();
    let mut seen_segments = std::collections::BTreeSet::new();
    let mut pending = vec![text.to_owned()];
    while let Some(text) = pending.pop() {
        let Ok(parsed) = parse_cached(&text) else { continue };
        for name in &parsed.1 {
            match name.kind {
                NameKind::Segment => {
                    if seen_segments.insert(name.name.clone()) {
                        if let Some(definition) = segments.get(&name.name) {
                            pending.push(definition.clone());
                        }
                    }
                }
                _ => {
                    needed.insert(name.name.clone());
                }
            }
        }
    }
    needed
}

/// Parse through the cache of query texts. The text is NFC-normalised first
/// (see `names`); callers that point into it use [`nfc`] of it too.
pub fn parse_cached(text: &str) -> Result<Parsed, QuerySyntaxError> {
    let text = &*nfc(text);
    if let Some(hit) = cache().lock().ok().and_then(|c| c.get(text).cloned()) {
        return Ok(hit);
    }
    let parsed = Arc::new(parse_with_spans(text)?);
    if let Ok(mut cache) = cache().lock() {
        if cache.len() >= CACHE_CAPACITY {
            cache.clear();
        }
        cache.insert(text.to_string(), parsed.clone());
    }
    Ok(parsed)
}

/// The query line with a caret under the first use of `name`, for errors.
pub fn render_at(text: &str, name: &str) -> Option<String> {
    let text = &*nfc(text);
    let (_, names) = parse_cached(text).ok()?.as_ref().clone();
    let span = names.iter().find(|n| n.name == name)?.span;
    let error = QuerySyntaxError::new(text, span.start, "", vec![], "");
    let line = text.lines().nth(error.line - 1)?;
    Some(format!("  {line}\n  {}^", " ".repeat(error.column - 1)))
}

fn syntax(err: QuerySyntaxError) -> crate::Error {
    crate::Error::Syntax(Box::new(err))
}

/// Parse and bind a query against a store snapshot.
pub fn plan(store: &Store, text: &str, as_of: Option<i64>) -> crate::Result<plan::Plan> {
    let text = &*nfc(text);
    let parsed = parse_cached(text).map_err(syntax)?;
    plan::Binder::new(store, text, as_of).bind(&parsed.0)
}

pub fn evaluate(store: &Store, text: &str, as_of: Option<i64>) -> crate::Result<Arc<Bitmap>> {
    let plan = plan(store, text, as_of)?;
    Ok(evaluate_plan(&plan, &store.universe().users))
}

/// The users of a bound plan (fused where possible).
pub fn evaluate_plan(plan: &plan::Plan, universe: &Arc<Bitmap>) -> Arc<Bitmap> {
    let mut executor = exec::Executor::new(universe);
    match fused::evaluate(plan, &mut executor) {
        Some(users) => Arc::new(users),
        None => executor.run(plan).0,
    }
}

/// The users of a bound plan as ascending ids, without building them where possible.
pub fn ids_plan(plan: &plan::Plan, universe: &Arc<Bitmap>) -> Vec<u32> {
    let mut executor = exec::Executor::new(universe);
    // Both paths run on the calling thread, assisted by the pool's threads as
    // they wake (see `crate::parallel`): no hand-off to a sleeping pool.
    match fused::ids(plan, &mut executor) {
        Some(ids) => ids,
        None => crate::roaring::view::sorted_ids_parallel(&executor.run(plan).0),
    }
}

/// The number of users of a bound plan, without building them where possible.
pub fn count_plan(plan: &plan::Plan, universe: &Arc<Bitmap>) -> u64 {
    let mut executor = exec::Executor::new(universe);
    match fused::count(plan, &mut executor) {
        Some(count) => count,
        None => executor.count(plan),
    }
}

pub fn count(store: &Store, text: &str, as_of: Option<i64>) -> crate::Result<u64> {
    let plan = plan(store, text, as_of)?;
    Ok(count_plan(&plan, &store.universe().users))
}

pub fn explain(store: &Store, text: &str, as_of: Option<i64>) -> crate::Result<exec::Explained> {
    let plan = plan(store, text, as_of)?;
    Ok(exec::Executor::new(&store.universe().users).run(&plan).1)
}

/// The canonical text of a query (it parses back to an equal tree).
pub fn canonical(text: &str) -> crate::Result<String> {
    Ok(parse_cached(text).map_err(syntax)?.0.to_string())
}

/// Segments whose definitions use `name`.
pub fn dependents(store: &Store, name: &str) -> Vec<String> {
    users_of(store, NameKind::Segment, &nfc(name))
}

/// Segments whose definitions name `name` as a `kind` (tag, attribute or segment).
fn users_of(store: &Store, kind: NameKind, name: &str) -> Vec<String> {
    store
        .segments()
        .iter()
        .filter(|(_, text)| parse_cached(text).is_ok_and(|p| p.1.iter().any(|n| n.kind == kind && n.name == name)))
        .map(|(n, _)| n.clone())
        .collect()
}

/// `first` and every segment that uses one of them, directly or through
/// other segments, in order of discovery.
fn with_dependents(store: &Store, first: Vec<String>) -> Vec<String> {
    let mut found = first;
    let mut next = 0;
    while next < found.len() {
        for user in dependents(store, &found[next].clone()) {
            if !found.contains(&user) {
                found.push(user);
            }
        }
        next += 1;
    }
    found
}

fn segment_list(names: &[String]) -> String {
    names.iter().map(|n| format!("@{}", format_name(n))).collect::<Vec<_>>().join(", ")
}

/// Drop a tag (`kind` Tag) or an attribute (`kind` Attribute). Saved segments
/// that use it, directly or through other segments, would stop working: the
/// drop is refused naming them, unless `force`, which drops them too. Returns
/// the new store and the segments dropped with it.
pub fn drop_name(store: &Store, kind: NameKind, name: &str, force: bool) -> crate::Result<(Store, Vec<String>)> {
    let name = &*nfc(name);
    let next = match kind {
        NameKind::Tag => store.without_tag(name)?,
        NameKind::Attribute => store.without_attribute(name)?,
        NameKind::Segment => return Ok((drop_segment(store, name)?, vec![])),
        NameKind::Event => return Err(crate::Error::invalid("events are not dropped one by one")),
    };
    let affected = with_dependents(store, users_of(store, kind, name));
    if affected.is_empty() {
        return Ok((next, affected));
    }
    if !force {
        let what = if kind == NameKind::Tag { "tag" } else { "attribute" };
        return Err(crate::Error::invalid(format!(
            "{what} '{name}' is used by saved segment{plural} {}; drop or redefine {them} first, or pass \
             force=True to drop {them} along with the {what}",
            segment_list(&affected),
            plural = if affected.len() == 1 { "" } else { "s" },
            them = if affected.len() == 1 { "it" } else { "them" },
        )));
    }
    let next = affected.iter().fold(next, |store, segment| store.with_segment(segment, None));
    Ok((next, affected))
}

/// Every tag, attribute and saved segment with its size. A segment is counted
/// at `as_of`; one that cannot be (it needs an evaluation time and none was
/// given) has no count.
pub fn describe(store: &Store, as_of: Option<i64>) -> Vec<Description> {
    let mut rows = store.describe();
    for row in rows.iter_mut().filter(|r| r.kind == Kind::Segment) {
        row.users = count(store, &format!("@{}", format_name(&row.name)), as_of).ok();
    }
    rows
}

/// Define or redefine a saved segment. The text must bind against the store
/// (names exist, types fit); a definition that would make a cycle is refused.
/// Returns the new store and the segments that use this one.
pub fn define_segment(store: &Store, name: &str, text: &str) -> crate::Result<(Store, Vec<String>)> {
    let name = &*nfc(name);
    if name.is_empty() {
        return Err(crate::Error::invalid("a segment name must not be empty"));
    }
    let canonical = canonical(text)?;
    let next = store.with_segment(name, Some(canonical.clone()));
    // Binding expands every referenced segment, so a cycle through `name` fails here.
    let anchor = format!("@{}", format_name(name));
    plan(&next, &anchor, Some(0)).or_else(|err| match err {
        // WITHIN needs as_of only at evaluation; a definition may use it.
        crate::Error::InvalidInput(ref m) if m.contains("needs an evaluation time") => Ok(plan::Plan::Empty),
        other => Err(other),
    })?;
    Ok((next, dependents(store, name)))
}

/// Drop a saved segment; refused while other segments use it.
pub fn drop_segment(store: &Store, name: &str) -> crate::Result<Store> {
    let name = &*nfc(name);
    store.segment(name)?;
    let users = dependents(store, name);
    if !users.is_empty() {
        return Err(crate::Error::invalid(format!(
            "segment @{name} is used by {}; drop or redefine those first",
            segment_list(&users)
        )));
    }
    Ok(store.with_segment(name, None))
}
