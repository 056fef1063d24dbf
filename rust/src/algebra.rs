//! Set algebra shared by the store, the query executor and the bindings.

use croaring::Bitmap;

/// The union of `maps`. Two operands take CRoaring's plain OR: its lazy
/// many-way OR (`fast_or`) converts array containers to bitsets and repairs
/// them afterwards, which measured ~1.8x slower for two sparse bitmaps
/// (W2 Q1's halves) and pays off only from three operands on.
pub fn union(maps: &[&Bitmap]) -> Bitmap {
    match maps {
        [] => Bitmap::new(),
        [only] => (*only).clone(),
        [a, b] => a.or(b),
        many => Bitmap::fast_or(many),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unions_of_any_arity() {
        let a = Bitmap::of(&[1, 2]);
        let b = Bitmap::of(&[2, 3]);
        let c = Bitmap::of(&[70_000]);
        assert!(union(&[]).is_empty());
        assert_eq!(union(&[&a]), a);
        assert_eq!(union(&[&a, &b]).to_vec(), vec![1, 2, 3]);
        assert_eq!(union(&[&a, &b, &c]).to_vec(), vec![1, 2, 3, 70_000]);
    }
}
