//! `cargo xtask tidy`: the repository stands alone. No tracked source, test or script file may
//! refer to the `shared` folder that sits beside the development checkout, nor climb above the
//! repository's root with `../`: a user's clone has nothing there.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::root;

/// Extensions of the files that are built, run or read by tests and scripts.
const CHECKED_EXTENSIONS: &[&str] = &[
    "rs", "toml", "sh", "py", "js", "mjs", "ts", "sql", "yml", "yaml", "json", "wit", "jinja",
    "html", "cfg",
];

/// This file names what it looks for, so it is the one file not checked.
const SELF: &str = "xtask/src/tidy.rs";

/// Fails with one line per offending place when a checked file reaches outside the repository.
pub(crate) fn check() -> Result<()> {
    let root = root();
    let mut problems = Vec::new();
    for relative in tracked_files(&root)? {
        if relative == Path::new(SELF) || !is_checked(&root, &relative) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(root.join(&relative)) else {
            continue; // binary files are not sources
        };
        for (number, line) in text.lines().enumerate() {
            if let Some(why) = outside_reference(&root, &relative, line) {
                problems.push(format!(
                    "{}:{}: {why}: {}",
                    relative.display(),
                    number + 1,
                    line.trim()
                ));
            }
        }
    }
    if !problems.is_empty() {
        bail!(
            "tidy: {} place(s) refer to files outside the repository; a fresh clone has none \
             of them. Copy the data into fixtures/ (recordings go to \
             fixtures/reference/buildbot-4.3/) and point there:\n  {}",
            problems.len(),
            problems.join("\n  ")
        );
    }
    println!("xtask: tidy: no file refers to a path outside the repository");
    Ok(())
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

    /// The check itself, as `cargo xtask test` runs it.
    #[test]
    fn the_repository_stands_alone() {
        check().unwrap();
    }
}
