//! Pages a wait round has read before. Every round reads every page of a followed pipeline's
//! list, and in a pipeline that is waited on most jobs have ended: their bytes do not change from
//! one round to the next, and a page's bytes change only where a job on it changed (a running
//! job's `duration` grows with every read). So what is remembered of a page is, for each of its
//! items, its length, a fingerprint of its bytes, and what scanning it kept (an id, or the few
//! jobs followed); the next read of the page steps over every item whose bytes match one
//! remembered and scans only the others. The page itself is not kept.

use super::{Entry, Keep};
use crate::fingerprint::fingerprint;
use crate::json::{Item, Items};
use crate::model::{Kind, Listed, Named};
use std::borrow::Cow;
use std::cell::RefCell;

/// One item of a page as a read remembers it: an item kept by its id alone is 40 bytes.
pub(super) struct Known {
    length: usize,
    fingerprint: [u64; 2],
    entry: Entry,
}

/// What `keep` keeps of an item known by `named` when it does not keep it whole: its id, name
/// and stage, or its id alone. `None`: the item is kept whole (and must be typed).
fn short_of_whole(keep: &Keep<'_>, named: &Named<'_>) -> Option<Entry> {
    if (keep.whole)(named) {
        None
    } else if keep.named {
        Some(Entry::Named(Box::new(named.clone().into_owned())))
    } else {
        Some(Entry::Counted(named.id))
    }
}

/// How far from the item expected a scanned item is looked for among the last read's items: jobs
/// come into a page and leave it a few at a time (a retry adds one on top and takes one out); a
/// page that shifted further is scanned until an item it was looked for is found.
const RESYNC: usize = 8;

/// What is remembered of one page: the choice of what to keep it was read with (see
/// [`Keep::remember`]), and its items.
pub(super) struct Remembered {
    choice: String,
    items: Vec<Known>,
}

/// The last read of each page (by request: path and query) that was read with a choice to
/// remember; one each, so what is remembered does not grow with the rounds. A wait follows a few
/// pipelines of a few pages each: a list looked through serves.
#[derive(Default)]
pub(super) struct Pages {
    read: RefCell<Vec<(String, Remembered)>>,
}

impl Pages {
    /// Reads a page (`scan` scans it with the [`Reading`] it is given) with what was remembered
    /// of `request`, and remembers this read instead when it succeeds.
    pub(super) fn read<E>(
        &self,
        request: String,
        keep: &Keep<'_>,
        choice: &str,
        kind: Kind,
        scan: impl FnOnce(&mut Reading<'_, '_>) -> Result<(), E>,
    ) -> Result<Vec<Entry>, E> {
        let items = {
            let read = self.read.borrow();
            let before = read
                .iter()
                .find(|(k, _)| *k == request)
                .map(|(_, page)| page);
            let mut reading = Reading::new(Some(keep), kind, before, Some(choice));
            // A read that fails (a page cut short) leaves the last one remembered.
            scan(&mut reading)?;
            reading.items
        };
        let entries = items.iter().map(|known| known.entry.clone()).collect();
        let page = Remembered {
            choice: choice.to_string(),
            items,
        };
        let mut read = self.read.borrow_mut();
        match read.iter_mut().find(|(k, _)| *k == request) {
            Some((_, remembered)) => *remembered = page,
            None => read.push((request, page)),
        }
        Ok(entries)
    }
}

/// The items of one read of a page, as a scan hands them over ([`Items`]): those known from the
/// last read of the page are taken from it, the others typed as `keep` asks.
pub(super) struct Reading<'r, 'k> {
    keep: Option<&'r Keep<'k>>,
    kind: Kind,
    before: Option<&'r Remembered>,
    /// Whether `before` was read with the same choice of what to keep.
    same_choice: bool,
    /// Whether this read is remembered (its items' fingerprints are needed).
    remembered: bool,
    /// The item of `before` expected next: the one after the last item matched or found.
    expected: usize,
    /// The fingerprints of the bytes at the item being read, by length, as `known` took them.
    spans: Vec<(usize, [u64; 2])>,
    pub(super) items: Vec<Known>,
    /// Why an item is not a job GitLab would send (the page is refused once it is scanned).
    pub(super) bad_item: Option<String>,
}

