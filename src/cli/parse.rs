//! The arguments into [`RawArgs`]: pico-args is asked for each flag of [`FLAGS`] by its keys, and
//! what no flag takes is positional (the command and the selectors) or an unknown flag. Nothing is
//! converted or checked against the command here; that is [`super::validate`]'s job.
//!
//! pico-args finds a key anywhere in the arguments and takes the argument after it as its value.
//! What a search by key cannot see is settled first, by [`prepare`], in the order the arguments
//! came:
//! - after `--` every argument is positional, even one starting with `-`;
//! - `--flag=value` (and `-f=value`) is split in two, so that a flag given in both forms keeps its
//!   values in order (`--field` columns);
//! - a cluster of short switches, `-vf`, is `-v -f` (every short flag is a switch);
//! - a flag that takes a value is followed by one: an argument starting with `-` (other than `-`
//!   alone) is taken for a flag, and the flag before it for one missing its value. Without this,
//!   `--timeout --json` would read `--json` as the timeout or, were `--json` asked for first, take
//!   whatever came after as the timeout. `--timeout=VALUE` gives a value starting with `-`, unless
//!   it is one of gljob's flags (pico-args would find it as that flag);
//! - the order the flags came in, for the messages that name the first flag that does not apply.
//!
//! After that, every argument that is a key is one, and the one after a key that takes a value is
//! its value, so the order pico-args is asked in changes nothing.

use super::defs::{FLAGS, Flag, RawArgs};
use crate::suggest;
use std::ffi::{OsStr, OsString};

/// Parses the raw arguments. The error is the complaint, naming the flag or argument.
pub fn parse_raw(args: Vec<OsString>) -> Result<RawArgs, String> {
    let prepared = prepare(args)?;
    let mut raw = RawArgs::default();
    let mut args = pico_args::Arguments::from_vec(prepared.args);
    // Flags with values first: after `prepare`, no key is a value, so this order is only for
    // clarity; each key of a flag is asked until it is used up.
    for flag in FLAGS.iter().filter(|f| f.value.is_some()) {
        for key in flag.keys() {
            let values = args
                .values_from_os_str(key, utf8_value)
                .map_err(|e| match e {
                    pico_args::Error::ArgumentParsingFailed { cause } => {
                        format!("{} '{cause}' is not valid UTF-8", flag.long)
                    }
                    // `prepare` made sure a value follows each key; kept as a message all the same.
                    other => format!("{}: {other}", flag.long),
                })?;
            for value in values {
                apply(&mut raw, flag, Some(value))?;
            }
        }
    }
    for flag in FLAGS.iter().filter(|f| f.value.is_none()) {
        for key in flag.keys() {
            // `contains` uses up one occurrence a call: asked until none is left, it counts them.
            while args.contains(key) {
                apply(&mut raw, flag, None)?;
            }
        }
    }
    for arg in args.finish() {
        if looks_like_flag(&arg) {
            let text = arg.to_string_lossy();
            let name = text.split_once('=').map_or(&*text, |(name, _)| name);
            return Err(unknown_flag(name));
        }
        raw.positional.push(utf8(arg, "argument")?);
    }
    for arg in prepared.after_dashes {
        raw.positional.push(utf8(arg, "argument")?);
    }
    raw.given = prepared.given;
    Ok(raw)
}

fn apply(raw: &mut RawArgs, flag: &Flag, value: Option<String>) -> Result<(), String> {
    (flag.apply)(raw, value).map_err(|why| format!("{} {why}", flag.long))
}

/// The arguments made plain for pico-args (see the module's doc).
#[derive(Debug, Default)]
struct Prepared {
    /// Keys, each followed by its value if it takes one, and positional arguments.
    args: Vec<OsString>,
    /// The arguments after `--`, positional whatever they look like.
    after_dashes: Vec<OsString>,
    /// Each flag, as often and in the order given.
    given: Vec<&'static Flag>,
}

