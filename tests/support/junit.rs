//! Reading a `--junit` report as GitLab's `artifacts:reports:junit` reads it: its structure
//! checked, its counts added up, each test case with what it holds.

/// One `testcase`: its name, its class, and its outcome (`failure: …`, `error: …`,
/// `skipped: …`, or `None` when it passed).
pub type Case = (String, String, Option<String>);

pub struct Report {
    pub cases: Vec<Case>,
    pub failures: usize,
    pub errors: usize,
    pub skipped: usize,
    /// Each case's `time`, and the suites' totals after them.
    pub times: Vec<f64>,
    pub text: String,
}

impl Report {
    /// Green: nothing failed and nothing is in error, as CI shows it.
    pub fn green(&self) -> bool {
        self.failures == 0 && self.errors == 0
    }

    /// The case named `name`.
    #[track_caller]
    pub fn case(&self, name: &str) -> &Case {
        self.cases
            .iter()
            .find(|c| c.0 == name)
            .unwrap_or_else(|| panic!("no case {name:?} in {}", self.text))
    }

    /// The messages of the cases in error.
    pub fn error_messages(&self) -> Vec<&str> {
        self.cases
            .iter()
            .filter_map(|c| c.2.as_deref())
            .filter_map(|o| o.strip_prefix("error: "))
            .collect()
    }
}

/// Parses the report at `path`, or says why it is not one: one `testsuites` holding one
/// `testsuite`, counts that add up (on both), one `testcase` each with a name, a class and a time
/// that is a plain finite number.
pub fn parse(path: &std::path::Path) -> Result<Report, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("no report: {e}"))?;
    parse_text(text)
}

pub fn parse_text(text: String) -> Result<Report, String> {
    let doc = roxmltree::Document::parse(&text).map_err(|e| format!("not XML: {e}\n{text}"))?;
    let root = doc.root_element();
    if root.tag_name().name() != "testsuites" {
        return Err(format!("root is not testsuites: {text}"));
    }
    let suites: Vec<_> = root.children().filter(|n| n.is_element()).collect();
    if suites.len() != 1 || suites[0].tag_name().name() != "testsuite" {
        return Err(format!("not one testsuite: {text}"));
    }
    let suite = suites[0];
    let number = |node: roxmltree::Node, name: &str| -> Result<usize, String> {
        node.attribute(name)
            .ok_or_else(|| format!("no {name}: {text}"))?
            .parse()
            .map_err(|_| format!("{name} is not a count: {text}"))
    };
    let time = |node: roxmltree::Node| -> Result<f64, String> {
        let shown = node
            .attribute("time")
            .ok_or_else(|| format!("no time: {text}"))?;
        let plain = !shown.is_empty() && shown.bytes().all(|b| b.is_ascii_digit() || b == b'.');
        match shown.parse::<f64>() {
            Ok(t) if plain && t.is_finite() && t >= 0.0 => Ok(t),
            _ => Err(format!(
                "time {shown:?} is not a plain finite number: {text}"
            )),
        }
    };
    let mut report = Report {
        cases: Vec::new(),
        failures: 0,
        errors: 0,
        skipped: 0,
        times: Vec::new(),
        text: String::new(),
    };
    for case in suite.children().filter(|n| n.is_element()) {
        if case.tag_name().name() != "testcase" {
            return Err(format!("<{}> in the suite: {text}", case.tag_name().name()));
        }
        report.times.push(time(case)?);
        let mut outcome = None;
        for n in case
            .children()
            .filter(|n| n.is_element() && n.tag_name().name() != "system-out")
        {
            match n.tag_name().name() {
                "failure" => report.failures += 1,
                "error" => report.errors += 1,
                "skipped" => report.skipped += 1,
                other => return Err(format!("unexpected <{other}>: {text}")),
            }
            if outcome.is_some() {
                return Err(format!("two outcomes in one case: {text}"));
            }
            outcome = Some(format!(
                "{}: {}",
                n.tag_name().name(),
                n.attribute("message").unwrap_or_default()
            ));
        }
        report.cases.push((
            case.attribute("name")
                .ok_or_else(|| format!("a case without a name: {text}"))?
                .to_string(),
            case.attribute("classname")
                .ok_or_else(|| format!("a case without a class: {text}"))?
                .to_string(),
            outcome,
        ));
    }
    for node in [root, suite] {
        report.times.push(time(node)?);
        let counts = [
            ("tests", report.cases.len()),
            ("failures", report.failures),
            ("errors", report.errors),
            ("skipped", report.skipped),
        ];
        for (name, counted) in counts {
            if number(node, name)? != counted {
                return Err(format!("{name} does not count what is there: {text}"));
            }
        }
    }
    report.text = text;
    Ok(report)
}

/// A report path of its own for each caller (tests and oracle runners run side by side).
pub fn temp_path(tag: &str) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("gljob-junit-{}-{tag}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir.join("gljob-junit.xml")
}