impl<'r, 'k> Reading<'r, 'k> {
    pub(super) fn new(
        keep: Option<&'r Keep<'k>>,
        kind: Kind,
        before: Option<&'r Remembered>,
        choice: Option<&str>,
    ) -> Self {
        Reading {
            keep,
            kind,
            before,
            same_choice: before.is_some_and(|page| Some(page.choice.as_str()) == choice),
            remembered: choice.is_some(),
            expected: 0,
            spans: Vec::with_capacity(3),
            items: Vec::with_capacity(super::PER_PAGE),
            bad_item: None,
        }
    }

    /// What was kept of each item, in order.
    pub(super) fn entries(self) -> Vec<Entry> {
        self.items.into_iter().map(|known| known.entry).collect()
    }

    /// What `known` kept serves this read too: as it is when the choice is the same (the same
    /// bytes, the same decision); else derived from an item kept whole or by name, as this
    /// read's choice keeps it. `None` when it cannot serve (an item only counted, or one this
    /// read keeps whole that was kept by name): the item is scanned.
    fn reuse(&self, known: &Known) -> Option<Entry> {
        if self.same_choice {
            return Some(known.entry.clone());
        }
        let keep = self.keep?;
        match &known.entry {
            Entry::Whole(listed) => {
                let named = Named {
                    id: listed.job.id,
                    kind: listed.kind,
                    name: Cow::Borrowed(&listed.job.name),
                    stage: Cow::Borrowed(&listed.job.stage),
                };
                Some(short_of_whole(keep, &named).unwrap_or_else(|| Entry::Whole(listed.clone())))
            }
            Entry::Named(named) => short_of_whole(keep, named),
            Entry::Counted(_) => None,
        }
    }
}

impl Items for Reading<'_, '_> {
    /// An item of the last read whose bytes are the bytes at `rest`, if what it kept serves:
    /// the one expected next, else the one after it (the expected one left the list), else the
    /// one before it (the item scanned last came in before it, rather than in its place).
    fn known(&mut self, rest: &[u8]) -> Option<usize> {
        self.spans.clear();
        let before = self.before?;
        let candidates = [
            Some(self.expected),
            self.expected.checked_add(1),
            self.expected.checked_sub(1),
        ];
        for at in candidates.into_iter().flatten() {
            let Some(known) = before.items.get(at) else {
                continue;
            };
            // Jobs of a page are often of one length: each length is fingerprinted once.
            let print = match self
                .spans
                .iter()
                .find(|(length, _)| *length == known.length)
            {
                Some(&(_, print)) => print,
                None => {
                    let Some(bytes) = rest.get(..known.length) else {
                        continue;
                    };
                    let print = fingerprint(bytes);
                    self.spans.push((known.length, print));
                    print
                }
            };
            if print == known.fingerprint {
                let entry = self.reuse(known)?;
                self.items.push(Known {
                    length: known.length,
                    fingerprint: known.fingerprint,
                    entry,
                });
                self.expected = at + 1;
                return Some(known.length);
            }
        }
        None
    }

