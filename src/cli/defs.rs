//! Every command and every flag, each defined once: its help, the commands it belongs to, and how
//! it lands in [`RawArgs`]. `--help`, the parsing loop and the "does this flag apply" check all read
//! these definitions; nothing else lists flags.

/// The commands, in the order `--help` shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandName {
    Job,
    Agents,
    Jobs,
    Bridges,
    Trace,
    Artifacts,
    Play,
    Cancel,
    Retry,
    Erase,
    Wait,
    Check,
}

use CommandName::*;

impl CommandName {
    pub const ALL: [CommandName; 12] = [
        Job, Agents, Jobs, Bridges, Trace, Artifacts, Play, Cancel, Retry, Erase, Wait, Check,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Job => "job",
            Agents => "agents",
            Jobs => "jobs",
            Bridges => "bridges",
            Trace => "trace",
            Artifacts => "artifacts",
            Play => "play",
            Cancel => "cancel",
            Retry => "retry",
            Erase => "erase",
            Wait => "wait",
            Check => "check",
        }
    }

    pub fn from_name(name: &str) -> Option<CommandName> {
        CommandName::ALL.into_iter().find(|c| c.name() == name)
    }

    pub fn usage(self) -> &'static str {
        match self {
            Job => "gljob job [SELECTOR]... [--stage NAME]... [--dotenv]",
            Agents => "gljob agents",
            Jobs => {
                "gljob jobs [--scope STATUS]... [--include-retried] [--project-wide] [--limit N]"
            }
            Bridges => "gljob bridges [--scope STATUS]... [--limit N] [--tree]",
            Trace => "gljob trace SELECTOR [--follow [--interval DURATION] [--timeout DURATION]]",
            Artifacts => {
                "gljob artifacts SELECTOR [--ref REF] [--path FILE] [--out DIR] [--wait [WAIT \
                 FLAGS]] [--timeout DURATION]"
            }
            Play => "gljob play SELECTOR... [--var KEY=VALUE]... [--wait [WAIT FLAGS]]",
            Cancel => "gljob cancel SELECTOR... [--force]",
            Retry => "gljob retry SELECTOR... [--wait [WAIT FLAGS]]",
            Erase => "gljob erase SELECTOR...",
            Wait => {
                "gljob wait SELECTOR... [--timeout DURATION] [--interval DURATION] [--strict] \
                 [--allow-skipped]"
            }
            Check => "gljob check SELECTOR... [--status LIST] [--strict] [--allow-skipped]",
        }
    }

    pub fn about(self) -> &'static str {
        match self {
            Job => "Show this job (GET /job, job token), or the selected jobs.",
            Agents => {
                "Show the Kubernetes agents this job may use (GET /job/allowed_agents, job token)."
            }
            Jobs => "List the pipeline's jobs (all pages), or the project's with --project-wide.",
            Bridges => {
                "List the pipeline's trigger jobs and the pipelines they created (--tree: all levels)."
            }
            Trace => "Print a job's log, bytes unchanged (access token).",
            Artifacts => {
                "Download a job's artifacts (job token) and unpack them safely; --ref for another \
                 branch's or tag's."
            }
            Play => "Play manual jobs (access token with api scope).",
            Cancel => "Cancel jobs (access token with api scope).",
            Retry => "Retry jobs; GitLab creates new jobs (access token with api scope).",
            Erase => "Erase jobs' logs and artifacts (access token with api scope).",
            Wait => {
                "Wait until every selected job is final; exit 0 passed, 1 not passed, 124 timeout."
            }
            Check => {
                "Exit 0 if every selected job is now passed (or in --status), else 1. No waiting."
            }
        }
    }

    /// Real script lines, for the end of the command's help.
    pub fn examples(self) -> &'static [&'static str] {
        match self {
            Job => &[
                "gljob job --field pipeline.id",
                "gljob job --dotenv > job.env",
                "gljob job 'build: [linux, amd64]' --json",
            ],
            Agents => &["gljob agents --field allowed_agents.0.id"],
            Jobs => &[
                "gljob jobs",
                "gljob jobs --scope failed --field name",
                "gljob jobs --project-wide --limit 50 --json",
            ],
            Bridges => &[
                "gljob bridges",
                "gljob bridges --field downstream_pipeline.id",
                "gljob bridges --tree",
            ],
            Trace => &[
                "gljob trace build",
                "gljob trace integration --follow --timeout 30m",
            ],
            Artifacts => &[
                "gljob artifacts build --wait --timeout 30m   # gate on build, then fetch its files",
                "gljob artifacts build --ref main --out dist   # main's latest successful build",
                "gljob artifacts build --path dist/app.tar.gz --json",
                "gljob artifacts package --ref v1.2.0 --project group/app",
            ],
            Play => &[
                "gljob play deploy-staging",
                "gljob play deploy --var TARGET=eu --wait --timeout 30m",
                "gljob play deploy --input region=eu --input replicas:=3 --input canary:=true",
            ],
            Cancel => &["gljob cancel 'e2e *'", "gljob cancel 4711 --force"],
            Retry => &[
                "gljob retry flaky-test --wait --timeout 15m",
                "gljob retry e2e --input browsers:='[\"firefox\"]'",
            ],
            Erase => &["gljob erase --stage scratch"],
            Wait => &[
                "gljob wait --stage test --timeout 30m",
                "gljob wait 'docs::*' --timeout 1h   # every job of the pipeline 'docs' triggered",
                "gljob wait 'unit *' lint --interval 10s",
                "gljob wait approve --timeout 4h   # a manual job someone plays",
            ],
            Check => &[
                "gljob check --stage test",
                "gljob check deploy --status success,manual",
            ],
        }
    }

    /// Whether the command takes job selectors at all, and whether it needs one.
    pub fn selectors(self) -> (bool, bool) {
        match self {
            Job => (true, false),
            Agents | Jobs | Bridges => (false, false),
            Trace | Artifacts | Play | Cancel | Retry | Erase | Wait | Check => (true, true),
        }
    }
}

