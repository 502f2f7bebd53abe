//! The access log's file, rotated like Twisted's `LogFile` (Buildbot's `logRotateLength` and
//! `maxRotatedFiles`): when appending a line would make the file larger than the rotation
//! length, the file is renamed `<name>.1`, the previous `<name>.1` becomes `<name>.2`, and so
//! on; files numbered above the maximum are deleted.
//!
//! Special values: a rotation length of 0 disables rotation (the file grows forever); 0 rotated
//! files keeps no old file at all: the file is truncated instead of renamed.
//!
//! Our own code rather than a crate: `file-rotate`, the maintained crate that rotates by size
//! into `<name>.1`, `<name>.2`…, either cuts a write at the byte limit (`ContentLimit::Bytes`,
//! so a line would be split across two files) or rotates only after the limit is passed
//! (`BytesSurpassed`), and has no "truncate, keep nothing" mode for `maxRotatedFiles = 0`.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A file that rotates itself as lines are appended.
pub(super) struct RotatingFile {
    path: PathBuf,
    /// `None` after a failed rotation or reopen; the next write tries to reopen.
    file: Option<File>,
    /// Bytes in the current file.
    size: u64,
    rotate_length: u64,
    max_rotated_files: usize,
    /// An I/O error has been reported and no write succeeded since: don't flood the main log.
    warned: bool,
}

impl std::fmt::Debug for RotatingFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RotatingFile")
            .field("path", &self.path)
            .field("size", &self.size)
            .field("rotate_length", &self.rotate_length)
            .field("max_rotated_files", &self.max_rotated_files)
            .finish()
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// `<path>.<n>`, as Twisted's `LogFile` names rotated files.
pub(super) fn numbered(path: &Path, n: usize) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

impl RotatingFile {
    /// Opens `path` for appending (created if missing; its directory must exist).
    pub(super) fn open(
        path: PathBuf,
        rotate_length: u64,
        max_rotated_files: usize,
    ) -> io::Result<RotatingFile> {
        let file = open_append(&path)?;
        let size = file.metadata()?.len();
        Ok(RotatingFile {
            path,
            file: Some(file),
            size,
            rotate_length,
            max_rotated_files,
            warned: false,
        })
    }

    /// Opens the path again (after logrotate moved the file away): later lines go to a file
    /// of that name, created if missing; on failure the current file is kept.
    pub(super) fn reopen(&mut self) -> io::Result<()> {
        let file = open_append(&self.path)?;
        self.size = file.metadata()?.len();
        self.file = Some(file);
        Ok(())
    }

    /// Appends `buf`, rotating first when the file would grow past the rotation length; an
    /// I/O error is reported once (until a write succeeds again) and `buf` is dropped.
    pub(super) fn write(&mut self, buf: &[u8]) {
        let len = buf.len() as u64;
        if self.rotate_length > 0 && self.size > 0 && self.size + len > self.rotate_length {
            if let Err(err) = self.rotate() {
                self.warn("rotating", &err);
            }
        }
        if self.file.is_none() {
            match open_append(&self.path).and_then(|f| Ok((f.metadata()?.len(), f))) {
                Ok((size, file)) => {
                    self.size = size;
                    self.file = Some(file);
                }
                Err(err) => {
                    self.warn("opening", &err);
                    return;
                }
            }
        }
        let Some(file) = self.file.as_mut() else {
            return;
        };
        match file.write_all(buf) {
            Ok(()) => {
                self.size += len;
                self.warned = false;
            }
            Err(err) => {
                // Part of the line may have been written: resynchronise the size.
                if let Ok(meta) = file.metadata() {
                    self.size = meta.len();
                }
                self.warn("writing to", &err);
            }
        }
    }

    fn warn(&mut self, what: &str, err: &io::Error) {
        if !self.warned {
            self.warned = true;
            tracing::warn!(
                "access log: error {what} {}: {err}; dropping access lines until it works again",
                self.path.display()
            );
        }
    }

    /// Shifts `<path>.N-1` → `<path>.N` … `<path>` → `<path>.1` and reopens `<path>`
    /// (or truncates it when no rotated file is kept). On a rename failure the current file
    /// is reopened for appending, so the following writes are not lost.
    fn rotate(&mut self) -> io::Result<()> {
        let max = self.max_rotated_files;
        if max == 0 {
            if let Some(file) = &self.file {
                file.set_len(0)?;
                self.size = 0;
                return Ok(());
            }
            let file = open_append(&self.path)?;
            file.set_len(0)?;
            self.file = Some(file);
            self.size = 0;
            return Ok(());
        }
        // Close before renaming (required on Windows; harmless elsewhere).
        self.file = None;
        let result = self.shift_files(max);
        // Whatever happened, `<path>` is reopened: a fresh file after a successful
        // rename, the old one (appending) after a failure.
        let file = open_append(&self.path)?;
        self.size = file.metadata()?.len();
        self.file = Some(file);
        result
    }

    fn shift_files(&self, max: usize) -> io::Result<()> {
        self.remove_beyond(max);
        for n in (1..max).rev() {
            match std::fs::rename(numbered(&self.path, n), numbered(&self.path, n + 1)) {
                Ok(()) => {}
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => return Err(err),
            }
        }
        std::fs::rename(&self.path, numbered(&self.path, 1))
    }

    /// Deletes `<path>.N` for every N >= `max` (`<path>.max` is about to be replaced; higher
    /// numbers may be left over from a larger `maxRotatedFiles`). Errors are ignored: a
    /// leftover file only costs disk space.
    fn remove_beyond(&self, max: usize) {
        let (Some(dir), Some(name)) = (self.path.parent(), self.path.file_name()) else {
            return;
        };
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let Some(name) = name.to_str() else {
            // Not UTF-8: only the file about to be overwritten is handled.
            let _ = std::fs::remove_file(numbered(&self.path, max));
            return;
        };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let file_name = entry.file_name();
            let Some(suffix) = file_name
                .to_str()
                .and_then(|f| f.strip_prefix(name))
                .and_then(|f| f.strip_prefix('.'))
            else {
                continue;
            };
            if suffix.is_empty() || !suffix.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            // Huge numbers do not fit a usize but are certainly beyond `max`.
            if suffix.parse::<usize>().map_or(true, |n| n >= max) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}
