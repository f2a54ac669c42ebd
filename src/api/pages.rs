//! Pages a wait round has read before. Every round reads every page of a followed pipeline's
//! list, and in a pipeline that is waited on most pages hold jobs that have ended: their bytes
//! do not change from one round to the next. A page whose bytes are the same as last round's
//! (same request, same choice of what to keep, same fingerprint) is not scanned again; what
//! scanning it kept is used again. Only a fingerprint and what was kept are remembered (an id,
//! 16 bytes a job, and the few jobs followed), not the page.

use super::{Entry, Keep};
use crate::model::Named;
use std::borrow::Cow;
use std::cell::RefCell;

/// Whether what [`Pages::recall`] gives was remembered with the choice asked for, or derived
/// from the selection's (then it is remembered again, as the round keeps it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Derived {
    No,
    FromSelection,
}

/// What is remembered of one page: the choice of what to keep it was read with, its
/// fingerprint, and what reading it kept (an item kept by its id alone is 16 bytes).
struct Remembered {
    choice: String,
    fingerprint: [u64; 2],
    entries: Vec<Entry>,
}

/// The last read of each page (by request: path and query) that was read with a choice to
/// remember; one each, so what is remembered does not grow with the rounds. A wait follows a few
/// pipelines of a few pages each: a list looked through serves.
#[derive(Default)]
pub(super) struct Pages {
    read: RefCell<Vec<(String, Remembered)>>,
}

impl Pages {
    /// What reading the page `request` with `keep`'s choice kept, if its bytes had
    /// `fingerprint` then too. A page last read by the selection ([`Keep::SELECTION`]: the jobs
    /// a selector may pick kept whole, the others by name) serves a round as well, when every
    /// job the round keeps was kept whole there: the round's first read of an unchanged page is
    /// not a scan either.
    pub(super) fn recall(
        &self,
        request: &str,
        keep: &Keep<'_>,
        fingerprint: [u64; 2],
    ) -> Option<(Vec<Entry>, Derived)> {
        let choice = keep.remember.as_deref()?;
        let read = self.read.borrow();
        let (_, page) = read.iter().find(|(k, _)| k == request)?;
        if page.fingerprint != fingerprint {
            return None;
        }
        if page.choice == choice {
            return Some((page.entries.clone(), Derived::No));
        }
        if page.choice != Keep::SELECTION {
            return None;
        }
        page.entries
            .iter()
            .cloned()
            .map(|entry| match entry {
                Entry::Whole(listed) => {
                    let named = Named {
                        id: listed.job.id,
                        kind: listed.kind,
                        name: Cow::Borrowed(&listed.job.name),
                        stage: Cow::Borrowed(&listed.job.stage),
                    };
                    Some(if (keep.whole)(&named) {
                        Entry::Whole(listed.clone())
                    } else {
                        Entry::Counted(listed.job.id)
                    })
                }
                // Kept by name only: if the round wants it whole, the page is scanned again.
                Entry::Named(named) => (!(keep.whole)(&named)).then_some(Entry::Counted(named.id)),
                Entry::Counted(id) => Some(Entry::Counted(id)),
            })
            .collect::<Option<Vec<Entry>>>()
            .map(|entries| (entries, Derived::FromSelection))
    }

    pub(super) fn remember(
        &self,
        request: String,
        choice: &str,
        fingerprint: [u64; 2],
        entries: &[Entry],
    ) {
        let key = request;
        let page = Remembered {
            choice: choice.to_string(),
            fingerprint,
            entries: entries.to_vec(),
        };
        let mut read = self.read.borrow_mut();
        match read.iter_mut().find(|(k, _)| *k == key) {
            Some((_, remembered)) => *remembered = page,
            None => read.push((key, page)),
        }
    }
}

/// A 128-bit fingerprint of `bytes`: two lanes of multiply-rotate mixing, sixteen bytes a step
/// (eight to each lane), seeded with the length, the lanes mixed into each other at the end. Each
/// step is a bijection of a lane's state for a given word and of the word for a given state, so
/// two answers that differ in one word never share a fingerprint; answers that differ more share
/// one about as often as 2^-64 (a lane). Not a cryptographic hash: the bytes are GitLab's answers,
/// and a GitLab that wanted to lie would not need a collision.
pub(super) fn fingerprint(bytes: &[u8]) -> [u64; 2] {
    const K1: u64 = 0x9E37_79B9_7F4A_7C15;
    const K2: u64 = 0xC2B2_AE3D_27D4_EB4F;
    let length = bytes.len() as u64;
    let (mut a, mut b) = (K1 ^ length, K2.wrapping_add(length));
    // Each word a plain load (a copy into an array would call memcpy per word).
    let mut rest = bytes;
    while let Some((words, tail)) = rest.split_first_chunk::<16>() {
        let (first, second) = words.split_at(8);
        let first = u64::from_le_bytes(first.try_into().unwrap_or_default());
        let second = u64::from_le_bytes(second.try_into().unwrap_or_default());
        a = (a ^ first).wrapping_mul(K1).rotate_left(29);
        b = (b ^ second).wrapping_mul(K2).rotate_left(31);
        rest = tail;
    }
    let mut last = [0u8; 16];
    last[..rest.len()].copy_from_slice(rest);
    let (first, second) = last.split_at(8);
    a = (a ^ u64::from_le_bytes(first.try_into().unwrap_or_default())).wrapping_mul(K1);
    b = (b ^ u64::from_le_bytes(second.try_into().unwrap_or_default())).wrapping_mul(K2);
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