    fn item(&mut self, item: &Item<'_>) -> Result<(), String> {
        // Kept by name or id if `keep` says so; else (and when every item is kept) typed whole.
        let short = match self.keep {
            None => Ok(None),
            Some(keep) => {
                Named::from_item(item, self.kind).map(|named| short_of_whole(keep, &named))
            }
        };
        let entry = short.and_then(|short| match short {
            Some(entry) => Ok(entry),
            None => Listed::from_item(item, self.kind).map(|job| Entry::Whole(Box::new(job))),
        });
        let entry = match entry {
            Ok(entry) => entry,
            Err(why) => {
                self.bad_item = Some(why);
                return Ok(());
            }
        };
        let length = item.text.len();
        if !self.remembered {
            self.items.push(Known {
                length,
                fingerprint: [0; 2],
                entry,
            });
            return Ok(());
        }
        // The bytes of the item were fingerprinted already if an item of the last read of the
        // same length was looked for here.
        let fingerprint = match self.spans.iter().find(|(l, _)| *l == length) {
            Some(&(_, print)) => print,
            None => fingerprint(item.text.as_bytes()),
        };
        // The next item expected is the one after this one in the last read, if it was there
        // (a job that came from the page before, or one after jobs that left the list: looked
        // for among the items near the one expected); else the one after the item it replaced
        // (a job that changed where it was).
        let near = self.expected.saturating_sub(RESYNC)..self.expected + RESYNC;
        let found = self.before.and_then(|page| {
            let from = near.start;
            page.items
                .get(near.start..near.end.min(page.items.len()))?
                .iter()
                .position(|k| k.length == length && k.fingerprint == fingerprint)
                .map(|at| from + at)
        });
        self.expected = found.unwrap_or(self.expected) + 1;
        self.items.push(Known {
            length,
            fingerprint,
            entry,
        });
        Ok(())
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::scan_items;

    /// A page of jobs `ids`, each running for `duration(id)` seconds.
    fn page(ids: &[u64], duration: impl Fn(u64) -> u64) -> String {
        let items: Vec<String> = ids
            .iter()
            .map(|id| {
                format!(
                    r#"{{"id":{id},"name":"job {id}","stage":"test","status":"running","duration":{}}}"#,
                    duration(*id)
                )
            })
            .collect();
        format!("[{}]", items.join(","))
    }

    /// A choice of what to keep: job `whole` kept whole, the others by name or only counted.
    fn keep(whole: u64, named: bool, choice: &str) -> Keep<'static> {
        Keep {
            whole: Box::new(move |job: &Named<'_>| job.id == whole),
            named,
            remember: Some(choice.to_string()),
        }
    }

    /// What a read kept of an item: its id, how (whole, named, counted), and its duration.
    type Kept = (u64, &'static str, Option<f64>);

    /// Reads `text` as the page `p`: what it kept and how many items were scanned rather than
    /// recognised.
    fn read(pages: &Pages, text: &str, keep: &Keep<'_>) -> (Vec<Kept>, usize) {
        struct Counting<'a, 'r, 'k>(&'a mut Reading<'r, 'k>, usize);
        impl Items for Counting<'_, '_, '_> {
            fn known(&mut self, rest: &[u8]) -> Option<usize> {
                self.0.known(rest)
            }
            fn item(&mut self, item: &Item<'_>) -> Result<(), String> {
                self.1 += 1;
                self.0.item(item)
            }
        }
        let mut scanned = 0;
        let choice = keep.remember.clone().unwrap_or_default();
        let entries = pages
            .read("p".into(), keep, &choice, Kind::Build, |reading| {
                let mut counting = Counting(reading, 0);
                let result = scan_items(text.as_bytes(), &Listed::FIELDS, &mut counting);
                scanned = counting.1;
                assert_eq!(counting.0.bad_item, None);
                result
            })
            .expect("a page");
        let kept = entries
            .iter()
            .map(|entry| match entry {
                Entry::Whole(listed) => (listed.job.id, "whole", listed.job.duration),
                Entry::Named(named) => (named.id, "named", None),
                Entry::Counted(id) => (*id, "counted", None),
            })
            .collect();
        (kept, scanned)
    }

