//! `--help` and `--version` text, wrapped to the terminal (`COLUMNS`, else 100 columns).

use super::defs::{CommandName, FLAGS, Flag};

const DEFAULT_WIDTH: usize = 100;
/// Where flag descriptions start.
const HELP_COLUMN: usize = 28;

pub fn version() -> String {
    format!(
        "gljob {} ({}, commit {})\n",
        env!("CARGO_PKG_VERSION"),
        option_env!("GLJOB_BUILD_TARGET").unwrap_or("unknown target"),
        option_env!("GLJOB_BUILD_COMMIT").unwrap_or("unknown")
    )
}

fn width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|c| *c >= 40)
        .unwrap_or(DEFAULT_WIDTH)
}

pub fn general() -> String {
    let width = width();
    let mut text = format!(
        "gljob {}: look at and act on GitLab CI jobs from inside a job.\n\n\
         Usage: gljob COMMAND [SELECTOR]... [FLAGS]\n\nCommands:\n",
        env!("CARGO_PKG_VERSION")
    );
    // The about column starts two spaces past the longest command name.
    let column = CommandName::ALL
        .iter()
        .map(|c| c.name().len())
        .max()
        .unwrap_or(0)
        + 4;
    for command in CommandName::ALL {
        text.push_str(&hanging(
            &format!("  {}", command.name()),
            command.about(),
            column,
            width,
        ));
    }
    text.push_str("\nSelectors:\n");
    text.push_str(&wrap(
        "A job id (42), a name in the pipeline ('deploy'; 'unit' also picks 'unit 1/3' and \
         'unit: [a, b]', as needs: does), a pattern with * and ? ('test:*', 'rspec ?/3'), \
         --stage NAME, or TRIGGER::SELECTOR for jobs of the pipeline a trigger job created \
         ('docs::*', 'deploy-eu::smoke', 'a::b::job'). The job running gljob is never picked by \
         a name, pattern or stage.",
        2,
        width,
    ));
    text.push_str("\nGlobal flags (every command takes them):\n");
    text.push_str(&flag_lines(FLAGS.iter().filter(|f| f.is_global()), width));
    text.push_str("\nExit codes:\n");
    text.push_str(&wrap(
        "0 done or passed; 1 a job did not pass; 2 usage or configuration (nothing was sent); \
         3 GitLab refused, failed or matched nothing; 4 a write's outcome is unknown (look before \
         running it again); 5 output could not be written; 124 --timeout ran out.",
        2,
        width,
    ));
    text.push_str("\nRun `gljob COMMAND --help` for a command's own flags and examples.\n");
    text
}

pub fn command(command: CommandName) -> String {
    let width = width();
    let mut text = wrap(command.about(), 0, width);
    text.push('\n');
    text.push_str(&hanging("Usage:", command.usage(), 7, width));
    let own: Vec<&Flag> = FLAGS
        .iter()
        .filter(|f| !f.is_global() && f.applies_to(command))
        .collect();
    if !own.is_empty() {
        text.push_str("\nFlags:\n");
        text.push_str(&flag_lines(own.into_iter(), width));
    }
    text.push_str("\nGlobal flags (--api-url, --token, --json, --field, …): see gljob --help\n");
    text.push_str("\nExamples:\n");
    for example in command.examples() {
        text.push_str(&format!("  {example}\n"));
    }
    text
}

fn flag_lines<'a>(flags: impl Iterator<Item = &'a Flag>, width: usize) -> String {
    let mut text = String::new();
    for flag in flags {
        let mut head = String::from("  ");
        if let Some(short) = flag.short {
            head.push_str(&format!("{short}, "));
        }
        head.push_str(flag.long);
        if let Some(value) = flag.value {
            head.push(' ');
            head.push_str(value);
        }
        let mut help = flag.help.to_string();
        if let Some(variable) = flag.variable {
            help.push_str(&format!(" [env: {variable}]"));
        }
        text.push_str(&hanging(&head, &help, HELP_COLUMN, width));
    }
    text
}

/// `head` then `body` from column `column`, wrapped to `width` with the same indent; a head too
/// long for the column gets its own line.
fn hanging(head: &str, body: &str, column: usize, width: usize) -> String {
    let body = wrap(body, column, width);
    let head_len = head.chars().count();
    if head_len < column {
        format!("{head}{}", &body[head_len..])
    } else {
        format!("{head}\n{body}")
    }
}

/// Words of `text` in lines of at most `width` columns, each indented by `indent`.
fn wrap(text: &str, indent: usize, width: usize) -> String {
    let room = width.saturating_sub(indent).max(20);
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > room {
            out.push_str(&" ".repeat(indent));
            out.push_str(&line);
            out.push('\n');
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(&" ".repeat(indent));
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_fits_the_width_and_names_every_flag_once() {
        let text = general();
        assert!(
            text.lines().all(|l| l.chars().count() <= DEFAULT_WIDTH),
            "{text}"
        );
        for flag in FLAGS.iter().filter(|f| f.is_global()) {
            assert_eq!(
                text.matches(&format!("{} ", flag.long)).count()
                    + text.matches(&format!("{}\n", flag.long)).count(),
                1,
                "{}",
                flag.long
            );
        }
        for command in CommandName::ALL {
            let text = self::command(command);
            assert!(
                text.lines().all(|l| l.chars().count() <= DEFAULT_WIDTH),
                "{text}"
            );
            assert!(text.contains("Examples:\n  gljob "), "{text}");
            for flag in FLAGS
                .iter()
                .filter(|f| !f.is_global() && f.applies_to(command))
            {
                assert!(
                    text.contains(flag.long),
                    "{} in {}",
                    flag.long,
                    command.name()
                );
            }
        }
    }

    #[test]
    fn wrapping_keeps_words_whole() {
        assert_eq!(wrap("aaa bbb ccc", 2, 30), "  aaa bbb ccc\n");
        assert_eq!(hanging("  --x", "one two", 8, 30), "  --x   one two\n");
    }
}
