//! Job selectors: ids, names with `*`/`?` wildcards, and stages, resolved against one read of the
//! pipeline.

use crate::model::{Kind, Listed};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    Id(u64),
    /// A name as `needs:` means it (the job and every `parallel:` or `parallel:matrix` instance of
    /// it), an exact instance name, or a pattern; `*` and `?` are the only special characters, so
    /// names such as `build: [linux, amd64]` and `rspec 1/3` match themselves.
    Name(String),
    Stage(String),
    /// `BRIDGE::SELECTOR`: jobs of the pipeline that the trigger job `BRIDGE` created.
    Downstream {
        bridge: String,
        inner: Box<Selector>,
    },
}

impl Selector {
    /// A bare number is an id; anything else is a name or pattern.
    pub fn parse(text: &str) -> Result<Selector, String> {
        if text.trim().is_empty() {
            return Err("an empty job selector".into());
        }
        if let Some((bridge, inner)) = text.split_once("::") {
            if bridge.trim().is_empty() || inner.trim().is_empty() {
                return Err(format!(
                    "'{text}': a downstream selector is TRIGGER_JOB::SELECTOR, e.g. 'docs::*'"
                ));
            }
            return Ok(Selector::Downstream {
                bridge: bridge.to_string(),
                inner: Box::new(Selector::parse(inner)?),
            });
        }
        if text.bytes().all(|b| b.is_ascii_digit()) {
            return text
                .parse::<u64>()
                .map(Selector::Id)
                .map_err(|_| format!("job id '{text}' is too large"));
        }
        Ok(Selector::Name(text.to_string()))
    }

    /// Whether the selector can only be answered from the pipeline's job list.
    pub fn needs_pipeline(&self) -> bool {
        !matches!(self, Selector::Id(_))
    }

    /// Whether the selector may take in trigger jobs as well as builds (a stage or a pattern), so
    /// a pipeline's trigger jobs are read for it.
    pub fn is_broad(&self) -> bool {
        match self {
            Selector::Stage(_) => true,
            Selector::Name(name) => is_pattern(name),
            _ => false,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Selector::Id(id) => format!("job id {id}"),
            Selector::Name(name) if is_pattern(name) => format!("pattern '{name}'"),
            Selector::Name(name) => format!("name '{name}'"),
            Selector::Stage(stage) => format!("stage '{stage}'"),
            Selector::Downstream { bridge, inner } => {
                format!("{} below trigger job '{bridge}'", inner.describe())
            }
        }
    }

    /// `deploy-eu::smoke`, as the user wrote it.
    pub fn text(&self) -> String {
        match self {
            Selector::Id(id) => id.to_string(),
            Selector::Name(name) | Selector::Stage(name) => name.clone(),
            Selector::Downstream { bridge, inner } => format!("{bridge}::{}", inner.text()),
        }
    }

    /// Whether `job` is picked. The job running gljob is never picked by a name, pattern or stage:
    /// a gate that waits on itself would never end.
    fn picks(&self, job: &Listed, own_job_id: Option<u64>) -> bool {
        self.picks_named(job.job.id, &job.job.name, &job.job.stage, own_job_id)
    }

    /// Whether a job known by its id, name and stage is picked.
    pub fn picks_named(&self, id: u64, name: &str, stage: &str, own_job_id: Option<u64>) -> bool {
        match self {
            Selector::Id(wanted) => id == *wanted,
            _ if Some(id) == own_job_id => false,
            Selector::Name(pattern) if is_pattern(pattern) => glob_match(pattern, name),
            Selector::Name(wanted) => names_match(wanted, name),
            Selector::Stage(wanted) => stage == wanted,
            // Resolved through the trigger job, never against this pipeline's own jobs.
            Selector::Downstream { .. } => false,
        }
    }
}

/// Whether `name` selects `job_name` as `needs: [name]` would: the job itself, or one of its
/// `parallel: N` instances (`unit 1/3`) or `parallel:matrix` instances (`build: [linux, amd64]`).
pub fn names_match(name: &str, job_name: &str) -> bool {
    job_name == name || instance_of(job_name) == Some(name)
}

