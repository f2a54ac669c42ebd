//! A fingerprint of bytes, to know bytes seen before without keeping them: the items of a page
//! that did not change since the last read (`api::pages`), and the values that repeat from one
//! job of a page to the next (`json`).

/// A 128-bit fingerprint of `bytes`: two lanes of multiply-rotate mixing, sixteen bytes a step
/// (eight to each lane), seeded with the length, the lanes mixed into each other at the end. Each
/// step is a bijection of a lane's state for a given word and of the word for a given state, so
/// two answers that differ in one word never share a fingerprint; answers that differ more share
/// one about as often as 2^-64 (a lane). Not a cryptographic hash: the bytes are GitLab's answers,
/// and a GitLab that wanted to lie would not need a collision.
pub fn fingerprint(bytes: &[u8]) -> [u64; 2] {
    const K1: u64 = 0x9E37_79B9_7F4A_7C15;
    const K2: u64 = 0xC2B2_AE3D_27D4_EB4F;
    let length = bytes.len() as u64;
    let (mut a, mut b) = (K1 ^ length, K2.wrapping_add(length));
    // Sixteen bytes a step as one load, split in two words: no bounds to check in the loop.
    let (blocks, rest) = bytes.as_chunks::<16>();
    for block in blocks {
        let block = u128::from_le_bytes(*block);
        a = (a ^ block as u64).wrapping_mul(K1).rotate_left(29);
        b = (b ^ (block >> 64) as u64).wrapping_mul(K2).rotate_left(31);
    }
    let mut last = [0u8; 16];
    last[..rest.len()].copy_from_slice(rest);
    let last = u128::from_le_bytes(last);
    a = (a ^ last as u64).wrapping_mul(K1);
    b = (b ^ (last >> 64) as u64).wrapping_mul(K2);
    [
        (a ^ b.rotate_left(17)).wrapping_mul(K2),
        (b ^ a.rotate_left(43)).wrapping_mul(K1),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_changed_byte_anywhere_changes_the_fingerprint() {
        let page: Vec<u8> = (0..1000u32).flat_map(|i| i.to_le_bytes()).collect();
        let original = fingerprint(&page);
        assert_eq!(
            fingerprint(&page),
            original,
            "the same bytes, the same fingerprint"
        );
        for at in [0, 1, 7, 8, 500, 3998, 3999] {
            let mut changed = page.clone();
            changed[at] ^= 1;
            assert_ne!(fingerprint(&changed), original, "byte {at}");
        }
        // A byte more or less, even a zero one.
        assert_ne!(fingerprint(&page[..3999]), original);
        let mut longer = page.clone();
        longer.push(0);
        assert_ne!(fingerprint(&longer), original);
    }
}
