//! The one-line result of `cargo xtask test`: runs each `cargo test`, passes its output through
//! and adds up the `test result:` lines of every test binary and doc-test run.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use anyhow::{Context, Result};

/// Counts over every test run so far.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    pub passed: u64,
    pub failed: u64,
    pub skipped: u64,
    /// `cargo test` runs that failed without a failing test to show for it (a build error,
    /// a crashed test binary).
    pub broken_runs: Vec<String>,
}

impl Tally {
    /// Runs `command` (a `cargo test`), echoing its standard output line by line and counting
    /// each `test result:` line in it.
    pub(crate) fn run(&mut self, command: &mut Command) -> Result<()> {
        let mut child = command
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot run {command:?}"))?;
        let stdout = child.stdout.take().context("no stdout pipe")?;
        let failed_before = self.failed;
        let mut out = std::io::stdout().lock();
        for line in BufReader::new(stdout).split(b'\n') {
            let line = line.context("cannot read the test output")?;
            out.write_all(&line)?;
            out.write_all(b"\n")?;
            self.count(&String::from_utf8_lossy(&line));
        }
        drop(out);
        let status = child.wait()?;
        if !status.success() && self.failed == failed_before {
            self.broken_runs
                .push(format!("{command:?} failed with {status}"));
        }
        Ok(())
    }

    /// Adds the counts of one line if it is a `test result:` line.
    fn count(&mut self, line: &str) {
        let Some(rest) = line.trim_start().strip_prefix("test result: ") else {
            return;
        };
        let Some((_, counts)) = rest.split_once(". ") else {
            return;
        };
        for part in counts.split(';') {
            let mut words = part.split_whitespace();
            let (Some(number), Some(what)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(number) = number.parse::<u64>() else {
                continue;
            };
            match what {
                "passed" => self.passed += number,
                "failed" => self.failed += number,
                "ignored" => self.skipped += number,
                _ => {}
            }
        }
    }

    /// `N passed, M failed` with `, K skipped` when some were.
    pub(crate) fn summary(&self) -> String {
        let mut line = format!("{} passed, {} failed", self.passed, self.failed);
        if self.skipped > 0 {
            line.push_str(&format!(", {} skipped", self.skipped));
        }
        line
    }

    /// Whether everything ran and passed.
    pub(crate) fn ok(&self) -> bool {
        self.failed == 0 && self.broken_runs.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::Tally;

    #[test]
    fn adds_up_test_result_lines() {
        let mut tally = Tally::default();
        for line in [
            "running 3 tests",
            "test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s",
            "test result: FAILED. 5 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 1.20s",
            "test something ... ok",
            "test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s",
        ] {
            tally.count(line);
        }
        assert_eq!((tally.passed, tally.failed, tally.skipped), (8, 2, 1));
        assert_eq!(tally.summary(), "8 passed, 2 failed, 1 skipped");
        assert!(!tally.ok());
    }

    #[test]
    fn no_skipped_part_without_skipped_tests() {
        let mut tally = Tally::default();
        tally.count("test result: ok. 4 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out");
        assert_eq!(tally.summary(), "4 passed, 0 failed");
        assert!(tally.ok());
    }

    #[test]
    fn a_run_that_fails_without_failing_tests_is_not_ok() {
        let mut tally = Tally::default();
        let mut command = std::process::Command::new("false");
        tally.run(&mut command).unwrap();
        assert_eq!(tally.summary(), "0 passed, 0 failed");
        assert!(!tally.ok());
    }
}