/// The job name an instance name was made from: `unit 2/3` → `unit`, `build: [a, b]` → `build`.
///
/// A `parallel: N` job's instances are named `NAME I/N` for I from 1 to N, written as plain
/// numbers (`docs/gitlab-behaviour.md` §9; N from 1, as GitLab now allows `parallel: 1`):
/// `unit 0/3`, `unit 4/3`, `unit 01/3` or `unit 2/1` are names of their own, never instances of
/// `unit`.
pub fn instance_of(job_name: &str) -> Option<&str> {
    if let Some(base) = job_name.strip_suffix(']')
        && let Some((base, _)) = base.rsplit_once(": [")
    {
        return Some(base);
    }
    let (base, counter) = job_name.rsplit_once(' ')?;
    let (index, total) = counter.split_once('/')?;
    // A whole number as GitLab writes one: digits, without a leading zero.
    let number = |t: &str| -> Option<u64> {
        let plain = !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) && !t.starts_with('0');
        plain.then(|| t.parse().ok()).flatten()
    };
    let (index, total) = (number(index)?, number(total)?);
    (index <= total).then_some(base)
}

impl Selector {
    /// Picks a trigger job by the name before `::` (exact or needs-style, never a pattern).
    pub fn picks_bridge(bridge: &str, job: &Listed) -> bool {
        job.kind == Kind::Bridge && names_match(bridge, &job.job.name)
    }
}

pub fn is_pattern(text: &str) -> bool {
    text.contains(['*', '?'])
}

/// `*` matches any run of characters (none included), `?` exactly one; everything else itself.
/// Both are UTF-8: matched byte by byte, without copies, with `?` and what `*` swallows stepping
/// over a whole character, so `t?st` matches `täst`.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (pattern, text) = (pattern.as_bytes(), text.as_bytes());
    // The length of the UTF-8 character whose first byte is `b`.
    let width = |b: u8| match b {
        0xF0.. => 4,
        0xE0.. => 3,
        0xC0.. => 2,
        _ => 1,
    };
    let (mut p, mut t) = (0, 0);
    // Where the last `*` was, and how much of the text it has swallowed so far.
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                backtrack = Some((p, t));
                p += 1;
            }
            Some(b'?') => {
                p += 1;
                t += width(text[t]);
            }
            Some(&c) if c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match backtrack {
                Some((star, swallowed)) => {
                    let swallowed = swallowed + width(text[swallowed]);
                    p = star + 1;
                    t = swallowed;
                    backtrack = Some((star, swallowed));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Picks the jobs every selector names, in selector order, each once.
///
/// `jobs` holds the latest attempt of each job (GitLab's default list), builds and bridges
/// together. A selector that picks nothing is an error naming what the pipeline holds.
pub fn resolve<'a>(
    selectors: &[Selector],
    jobs: &'a [Listed],
    own_job_id: Option<u64>,
    pipeline: u64,
) -> Result<Vec<&'a Listed>, String> {
    let mut picked: Vec<&Listed> = Vec::new();
    for selector in selectors {
        let before = picked.len();
        let mut matched_any = false;
        for job in jobs.iter().filter(|job| selector.picks(job, own_job_id)) {
            matched_any = true;
            if !picked.iter().any(|p| p.job.id == job.job.id) {
                picked.push(job);
            }
        }
        if !matched_any && picked.len() == before {
            return Err(format!(
                "no job in pipeline {pipeline} matches {}{}; it holds {}",
                selector.describe(),
                did_you_mean(selector, jobs),
                describe_pipeline(jobs, own_job_id)
            ));
        }
    }
    Ok(picked)
}

/// Whether any selector that matched nothing among builds might name a bridge, so the bridges
/// must be read too.
pub fn unmatched<'a>(
    selectors: &'a [Selector],
    jobs: &[Listed],
    own_job_id: Option<u64>,
) -> Vec<&'a Selector> {
    selectors
        .iter()
        .filter(|s| !jobs.iter().any(|job| s.picks(job, own_job_id)))
        .collect()
}

