//! `cargo xtask tidy`: the invariants a reviewer should not have to check by eye, checked over
//! every tracked file (modelled on rust-analyzer's tidy test):
//!
//! - the repository stands alone: no source, test or script refers to the `shared` folder that
//!   sits beside the development checkout, nor climbs above the repository's root with `../`;
//! - every Rust source file opens with a `//!` line saying what it is for;
//! - only the plugin runtime (`host/src/plugins/`) names wasmtime;
//! - no absolute path of the build machine is baked into the server binary: the non-test code
//!   of `host/src/` does not use `env!("CARGO_MANIFEST_DIR")`, `file!()` or `OUT_DIR`, which
//!   expand to the checkout's absolute path at compile time. (Checked on the sources rather
//!   than on a built binary: a release build is too slow for every test run, and the sources
//!   say where to fix it. Panic locations of our own crates are relative paths.)

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::root;

/// Extensions of the files that are built, run or read by tests and scripts.
const CHECKED_EXTENSIONS: &[&str] = &[
    "rs", "toml", "sh", "py", "js", "mjs", "ts", "sql", "yml", "yaml", "json", "wit", "jinja",
    "html", "cfg",
];

/// This file names what it looks for, so it is the one file not checked for references.
const SELF: &str = "xtask/src/tidy.rs";

/// The plugin runtime: the one place that may name wasmtime.
const PLUGIN_RUNTIME: &str = "host/src/plugins/";

/// The server binary's sources (library and CLI), where compile-time paths are refused.
const SERVER_SOURCES: &str = "host/src/";

/// Macros that expand to the build machine's absolute paths.
const BAKED_PATHS: &[&str] = &[
    "env!(\"CARGO_MANIFEST_DIR\")",
    "env!(\"OUT_DIR\")",
    "file!()",
];

/// What a problem breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    Outside,
    ModuleDoc,
    Wasmtime,
    BakedPath,
}

impl Rule {
    /// What to do about it, printed once per rule.
    fn advice(self) -> &'static str {
        match self {
            Rule::Outside => {
                "refer to files outside the repository; a fresh clone has none of them. Copy \
                 the data into fixtures/ (recordings go to fixtures/reference/buildbot-4.3/) \
                 and point there"
            }
            Rule::ModuleDoc => {
                "do not open with a `//!` line; start each Rust file with one saying what it is \
                 for"
            }
            Rule::Wasmtime => {
                "name wasmtime outside the plugin runtime (host/src/plugins/); go through \
                 plugins::Registry and its plain types instead"
            }
            Rule::BakedPath => {
                "bake the build machine's absolute path into the server binary; find files from \
                 the config or the working directory at run time (tests may use these macros)"
            }
        }
    }
}

/// One place that breaks a rule.
#[derive(Debug)]
struct Problem {
    rule: Rule,
    place: String,
}

/// Fails with one line per offending place when a file breaks one of the rules.
pub(crate) fn check() -> Result<()> {
    let root = root();
    let mut problems = Vec::new();
    for relative in tracked_files(&root)? {
        if !is_checked(&root, &relative) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(root.join(&relative)) else {
            continue; // binary files are not sources
        };
        problems.extend(check_file(&root, &relative, &text));
    }
    report(&problems)?;
    println!(
        "xtask: tidy: no file refers to a path outside the repository, every Rust file opens \
         with //!, only the plugin runtime names wasmtime, no build path is baked into the server"
    );
    Ok(())
}