fn prepare(args: Vec<OsString>) -> Result<Prepared, String> {
    let mut prepared = Prepared::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "--" {
            prepared.after_dashes = args.collect();
            break;
        }
        if !looks_like_flag(&arg) {
            prepared.args.push(arg);
            continue;
        }
        // Flags' names are ASCII: a part that is not UTF-8 shows as U+FFFD and matches none.
        let text = arg.to_string_lossy();
        if let Some((name, value)) = text.split_once('=') {
            match find(name) {
                Some((flag, key)) if flag.value.is_some() => {
                    if arg.to_str().is_none() {
                        return Err(format!("{} '{value}' is not valid UTF-8", flag.long));
                    }
                    // A value that is a key would be found by pico-args as that flag.
                    if find(value).is_some() {
                        return Err(format!("{} takes a value, not the flag {value}", flag.long));
                    }
                    prepared.given.push(flag);
                    prepared.args.push(key.into());
                    prepared.args.push(value.into());
                }
                Some((flag, _)) => {
                    return Err(format!(
                        "{} takes no value, but was given '{value}'",
                        flag.long
                    ));
                }
                // Left for `finish`, which names it.
                None => prepared.args.push(arg),
            }
            continue;
        }
        if let Some((flag, key)) = find(&text) {
            prepared.given.push(flag);
            prepared.args.push(key.into());
            if flag.value.is_some() {
                let value = match args.next() {
                    None => return Err(format!("{} needs a value", flag.long)),
                    Some(next) if looks_like_flag(&next) => {
                        let next = next.to_string_lossy();
                        return Err(format!(
                            "{} needs a value, but was followed by '{next}'; if that is the \
                             value, write {}={next}",
                            flag.long, flag.long
                        ));
                    }
                    Some(value) => value,
                };
                prepared.args.push(value);
            }
            continue;
        }
        match cluster(&text) {
            Some(flags) => {
                for (flag, key) in flags {
                    prepared.given.push(flag);
                    prepared.args.push(key.into());
                }
            }
            // Left for `finish`, which names it.
            None => prepared.args.push(arg),
        }
    }
    Ok(prepared)
}

/// `-vf`: short switches run together, read as `-v -f`; `None` unless every letter is one. Every
/// short flag is a switch today; a short flag with a value in a cluster would be refused as an
/// unknown flag, not guessed at.
fn cluster(text: &str) -> Option<Vec<(&'static Flag, &'static str)>> {
    let letters = text.strip_prefix('-')?;
    if letters.starts_with('-') || letters.chars().count() < 2 {
        return None;
    }
    letters
        .chars()
        .map(|letter| {
            FLAGS.iter().find_map(|flag| match flag.short {
                Some(key) if flag.value.is_none() && key.chars().eq(['-', letter]) => {
                    Some((flag, key))
                }
                _ => None,
            })
        })
        .collect()
}

/// The flag `name` is a key of, and the key as the definitions spell it.
fn find(name: &str) -> Option<(&'static Flag, &'static str)> {
    FLAGS
        .iter()
        .find_map(|flag| flag.keys().find(|key| *key == name).map(|key| (flag, key)))
}

/// An argument that is a flag, known or not, rather than a value: `-` alone is a value (it often
/// means stdin or stdout).
fn looks_like_flag(arg: &OsStr) -> bool {
    let bytes = arg.as_encoded_bytes();
    bytes.len() > 1 && bytes[0] == b'-'
}

/// For pico-args: the value, or as the error the value as it can be shown.
fn utf8_value(value: &OsStr) -> Result<String, String> {
    value
        .to_str()
        .map(str::to_owned)
        .ok_or_else(|| value.to_string_lossy().into_owned())
}

fn utf8(value: OsString, what: &str) -> Result<String, String> {
    value
        .into_string()
        .map_err(|bad| format!("{what} '{}' is not valid UTF-8", bad.to_string_lossy()))
}

