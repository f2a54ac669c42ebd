//! "Did you mean": the nearest known word to a typo.

/// The known word nearest to `given`, if it is near enough to be what was meant: at most a third
/// of its length away, and at most 3 edits.
pub fn nearest<'a>(given: &str, known: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (given.chars().count() / 3).clamp(1, 3);
    known
        .map(|word| (edit_distance(given, word), word))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, word)| word)
}

/// Damerau-Levenshtein distance (with adjacent swaps, the commonest typo: `jbos`).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_find_their_word_and_nonsense_finds_none() {
        let commands = ["jobs", "job", "wait", "check", "trace"];
        assert_eq!(nearest("jbos", commands.into_iter()), Some("jobs"));
        assert_eq!(
            nearest("--tiemout", ["--timeout", "--interval"].into_iter()),
            Some("--timeout")
        );
        assert_eq!(nearest("frobnicate", commands.into_iter()), None);
        assert_eq!(edit_distance("sucess", "success"), 1);
    }
}
