//! Labelling users by ordered rules: the core of applying a playbook.
//!
//! Rules are (label, users) pairs in order. In [`Mode::First`] each user gets
//! the label of the first rule that holds them; in [`Mode::Exclusive`] the
//! rules must not overlap (every overlapping pair is reported, and nothing is
//! labelled). Users no rule holds get the `otherwise` label, or stay without
//! one. Besides the labels, every rule reports how many users it matched, how
//! many it kept, and how many of its users each earlier rule took first, so a
//! playbook's author sees which rules shadow which.
//!
//! Invariants: the labels' bitmaps are disjoint and lie in the universe;
//! labels are distinct (a label used twice is refused, naming both rules).

use std::collections::BTreeMap;
use std::sync::Arc;

use croaring::Bitmap;
use rayon::prelude::*;

use crate::error::{Error, Result};

/// How rules that hold the same user are resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The first rule that holds a user labels them.
    First,
    /// Rules must not overlap.
    Exclusive,
}

impl Mode {
    /// `"first"` or `"exclusive"`; anything else is an error naming it.
    pub fn named(name: &str) -> Result<Mode> {
        match name {
            "first" => Ok(Mode::First),
            "exclusive" => Ok(Mode::Exclusive),
            other => Err(Error::invalid(format!("mode={other:?} is not a mode: use \"first\" or \"exclusive\""))),
        }
    }
}

/// What one rule did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleOutcome {
    /// Users the rule's audience holds (within the universe).
    pub matched: u64,
    /// Users labelled by it.
    pub assigned: u64,
    /// Per earlier rule, how many of this rule's users it labelled first.
    pub lost_to: Vec<u64>,
}

/// The result of labelling (see the module docs).
#[derive(Debug, Clone)]
pub struct Labelling {
    /// Users per label, the `otherwise` label included; disjoint.
    pub values: BTreeMap<String, Bitmap>,
    pub outcomes: Vec<RuleOutcome>,
    /// Users given the `otherwise` label.
    pub otherwise: u64,
    /// Users left without a label (no rule and no `otherwise`).
    pub unlabelled: u64,
    /// In exclusive mode, every overlapping pair of rules: (earlier, later, users).
    pub overlaps: Vec<(usize, usize, u64)>,
}

/// Label the `universe` by `rules` (see the module docs).
pub fn label(
    universe: &Bitmap,
    rules: &[(String, Arc<Bitmap>)],
    otherwise: Option<&str>,
    mode: Mode,
) -> Result<Labelling> {
    check_labels(rules, otherwise)?;
    // Rules are evaluated against the universe: users outside it are no one's.
    let matched: Vec<Bitmap> = rules.par_iter().map(|(_, users)| users.and(universe)).collect();
    let overlaps = match mode {
        Mode::Exclusive => pairwise_overlaps(&matched),
        Mode::First => Vec::new(),
    };
    let mut claimed = Bitmap::new();
    let mut assigned: Vec<Bitmap> = Vec::with_capacity(rules.len());
    for users in &matched {
        let kept = if claimed.is_empty() { users.clone() } else { users.andnot(&claimed) };
        claimed.or_inplace(users);
        assigned.push(kept);
    }
    let outcomes = matched
        .par_iter()
        .enumerate()
        .map(|(at, users)| RuleOutcome {
            matched: users.cardinality(),
            assigned: assigned[at].cardinality(),
            lost_to: assigned[..at].iter().map(|earlier| users.and_cardinality(earlier)).collect(),
        })
        .collect();
    let rest = universe.andnot(&claimed);
    let mut values: BTreeMap<String, Bitmap> =
        rules.iter().map(|(label, _)| label.clone()).zip(assigned).filter(|(_, users)| !users.is_empty()).collect();
    let (given_otherwise, unlabelled) = match otherwise {
        Some(label) => {
            let count = rest.cardinality();
            if count > 0 {
                values.insert(label.to_owned(), rest);
            }
            (count, 0)
        }
        None => (0, rest.cardinality()),
    };
    Ok(Labelling { values, outcomes, otherwise: given_otherwise, unlabelled, overlaps })
}

/// Labels must be distinct and non-empty (the otherwise label too).
fn check_labels(rules: &[(String, Arc<Bitmap>)], otherwise: Option<&str>) -> Result<()> {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (at, (label, _)) in rules.iter().enumerate() {
        if label.is_empty() {
            return Err(Error::invalid(format!("rule {at} has an empty label")));
        }
        if let Some(first) = seen.insert(label, at) {
            return Err(Error::invalid(format!(
                "label '{label}' is used by rules {first} and {at}: labels must differ"
            )));
        }
    }
    if let Some(label) = otherwise {
        if let Some(&at) = seen.get(label) {
            return Err(Error::invalid(format!("otherwise label '{label}' is also the label of rule {at}")));
        }
        if label.is_empty() {
            return Err(Error::invalid("the otherwise label is empty"));
        }
    }
    Ok(())
}

/// Every pair of rules that share users, with how many.
fn pairwise_overlaps(matched: &[Bitmap]) -> Vec<(usize, usize, u64)> {
    let pairs: Vec<(usize, usize)> =
        (0..matched.len()).flat_map(|i| (i + 1..matched.len()).map(move |j| (i, j))).collect();
    pairs
        .into_par_iter()
        .filter_map(|(i, j)| {
            let shared = matched[i].and_cardinality(&matched[j]);
            (shared > 0).then_some((i, j, shared))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(label: &str, ids: &[u32]) -> (String, Arc<Bitmap>) {
        (label.to_owned(), Arc::new(Bitmap::of(ids)))
    }

    #[test]
    fn the_first_rule_that_holds_a_user_labels_them() {
        let universe = Bitmap::of(&[1, 2, 3, 4, 5, 6]);
        let rules = [rule("a", &[1, 2]), rule("b", &[2, 3, 9]), rule("c", &[1, 2, 3])];
        let out = label(&universe, &rules, Some("rest"), Mode::First).unwrap();
        assert_eq!(out.values["a"].to_vec(), vec![1, 2]);
        assert_eq!(out.values["b"].to_vec(), vec![3]);
        assert!(!out.values.contains_key("c"));
        assert_eq!(out.values["rest"].to_vec(), vec![4, 5, 6]);
        // 9 is not a user: b matched 2 users.
        assert_eq!(out.outcomes[1], RuleOutcome { matched: 2, assigned: 1, lost_to: vec![1] });
        assert_eq!(out.outcomes[2], RuleOutcome { matched: 3, assigned: 0, lost_to: vec![2, 1] });
        assert_eq!((out.otherwise, out.unlabelled), (3, 0));
        let without = label(&universe, &rules, None, Mode::First).unwrap();
        assert_eq!((without.otherwise, without.unlabelled), (0, 3));
    }

    #[test]
    fn exclusive_rules_report_every_overlap() {
        let universe = Bitmap::from_range(0..10);
        let rules = [rule("a", &[1, 2]), rule("b", &[3]), rule("c", &[2, 3, 4])];
        let out = label(&universe, &rules, None, Mode::Exclusive).unwrap();
        assert_eq!(out.overlaps, vec![(0, 2, 1), (1, 2, 1)]);
    }

    #[test]
    fn labels_must_differ() {
        let universe = Bitmap::of(&[1]);
        let err = label(&universe, &[rule("a", &[1]), rule("a", &[1])], None, Mode::First).unwrap_err();
        assert!(err.to_string().contains("rules 0 and 1"), "{err}");
        assert!(label(&universe, &[rule("a", &[1])], Some("a"), Mode::First).is_err());
        assert!(Mode::named("any").is_err());
    }
}
