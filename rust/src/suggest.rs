//! "Did you mean" suggestions for unknown names.

/// Up to three known names closest to `name`, best first: those within a small
/// edit distance (case-insensitive) and those that extend or prefix it.
pub fn closest(name: &str, known: impl IntoIterator<Item = impl AsRef<str>>) -> Vec<String> {
    let wanted: Vec<char> = name.to_lowercase().chars().collect();
    let budget = (wanted.len() / 3).max(2);
    let mut scored: Vec<(usize, String)> = known
        .into_iter()
        .filter_map(|candidate| {
            let candidate = candidate.as_ref();
            let lower = candidate.to_lowercase();
            let chars: Vec<char> = lower.chars().collect();
            let distance = edit_distance(&wanted, &chars);
            let lowered = name.to_lowercase();
            let extends = !wanted.is_empty() && lower.starts_with(&lowered);
            let related = extends || (!wanted.is_empty() && lowered.starts_with(&lower));
            // Names that complete the input rank first, then names it extends.
            let score = if extends {
                0
            } else if related {
                distance.min(1)
            } else {
                distance
            };
            (distance <= budget || related).then(|| (score, candidate.to_string()))
        })
        .collect();
    scored.sort();
    scored.into_iter().take(3).map(|(_, name)| name).collect()
}

pub fn did_you_mean(suggestions: &[String]) -> String {
    if suggestions.is_empty() {
        return String::new();
    }
    let quoted: Vec<String> = suggestions.iter().map(|s| format!("'{s}'")).collect();
    format!("; did you mean {}?", quoted.join(" or "))
}

/// Levenshtein distance over chars, two rows of memory.
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_typos_and_prefixes() {
        let known = ["vip", "vip_gold", "churned", "city"];
        assert_eq!(closest("vp", known), vec!["vip"]);
        assert_eq!(closest("vip_g", known), vec!["vip_gold", "vip"]);
        assert_eq!(closest("churnd", known), vec!["churned"]);
        assert!(closest("zzzzzzzz", known).is_empty());
        assert_eq!(did_you_mean(&["a".into()]), "; did you mean 'a'?");
    }
}