/// Every problem of one file.
fn check_file(root: &Path, relative: &Path, text: &str) -> Vec<Problem> {
    let mut problems = Vec::new();
    let name = relative.to_string_lossy().replace('\\', "/");
    if relative != Path::new(SELF) {
        for (number, line) in text.lines().enumerate() {
            if let Some(why) = outside_reference(root, relative, line) {
                problems.push(Problem {
                    rule: Rule::Outside,
                    place: format!("{name}:{}: {why}: {}", number + 1, line.trim()),
                });
            }
        }
    }
    if name.ends_with(".rs") {
        if !opens_with_module_doc(text) {
            problems.push(Problem {
                rule: Rule::ModuleDoc,
                place: format!("{name}:1"),
            });
        }
        if !name.starts_with(PLUGIN_RUNTIME) && name != SELF {
            for number in wasmtime_lines(text) {
                problems.push(Problem {
                    rule: Rule::Wasmtime,
                    place: format!("{name}:{number}"),
                });
            }
        }
        if name.starts_with(SERVER_SOURCES) {
            for (number, found) in baked_paths(text) {
                problems.push(Problem {
                    rule: Rule::BakedPath,
                    place: format!("{name}:{number}: {found}"),
                });
            }
        }
    }
    problems
}

/// Fails listing every problem, grouped by rule.
fn report(problems: &[Problem]) -> Result<()> {
    if problems.is_empty() {
        return Ok(());
    }
    let mut text = String::new();
    for rule in [
        Rule::Outside,
        Rule::ModuleDoc,
        Rule::Wasmtime,
        Rule::BakedPath,
    ] {
        let places: Vec<&str> = problems
            .iter()
            .filter(|p| p.rule == rule)
            .map(|p| p.place.as_str())
            .collect();
        if !places.is_empty() {
            text.push_str(&format!(
                "\n{} place(s) {}:\n  {}",
                places.len(),
                rule.advice(),
                places.join("\n  ")
            ));
        }
    }
    bail!("tidy:{text}");
}

/// Whether the first line that is not blank is a `//!` comment.
fn opens_with_module_doc(text: &str) -> bool {
    text.lines()
        .find(|line| !line.trim().is_empty())
        .is_some_and(|line| line.trim_start().starts_with("//!"))
}

/// Lines (1-based) whose code, comments aside, uses the `wasmtime` crates.
fn wasmtime_lines(text: &str) -> Vec<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| {
            let code = code_of(line);
            [
                "wasmtime::",
                "wasmtime_wasi::",
                "wasmtime_wasi_http::",
                "crate wasmtime",
            ]
            .iter()
            .any(|needle| code.contains(needle))
                || code.trim_start().starts_with("use wasmtime")
        })
        .map(|(number, _)| number + 1)
        .collect()
}

/// Lines (1-based) of non-test code that use a macro expanding to a build path, with the macro.
/// Test code is what follows a `#[cfg(test)]` line (the project keeps tests in a trailing
/// `mod tests`).
fn baked_paths(text: &str) -> Vec<(usize, &'static str)> {
    let mut found = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let code = code_of(line);
        if code.trim() == "#[cfg(test)]" {
            break;
        }
        let squeezed: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        for needle in BAKED_PATHS {
            if squeezed.contains(needle)
                || squeezed.contains(&needle.replace("env!", "option_env!"))
            {
                found.push((number + 1, *needle));
            }
        }
    }
    found
}

/// A line without its `//` comment (a `//` inside a string literal is rare enough in the
/// places checked that the line is then read short, never long).
fn code_of(line: &str) -> &str {
    line.find("//").map_or(line, |at| &line[..at])
}

/// The repository's tracked files (`git ls-files`), or every file but `target/` and `.git/`
/// when this is not a git checkout (a release tarball).
fn tracked_files(root: &Path) -> Result<Vec<PathBuf>> {
    let git = Command::new("git")
        .current_dir(root)
        .args(["ls-files", "-z"])
        .output();
    if let Ok(output) = git {
        if output.status.success() {
            return Ok(output
                .stdout
                .split(|&b| b == 0)
                .filter(|name| !name.is_empty())
                .map(|name| PathBuf::from(String::from_utf8_lossy(name).into_owned()))
                .collect());
        }
    }
    let mut files = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(root.join(&dir))
            .with_context(|| format!("cannot list {}", root.join(&dir).display()))?;
        for entry in entries {
            let entry = entry?;
            let relative = dir.join(entry.file_name());
            let name = entry.file_name();
            if entry.file_type()?.is_dir() {
                if name != "target" && name != ".git" {
                    pending.push(relative);
                }
            } else {
                files.push(relative);
            }
        }
    }
    Ok(files)
}