    #[test]
    fn only_the_items_that_changed_since_the_last_read_are_scanned() {
        let pages = Pages::default();
        let round = keep(3, false, "round");
        let ids = [5, 4, 3, 2, 1];
        let (first, scanned) = read(&pages, &page(&ids, |_| 10), &round);
        assert_eq!(scanned, 5);
        assert_eq!(first[2], (3, "whole", Some(10.0)));
        assert_eq!(first[0], (5, "counted", None));
        // The same bytes: nothing scanned, the same kept.
        assert_eq!(
            read(&pages, &page(&ids, |_| 10), &round),
            (first.clone(), 0)
        );
        // The followed job ran on, and job 1: those two are scanned, and what changed is seen.
        let (kept, scanned) = read(
            &pages,
            &page(&ids, |id| if id % 2 == 1 && id != 5 { 11 } else { 10 }),
            &round,
        );
        assert_eq!(scanned, 2);
        assert_eq!(kept[2], (3, "whole", Some(11.0)));
        assert_eq!(kept.iter().map(|k| k.0).collect::<Vec<_>>(), ids);
        // A job came in on top (a retry) and the last left for the next page: one scan. Then a
        // job left from the middle: none.
        let (kept, scanned) = read(
            &pages,
            &page(&[6, 5, 4, 3, 2], |id| {
                if id % 2 == 1 && id != 5 { 11 } else { 10 }
            }),
            &round,
        );
        assert_eq!(
            (kept.iter().map(|k| k.0).collect::<Vec<_>>(), scanned),
            (vec![6, 5, 4, 3, 2], 1)
        );
        let (kept, scanned) = read(
            &pages,
            &page(
                &[6, 5, 3, 2],
                |id| if id % 2 == 1 && id != 5 { 11 } else { 10 },
            ),
            &round,
        );
        assert_eq!(
            (kept.iter().map(|k| k.0).collect::<Vec<_>>(), scanned),
            (vec![6, 5, 3, 2], 0)
        );
        assert_eq!(kept[2], (3, "whole", Some(11.0)));
    }

    #[test]
    fn what_another_choice_kept_serves_only_where_it_kept_enough() {
        let pages = Pages::default();
        let ids = [3, 2, 1];
        let text = page(&ids, |_| 10);
        // The selection keeps job 2 whole and the others by name.
        let (kept, scanned) = read(&pages, &text, &keep(2, true, "selection"));
        assert_eq!((kept[0].1, kept[1].1, scanned), ("named", "whole", 3));
        // A round following job 2: all derived, nothing scanned.
        let (kept, scanned) = read(&pages, &text, &keep(2, false, "round 2"));
        assert_eq!((kept[0].1, kept[1].1, scanned), ("counted", "whole", 0));
        assert_eq!(kept[1].2, Some(10.0));
        // A round following job 3: the items the last read only counted (jobs 3 and 1) are
        // scanned, job 2, kept whole, is not.
        let (kept, scanned) = read(&pages, &text, &keep(3, false, "round 3"));
        assert_eq!(
            (kept[0].1, kept[1].1, kept[2].1, scanned),
            ("whole", "counted", "counted", 2)
        );
    }

    #[test]
    fn a_read_that_fails_leaves_the_last_one_remembered() {
        let pages = Pages::default();
        let round = keep(1, false, "round");
        let text = page(&[2, 1], |_| 10);
        read(&pages, &text, &round);
        let cut = &text[..text.len() - 1];
        let failed = pages.read("p".into(), &round, "round", Kind::Build, |reading| {
            scan_items(cut.as_bytes(), &Listed::FIELDS, reading)
        });
        assert!(failed.is_err());
        assert_eq!(read(&pages, &text, &round).1, 0);
    }

    /// One edit of a page between two reads.
    #[derive(Debug, Clone)]
    enum Edit {
        /// A new job on top (a retry's new attempt).
        Top(u64),
        /// The job at (this modulo the page's length) leaves the list.
        Leave(usize),
        /// The job at … runs on: its duration grows by one digit or not at all (a same-length
        /// edit), or its status changes.
        Duration(usize, u64),
        Status(usize),
        /// The job at … is written twice (GitLab would not, and the snapshot's id check refuses
        /// it; here both reads keep the same).
        Twice(usize),
    }

