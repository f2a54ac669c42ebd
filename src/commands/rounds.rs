//! A wait round's reads: each pipeline of the tree that holds a followed job, asked only for
//! what can still change, and the selection below a trigger job that created (or, run again,
//! replaced) its pipeline.
//!
//! A round asks GitLab for the unfinished jobs of each followed pipeline (`scope[]=`, see
//! [`Statuses::Unfinished`]): one request while they fit on a page, a few kilobytes for a few
//! followed jobs where every job of a 1,000-job pipeline would be 2.5 MB. What is missing from
//! such a list has ended or is gone, which only the whole list tells: a followed job that is not
//! settled and is missing makes the round read that whole list. A round in which every followed
//! job is settled is the one a verdict is declared on, and reads every list whole.

use super::{Context, PipelineAt, Selection};
use crate::error::Result;
use crate::model::{Kind, Listed, Statuses};
use crate::say;
use crate::select::Selector;
use crate::wait::{self, Downstream, Followed, Read, Snapshot, Source, Track, Via};

/// A selected job, followed by name in its own pipeline; or a trigger job followed until it
/// creates the pipeline the rest of the selector is about.
pub(super) fn follow_selection(context: &Context, selection: Selection) -> Followed {
    match selection {
        Selection::Job(picked) => {
            let mut followed = follow_as_listed(context, picked.listed, Some(&picked.at));
            followed.vias = picked.vias;
            followed
        }
        Selection::Awaiting(awaiting) => {
            let mut followed = Followed::new(awaiting.bridge, Track::ByName { at: awaiting.at });
            followed.awaiting = Some(Downstream {
                wanted: vec![(awaiting.rest, awaiting.path)],
            });
            followed.vias = awaiting.vias;
            followed
        }
    }
}

/// Follows a job by name in its own pipeline (`listed_in` when its payload does not say).
pub fn follow_as_listed(
    context: &Context,
    listed: Listed,
    listed_in: Option<&PipelineAt>,
) -> Followed {
    let track = match context.pipeline_of(&listed, listed_in) {
        Some(at) => Track::ByName { at },
        None => Track::ById {
            project: context.project.clone(),
        },
    };
    Followed::new(listed, track)
}

/// The source of a wait's rounds, over the pipeline tree. Jobs that have ended are still followed
/// while the wait goes on for others: one retried, or the trigger job above it run again, is no
/// longer that verdict (the wait judges latest attempts, wherever they are, not only those that
/// share a pipeline with a job still running).
pub(super) struct TreeSource<'a> {
    pub(super) context: &'a Context,
    /// Whether this GitLab takes `scope[]` on the lists a round reads; a 400 to it (a GitLab that
    /// does not know one of the statuses) makes every later round read whole lists.
    scoped: bool,
}

impl<'a> TreeSource<'a> {
    pub(super) fn new(context: &'a Context) -> Self {
        TreeSource {
            context,
            scoped: true,
        }
    }
}

/// A list a round reads: pipeline `at`'s jobs (or trigger jobs, for `kind`), and the followed
/// entries found in it.
struct Planned<'f> {
    at: PipelineAt,
    kind: Kind,
    followed: Vec<&'f Followed>,
}

/// The lists a round reads: each followed entry's own list, and the trigger jobs on its way down
/// (retried, one would create another pipeline).
fn plan(followed: &[Followed]) -> Vec<Planned<'_>> {
    let mut plan: Vec<Planned<'_>> = Vec::new();
    for f in followed {
        if let Some(at) = f.pipeline() {
            need(&mut plan, at, f.current.kind, Some(f));
        }
        for via in &f.vias {
            need(&mut plan, &via.parent, Kind::Bridge, None);
        }
    }
    plan
}

/// A refusal of the request itself, whatever the token: a 4xx but 401 (the token, which a whole
/// read would meet too) and 429 (passing), or 501. GitLab (or a proxy) will not answer this
/// request, however often asked.
fn is_refusal(err: &crate::error::Error) -> bool {
    err.http_status().is_some_and(|status| {
        ((400..500).contains(&status) && !matches!(status, 401 | 429)) || status == 501
    })
}

