//! Names as users see them. Tag, attribute, value and segment names, and query
//! texts, are NFC-normalised on the way in, so that "é" typed as one code point
//! and "e" followed by U+0301 (what some keyboards, file systems and exports
//! produce) are the same name. User ids are never normalised: they are opaque.
//!
//! Invariant: every name and categorical value a [`Store`](crate::store::Store)
//! holds is in NFC, and every lookup normalises its argument first.

use std::borrow::Cow;
use std::collections::BTreeMap;

use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};

/// `text` in Unicode Normalization Form C; borrowed when it already is (ASCII
/// and most text pass the quick check without allocating).
pub fn nfc(text: &str) -> Cow<'_, str> {
    if text.is_ascii() || is_nfc_quick(text.chars()) == IsNormalized::Yes {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(text.nfc().collect())
    }
}

/// Pairs keyed by NFC names; entries whose names differ only in normalisation
/// are merged with `merge`.
pub fn by_nfc_name<T>(pairs: impl IntoIterator<Item = (String, T)>, merge: impl Fn(&mut T, T)) -> BTreeMap<String, T> {
    let mut out: BTreeMap<String, T> = BTreeMap::new();
    for (name, item) in pairs {
        let name = match nfc(&name) {
            Cow::Borrowed(_) => name,
            Cow::Owned(normalised) => normalised,
        };
        match out.get_mut(&name) {
            Some(existing) => merge(existing, item),
            None => {
                out.insert(name, item);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decomposed_and_composed_are_one_name() {
        assert_eq!(nfc("cafe\u{301}"), "caf\u{e9}");
        assert!(matches!(nfc("vip"), Cow::Borrowed(_)));
        assert!(matches!(nfc("高价值用户"), Cow::Borrowed(_)));
        let merged = by_nfc_name([("cafe\u{301}".to_string(), 1), ("caf\u{e9}".to_string(), 2)], |a, b| *a += b);
        assert_eq!(merged.len(), 1);
        assert_eq!(merged["caf\u{e9}"], 3);
    }
}
