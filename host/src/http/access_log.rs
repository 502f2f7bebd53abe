//! HTTP access log: Buildbot's `www` keys `logfileName`, `logRotateLength` and `maxRotatedFiles`.
//!
//! One line per request in the NCSA combined log format, as Twisted's `http.log` writes it:
//!
//! ```text
//! 127.0.0.1 - - [28/Nov/2026:01:22:17 +0000] "GET /api/v2/builds?limit=2 HTTP/1.1" 200 770 "-" "curl/8.5.0"
//! ```
//!
//! The lines go either to the main log (a `tracing` event with target `buildbot_www::access`,
//! when `logfileName` is `None` or empty) or to a file rotated like Twisted's `LogFile`
//! (`rotating.rs`). The whole rotation happens under the same lock as the writes, so no line
//! is lost or interleaved under concurrent load.

use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::HttpBody;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Version};
use axum::middleware::Next;
use axum::response::Response;

use buildbot_plugin_sdk::time::UtcTime;

mod rotating;
use rotating::RotatingFile;

/// The `tracing` target of access lines sent to the main log.
pub const TRACING_TARGET: &str = "buildbot_www::access";

/// Where access lines go. Cheap to clone: the state is shared behind an [`Arc`].
#[derive(Clone)]
pub struct AccessLog {
    inner: Arc<Sink>,
}

impl std::fmt::Debug for AccessLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &*self.inner {
            Sink::MainLog => f.write_str("AccessLog(main log)"),
            Sink::File(file) => f.debug_tuple("AccessLog").field(&*lock(file)).finish(),
        }
    }
}

enum Sink {
    /// `logfileName` is `None` or empty: lines are `tracing` events.
    MainLog,
    File(Mutex<RotatingFile>),
}

/// Locks, ignoring poisoning: the state stays consistent whatever a panicking holder did
/// (at worst `size` is off by a partial line), and logging must never panic.
fn lock(state: &Mutex<RotatingFile>) -> MutexGuard<'_, RotatingFile> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl AccessLog {
    /// Opens the access log.
    ///
    /// `file`: `None` = the main log (`tracing` events with target [`TRACING_TARGET`]);
    /// `Some(path)`: an absolute path (the caller resolves `logfileName` against the master
    /// directory; an empty name should be passed as `None`), opened for appending and
    /// created if missing. Its directory must exist.
    ///
    /// `rotate_length`: the size in bytes the file does not exceed (unless a single line is
    /// longer); 0 disables rotation. `max_rotated_files`: how many rotated files
    /// (`<path>.1`, newest, … `<path>.N`) are kept; 0 truncates the file instead.
    pub fn open(
        file: Option<PathBuf>,
        rotate_length: u64,
        max_rotated_files: usize,
    ) -> io::Result<AccessLog> {
        let sink = match file {
            None => Sink::MainLog,
            Some(path) if path.as_os_str().is_empty() => Sink::MainLog,
            Some(path) => Sink::File(Mutex::new(RotatingFile::open(
                path,
                rotate_length,
                max_rotated_files,
            )?)),
        };
        Ok(AccessLog {
            inner: Arc::new(sink),
        })
    }

    /// Appends `line` and a newline, rotating first if the file would exceed the rotation
    /// length. Never panics; an I/O error is reported once via `tracing::warn!` (until a
    /// write succeeds again) and the line is dropped. A failed rotation keeps appending to
    /// the current file rather than dropping lines.
    pub fn write_line(&self, line: &str) {
        match &*self.inner {
            Sink::MainLog => tracing::info!(target: TRACING_TARGET, "{line}"),
            Sink::File(state) => {
                let mut buf = Vec::with_capacity(line.len() + 1);
                buf.extend_from_slice(line.as_bytes());
                buf.push(b'\n');
                lock(state).write(&buf);
            }
        }
    }
}

impl AccessLog {
    /// Opens the log file again under its name (SIGHUP, after logrotate moved it away); lines
    /// written meanwhile go to the file they were written to, none is lost. Nothing to do
    /// when lines go to the main log.
    pub fn reopen(&self) -> io::Result<()> {
        match &*self.inner {
            Sink::MainLog => Ok(()),
            Sink::File(state) => lock(state).reopen(),
        }
    }
}