/// What a list holds, for messages.
fn list_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Build => "jobs",
        Kind::Bridge => "trigger jobs",
    }
}

/// Adds `entry` (if any) to what the round reads of pipeline `at`'s `kind` list.
fn need<'f>(plan: &mut Vec<Planned<'f>>, at: &PipelineAt, kind: Kind, entry: Option<&'f Followed>) {
    let index = match plan.iter().position(|p| p.at == *at && p.kind == kind) {
        Some(index) => index,
        None => {
            plan.push(Planned {
                at: at.clone(),
                kind,
                followed: Vec::new(),
            });
            plan.len() - 1
        }
    };
    plan[index].followed.extend(entry);
}

impl Source for TreeSource<'_> {
    fn snapshot(&mut self, followed: &[Followed]) -> Result<Snapshot> {
        let context = self.context;
        // A verdict's round: every list whole, so that a job retried and ended since the last
        // round is seen by its newest attempt.
        let confirming = followed.iter().all(Followed::settled);
        let mut snapshot = Snapshot::default();
        for planned in plan(followed) {
            let (statuses, listed) = self.read(&planned, confirming)?;
            let read = match snapshot.pipelines.iter_mut().find(|r| r.at == planned.at) {
                Some(read) => read,
                None => {
                    snapshot.pipelines.push(Read {
                        at: planned.at.clone(),
                        jobs: None,
                        bridges: None,
                        listed: Vec::new(),
                    });
                    // Just pushed: the vector is not empty.
                    let last = snapshot.pipelines.len() - 1;
                    &mut snapshot.pipelines[last]
                }
            };
            match planned.kind {
                Kind::Build => read.jobs = Some(statuses),
                Kind::Bridge => read.bridges = Some(statuses),
            }
            read.listed.extend(listed);
        }
        for f in followed.iter().filter(|f| !f.settled()) {
            if let Track::ById { project } = &f.track {
                snapshot
                    .singles
                    .push(context.single_job(project, f.current.job.id)?);
            }
        }
        Ok(snapshot)
    }

    fn expand(&mut self, followed: &mut Vec<Followed>, snapshot: &Snapshot) -> Result<()> {
        let context = self.context;
        self.follow_retriggered(followed, snapshot)?;
        let mut index = 0;
        while index < followed.len() {
            let f = &followed[index];
            let (Some(downstream), Some(at)) = (&f.awaiting, f.pipeline()) else {
                index += 1;
                continue;
            };
            let Some(child) = context.downstream_of(&f.current, at) else {
                index += 1;
                continue;
            };
            let mut replacement: Vec<Followed> = Vec::new();
            for (rest, path) in &downstream.wanted {
                // The way down is remembered here as well, or a later run of this trigger job
                // would leave these jobs judged in the pipeline it no longer stands for.
                let found = context.resolve_below(
                    &way_down(&f.vias, at),
                    &f.current.job.name,
                    &child,
                    rest,
                    path,
                    1,
                )?;
                replacement.extend(found.into_iter().map(|selection| {
                    let mut found = follow_selection(context, selection);
                    found.vias.extend(f.vias.iter().cloned());
                    found
                }));
            }
            say::line(&format!(
                "gljob: {} (#{}) created pipeline {}; following {} there",
                f.current.job.name,
                f.current.job.id,
                child.id,
                downstream.paths()
            ));
            let replacement = wait::merge_duplicates(replacement);
            let added = replacement.len();
            followed.splice(index..=index, replacement);
            index += added;
        }
        // Two trigger jobs' pipelines may hold what one selector picked twice.
        let all = std::mem::take(followed);
        *followed = wait::merge_duplicates(all);
        Ok(())
    }
}