fn unknown_flag(given: &str) -> String {
    let known = FLAGS.iter().map(|f| f.long);
    match suggest::nearest(given, known) {
        Some(near) => format!("unknown flag {given}; did you mean {near}?"),
        None => format!("unknown flag {given}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<RawArgs, String> {
        parse_raw(args.iter().map(OsString::from).collect())
    }

    fn error(args: &[&str]) -> String {
        match parse(args) {
            Ok(raw) => panic!("{args:?} parsed: {raw:?}"),
            Err(why) => why,
        }
    }

    fn given(raw: &RawArgs) -> Vec<&'static str> {
        raw.given.iter().map(|f| f.long).collect()
    }

    /// Where each flag lands in [`RawArgs`], as text: its values, or `true` for a switch given.
    /// A flag missing here fails the test below: say where the new one lands.
    fn landed(raw: &RawArgs, long: &str) -> Vec<String> {
        let one = |slot: &Option<String>| slot.iter().cloned().collect::<Vec<_>>();
        let set = |switch: bool| match switch {
            true => vec!["true".to_string()],
            false => vec![],
        };
        match long {
            "--api-url" => one(&raw.api_url),
            "--project" => one(&raw.project),
            "--pipeline" => one(&raw.pipeline),
            "--token" => one(&raw.token),
            "--ca-file" => one(&raw.ca_file),
            "--request-timeout" => one(&raw.request_timeout),
            "--retries" => one(&raw.retries),
            "--verbose" => set(raw.verbose),
            "--json" => set(raw.json),
            "--field" => raw.fields.clone(),
            "--stage" => raw.stages.clone(),
            "--dotenv" => set(raw.dotenv),
            "--scope" => raw.scopes.clone(),
            "--include-retried" => set(raw.include_retried),
            "--project-wide" => set(raw.project_wide),
            "--tree" => set(raw.tree),
            "--limit" => one(&raw.limit),
            "--var" => raw.vars.clone(),
            "--input" => raw.inputs.clone(),
            "--force" => set(raw.force),
            "--wait" => set(raw.wait),
            "--follow" => set(raw.follow),
            "--timeout" => one(&raw.timeout),
            "--interval" => one(&raw.interval),
            "--strict" => set(raw.strict),
            "--allow-skipped" => set(raw.allow_skipped),
            "--status" => one(&raw.status),
            "--junit" => one(&raw.junit),
            "--no-sections" => set(raw.no_sections),
            "--ref" => one(&raw.reference),
            "--recent" => set(raw.recent),
            "--path" => one(&raw.path),
            "--out" => one(&raw.out),
            "--help" => set(raw.help),
            "--version" => set(raw.version),
            other => panic!("{other}: say in `landed` where it lands in RawArgs"),
        }
    }

    /// Each flag, in each of its forms (long, short, `--flag=value`, a value of spaces and colons
    /// or `-` alone), lands in its own place of [`RawArgs`] and nowhere else, and is recorded as
    /// given.
    #[test]
    fn every_flag_lands_in_its_own_place_in_every_form() {
        let mut tried = 0;
        for flag in FLAGS {
            let mut forms: Vec<(Vec<String>, &str)> = Vec::new();
            for key in flag.keys() {
                match flag.value {
                    Some(_) => {
                        for value in ["v 1:x", "-", "a=b"] {
                            forms.push((vec![key.into(), value.into()], value));
                            forms.push((vec![format!("{key}={value}")], value));
                        }
                    }
                    None => forms.push((vec![key.into()], "true")),
                }
            }
            for (form, want) in forms {
                let mut args = vec!["job".to_string()];
                args.extend(form.iter().cloned());
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let raw = parse(&args).unwrap_or_else(|why| panic!("{form:?}: {why}"));
                assert_eq!(landed(&raw, flag.long), [want], "{form:?}");
                for other in FLAGS.iter().filter(|o| o.long != flag.long) {
                    assert!(
                        landed(&raw, other.long).is_empty(),
                        "{form:?} also set {}",
                        other.long
                    );
                }
                assert_eq!(raw.positional, ["job"], "{form:?}");
                assert_eq!(given(&raw), [flag.long], "{form:?}");
                tried += 1;
            }
        }
        // 20 flags with a value, in 6 forms each; 15 switches, 4 of them also in a short form.
        assert_eq!(tried, 20 * 6 + 15 + 4);
    }

    /// `--flag value` and `--flag=value` mixed keep the order given (pico-args' `eq-separator`
    /// would take every spaced one first and move `--field` columns).
    #[test]
    fn values_keep_the_order_given_in_both_forms() {
        let raw = parse(&[
            "job",
            "--field",
            "a",
            "--field=b",
            "--field",
            "c",
            "--stage=s1",
            "--stage",
            "s2",
        ])
        .unwrap();
        assert_eq!(raw.fields, ["a", "b", "c"]);
        assert_eq!(raw.stages, ["s1", "s2"]);
    }

    /// Validation names the first flag, as given, that does not apply: `given` keeps that order,
    /// not the order pico-args is asked in.
    #[test]
    fn flags_are_recorded_in_the_order_given() {
        let raw = parse(&[
            "job",
            "--follow",
            "--stage",
            "x",
            "-v",
            "--json",
            "--stage=y",
        ])
        .unwrap();
        assert_eq!(
            given(&raw),
            ["--follow", "--stage", "--verbose", "--json", "--stage"]
        );
    }

    /// Selectors hold spaces, colons and brackets, and `-` alone is a selector or a value; after
    /// `--` everything is positional, `--` included.
    #[test]
    fn positionals_as_given_and_everything_after_two_dashes() {
        let raw = parse(&[
            "wait",
            "unit 1/3",
            "--junit",
            "-",
            "deploy::smoke",
            "-",
            "build: [linux, amd64]",
            "--json",
            "--",
            "--verbose",
            "-v",
            "-vf",
            "--",
            "-",
        ])
        .unwrap();
        assert_eq!(
            raw.positional,
            [
                "wait",
                "unit 1/3",
                "deploy::smoke",
                "-",
                "build: [linux, amd64]",
                "--verbose",
                "-v",
                "-vf",
                "--",
                "-"
            ]
        );
        assert_eq!(raw.junit.as_deref(), Some("-"));
        assert!(raw.json && !raw.verbose && !raw.follow);
        assert_eq!(given(&raw), ["--junit", "--json"]);
    }

    #[test]
    fn a_flag_without_its_value_is_named() {
        assert_eq!(
            error(&["wait", "x", "--timeout"]),
            "--timeout needs a value"
        );
        assert_eq!(error(&["job", "--stage"]), "--stage needs a value");
        // A value that looks like a flag is taken for a forgotten value, not read as the value
        // (nor is the flag after it taken for the value, whatever order pico-args is asked in).
        assert_eq!(
            error(&["wait", "x", "--timeout", "--json"]),
            "--timeout needs a value, but was followed by '--json'; if that is the value, write \
             --timeout=--json"
        );
        assert_eq!(
            error(&["wait", "--stage", "--timeout", "5s", "x"]),
            "--stage needs a value, but was followed by '--timeout'; if that is the value, write \
             --stage=--timeout"
        );
        assert!(error(&["jobs", "--limit", "-1"]).starts_with("--limit needs a value"));
        assert!(error(&["job", "--stage", "--"]).starts_with("--stage needs a value"));
        // With `=` the value is what follows it, `-` first or empty.
        let raw = parse(&[
            "jobs",
            "--limit=-1",
            "--stage=-x",
            "--field=",
            "--project=--",
        ])
        .unwrap();
        assert_eq!(raw.limit.as_deref(), Some("-1"));
        assert_eq!(raw.stages, ["-x"]);
        assert_eq!(raw.fields, [""]);
        assert_eq!(raw.project.as_deref(), Some("--"));
        // Except one of gljob's flags: pico-args would find it as that flag.
        assert_eq!(
            error(&["job", "--stage=--field", "--field", "a"]),
            "--stage takes a value, not the flag --field"
        );
        assert_eq!(
            error(&["job", "--stage=-v"]),
            "--stage takes a value, not the flag -v"
        );
    }

    #[test]
    fn a_switch_given_a_value_is_refused() {
        for args in [
            ["jobs", "--verbose=f"],
            ["jobs", "-v=f"],
            ["jobs", "--verbose=f=g"],
        ] {
            assert!(
                error(&args).starts_with("--verbose takes no value, but was given 'f"),
                "{args:?}"
            );
        }
        assert_eq!(
            error(&["jobs", "--json="]),
            "--json takes no value, but was given ''"
        );
    }

    /// Every short flag is a switch, so a cluster of them reads as each in turn; a cluster with
    /// any other letter is one unknown flag, named whole.
    #[test]
    fn clusters_of_short_switches_are_each_switch() {
        let raw = parse(&["trace", "x", "-vf"]).unwrap();
        assert!(raw.verbose && raw.follow);
        assert_eq!(given(&raw), ["--verbose", "--follow"]);
        let raw = parse(&["trace", "-fv", "x", "-hV"]).unwrap();
        assert!(raw.verbose && raw.follow && raw.help && raw.version);
        assert_eq!(
            given(&raw),
            ["--follow", "--verbose", "--help", "--version"]
        );
        assert_eq!(
            error(&["trace", "x", "-vfv"]),
            "--verbose is given more than once"
        );
        assert_eq!(error(&["jobs", "-vx"]), "unknown flag -vx");
        assert_eq!(error(&["jobs", "-x"]), "unknown flag -x");
        assert_eq!(
            error(&["jobs", "-verbose"]),
            "unknown flag -verbose; did you mean --verbose?"
        );
        assert_eq!(error(&["jobs", "-vf=1"]), "unknown flag -vf");
    }

    #[test]
    fn unknown_flags_are_named_with_the_nearest_known_one() {
        assert_eq!(
            error(&["wait", "x", "--tiemout=5s"]),
            "unknown flag --tiemout; did you mean --timeout?"
        );
        assert_eq!(
            error(&["wait", "x", "--bogus", "1"]),
            "unknown flag --bogus"
        );
        // A flag that begins another is not taken for it, nor the other way round.
        let raw = parse(&["jobs", "--project-wide", "--project", "5"]).unwrap();
        assert!(raw.project_wide);
        assert_eq!(raw.project.as_deref(), Some("5"));
        let raw = parse(&["jobs", "--project=5", "--project-wide"]).unwrap();
        assert!(raw.project_wide);
        assert_eq!(raw.project.as_deref(), Some("5"));
        assert_eq!(
            error(&["jobs", "--projec", "5"]),
            "unknown flag --projec; did you mean --project?"
        );
    }

    #[test]
    fn given_twice_is_refused_but_help_may_be() {
        assert_eq!(
            error(&["wait", "x", "--timeout", "5s", "--timeout=6s"]),
            "--timeout is given more than once"
        );
        assert_eq!(
            error(&["jobs", "--json", "--json"]),
            "--json is given more than once"
        );
        assert_eq!(
            error(&["trace", "x", "-f", "--follow"]),
            "--follow is given more than once"
        );
        let raw = parse(&["jobs", "--help", "-h"]).unwrap();
        assert!(raw.help);
    }

    #[test]
    fn arguments_that_are_not_utf8_are_named() {
        use std::os::unix::ffi::OsStringExt;
        let bad = || OsString::from_vec(vec![b'f', 0xff]);
        let cases = [
            (
                vec!["wait".into(), bad()],
                "argument 'f\u{FFFD}' is not valid UTF-8",
            ),
            (
                vec!["wait".into(), "--".into(), bad()],
                "argument 'f\u{FFFD}' is not valid UTF-8",
            ),
            (
                vec!["wait".into(), "--stage".into(), bad()],
                "--stage 'f\u{FFFD}' is not valid UTF-8",
            ),
            (
                vec!["wait".into(), OsString::from_vec(b"--stage=f\xff".to_vec())],
                "--stage 'f\u{FFFD}' is not valid UTF-8",
            ),
            (
                vec!["wait".into(), OsString::from_vec(b"--json=f\xff".to_vec())],
                "--json takes no value, but was given 'f\u{FFFD}'",
            ),
            (
                vec!["wait".into(), OsString::from_vec(b"--js\xffon".to_vec())],
                "unknown flag --js\u{FFFD}on; did you mean --json?",
            ),
        ];
        for (args, want) in cases {
            assert_eq!(parse_raw(args.clone()).unwrap_err(), want, "{args:?}");
        }
    }
}
