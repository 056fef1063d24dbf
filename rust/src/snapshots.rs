//! Comparing two snapshots of a store: who entered, left or stayed in an
//! audience, and the transition matrix of a categorical attribute.
//!
//! The two snapshots may have different id dictionaries (last week's file
//! and today's, built separately): users are matched by their own ids, so a
//! bitmap of the old snapshot is first carried into the new one's dense ids
//! ([`translate`]). Snapshots of one store share a dictionary lineage and
//! need no carrying. Everything else is bitmap algebra and intersection
//! counts, never a loop over users outside `translate`.

use rayon::prelude::*;

use croaring::Bitmap;

use crate::ids::IdMap;
use crate::store::Categorical;

/// `bitmap`'s users (dense ids of `from`) as dense ids of `to`; users `to`
/// does not know are left out.
pub fn translate(bitmap: &Bitmap, from: &IdMap, to: &IdMap) -> Bitmap {
    if from.compatible(to) {
        return bitmap.clone();
    }
    let ids: Vec<u32> = bitmap.iter().filter_map(|dense| from.translate(dense, to)).collect();
    let mut sorted = ids;
    sorted.par_sort_unstable();
    crate::build::bitmap_from_ids(&sorted)
}

/// An audience in two snapshots.
#[derive(Debug, Clone)]
pub struct Diff {
    /// In the new audience and not the old one (dense ids of the new snapshot).
    pub entered: Bitmap,
    /// In the old audience and not the new one (dense ids of the old snapshot).
    pub left: Bitmap,
    /// In both (dense ids of the new snapshot).
    pub stayed: Bitmap,
}

/// Who entered, left and stayed between `old` (ids of `old_ids`) and `new`.
pub fn diff(old: &Bitmap, old_ids: &IdMap, new: &Bitmap, new_ids: &IdMap) -> Diff {
    let old_in_new = translate(old, old_ids, new_ids);
    let new_in_old = translate(new, new_ids, old_ids);
    Diff { entered: new.andnot(&old_in_new), left: old.andnot(&new_in_old), stayed: new.and(&old_in_new) }
}

/// A transition matrix: `counts[i][j]` users had `rows[i]` in the old snapshot
/// and `columns[j]` in the new one. The last row and column, `None`, stand
/// for "no value": not a user of that snapshot, or a user without a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transitions {
    pub rows: Vec<Option<String>>,
    pub columns: Vec<Option<String>>,
    pub counts: Vec<Vec<u64>>,
}

/// The transition matrix of one categorical attribute between two snapshots.
pub fn transitions(old: &Categorical, old_ids: &IdMap, new: &Categorical, new_ids: &IdMap) -> Transitions {
    let old_values: Vec<(&String, Bitmap)> =
        old.values.par_iter().map(|(label, users)| (label, translate(users, old_ids, new_ids))).collect();
    let old_sizes: Vec<u64> = old.values.values().map(|users| users.cardinality()).collect();
    let new_values: Vec<(&String, &Bitmap)> = new.values.iter().map(|(label, users)| (label, users.as_ref())).collect();
    let cells: Vec<Vec<u64>> = old_values
        .par_iter()
        .map(|(_, from)| new_values.iter().map(|(_, to)| from.and_cardinality(to)).collect())
        .collect();
    let mut counts = Vec::with_capacity(cells.len() + 1);
    for (row, size) in cells.iter().zip(&old_sizes) {
        let mut full = row.clone();
        full.push(size - row.iter().sum::<u64>());
        counts.push(full);
    }
    let mut appeared: Vec<u64> = new_values
        .iter()
        .enumerate()
        .map(|(j, (_, to))| to.cardinality() - cells.iter().map(|row| row[j]).sum::<u64>())
        .collect();
    appeared.push(0);
    counts.push(appeared);
    let labels = |names: Vec<&String>| names.into_iter().map(|n| Some(n.clone())).chain([None]).collect();
    Transitions { rows: labels(old.values.keys().collect()), columns: labels(new.values.keys().collect()), counts }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use super::*;

    fn attribute(values: &[(&str, &[u32])]) -> Categorical {
        let values: BTreeMap<String, Arc<Bitmap>> =
            values.iter().map(|(label, ids)| (label.to_string(), Arc::new(Bitmap::of(ids)))).collect();
        Categorical::new(values)
    }

    #[test]
    fn a_matrix_counts_moves_arrivals_and_departures() {
        let ids = IdMap::new(crate::ids::IdKind::UInt32);
        let old = attribute(&[("a", &[1, 2, 3]), ("b", &[4, 5])]);
        let new = attribute(&[("a", &[1, 4]), ("b", &[2, 6]), ("c", &[7])]);
        let t = transitions(&old, &ids, &new, &ids);
        assert_eq!(t.rows, vec![Some("a".into()), Some("b".into()), None]);
        assert_eq!(t.columns, vec![Some("a".into()), Some("b".into()), Some("c".into()), None]);
        // 3 and 5 have no new value; 6 and 7 had no old one.
        assert_eq!(t.counts, vec![vec![1, 1, 0, 1], vec![1, 0, 0, 1], vec![0, 1, 1, 0]]);
    }

    #[test]
    fn a_diff_splits_two_audiences() {
        let ids = IdMap::new(crate::ids::IdKind::UInt32);
        let d = diff(&Bitmap::of(&[1, 2, 3]), &ids, &Bitmap::of(&[3, 4]), &ids);
        assert_eq!((d.entered.to_vec(), d.left.to_vec(), d.stayed.to_vec()), (vec![4], vec![1, 2], vec![3]));
    }
}