/// ` (did you mean stage 'test'?)` for a stage that no job has when one of the pipeline's stages is
/// near it (a typo), as a status typo is answered.
fn did_you_mean(selector: &Selector, jobs: &[Listed]) -> String {
    let Selector::Stage(given) = selector else {
        return String::new();
    };
    let stages = jobs.iter().map(|j| j.job.stage.as_str());
    match crate::suggest::nearest(given, stages) {
        Some(stage) => format!(" (did you mean stage '{stage}'?)"),
        None => String::new(),
    }
}

/// `9 jobs: build (stage build), test 1/2 (test), …` — enough for a person to see the typo.
fn describe_pipeline(jobs: &[Listed], own_job_id: Option<u64>) -> String {
    const SHOWN: usize = 15;
    let all: Vec<(u64, &str, &str, Kind)> = jobs
        .iter()
        .map(|j| (j.job.id, j.job.name.as_str(), j.job.stage.as_str(), j.kind))
        .collect();
    if all.is_empty() {
        return "no jobs".into();
    }
    let names: Vec<String> = all
        .iter()
        .take(SHOWN)
        .map(|&(id, name, stage, kind)| {
            let mut name = format!("'{name}' (stage {stage}");
            if kind == Kind::Bridge {
                name.push_str(", bridge");
            }
            if Some(id) == own_job_id {
                name.push_str(", this job");
            }
            name.push(')');
            name
        })
        .collect();
    let more = all.len().saturating_sub(SHOWN);
    format!(
        "{} job{}: {}{}",
        all.len(),
        if all.len() == 1 { "" } else { "s" },
        names.join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;

    fn job(id: u64, name: &str, stage: &str, kind: Kind) -> Listed {
        let raw = RawValue::from_string(format!(
            r#"{{"id":{id},"name":{},"stage":"{stage}","status":"success"}}"#,
            serde_json::to_string(name).unwrap()
        ))
        .unwrap();
        Listed::parse(&raw, kind).unwrap()
    }

    #[test]
    fn glob_rules() {
        assert!(glob_match("test:*", "test:unit"));
        assert!(glob_match("test:*", "test:"));
        assert!(!glob_match("test:*", "lint"));
        assert!(glob_match("build [linux, *]", "build [linux, amd64]"));
        assert!(!glob_match("build [linux, *]", "build [macos, arm64]"));
        assert!(glob_match("rspec ?/3", "rspec 2/3"));
        assert!(!glob_match("rspec ?/3", "rspec 10/3"));
        assert!(glob_match("rspec 1/3", "rspec 1/3"));
        assert!(glob_match("*a*b*", "xxaxxbxx"));
        assert!(
            glob_match("t?st", "täst"),
            "? is one character, not one byte"
        );
        assert!(!glob_match("t??st", "täst"));
        assert!(glob_match("*ü", "grün-grü"));
        assert!(glob_match("€*", "€uro"));
        assert!(!glob_match("*a*b", "xxaxxbxxc"));
        assert!(glob_match("**", ""));
        assert!(glob_match("déploiement-?", "déploiement-é"));
    }

    #[test]
    fn names_select_as_needs_does() {
        assert!(names_match("unit", "unit 1/3"));
        assert!(names_match("unit", "unit 3/3"));
        assert!(names_match("unit 2/3", "unit 2/3"));
        assert!(!names_match("unit 2/3", "unit 1/3"));
        assert!(names_match("build", "build: [linux, amd64]"));
        assert!(names_match(
            "build: [linux, amd64]",
            "build: [linux, amd64]"
        ));
        assert!(!names_match("build", "build-docs"));
        assert!(!names_match("unit", "unit tests"));
        assert!(!names_match("unit", "unit x/3"));
        // Only the names GitLab gives a `parallel: N` job's instances: I from 1 to N, no leading
        // zero (N may be 1: `parallel: 1` makes `unit 1/1`).
        assert!(names_match("unit", "unit 1/2"));
        assert!(names_match("unit", "unit 1/1"));
        assert!(names_match("unit", "unit 200/200"));
        for odd in [
            "unit 4/3",
            "unit 0/3",
            "unit 01/3",
            "unit 2/1",
            "unit 1/03",
            "unit 3/2",
            "unit 0/0",
            "unit /3",
            "unit 1/",
            "unit 99999999999999999999/99999999999999999999",
        ] {
            assert!(!names_match("unit", odd), "{odd}");
            assert!(names_match(odd, odd), "{odd} still names itself");
        }
        assert_eq!(
            Selector::parse("a::b::job*"),
            Ok(Selector::Downstream {
                bridge: "a".into(),
                inner: Box::new(Selector::Downstream {
                    bridge: "b".into(),
                    inner: Box::new(Selector::Name("job*".into()))
                })
            })
        );
        assert!(Selector::parse("::x").is_err());
        assert!(Selector::parse("x::").is_err());
    }

    #[test]
    fn selectors_parse() {
        assert_eq!(Selector::parse("42"), Ok(Selector::Id(42)));
        assert_eq!(
            Selector::parse("rspec 1/3"),
            Ok(Selector::Name("rspec 1/3".into()))
        );
        assert!(Selector::parse("").is_err());
        assert!(Selector::parse("99999999999999999999999").is_err());
    }

    #[test]
    fn selectors_add_up_skip_self_and_keep_order() {
        let jobs = vec![
            job(5, "deploy", "deploy", Kind::Build),
            job(4, "test 2/2", "test", Kind::Build),
            job(3, "test 1/2", "test", Kind::Build),
            job(2, "build", "build", Kind::Build),
            job(9, "downstream", "deploy", Kind::Bridge),
        ];
        let own = Some(5);
        let picked = resolve(
            &[
                Selector::Name("build".into()),
                Selector::Stage("test".into()),
                Selector::Name("test*".into()),
                Selector::Stage("deploy".into()),
            ],
            &jobs,
            own,
            77,
        )
        .unwrap();
        let ids: Vec<u64> = picked.iter().map(|j| j.job.id).collect();
        assert_eq!(ids, [2, 4, 3, 9], "self (5) is never picked by stage");

        // An explicit id still picks the own job.
        let picked = resolve(&[Selector::Id(5)], &jobs, own, 77).unwrap();
        assert_eq!(picked[0].job.id, 5);
    }

    #[test]
    fn a_selector_matching_nothing_names_the_pipeline() {
        let jobs = vec![job(2, "build", "build", Kind::Build)];
        let err = resolve(&[Selector::Name("deploy*".into())], &jobs, None, 77).unwrap_err();
        assert!(err.contains("pipeline 77"), "{err}");
        assert!(err.contains("pattern 'deploy*'"), "{err}");
        assert!(err.contains("'build' (stage build)"), "{err}");
        let err = resolve(&[Selector::Name("build".into())], &jobs, Some(2), 77).unwrap_err();
        assert!(err.contains("this job"), "{err}");
        // A stage typo names the nearest stage of the pipeline; nonsense names none.
        let err = resolve(&[Selector::Stage("biuld".into())], &jobs, None, 77).unwrap_err();
        assert!(
            err.contains("stage 'biuld' (did you mean stage 'build'?)"),
            "{err}"
        );
        let err = resolve(&[Selector::Stage("zzzzzz".into())], &jobs, None, 77).unwrap_err();
        assert!(!err.contains("did you mean"), "{err}");
    }

    #[test]
    fn unmatched_selectors_are_reported_for_a_bridge_read() {
        let jobs = vec![job(2, "build", "build", Kind::Build)];
        let selectors = [
            Selector::Name("build".into()),
            Selector::Name("trigger-*".into()),
        ];
        assert_eq!(
            unmatched(&selectors, &jobs, None),
            vec![&Selector::Name("trigger-*".into())]
        );
    }
}