/// Sources by extension, and scripts: anything under `.ci/` or starting with `#!`.
fn is_checked(root: &Path, relative: &Path) -> bool {
    let by_extension = relative
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| CHECKED_EXTENSIONS.contains(&e));
    by_extension
        || relative.starts_with(".ci")
        || std::fs::read(root.join(relative)).is_ok_and(|bytes| bytes.starts_with(b"#!"))
}

/// Why `line` of `file` refers to something outside the repository, if it does.
fn outside_reference(root: &Path, file: &Path, line: &str) -> Option<String> {
    let shared = concat!("..", "/shared");
    if line.contains(shared) || line.contains("shared/reference") {
        return Some("refers to the shared folder beside the checkout".to_owned());
    }
    // A run of `../` climbs from some base: the package's directory when the line starts from
    // `CARGO_MANIFEST_DIR`, the repository's root when it starts from xtask's `root()`, the
    // file's own directory otherwise (`#[path]`, `include_str!`, scripts, imports).
    let base = if line.contains("CARGO_MANIFEST_DIR") {
        package_dir(root, file)
    } else if line.contains("root()") {
        PathBuf::new()
    } else {
        file.parent().map(Path::to_path_buf).unwrap_or_default()
    };
    let depth = base.components().count();
    let climb = longest_climb(line);
    (climb > depth).then(|| {
        format!(
            "climbs {climb} level(s) from {}, above the repository's root",
            if depth == 0 {
                "the root".to_owned()
            } else {
                base.display().to_string()
            }
        )
    })
}

/// The directory of the nearest `Cargo.toml` above `file` (relative to `root`).
fn package_dir(root: &Path, file: &Path) -> PathBuf {
    let mut dir = file.parent();
    while let Some(candidate) = dir {
        if root.join(candidate).join("Cargo.toml").is_file() {
            return candidate.to_path_buf();
        }
        dir = candidate.parent();
    }
    PathBuf::new()
}