impl TreeSource<'_> {
    /// One list of a round. Its unfinished jobs, unless the round is `confirming` or this GitLab
    /// does not take `scope[]`. A followed entry that is not settled and is missing from them
    /// has ended, or was retried and ended, or is gone: absence is never a verdict, so the
    /// finished jobs are read too (the two lists are the whole list, in fewer bytes than a read
    /// of every page when many jobs run); only an entry missing from both makes the round read
    /// the whole list. The two partial reads are listings, not snapshots: on a busy pipeline
    /// they change between their pages as jobs end, and what they miss is read again.
    fn read(&mut self, planned: &Planned<'_>, confirming: bool) -> Result<(Statuses, Vec<Listed>)> {
        let context = self.context;
        let (at, kind) = (&planned.at, planned.kind);
        if self.scoped && !confirming {
            match self.read_partial(planned) {
                Ok(Some(listed)) => return Ok((Statuses::Unfinished, listed)),
                Ok(None) => {}
                // A scoped read refused (a GitLab that does not take one of the statuses, or
                // `scope[]` at all, or a proxy in front that refuses the query) where the whole
                // list may still be read: the whole list answers this round and every later one,
                // and says whether the refusal was the list's. A passing failure (429, 5xx, the
                // network) fails the round as any read's would: asking for more then would only
                // add to a struggling GitLab's load.
                Err(err) if is_refusal(&err) => {
                    self.scoped = false;
                    say::line(&format!(
                        "gljob: warning: GitLab refused to list only some statuses of pipeline \
                         {}'s {} ({}); every round reads whole lists",
                        at.id,
                        list_name(kind),
                        err.message()
                    ));
                }
                Err(err) => return Err(err),
            }
        }
        Ok((Statuses::All, context.list_of(at, kind, Statuses::All)?))
    }

    /// The unfinished jobs of a planned list, and, when a followed entry that is not settled is
    /// missing from them, the finished ones too; `None` when an entry is missing from both (the
    /// whole list must say where it is).
    fn read_partial(&self, planned: &Planned<'_>) -> Result<Option<Vec<Listed>>> {
        let context = self.context;
        let (at, kind) = (&planned.at, planned.kind);
        let missing_from = |listed: &[Listed]| {
            planned
                .followed
                .iter()
                .find(|f| !f.settled() && !listed.iter().any(|j| j.job.name == f.current.job.name))
                .map(|f| format!("{} (#{})", f.current.job.name, f.current.job.id))
        };
        let mut listed = context.list_of(at, kind, Statuses::Unfinished)?;
        let Some(missing) = missing_from(&listed) else {
            return Ok(Some(listed));
        };
        if context.client.verbose() {
            say::line(&format!(
                "gljob: {missing} is not among the unfinished {} of pipeline {}; reading the \
                 finished ones",
                list_name(kind),
                at.id
            ));
        }
        // After the unfinished ones: of a job seen in both (it ended between the two reads), the
        // later read is the one a round keeps.
        listed.extend(context.list_of(at, kind, Statuses::Finished)?);
        match missing_from(&listed) {
            None => Ok(Some(listed)),
            Some(missing) => {
                if context.client.verbose() {
                    say::line(&format!(
                        "gljob: {missing} is in neither; reading all {} of pipeline {}",
                        list_name(kind),
                        at.id
                    ));
                }
                Ok(None)
            }
        }
    }

    /// What replaces the jobs followed below the trigger job `old` led through, now that it was
    /// run again as `trigger`: `wanted` selected in its new pipeline, or `trigger` awaited until it
    /// creates one. `above` is the way further up.
    fn rerun(
        &self,
        trigger: &Listed,
        old: &Via,
        wanted: Vec<(Selector, String)>,
        above: &[Via],
    ) -> Result<Vec<Followed>> {
        let context = self.context;
        let Some(child) = context.downstream_of(trigger, &old.parent) else {
            say::line(&format!(
                "gljob: {} (#{}) was run again; waiting for the pipeline it creates",
                trigger.job.name, trigger.job.id
            ));
            let mut awaiting = Followed::new(
                trigger.clone(),
                Track::ByName {
                    at: old.parent.clone(),
                },
            );
            awaiting.awaiting = Some(Downstream { wanted });
            return Ok(vec![awaiting]);
        };
        let mut replacement: Vec<Followed> = Vec::new();
        for (rest, path) in &wanted {
            let found = context.resolve_below(
                &way_down(above, &old.parent),
                &old.trigger,
                &child,
                rest,
                path,
                1,
            )?;
            replacement.extend(
                found
                    .into_iter()
                    .map(|selection| follow_selection(context, selection)),
            );
        }
        let paths: Vec<&str> = wanted.iter().map(|(_, p)| p.as_str()).collect();
        say::line(&format!(
            "gljob: {} (#{}) was run again and created pipeline {}; following {} there",
            trigger.job.name,
            trigger.job.id,
            child.id,
            paths.join(", ")
        ));
        Ok(replacement)
    }

    /// Jobs reached through a trigger job that has since been retried (its latest attempt names
    /// another pipeline, or none yet): what was selected in the old pipeline is selected again in
    /// the new one, or awaited until the new attempt creates it.
    fn follow_retriggered(&self, followed: &mut Vec<Followed>, snapshot: &Snapshot) -> Result<()> {
        // (how far up, the way down) of each trigger job run again.
        let mut stale: Vec<(usize, Via)> = Vec::new();
        // Every entry, settled ones too: a job that ended in this round's read of its pipeline
        // may belong to a pipeline that the trigger jobs, read later in the same round, show
        // replaced.
        for f in followed.iter() {
            for (level, via) in f.vias.iter().enumerate() {
                if snapshot.moved(via) && !stale.iter().any(|(_, s)| same_pipeline(s, via)) {
                    stale.push((level, via.clone()));
                }
            }
        }
        // The farthest up first: its new pipeline is resolved whole, and whatever was below it
        // (a trigger job run again there too) goes with the old one.
        stale.sort_by_key(|(level, _)| std::cmp::Reverse(*level));
        for (_, old) in stale {
            let Some(trigger) = snapshot.trigger(&old.parent, &old.trigger).cloned() else {
                continue;
            };
            let mut wanted: Vec<(Selector, String)> = Vec::new();
            // The way further up, shared by every job below `old`: kept by what replaces them.
            let mut above: Option<Vec<Via>> = None;
            for f in followed.iter() {
                let Some(level) = f.vias.iter().position(|via| same_pipeline(via, &old)) else {
                    continue;
                };
                let via = &f.vias[level];
                if !wanted.contains(&(via.rest.clone(), via.path.clone())) {
                    wanted.push((via.rest.clone(), via.path.clone()));
                }
                above.get_or_insert_with(|| f.vias[level + 1..].to_vec());
            }
            // Gone with a replaced pipeline further up.
            let Some(above) = above else {
                continue;
            };
            let mut replacement = self.rerun(&trigger, &old, wanted, &above)?;
            for f in &mut replacement {
                f.vias.extend(above.iter().cloned());
            }
            let mut kept: Vec<Followed> = std::mem::take(followed)
                .into_iter()
                .filter(|f| !f.vias.iter().any(|via| same_pipeline(via, &old)))
                .collect();
            kept.extend(replacement);
            *followed = wait::merge_duplicates(kept);
        }
        Ok(())
    }
}

/// The pipelines from the top down to `at`, which the way down `vias` (the nearest first) leads
/// to.
fn way_down(vias: &[Via], at: &PipelineAt) -> Vec<PipelineAt> {
    let mut way: Vec<PipelineAt> = vias.iter().rev().map(|via| via.parent.clone()).collect();
    way.push(at.clone());
    way
}

/// Whether two ways down lead through the same trigger job into the same pipeline.
fn same_pipeline(a: &Via, b: &Via) -> bool {
    a.parent == b.parent && a.trigger == b.trigger && a.child == b.child
}