    fn edit() -> impl proptest::strategy::Strategy<Value = Edit> {
        use proptest::prelude::*;
        prop_oneof![
            (100u64..200).prop_map(Edit::Top),
            any::<usize>().prop_map(Edit::Leave),
            (any::<usize>(), 0u64..20).prop_map(|(at, d)| Edit::Duration(at, d)),
            any::<usize>().prop_map(Edit::Status),
            any::<usize>().prop_map(Edit::Twice),
        ]
    }

    /// A page of jobs as (id, duration, status).
    fn render(jobs: &[(u64, u64, &str)]) -> String {
        let items: Vec<String> = jobs
            .iter()
            .map(|(id, duration, status)| {
                format!(
                    r#"{{"commit":{{"id":"0ff3ae198f8601a285adcf5c0fff204ee6fba5fd","message":"m"}},"id":{id},"name":"job {id}","stage":"test","status":"{status}","duration":{duration},"user":{{"id":3,"username":"deployer","name":"Deploy Er"}}}}"#
                )
            })
            .collect();
        format!("[{}]", items.join(","))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

        /// The invariant the page cache rests on: a page read after another read of it keeps
        /// what a first read of it keeps, whatever changed in between (jobs in, out, edited,
        /// written twice) and whichever choice each read made.
        #[test]
        fn a_page_read_again_keeps_what_a_first_read_of_it_keeps(
            count in 1usize..12,
            edits in proptest::collection::vec(edit(), 0..6),
            follow in 0u64..14,
            choices in (0usize..3, 0usize..3),
        ) {
            let mut jobs: Vec<(u64, u64, &str)> = (0..count as u64).rev().map(|id| (id, 10, "running")).collect();
            let first = render(&jobs);
            for edit in &edits {
                let len = jobs.len().max(1);
                match *edit {
                    Edit::Top(id) => jobs.insert(0, (id, 10, "running")),
                    Edit::Leave(at) if !jobs.is_empty() => {
                        jobs.remove(at % len);
                    }
                    Edit::Duration(at, d) if !jobs.is_empty() => jobs[at % len].1 += d * 7,
                    Edit::Status(at) if !jobs.is_empty() => jobs[at % len].2 = "failed",
                    Edit::Twice(at) if !jobs.is_empty() => {
                        let twin = jobs[at % len];
                        jobs.insert(at % len, twin);
                    }
                    _ => {}
                }
            }
            let second = render(&jobs);
            let choice = |n: usize| match n {
                0 => keep(follow, true, "selection"),
                1 => keep(follow, false, "round"),
                _ => keep(follow + 1, false, "another round"),
            };
            let (before, after) = (choice(choices.0), choice(choices.1));
            let kept = |pages: &Pages, text: &str, keep: &Keep<'_>| {
                let choice = keep.remember.clone().unwrap_or_default();
                pages
                    .read("p".into(), keep, &choice, Kind::Build, |reading| {
                        scan_items(text.as_bytes(), &Listed::FIELDS, reading)?;
                        match reading.bad_item.take() {
                            Some(why) => Err(why),
                            None => Ok(()),
                        }
                    })
                    .map(|entries| {
                        entries
                            .iter()
                            .map(|entry| match entry {
                                Entry::Whole(listed) => (listed.job.id, format!("whole {:?} {:?}", listed.job.status, listed.job.duration)),
                                Entry::Named(named) => (named.id, format!("named {}", named.name)),
                                Entry::Counted(id) => (*id, "counted".into()),
                            })
                            .collect::<Vec<_>>()
                    })
            };
            let cached = Pages::default();
            let _ = kept(&cached, &first, &before);
            let again = kept(&cached, &second, &after);
            let fresh = kept(&Pages::default(), &second, &after);
            proptest::prop_assert_eq!(again, fresh);
        }
    }
}