/// Axum middleware writing one combined-log-format line per request, when the response
/// headers are produced (streamed bodies are not waited for):
/// `axum::middleware::from_fn_with_state(access_log.clone(), access_log::record)`.
///
/// Layer it on the outermost router so that the logged path is the one the client sent
/// (`Router::nest` strips prefixes). The remote address is the request's client
/// (`http::forwarded`: the peer, or the address a trusted proxy forwarded), `-` if unknown.
pub async fn record(State(log): State<AccessLog>, req: Request, next: Next) -> Response {
    let time = SystemTime::now();
    let remote = super::forwarded::of_extensions(req.extensions())
        .address
        .map(|address| address.to_string());
    let request_line = request_line(&req);
    let referer = header_field(req.headers(), header::REFERER);
    let user_agent = header_field(req.headers(), header::USER_AGENT);

    let response = next.run(req).await;

    let size = response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .or_else(|| response.body().size_hint().exact());
    let line = format_line(
        remote.as_deref(),
        time,
        &request_line,
        response.status().as_u16(),
        size,
        referer.as_deref(),
        user_agent.as_deref(),
    );
    log.write_line(&line);
    response
}

/// `GET /path?query HTTP/1.1`, escaped.
fn request_line(req: &Request) -> String {
    let uri = req.uri();
    let target = match uri.path_and_query() {
        Some(pq) => pq.as_str().to_owned(),
        // Authority form (CONNECT) or an empty URI.
        None => uri.to_string(),
    };
    let raw = format!(
        "{} {} {}",
        req.method().as_str(),
        target,
        version_str(req.version())
    );
    escape(raw.as_bytes())
}

fn version_str(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_11 => "HTTP/1.1",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/?",
    }
}

/// The escaped first value of a request header, `None` if absent.
fn header_field(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers.get(name).map(|v| escape(v.as_bytes()))
}

/// Escapes what lets a client forge or break log lines: `"` → `\"`, `\` → `\\`, control
/// characters and non-ASCII bytes → `\xNN`.
fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

/// One combined-log-format line; `request_line`, `referer` and `user_agent` are already escaped.
fn format_line(
    remote: Option<&str>,
    time: SystemTime,
    request_line: &str,
    status: u16,
    size: Option<u64>,
    referer: Option<&str>,
    user_agent: Option<&str>,
) -> String {
    let size = size.map_or_else(|| "-".to_owned(), |s| s.to_string());
    format!(
        "{} - - [{}] \"{}\" {} {} \"{}\" \"{}\"",
        remote.unwrap_or("-"),
        format_clf_time(time),
        request_line,
        status,
        size,
        referer.unwrap_or("-"),
        user_agent.unwrap_or("-"),
    )
}

/// `28/Nov/2026:01:22:17 +0000` (always UTC). Times before the epoch print as the epoch.
fn format_clf_time(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let t = UtcTime::from_unix(i64::try_from(secs).unwrap_or(i64::MAX / 2));
    format!(
        "{:02}/{}/{:04}:{} +0000",
        t.day,
        t.month_abbr(),
        t.year,
        t.clock()
    )
}

#[cfg(test)]
mod tests {
    use super::rotating::numbered;
    use super::*;
    use axum::routing::get;
    use axum::Router;
    use std::net::SocketAddr;
    use std::path::Path;
    use std::time::Duration;

