//! Pairwise intersection counts of many audiences, computed in parallel
//! without materialising any intersection.

use croaring::Bitmap;
use rayon::prelude::*;

/// Row-major `n × n` matrix of `|a_i ∩ a_j|`; the diagonal holds the sizes.
pub fn overlap_matrix(bitmaps: &[&Bitmap]) -> Vec<i64> {
    let n = bitmaps.len();
    let pairs: Vec<(usize, usize)> = (0..n).flat_map(|i| (i..n).map(move |j| (i, j))).collect();
    let counts: Vec<u64> = pairs
        .par_iter()
        .map(|&(i, j)| if i == j { bitmaps[i].cardinality() } else { bitmaps[i].and_cardinality(bitmaps[j]) })
        .collect();
    let mut matrix = vec![0i64; n * n];
    for (&(i, j), &count) in pairs.iter().zip(&counts) {
        let count = count as i64;
        matrix[i * n + j] = count;
        matrix[j * n + i] = count;
    }
    matrix
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symmetric_with_sizes_on_the_diagonal() {
        let a = Bitmap::of(&[1, 2, 3]);
        let b = Bitmap::of(&[2, 3, 4, 5]);
        assert_eq!(overlap_matrix(&[&a, &b]), vec![3, 2, 2, 4]);
    }
}