/// The most consecutive `../` (or `..\`) components anywhere in `line`.
fn longest_climb(line: &str) -> usize {
    let bytes = line.as_bytes();
    let mut best = 0;
    let mut i = 0;
    while i < bytes.len() {
        let mut run = 0;
        let mut j = i;
        let starts_component = i == 0
            || (!matches!(bytes[i - 1], b'.' | b'_' | b'-')
                && !bytes[i - 1].is_ascii_alphanumeric());
        while starts_component
            && bytes.len() >= j + 3
            && &bytes[j..j + 2] == b".."
            && matches!(bytes[j + 2], b'/' | b'\\')
        {
            run += 1;
            j += 3;
        }
        best = best.max(run);
        i = if run > 0 { j } else { i + 1 };
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_climbs() {
        assert_eq!(longest_climb(r#"join("../../x")"#), 2);
        assert_eq!(longest_climb(r#"#[path = "../../../a.rs"]"#), 3);
        assert_eq!(longest_climb("a/../b"), 1);
        assert_eq!(longest_climb("x../y"), 0);
        assert_eq!(longest_climb("no climb here ..."), 0);
    }

    #[test]
    fn flags_the_shared_folder_and_paths_above_the_root() {
        let root = root();
        let shared = concat!("..", "/shared");
        let line = format!(r#"Path::new(env!("CARGO_MANIFEST_DIR")).join("../.{shared}/x")"#);
        assert!(outside_reference(&root, Path::new("host/tests/a.rs"), &line).is_some());
        let climb = r#"Path::new(env!("CARGO_MANIFEST_DIR")).join("../../elsewhere")"#;
        assert!(outside_reference(&root, Path::new("host/tests/a.rs"), climb).is_some());
        let inside = r#"Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")"#;
        assert!(outside_reference(&root, Path::new("host/tests/a.rs"), inside).is_none());
        let from_root = r#"root().join("../x")"#;
        assert!(outside_reference(&root, Path::new("xtask/src/bench.rs"), from_root).is_some());
        let relative = r#"#[path = "../../console_view/src/common.rs"]"#;
        assert!(
            outside_reference(&root, Path::new("plugins/grid_view/src/lib.rs"), relative).is_none()
        );
    }

    #[test]
    fn flags_a_file_without_a_module_doc() {
        assert!(opens_with_module_doc("//! What this is.\n\nfn f() {}\n"));
        assert!(opens_with_module_doc("\n//! After a blank line.\n"));
        assert!(!opens_with_module_doc("/// An item doc.\nfn f() {}\n"));
        assert!(!opens_with_module_doc("use std::io;\n//! too late\n"));
        assert!(!opens_with_module_doc(""));
        let problems = check_file(&root(), Path::new("host/src/x.rs"), "fn main() {}\n");
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].rule, Rule::ModuleDoc);
    }

    #[test]
    fn flags_wasmtime_outside_the_plugin_runtime() {
        let text = "//! A page.\nuse wasmtime::Engine;\n// wasmtime:: in a comment is fine\n\
                    fn f(_: wasmtime_wasi::WasiCtx) {}\n";
        assert_eq!(wasmtime_lines(text), vec![2, 4]);
        let elsewhere = check_file(&root(), Path::new("host/src/ui/pages.rs"), text);
        assert_eq!(
            elsewhere
                .iter()
                .filter(|p| p.rule == Rule::Wasmtime)
                .count(),
            2
        );
        let runtime = check_file(&root(), Path::new("host/src/plugins/engine.rs"), text);
        assert!(runtime.is_empty(), "{runtime:?}");
    }

    #[test]
    fn flags_build_paths_in_the_server_but_not_in_its_tests() {
        let text = "//! A module.\nconst A: &str = env!(\"CARGO_MANIFEST_DIR\");\n\
                    const B: &str = file!();\nconst C: Option<&str> = option_env!( \"OUT_DIR\");\n\
                    const D: &str = env!(\"CARGO_PKG_VERSION\");\n\
                    #[cfg(test)]\nmod tests {\n    const E: &str = env!(\"CARGO_MANIFEST_DIR\");\n}\n";
        let lines: Vec<usize> = baked_paths(text).into_iter().map(|(n, _)| n).collect();
        assert_eq!(lines, vec![2, 3, 4]);
        let server = check_file(&root(), Path::new("host/src/ui/mod.rs"), text);
        assert_eq!(
            server.iter().filter(|p| p.rule == Rule::BakedPath).count(),
            3
        );
        // Integration tests and xtask run from the checkout: they may use them.
        assert!(check_file(&root(), Path::new("host/tests/ui.rs"), text).is_empty());
        assert!(check_file(&root(), Path::new("xtask/src/main.rs"), text).is_empty());
    }

    #[test]
    fn a_report_names_every_place_under_its_rule() {
        let problems = check_file(
            &root(),
            Path::new("host/src/ui/mod.rs"),
            "use wasmtime::Engine;\nconst A: &str = file!();\n",
        );
        let err = format!("{:#}", report(&problems).unwrap_err());
        assert!(err.contains("host/src/ui/mod.rs:1\n"), "{err}");
        assert!(err.contains("1 place(s) name wasmtime"), "{err}");
        assert!(err.contains("host/src/ui/mod.rs:2: file!()"), "{err}");
        assert!(report(&[]).is_ok());
    }

    /// The check itself, as `cargo xtask test` runs it.
    #[test]
    fn the_repository_stands_alone() {
        check().unwrap();
    }
}