    /// All lines of `<dir>/http.log*`, oldest first (`.N` … `.1`, then the live file),
    /// with the size of every file.
    fn read_all(dir: &Path) -> (Vec<String>, Vec<(String, u64)>) {
        let mut rotated: Vec<(usize, PathBuf)> = Vec::new();
        let mut sizes = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            sizes.push((name.clone(), entry.metadata().unwrap().len()));
            if let Some(n) = name.strip_prefix("http.log.") {
                rotated.push((n.parse().unwrap(), entry.path()));
            } else {
                assert_eq!(name, "http.log", "unexpected file");
            }
        }
        rotated.sort_by_key(|r| std::cmp::Reverse(r.0));
        let mut lines = Vec::new();
        for path in rotated
            .into_iter()
            .map(|(_, p)| p)
            .chain([dir.join("http.log")])
        {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(text.is_empty() || text.ends_with('\n'), "{path:?}");
            lines.extend(text.lines().map(str::to_owned));
        }
        (lines, sizes)
    }

    #[tokio::test]
    async fn rotation_keeps_every_line_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let log = AccessLog::open(Some(dir.path().join("http.log")), 200, 1000).unwrap();
        let written: Vec<String> = (0..500)
            .map(|i| format!("line {i} {}", "x".repeat(i % 37)))
            .collect();
        for line in &written {
            log.write_line(line);
        }
        let (lines, sizes) = read_all(dir.path());
        assert_eq!(lines, written);
        let longest = written.iter().map(|l| l.len() as u64 + 1).max().unwrap();
        assert!(sizes.len() > 50, "{sizes:?}");
        for (name, size) in &sizes {
            assert!(*size <= 200 + longest, "{name}: {size}");
            assert!(
                *size <= 200,
                "rotation happens before exceeding: {name}: {size}"
            );
        }
    }

    #[tokio::test]
    async fn rotation_keeps_at_most_max_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("http.log");
        // Leftovers from a configuration with more rotated files.
        std::fs::write(numbered(&path, 7), "old\n").unwrap();
        std::fs::write(numbered(&path, 12), "old\n").unwrap();
        std::fs::write(dir.path().join("http.log.bak"), "other\n").unwrap();
        let log = AccessLog::open(Some(path.clone()), 200, 3).unwrap();
        let written: Vec<String> = (0..300).map(|i| format!("line number {i:04}")).collect();
        for line in &written {
            log.write_line(line);
        }
        std::fs::remove_file(dir.path().join("http.log.bak")).unwrap();
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["http.log", "http.log.1", "http.log.2", "http.log.3"]
        );
        let (lines, _) = read_all(dir.path());
        // The kept lines are the most recent ones, contiguous and in order.
        assert!(lines.len() > 3 * 9, "{}", lines.len());
        assert_eq!(lines[..], written[written.len() - lines.len()..]);
    }

    #[tokio::test]
    async fn zero_max_rotated_files_truncates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("http.log");
        let log = AccessLog::open(Some(path.clone()), 100, 0).unwrap();
        for i in 0..100 {
            log.write_line(&format!("line {i:03} ------------"));
        }
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.len() <= 100);
        assert!(text.ends_with("line 099 ------------\n"), "{text}");
    }

    #[tokio::test]
    async fn reopening_appends_and_counts_existing_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("http.log");
        std::fs::write(&path, "a".repeat(150) + "\n").unwrap();
        let log = AccessLog::open(Some(path.clone()), 200, 5).unwrap();
        log.write_line(&"b".repeat(60));
        assert_eq!(
            std::fs::read_to_string(numbered(&path, 1)).unwrap().len(),
            151
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap().len(), 61);
    }

    #[tokio::test]
    async fn main_log_and_empty_name_do_not_touch_files() {
        let log = AccessLog::open(None, 10, 1).unwrap();
        log.write_line("to the main log");
        let log = AccessLog::open(Some(PathBuf::new()), 10, 1).unwrap();
        assert!(matches!(*log.inner, Sink::MainLog));
        log.write_line("to the main log");
    }

    #[tokio::test]
    async fn io_errors_drop_lines_without_panicking() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("http.log");
        let log = AccessLog::open(Some(path.clone()), 50, 2).unwrap();
        log.write_line("first line, long enough to rotate next");
        // The directory disappears: rotation and reopening fail.
        drop(dir);
        for _ in 0..5 {
            log.write_line("lost");
        }
    }

    #[test]
    fn clf_time() {
        assert_eq!(format_clf_time(UNIX_EPOCH), "01/Jan/1970:00:00:00 +0000");
        // 2026-11-28T01:22:17Z
        let t = UNIX_EPOCH + Duration::from_secs(1_795_828_937);
        assert_eq!(format_clf_time(t), "28/Nov/2026:01:22:17 +0000");
        // 2000-02-29T23:59:59Z (leap day of a century leap year)
        let t = UNIX_EPOCH + Duration::from_secs(951_868_799);
        assert_eq!(format_clf_time(t), "29/Feb/2000:23:59:59 +0000");
        // 2024-12-31T12:00:00Z
        let t = UNIX_EPOCH + Duration::from_secs(1_735_646_400);
        assert_eq!(format_clf_time(t), "31/Dec/2024:12:00:00 +0000");
    }

    #[test]
    fn hostile_user_agent_is_escaped() {
        let ua = escape(
            b"evil\" 200 0 \"-\" \"x\n127.0.0.1 - - [01/Jan/1970:00:00:00 +0000] \\ \x1b\xff",
        );
        assert_eq!(
            ua,
            "evil\\\" 200 0 \\\"-\\\" \\\"x\\x0a127.0.0.1 - - [01/Jan/1970:00:00:00 +0000] \\\\ \\x1b\\xff"
        );
        assert!(!ua.contains('\n'));
        let line = format_line(
            Some("10.0.0.1"),
            UNIX_EPOCH,
            "GET / HTTP/1.1",
            200,
            Some(3),
            None,
            Some(&ua),
        );
        assert!(line.starts_with(
            "10.0.0.1 - - [01/Jan/1970:00:00:00 +0000] \"GET / HTTP/1.1\" 200 3 \"-\" \"evil\\\""
        ));
        assert_eq!(line.lines().count(), 1);
        // Unescaped quotes: only the six delimiting the three quoted fields.
        let unescaped = line
            .as_bytes()
            .windows(2)
            .filter(|w| w[1] == b'"' && w[0] != b'\\')
            .count();
        assert_eq!(unescaped, 6, "{line}");
    }

    #[tokio::test]
    async fn middleware_escapes_headers_through_a_request() {
        use tower::ServiceExt;
        let dir = tempfile::tempdir().unwrap();
        let log = AccessLog::open(Some(dir.path().join("http.log")), 0, 1).unwrap();
        let app = Router::new()
            .route("/x", get(|| async { "hello" }))
            .layer(axum::middleware::from_fn_with_state(log.clone(), record));
        let req = axum::http::Request::builder()
            .uri("/x?a=1")
            .header(
                header::USER_AGENT,
                axum::http::HeaderValue::from_bytes(b"a\"b\\c\xe9").unwrap(),
            )
            .header(header::REFERER, "http://example.org/")
            .body(axum::body::Body::empty())
            .unwrap();
        let resp = app.oneshot(req).await.unwrap();
        assert_eq!(resp.status(), 200);
        let text = std::fs::read_to_string(dir.path().join("http.log")).unwrap();
        let line = text.strip_suffix('\n').unwrap();
        assert!(line.starts_with("- - - ["), "{line}");
        assert!(
            line.ends_with(
                "] \"GET /x?a=1 HTTP/1.1\" 200 5 \"http://example.org/\" \"a\\\"b\\\\c\\xe9\""
            ),
            "{line}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_requests_lose_no_line_across_rotations() {
        const TASKS: usize = 16;
        const PER_TASK: usize = 125;
        let dir = tempfile::tempdir().unwrap();
        let log = AccessLog::open(Some(dir.path().join("http.log")), 2048, 1000).unwrap();
        let app = Router::new()
            .route("/ping", get(|| async { "pong" }))
            .layer(axum::middleware::from_fn_with_state(log.clone(), record));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap();
        });

        let client = reqwest::Client::new();
        let mut tasks = Vec::new();
        for t in 0..TASKS {
            let client = client.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..PER_TASK {
                    let resp = client
                        .get(format!("http://{addr}/ping?t={t}&i={i}"))
                        .header("user-agent", "access-log-test")
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(resp.status(), 200);
                    assert_eq!(resp.text().await.unwrap(), "pong");
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        server.abort();

        let (lines, sizes) = read_all(dir.path());
        assert_eq!(lines.len(), TASKS * PER_TASK);
        assert!(sizes.len() > 10, "expected rotations: {sizes:?}");
        let mut seen = std::collections::HashSet::new();
        for line in &lines {
            assert!(line.starts_with("127.0.0.1 - - ["), "{line}");
            assert!(line.contains("\"GET /ping?t="), "{line}");
            assert!(
                line.ends_with(" HTTP/1.1\" 200 4 \"-\" \"access-log-test\""),
                "{line}"
            );
            let target = line.split(' ').nth(6).unwrap().to_owned();
            assert!(seen.insert(target), "duplicate {line}");
        }
        for (name, size) in &sizes {
            assert!(*size <= 2048, "{name}: {size}");
        }
    }
}
