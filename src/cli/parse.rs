//! One loop over the arguments, guided by [`FLAGS`]: each flag found is looked up in the
//! definitions and applied to [`RawArgs`]. Nothing is converted or checked against the command
//! here; that is [`super::validate`]'s job.
//!
//! lexopt, not pico-args: a loop over the definitions needs the arguments in order, one at a time
//! (pico-args is asked for one flag by name at a time), and lexopt gives exactly that, `--flag=v`,
//! `-f`, `--` and non-UTF-8 reporting included, in one small dependency-free crate.

use super::defs::{FLAGS, Flag, RawArgs};
use super::suggest;
use std::ffi::OsString;

/// Parses the raw arguments. The error is the complaint, naming the flag or argument.
pub fn parse_raw(args: Vec<OsString>) -> Result<RawArgs, String> {
    use lexopt::Arg;
    let mut raw = RawArgs::default();
    let mut parser = lexopt::Parser::from_args(args);
    loop {
        let arg = parser.next().map_err(|e| e.to_string())?;
        let flag: &'static Flag = match arg {
            None => break,
            Some(Arg::Value(value)) => {
                raw.positional.push(utf8(value, "argument")?);
                continue;
            }
            Some(Arg::Long(name)) => {
                let long = format!("--{name}");
                FLAGS
                    .iter()
                    .find(|f| f.long == long)
                    .ok_or_else(|| unknown_flag(&long))?
            }
            Some(Arg::Short(letter)) => FLAGS
                .iter()
                .find(|f| f.short == Some(letter))
                .ok_or_else(|| unknown_flag(&format!("-{letter}")))?,
        };
        let value = match flag.value {
            Some(_) => {
                let value = parser
                    .value()
                    .map_err(|_| format!("{} needs a value", flag.long))?;
                Some(utf8(value, flag.long)?)
            }
            None => {
                if let Some(value) = parser.optional_value() {
                    return Err(format!(
                        "{} takes no value, but was given '{}'",
                        flag.long,
                        value.to_string_lossy()
                    ));
                }
                None
            }
        };
        (flag.apply)(&mut raw, value).map_err(|why| format!("{} {why}", flag.long))?;
        raw.given.push(flag);
    }
    Ok(raw)
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