/// The commands a flag belongs to.
#[derive(Debug, Clone, Copy)]
pub enum Applies {
    /// Every command: the flags of the connection and of the output.
    All,
    Only(&'static [CommandName]),
}

/// The arguments as given, before validation: strings as typed, switches as booleans.
#[derive(Debug, Default)]
pub struct RawArgs {
    pub api_url: Option<String>,
    pub project: Option<String>,
    pub pipeline: Option<String>,
    pub token: Option<String>,
    pub ca_file: Option<String>,
    pub request_timeout: Option<String>,
    pub retries: Option<String>,
    pub verbose: bool,
    pub json: bool,
    pub fields: Vec<String>,
    pub stages: Vec<String>,
    pub dotenv: bool,
    pub scopes: Vec<String>,
    pub include_retried: bool,
    pub project_wide: bool,
    pub tree: bool,
    pub limit: Option<String>,
    pub vars: Vec<String>,
    pub inputs: Vec<String>,
    pub force: bool,
    pub wait: bool,
    pub follow: bool,
    pub timeout: Option<String>,
    pub interval: Option<String>,
    pub strict: bool,
    pub allow_skipped: bool,
    pub status: Option<String>,
    pub junit: Option<String>,
    pub no_sections: bool,
    pub reference: Option<String>,
    pub recent: bool,
    pub path: Option<String>,
    pub out: Option<String>,
    pub help: bool,
    pub version: bool,
    /// The command and the selectors, in order.
    pub positional: Vec<String>,
    /// The flags given, in the order given, for the check that each belongs to the command (the
    /// first that does not is the one named).
    pub given: Vec<&'static Flag>,
}

/// One flag: its definition and what it does to [`RawArgs`].
#[derive(Debug)]
pub struct Flag {
    /// `--api-url`.
    pub long: &'static str,
    /// `-v`: a dash and one letter. Only switches have one: `-vf` is read as `-v -f` (see
    /// `cluster` in parse.rs), and pico-args, asked key by key, would read a flag's values given
    /// with its long key before those given with its short one.
    pub short: Option<&'static str>,
    /// The value's placeholder (`URL`); `None` for a switch.
    pub value: Option<&'static str>,
    pub help: &'static str,
    /// The variable the flag overrides, if any.
    pub variable: Option<&'static str>,
    pub applies: Applies,
    /// Stores the value (`None` for a switch); an `Err` is the complaint, without the flag's name.
    pub apply: fn(&mut RawArgs, Option<String>) -> Result<(), String>,
}

/// Sets a value that may be given once.
fn once(slot: &mut Option<String>, value: Option<String>) -> Result<(), String> {
    if slot.is_some() {
        return Err("is given more than once".into());
    }
    *slot = value;
    Ok(())
}

fn push(list: &mut Vec<String>, value: Option<String>) -> Result<(), String> {
    list.extend(value);
    Ok(())
}

fn switch(slot: &mut bool) -> Result<(), String> {
    if *slot {
        return Err("is given more than once".into());
    }
    *slot = true;
    Ok(())
}

const SELECTING: &[CommandName] = &[Job, Trace, Play, Cancel, Retry, Erase, Wait, Check];
const WAITING: &[CommandName] = &[Wait, Play, Retry, Trace, Artifacts];
const JUDGING: &[CommandName] = &[Wait, Play, Retry, Check];
/// The rules of a verdict: what judges, and `artifacts --wait`.
const STRICTNESS: &[CommandName] = &[Wait, Play, Retry, Check, Artifacts];

pub static FLAGS: &[Flag] = &[
    Flag {
        long: "--api-url",
        short: None,
        value: Some("URL"),
        help: "GitLab's API root, e.g. https://gitlab.example.com/api/v4",
        variable: Some("CI_API_V4_URL, else CI_SERVER_URL + /api/v4"),
        applies: Applies::All,
        apply: |raw, v| once(&mut raw.api_url, v),
    },
    Flag {
        long: "--project",
        short: None,
        value: Some("ID|PATH"),
        help: "the project, by numeric id or path (group/sub/project)",
        variable: Some("CI_PROJECT_ID"),
        applies: Applies::All,
        apply: |raw, v| once(&mut raw.project, v),
    },
    Flag {
        long: "--pipeline",
        short: None,
        value: Some("ID"),
        help: "the pipeline whose jobs names and stages are looked up in",
        variable: Some("CI_PIPELINE_ID"),
        applies: Applies::All,
        apply: |raw, v| once(&mut raw.pipeline, v),
    },
    Flag {
        long: "--token",
        short: None,
        value: Some("TOKEN"),
        help: "an access token (personal, project or group): read_api to read, api to act; \
               prefer the variable, which no process listing shows",
        variable: Some("GITLAB_TOKEN (the job token is always CI_JOB_TOKEN)"),
        applies: Applies::All,
        apply: |raw, v| once(&mut raw.token, v),
    },
    Flag {
        long: "--ca-file",
        short: None,
        value: Some("PATH"),
        help: "also trust the CA certificates in this PEM file (the bundled Mozilla roots stay)",
        variable: Some("CI_SERVER_TLS_CA_FILE, SSL_CERT_FILE (all that are set are trusted)"),
        applies: Applies::All,
        apply: |raw, v| once(&mut raw.ca_file, v),
    },
    Flag {
        long: "--request-timeout",
        short: None,
        value: Some("DURATION"),
        help: "give up when GitLab is silent this long (connecting, awaiting an answer, between \
               two reads of it), or when one JSON answer takes four times as long [default: 30s]",
        variable: None,
        applies: Applies::All,
        apply: |raw, v| once(&mut raw.request_timeout, v),
    },
    Flag {
        long: "--retries",
        short: None,
        value: Some("N"),
        help: "retry a read this many times on 429, 5xx, network failures and broken answers \
               [default: 3]",
        variable: None,
        applies: Applies::All,
        apply: |raw, v| once(&mut raw.retries, v),
    },
    Flag {
        long: "--verbose",
        short: Some("-v"),
        value: None,
        help: "log each request (method, URL, status, time; never a token) on stderr",
        variable: None,
        applies: Applies::All,
        apply: |raw, _| switch(&mut raw.verbose),
    },
    Flag {
        long: "--json",
        short: None,
        value: None,
        help: "print GitLab's JSON unchanged (a list as one array across all pages)",
        variable: None,
        applies: Applies::All,
        apply: |raw, _| switch(&mut raw.json),
    },
    Flag {
        long: "--field",
        short: None,
        value: Some("PATH"),
        help: "print this field (dotted path: pipeline.id, runner.description) of each job, one \
               line per job, tab-separated; repeatable",
        variable: None,
        applies: Applies::All,
        apply: |raw, v| push(&mut raw.fields, v),
    },
    Flag {
        long: "--stage",
        short: None,
        value: Some("NAME"),
        help: "select every job of this stage (never the job running gljob); repeatable",
        variable: None,
        applies: Applies::Only(SELECTING),
        apply: |raw, v| push(&mut raw.stages, v),
    },
    Flag {
        long: "--dotenv",
        short: None,
        value: None,
        help: "print KEY=VALUE lines for artifacts:reports:dotenv (--field chooses the keys)",
        variable: None,
        applies: Applies::Only(&[Job]),
        apply: |raw, _| switch(&mut raw.dotenv),
    },
    Flag {
        long: "--scope",
        short: None,
        value: Some("STATUS"),
        help: "only jobs in this status (sent as scope[]); repeatable or comma-separated",
        variable: None,
        applies: Applies::Only(&[Jobs, Bridges]),
        apply: |raw, v| push(&mut raw.scopes, v),
    },
    Flag {
        long: "--include-retried",
        short: None,
        value: None,
        help: "list earlier attempts of retried jobs too",
        variable: None,
        applies: Applies::Only(&[Jobs]),
        apply: |raw, _| switch(&mut raw.include_retried),
    },
    Flag {
        long: "--project-wide",
        short: None,
        value: None,
        help: "list the project's jobs (GET /projects/:id/jobs) instead of the pipeline's",
        variable: None,
        applies: Applies::Only(&[Jobs]),
        apply: |raw, _| switch(&mut raw.project_wide),
    },
    Flag {
        long: "--tree",
        short: None,
        value: None,
        help: "draw the whole tree below the pipeline: its jobs, its trigger jobs and the \
               pipelines they created, level by level",
        variable: None,
        applies: Applies::Only(&[Bridges]),
        apply: |raw, _| switch(&mut raw.tree),
    },
    Flag {
        long: "--limit",
        short: None,
        value: Some("N"),
        help: "stop after N jobs (fewer pages read)",
        variable: None,
        applies: Applies::Only(&[Jobs, Bridges]),
        apply: |raw, v| once(&mut raw.limit, v),
    },
    Flag {
        long: "--var",
        short: None,
        value: Some("KEY=VALUE"),
        help: "a job variable for the played job; repeatable",
        variable: None,
        applies: Applies::Only(&[Play]),
        apply: |raw, v| push(&mut raw.vars, v),
    },
    Flag {
        long: "--input",
        short: None,
        value: Some("NAME=TEXT|NAME:=JSON"),
        help: "a job input (GitLab 18.10+): NAME=TEXT sends a string, NAME:=JSON a number, \
               boolean or array (as httpie and xh do); repeatable",
        variable: None,
        applies: Applies::Only(&[Play, Retry]),
        apply: |raw, v| push(&mut raw.inputs, v),
    },
    Flag {
        long: "--force",
        short: None,
        value: None,
        help: "force-cancel a job stuck in canceling (Maintainer)",
        variable: None,
        applies: Applies::Only(&[Cancel]),
        apply: |raw, _| switch(&mut raw.force),
    },
    Flag {
        long: "--wait",
        short: None,
        value: None,
        help: "then wait for what was started (artifacts: wait for the job first), as `gljob \
               wait` does",
        variable: None,
        applies: Applies::Only(&[Play, Retry, Artifacts]),
        apply: |raw, _| switch(&mut raw.wait),
    },
    Flag {
        long: "--follow",
        short: Some("-f"),
        value: None,
        help: "print the log as it grows until the job ends; exit 0 on success, 1 otherwise",
        variable: None,
        applies: Applies::Only(&[Trace]),
        apply: |raw, _| switch(&mut raw.follow),
    },
    Flag {
        long: "--timeout",
        short: None,
        value: Some("DURATION"),
        help: "stop after this long and exit 124 (500ms, 30s, 5m, 1h30m); it bounds every \
               request, retry and pause, and the exit comes within 2s of it [default: none]",
        variable: None,
        applies: Applies::Only(WAITING),
        apply: |raw, v| once(&mut raw.timeout, v),
    },
    Flag {
        long: "--interval",
        short: None,
        value: Some("DURATION"),
        help: "time between polls, with ±20% jitter [default: 5s]",
        variable: None,
        applies: Applies::Only(WAITING),
        apply: |raw, v| once(&mut raw.interval, v),
    },
    Flag {
        long: "--strict",
        short: None,
        value: None,
        help: "a failed or canceled job does not pass even with allow_failure: true",
        variable: None,
        applies: Applies::Only(STRICTNESS),
        apply: |raw, _| switch(&mut raw.strict),
    },
    Flag {
        long: "--allow-skipped",
        short: None,
        value: None,
        help: "a skipped job passes",
        variable: None,
        applies: Applies::Only(STRICTNESS),
        apply: |raw, _| switch(&mut raw.allow_skipped),
    },
    Flag {
        long: "--status",
        short: None,
        value: Some("LIST"),
        help: "pass when every job is in one of these statuses (comma-separated) [default: \
               passed, as wait judges it]",
        variable: None,
        applies: Applies::Only(&[Check]),
        apply: |raw, v| once(&mut raw.status, v),
    },
    Flag {
        long: "--junit",
        short: None,
        value: Some("FILE"),
        help: "also write the verdict as a JUnit XML report (artifacts:reports:junit): one test \
               case per job, judged as the exit code judges; written whole, also when a wait \
               times out or GitLab fails it",
        variable: None,
        applies: Applies::Only(JUDGING),
        apply: |raw, v| once(&mut raw.junit, v),
    },
    Flag {
        long: "--no-sections",
        short: None,
        value: None,
        help: "inside a GitLab job, do not fold the wait's progress into a collapsible log \
               section (NO_COLOR does the same)",
        variable: None,
        applies: Applies::Only(&[Wait, Play, Retry, Artifacts]),
        apply: |raw, _| switch(&mut raw.no_sections),
    },
    Flag {
        long: "--ref",
        short: None,
        value: Some("REF"),
        help: "the job called SELECTOR in the latest successful pipeline of this branch or tag \
               (of --project), not of this pipeline",
        variable: None,
        applies: Applies::Only(&[Artifacts]),
        apply: |raw, v| once(&mut raw.reference, v),
    },
    Flag {
        long: "--recent",
        short: None,
        value: None,
        help: "with --ref: the newest job of that name with artifacts in the ref's 100 latest \
               successful pipelines (GitLab 18.10+; an older one looks in the latest only)",
        variable: None,
        applies: Applies::Only(&[Artifacts]),
        apply: |raw, _| switch(&mut raw.recent),
    },
    Flag {
        long: "--path",
        short: None,
        value: Some("FILE"),
        help: "only this file of the artifacts (its path in the archive), without the archive; \
               written to DIR/FILE",
        variable: None,
        applies: Applies::Only(&[Artifacts]),
        apply: |raw, v| once(&mut raw.path, v),
    },
    Flag {
        long: "--out",
        short: None,
        value: Some("DIR"),
        help: "where the files go (created if missing); nothing is written outside it \
               [default: the working directory]",
        variable: None,
        applies: Applies::Only(&[Artifacts]),
        apply: |raw, v| once(&mut raw.out, v),
    },
    Flag {
        long: "--help",
        short: Some("-h"),
        value: None,
        help: "show this help (or a command's: gljob COMMAND --help)",
        variable: None,
        applies: Applies::All,
        apply: |raw, _| {
            raw.help = true;
            Ok(())
        },
    },
    Flag {
        long: "--version",
        short: Some("-V"),
        value: None,
        help: "show gljob's version, target and commit",
        variable: None,
        applies: Applies::All,
        apply: |raw, _| {
            raw.version = true;
            Ok(())
        },
    },
];

impl Flag {
    /// The keys pico-args is asked for: the long one, then the short one if any.
    pub fn keys(&self) -> impl Iterator<Item = &'static str> {
        std::iter::once(self.long).chain(self.short)
    }

    pub fn applies_to(&self, command: CommandName) -> bool {
        match self.applies {
            Applies::All => true,
            Applies::Only(commands) => commands.contains(&command),
        }
    }

    pub fn is_global(&self) -> bool {
        matches!(self.applies, Applies::All)
    }
}
