//! gljob: look at and act on GitLab CI jobs from inside a job. See the README for the contract.

/// A line on stderr. Unlike `eprintln!`, it does not panic when stderr fails to take it
/// (`2>/dev/full`, a full disk): with `panic = "abort"` that turned any verdict into SIGABRT (134).
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod api;
mod cli;
mod commands;
mod config;
mod duration;
mod error;
#[cfg(test)]
mod fuzz_tests;
mod jitter;
mod model;
mod output;
mod proxy;
mod select;
mod wait;

use cli::Parsed;
use error::ExitCode;

fn main() {
    let args = std::env::args_os().skip(1).collect();
    let code = match cli::parse(args) {
        Ok(Parsed::Help(text)) => {
            use std::io::Write as _;
            let _ = std::io::stdout().write_all(text.as_bytes());
            ExitCode::Done
        }
        Ok(Parsed::Run(invocation)) => {
            let command = invocation.command.name();
            let outcome =
                config::Config::load(&invocation.overrides, |name| std::env::var(name).ok())
                    .and_then(|config| {
                        if let Some(warning) = config.plaintext_warning() {
                            note!("gljob: warning: {warning}");
                        }
                        commands::run(*invocation, config)
                    });
            match outcome {
                Ok(code) => code,
                Err(err) => {
                    note!("gljob {command}: {err}");
                    err.exit_code()
                }
            }
        }
        Err(err) => {
            note!("gljob: {err}");
            err.exit_code()
        }
    };
    std::process::exit(code.code());
}
