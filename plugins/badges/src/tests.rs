//! Unit tests of the handler with a stand-in Data API (the reference master's four builders).
//! The same cases run against the real component over HTTP in `host/tests/badges.rs`.

use std::path::PathBuf;

use buildbot_plugin_sdk::{testing, DataError, Request};

use super::*;

/// The last builds of the reference master (`behaviour.md` §2): linux-build success,
/// windows-build failure, docs warnings, integration exception; `running` is a running one.
fn reference_data() {
    testing::set_data(|path, query| {
        let build = |complete: bool, results: &str| {
            Ok(format!(
                r#"{{"builds": [{{"number": 7, "complete": {complete}, "results": {results},
                "started_at": 1795836000, "complete_at": {}}}], "meta": {{}}}}"#,
                if complete { "1795836100" } else { "null" }
            ))
        };
        if path.ends_with("/builds") {
            assert!(query.starts_with("order=-number&limit=1&field="), "{query}");
        }
        match path {
            "builders/linux-build/builds" => build(true, "0"),
            "builders/windows-build/builds" => build(true, "2"),
            "builders/docs/builds" | "builders/4/builds" => build(true, "1"),
            "builders/integration/builds" => build(true, "4"),
            "builders/skipper/builds" => build(true, "3"),
            "builders/odd/builds" => build(true, "99"),
            "builders/running/builds" => build(false, "null"),
            "builders" => Ok(
                if query.contains("name=a%2Fb") || query.contains("name=123") {
                    r#"{"builders": [{"builderid": 4}], "meta": {}}"#.into()
                } else {
                    r#"{"builders": [], "meta": {}}"#.into()
                },
            ),
            "builders/broken/builds" => Err(DataError::new(503, "database is gone")),
            p if p.starts_with("builders/") => Ok(r#"{"builds": [], "meta": {}}"#.into()),
            _ => Err(DataError::new(404, format!("Invalid path: {path}"))),
        }
    });
}

fn plugin() -> Badges {
    Badges::new(Options::default(), "/nonexistent")
}

fn get(badges: &mut Badges, url: &str) -> Response {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    badges.respond(&Request::get(path).with_query(query))
}

fn reference_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/reference/buildbot-4.3")
}

/// The recorded SVG badges: (file, path and query) of each 200 `image/svg+xml` recording.
fn recorded_svgs() -> Vec<(String, String, String)> {
    let dir = reference_dir();
    let requests = std::fs::read_to_string(dir.join("requests.tsv")).expect("requests.tsv");
    let mut cases = Vec::new();
    for line in requests.lines() {
        let mut fields = line.split('\t');
        let (Some(file), Some(url)) = (fields.next(), fields.next()) else {
            continue;
        };
        if !file.starts_with("badges/") || fields.next().is_some_and(|a| !a.is_empty()) {
            continue;
        }
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let (head, body) = text
            .split_once("\r\n\r\n")
            .or(text.split_once("\n\n"))
            .unwrap();
        if head.starts_with("HTTP/1.1 200") && head.contains("image/svg+xml") {
            let url = url.strip_prefix("/plugins/badges").unwrap().to_owned();
            cases.push((file.to_owned(), url, body.to_owned()));
        }
    }
    assert!(cases.len() >= 27, "{} recorded SVGs", cases.len());
    cases
}

/// Splits an SVG text into words and numbers; numbers compare within 0.01.
fn tokens(svg: &str) -> Vec<Result<f64, String>> {
    let mut out = Vec::new();
    let bytes = svg.as_bytes();
    let mut i = 0;
    let mut text = String::new();
    while i < bytes.len() {
        let starts_number = bytes[i].is_ascii_digit()
            || (bytes[i] == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit))
            || (bytes[i] == b'-' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit));
        let in_word = text
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '#');
        if starts_number && !in_word {
            if !text.trim().is_empty() {
                out.push(Err(text.split_whitespace().collect::<Vec<_>>().join(" ")));
            }
            text.clear();
            let start = i;
            i += 1;
            while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
                i += 1;
            }
            out.push(Ok(svg[start..i].parse().unwrap()));
        } else {
            text.push(bytes[i] as char);
            i += 1;
        }
    }
    if !text.trim().is_empty() {
        out.push(Err(text.split_whitespace().collect::<Vec<_>>().join(" ")));
    }
    out
}

fn assert_same_geometry(what: &str, expected: &str, actual: &str) {
    let (e, a) = (tokens(expected), tokens(actual));
    assert_eq!(
        e.len(),
        a.len(),
        "{what}: token counts\n{expected}\n---\n{actual}"
    );
    for (x, y) in e.iter().zip(&a) {
        match (x, y) {
            (Ok(x), Ok(y)) => assert!((x - y).abs() < 0.01, "{what}: {x} vs {y}\n{actual}"),
            (Err(x), Err(y)) => assert_eq!(x, y, "{what}\n{actual}"),
            _ => panic!("{what}: {x:?} vs {y:?}\n{actual}"),
        }
    }
}

#[test]
fn every_recorded_svg_is_reproduced() {
    reference_data();
    let mut badges = plugin();
    for (file, url, body) in recorded_svgs() {
        let response = get(&mut badges, &url);
        assert_eq!(response.status, 200, "{file}: {:?}", response.body_text());
        assert_eq!(response.header("content-type"), Some("image/svg+xml"));
        assert_eq!(response.header("cache-control"), Some("no-cache"));
        assert_same_geometry(&file, &body, response.body_text().unwrap());
    }
}

#[test]
fn statuses_colours_and_unknown_builders() {
    reference_data();
    let mut badges = plugin();
    for (builder, status, colour) in [
        ("running", "running", "#007ec6"),
        ("skipper", "skipped", "#a4a61d"),
        ("odd", "unknown", "#9f9f9f"),
        ("nosuch", "unknown", "#9f9f9f"),
        ("a/b", "warnings", "#dfb317"),
        ("123", "warnings", "#dfb317"),
        ("99", "unknown", "#9f9f9f"),
    ] {
        let response = get(&mut badges, &format!("/{builder}.svg"));
        let svg = response.body_text().unwrap();
        assert!(
            svg.contains(&format!(">{status}</text>")),
            "{builder}: {svg}"
        );
        assert!(
            svg.contains(&format!("fill=\"{colour}\"")),
            "{builder}: {svg}"
        );
    }
    let response = get(&mut badges, "/broken.svg");
    assert_eq!(response.status, 503);
    for path in ["/docs", "/docs.jpg", "/.svg", "/docs.svg/x", "/"] {
        assert_eq!(get(&mut badges, path).status, 404, "{path}");
    }
    let post = badges.respond(&Request::new("POST", "/docs.svg"));
    assert_eq!(
        (post.status, post.header("allow")),
        (405, Some("HEAD, GET"))
    );
    let head = badges.respond(&Request::new("HEAD", "/docs.svg"));
    assert_eq!(head.status, 200);
    // a name with '/' and '%' reaches the handler whole, as one badge
    let post = badges.respond(&Request::new("POST", "/a/b%2F/c.svg"));
    assert_eq!(post.status, 405);
    assert_eq!(decode_segment("a%2Fb%25%2F%252F%"), "a/b%/%2F%");
}

#[test]
fn caching_headers() {
    reference_data();
    let mut badges = plugin();
    let first = get(&mut badges, "/docs.svg");
    let etag = first.header("etag").unwrap().to_owned();
    // Drawn by this request: how long it took; from the cache afterwards: no timing.
    let timing = first.header("server-timing").unwrap();
    assert!(timing.starts_with("draw;dur="), "{timing}");
    assert_eq!(get(&mut badges, "/docs.svg").header("server-timing"), None);
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    assert_eq!(http_date(1795836100), "Sat, 28 Nov 2026 03:21:40 GMT");
    assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    assert_eq!(http_date(951782400), "Tue, 29 Feb 2000 00:00:00 GMT");
    assert_eq!(
        first.header("last-modified"),
        Some("Sat, 28 Nov 2026 03:21:40 GMT")
    );
    let again = badges.respond(&Request::get("/docs.svg").with_header("If-None-Match", &etag));
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    assert_eq!(again.header("etag"), Some(etag.as_str()));
    let weak = badges.respond(
        &Request::get("/docs.svg").with_header("if-none-match", format!("\"x\", W/{etag}")),
    );
    assert_eq!(weak.status, 304);
    let other = get(&mut badges, "/docs.svg?left_color=123");
    assert_ne!(other.header("etag").unwrap(), etag);
    let stale = badges.respond(
        &Request::get("/docs.svg")
            .with_query("left_color=123")
            .with_header("if-none-match", &etag),
    );
    assert_eq!(stale.status, 200);
    // A running build: the start time.
    let running = get(&mut badges, "/running.svg");
    assert_eq!(
        running.header("last-modified"),
        Some("Sat, 28 Nov 2026 03:20:00 GMT")
    );
    // No build: no date.
    assert_eq!(
        get(&mut badges, "/nosuch.svg").header("last-modified"),
        None
    );
}

#[test]
fn bad_arguments_are_400() {
    reference_data();
    let mut badges = plugin();
    for query in [
        "left_pad=abc",
        "right_pad=",
        "border_radius=x",
        "font_size=big",
        "style=nosuch",
        "template_name=nosuch.svg.j2",
        "left_color=notacolour",
        "left_color=%22%3E%3Cscript%3E",
        "color_scheme=x",
        "font_face=%3Cb%3E",
        &format!("left_text={}", "x".repeat(101)),
    ] {
        let response = get(&mut badges, &format!("/docs.svg?{query}"));
        assert_eq!(response.status, 400, "{query}");
        assert!(
            response
                .body_text()
                .unwrap()
                .starts_with("bad badge request: "),
            "{query}: {:?}",
            response.body_text()
        );
        assert_eq!(response.header("cache-control"), Some("no-cache"));
    }
    // Buildbot answers 500 to a pad given in the URL (a string added to a float); here it is
    // a number.
    assert_eq!(get(&mut badges, "/docs.svg?left_pad=10").status, 200);
}

#[test]
fn nothing_is_injected() {
    reference_data();
    let mut badges = plugin();
    let response = get(
        &mut badges,
        "/docs.svg?left_text=%3C%2Ftext%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E%22%27&label=%3Cx%3E",
    );
    let svg = response.body_text().unwrap();
    assert!(!svg.contains("<script"), "{svg}");
    assert!(svg.contains("&lt;/text&gt;&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;"));
    let plain = get(&mut badges, "/docs.svg")
        .body_text()
        .unwrap()
        .to_owned();
    assert_eq!(
        svg.matches('<').count(),
        plain.matches('<').count(),
        "{svg}"
    );
    for colour in ["%23fff%22%20onload%3D%22x", "red%3Cx", "url(%23a)"] {
        let response = get(&mut badges, &format!("/docs.svg?left_color={colour}"));
        assert_eq!(response.status, 400, "{colour}");
    }
}

#[test]
fn custom_templates_replace_and_add_styles() {
    reference_data();
    let dir = std::env::temp_dir().join(format!("badges-templates-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("mine.svg.j2"),
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{{ left.width + right.width }}\" \
         height=\"10\"><text>{{ left.text }}|{{ right.text }}|{{ right.color }}|{{ config.label }}\
         </text></svg>",
    )
    .unwrap();
    std::fs::write(
        dir.join("flat.svg.j2"),
        "<svg>replaced flat {{ right.text }}</svg>",
    )
    .unwrap();
    std::fs::write(dir.join("broken.svg.j2"), "{% if %}").unwrap();
    std::fs::write(dir.join("text.svg.j2"), "plain text").unwrap();
    let mut badges = Badges::new(Options::default(), &dir);
    let mine = get(&mut badges, "/docs.svg?style=mine&label=a%26b");
    assert_eq!(mine.status, 200, "{:?}", mine.body_text());
    assert!(
        mine.body_text()
            .unwrap()
            .contains(">Build Status|warnings|#dfb317|a&amp;b</text>"),
        "{:?}",
        mine.body_text()
    );
    let png = get(&mut badges, "/docs.png?style=mine");
    assert_eq!(png.status, 200, "{:?}", png.body_text());
    let flat = get(&mut badges, "/docs.svg?style=flat");
    assert_eq!(flat.body_text(), Some("<svg>replaced flat warnings</svg>"));
    let named = get(&mut badges, "/docs.svg?template_name=mine.svg.j2");
    assert!(
        named
            .body_text()
            .unwrap()
            .contains(">Build Status|warnings|#dfb317|</text>"),
        "{:?}",
        named.body_text()
    );
    let broken = get(&mut badges, "/docs.svg?style=broken");
    assert_eq!(broken.status, 500, "{:?}", broken.body_text());
    assert!(
        broken.body_text().unwrap().contains("syntax error"),
        "{:?}",
        broken.body_text()
    );
    // A PNG of something that is not an SVG is the template's fault.
    let not_svg = get(&mut badges, "/docs.png?style=text");
    assert_eq!(not_svg.status, 500, "{:?}", not_svg.body_text());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn init_checks_the_config() {
    let config = |json: &str| Config::from_json("badges", json).unwrap();
    assert!(Badges::init(config(r#"{"style": "flat"}"#)).is_ok());
    let err = Badges::init(config(r#"{"style": "nosuch"}"#)).unwrap_err();
    assert!(err.starts_with("badges: unknown style 'nosuch'"), "{err}");
    let err = Badges::init(config(r#"{"left_pad": "x"}"#)).unwrap_err();
    assert_eq!(
        err,
        "badges: invalid config: option 'left_pad': invalid type: string \"x\", expected a number"
    );
}

/// PNG: the size is the SVG's, rounded; text is drawn (light pixels over the colours).
#[test]
fn png_size_and_text() {
    reference_data();
    let mut badges = plugin();
    for (url, width, height) in [
        ("/linux-build.png", 121, 18),
        ("/windows-build.png", 113, 18),
        ("/docs.png", 128, 18),
        ("/integration.png", 132, 18),
        ("/nosuch.png", 128, 18),
        ("/docs.png?left_text=Docs&style=flat", 92, 20),
        ("/docs.png?style=badgeio", 140, 20),
        ("/docs.png?style=flat-square&font_size=14", 158, 20),
    ] {
        let response = get(&mut badges, url);
        assert_eq!(response.status, 200, "{url}: {:?}", response.body_text());
        assert_eq!(response.header("content-type"), Some("image/png"));
        let png = &response.body;
        assert_eq!(&png[1..4], b"PNG");
        let w = u32::from_be_bytes(png[16..20].try_into().unwrap());
        let h = u32::from_be_bytes(png[20..24].try_into().unwrap());
        assert_eq!((w, h), (width, height), "{url}");
    }
}

/// Native timing of an uncached PNG (`cargo test --release -- --ignored --nocapture`).
#[test]
#[ignore]
fn time_uncached_png() {
    reference_data();
    let mut badges = plugin();
    let n = 300;
    let start = std::time::Instant::now();
    for i in 0..n {
        let response = get(&mut badges, &format!("/docs.png?left_text=Build%20{i}"));
        assert_eq!(response.status, 200);
    }
    println!("uncached PNG: {:?} per badge", start.elapsed() / n);
    let start = std::time::Instant::now();
    for i in 0..n {
        let response = get(&mut badges, &format!("/docs.svg?left_text=Build%20{i}x"));
        assert_eq!(response.status, 200);
    }
    println!("uncached SVG: {:?} per badge", start.elapsed() / n);
}

/// Where an uncached PNG's time goes, natively
/// (`cargo test --release -- --ignored --nocapture png_breakdown`).
#[test]
#[ignore]
fn png_breakdown() {
    reference_data();
    let badges = plugin();
    let face = badges.fonts.dejavu();
    let n: u32 = 300;
    let mut times = [std::time::Duration::ZERO; 4];
    let mut size = 0;
    for i in 0..n {
        let options = Options::default()
            .with_args(&[("left_text".into(), format!("Build {i}"))])
            .unwrap();
        let t0 = std::time::Instant::now();
        let svg = badges
            .lock()
            .templates
            .svg("plastic.svg.j2", &options, ("warnings", "#dfb317"), &face)
            .unwrap();
        let t1 = std::time::Instant::now();
        let tree = render::tree(&svg, &face).unwrap();
        let t2 = std::time::Instant::now();
        let pixmap = render::rasterise(&tree).unwrap();
        let t3 = std::time::Instant::now();
        size = render::encode(pixmap).unwrap().len();
        let t4 = std::time::Instant::now();
        for (total, step) in times.iter_mut().zip([t1 - t0, t2 - t1, t3 - t2, t4 - t3]) {
            *total += step;
        }
    }
    let [svg, parse, draw, encode] = times.map(|t| t / n);
    println!(
        "uncached PNG steps: SVG template {svg:?}, parse and lay out text {parse:?}, \
         rasterise {draw:?}, encode {encode:?} ({size} bytes)"
    );
}

#[test]
fn statuses_are_reused_for_a_second_per_reader() {
    use std::cell::Cell;
    use std::rc::Rc;
    let reads = Rc::new(Cell::new(0));
    let counter = reads.clone();
    testing::set_data(move |_, _| {
        counter.set(counter.get() + 1);
        Ok(r#"{"builds": [{"number": 1, "complete": false, "started_at": 5}], "meta": {}}"#.into())
    });
    let mut badges = plugin();
    for _ in 0..5 {
        assert_eq!(get(&mut badges, "/docs.svg").status, 200);
        assert_eq!(get(&mut badges, "/docs.png?style=flat").status, 200);
    }
    assert_eq!(
        reads.get(),
        1,
        "one read for ten requests within the second"
    );
    get(&mut badges, "/other.svg");
    assert_eq!(reads.get(), 2, "per builder");
    let named = Request::get("/docs.svg").with_user(buildbot_plugin_sdk::User::named("bob"));
    assert_eq!(badges.respond(&named).status, 200);
    assert_eq!(reads.get(), 3, "another reader reads for itself");
    std::thread::sleep(std::time::Duration::from_millis(STATUS_TTL_MS + 50));
    get(&mut badges, "/docs.svg");
    assert_eq!(reads.get(), 4, "read again after the TTL");
}

/// Durations are written compactly, whatever their size.
#[test]
fn durations_are_written_compactly() {
    use crate::kinds::duration_text;
    for (seconds, text) in [
        (-5, "0s"),
        (0, "0s"),
        (42, "42s"),
        (59, "59s"),
        (60, "1m 00s"),
        (252, "4m 12s"),
        (3_599, "59m 59s"),
        (3_600, "1h 00m"),
        (3_720, "1h 02m"),
        (86_399, "23h 59m"),
        (86_400, "1d 00h"),
        (3 * 86_400 + 4 * 3_600 + 59, "3d 04h"),
        (i64::MAX, "106751991167300d 15h"),
    ] {
        assert_eq!(duration_text(seconds), text, "{seconds}");
    }
}

/// Pass rates: rounded down (100% only when every build passed), coloured by the thresholds
/// compared exactly.
#[test]
fn pass_rates_and_their_thresholds() {
    use crate::kinds::{percent, rate_status, Reading};
    for (passed, total, text, status) in [
        (0, 1, "0%", "failure"),
        (1, 1, "100%", "success"),
        (99, 100, "99%", "success"),
        (199, 200, "99%", "success"),
        (9, 10, "90%", "success"),
        (899, 1000, "89%", "warnings"),
        (3, 4, "75%", "warnings"),
        (749, 1000, "74%", "failure"),
        (2, 3, "66%", "failure"),
    ] {
        let reading = Reading::PassRate { passed, total };
        assert_eq!(reading.text(), text, "{passed}/{total}");
        assert_eq!(rate_status(passed, total), status, "{passed}/{total}");
        assert_eq!(reading.color_status(), status);
    }
    assert_eq!(percent(0, 0), 0);
    assert_eq!(rate_status(0, 0), "unknown");
    let options = Options::default();
    assert_eq!(
        Reading::PassRate {
            passed: 1,
            total: 1
        }
        .color(&options),
        "#4c1"
    );
    assert_eq!(
        Reading::PassRate {
            passed: 3,
            total: 4
        }
        .color(&options),
        "#dfb317"
    );
    assert_eq!(
        Reading::PassRate {
            passed: 1,
            total: 4
        }
        .color(&options),
        "#e05d44"
    );
    let duration = Reading::Duration {
        seconds: 61,
        result: "failure",
    };
    assert_eq!(
        (duration.text(), duration.color(&options)),
        ("1m 01s".into(), "#e05d44")
    );
    assert_eq!(Reading::Unknown.color(&options), "#9f9f9f");
}

/// A stand-in Data API with one builder, `kinds` (id 9), whose finished builds are
/// (number, results, started_at, complete_at), newest first, and a running build 8 above them;
/// it answers `complete=true` and `limit` as the server does.
fn kinds_data(finished: &'static [(i64, i64, i64, i64)]) {
    testing::set_data(move |path, query| {
        let builds = |query: &str| {
            let limit: usize = query
                .split('&')
                .find_map(|p| p.strip_prefix("limit="))
                .map_or(usize::MAX, |n| n.parse().unwrap());
            let mut rows: Vec<String> = Vec::new();
            if !query.contains("complete=true") {
                rows.push(r#"{"number": 8, "complete": false, "results": null, "started_at": 1795836500, "complete_at": null}"#.into());
            }
            rows.extend(finished.iter().map(|(number, results, started, complete)| {
                format!(
                    r#"{{"number": {number}, "complete": true, "results": {results},
                    "started_at": {started}, "complete_at": {complete}}}"#
                )
            }));
            rows.truncate(limit);
            Ok(format!(
                r#"{{"builds": [{}], "meta": {{}}}}"#,
                rows.join(",")
            ))
        };
        match path {
            "builders/kinds/builds" | "builders/9/builds" => builds(query),
            "builders" if query.contains("name=k%2Fs") => {
                Ok(r#"{"builders": [{"builderid": 9}], "meta": {}}"#.into())
            }
            "builders" => Ok(r#"{"builders": [], "meta": {}}"#.into()),
            _ => Ok(r#"{"builds": [], "meta": {}}"#.into()),
        }
    });
}

/// The right part's text and colour of a badge.
fn right_part(badges: &mut Badges, url: &str) -> (String, String) {
    let response = get(badges, url);
    assert_eq!(response.status, 200, "{url}: {:?}", response.body_text());
    let svg = response.body_text().unwrap();
    let mut parts: Vec<&str> = svg.split("</text>").collect();
    parts.pop();
    let texts: Vec<&str> = parts
        .iter()
        .filter_map(|t| t.rsplit_once('>').map(|(_, text)| text))
        .collect();
    let fills: Vec<&str> = svg
        .split("fill=\"")
        .skip(1)
        .filter_map(|f| f.split_once('"').map(|(colour, _)| colour))
        .filter(|f| f.starts_with('#'))
        .collect();
    (
        texts[texts.len() - 1].to_owned(),
        fills.get(1).copied().unwrap_or_default().to_owned(),
    )
}

#[test]
fn duration_and_pass_rate_badges() {
    // Newest first: 7 failure in 4m 12s, 6 success, 5 warnings, 4 exception, 3 success.
    kinds_data(&[
        (7, 2, 1_000, 1_252),
        (6, 0, 900, 942),
        (5, 1, 800, 4_520),
        (4, 4, 700, 701),
        (3, 0, 600, 650),
    ]);
    let mut badges = plugin();
    let svg = get(&mut badges, "/kinds.svg?kind=duration");
    let text = svg.body_text().unwrap();
    assert!(text.contains(">duration</text>"), "{text}");
    assert_eq!(svg.header("last-modified"), Some(http_date(1_252).as_str()));
    assert_eq!(
        right_part(&mut badges, "/kinds.svg?kind=duration&style=flat-square"),
        ("4m 12s".into(), "#e05d44".into())
    );
    // builds=N counts the last N finished ones; the running build does not count.
    for (builds, text, colour) in [
        ("", "60%", "#e05d44"),
        ("&builds=1", "0%", "#e05d44"),
        ("&builds=2", "50%", "#e05d44"),
        ("&builds=3", "66%", "#e05d44"),
        ("&builds=1000", "60%", "#e05d44"),
    ] {
        let url = format!("/kinds.svg?kind=pass_rate&style=flat-square{builds}");
        assert_eq!(
            right_part(&mut badges, &url),
            (text.into(), colour.into()),
            "{url}"
        );
    }
    let rate = get(&mut badges, "/kinds.svg?kind=pass_rate");
    assert!(rate.body_text().unwrap().contains(">pass rate</text>"));
    // The left text given wins; escaped like the status badge's.
    let named = get(
        &mut badges,
        "/kinds.svg?kind=pass_rate&left_text=%3Cb%3Etests",
    );
    assert!(
        named
            .body_text()
            .unwrap()
            .contains(">&lt;b&gt;tests</text>"),
        "{:?}",
        named.body_text()
    );
    // A name with '/' is looked up first; kind=status is the status badge, unchanged.
    assert_eq!(
        right_part(&mut badges, "/k/s.svg?kind=duration&style=flat-square").0,
        "4m 12s"
    );
    assert_eq!(
        get(&mut badges, "/kinds.svg?kind=status").body,
        get(&mut badges, "/kinds.svg").body
    );
    assert!(get(&mut badges, "/kinds.svg")
        .body_text()
        .unwrap()
        .contains(">running</text>"));
    for url in [
        "/kinds.png?kind=duration",
        "/kinds.png?kind=pass_rate&builds=2",
    ] {
        let png = get(&mut badges, url);
        assert_eq!(png.header("content-type"), Some("image/png"), "{url}");
        assert_eq!(&png.body[1..4], b"PNG");
    }
    // No finished build: unknown, grey, no date.
    for kind in ["duration", "pass_rate"] {
        let url = format!("/nosuch.svg?kind={kind}&style=flat-square");
        assert_eq!(
            right_part(&mut badges, &url),
            ("unknown".into(), "#9f9f9f".into())
        );
        assert_eq!(get(&mut badges, &url).header("last-modified"), None);
    }
}

#[test]
fn pass_rate_colours_follow_the_thresholds() {
    // 9 of 10 passed (one failure): success's colour; at 3 of 4, warnings'.
    kinds_data(&[
        (10, 0, 0, 1),
        (9, 1, 0, 1),
        (8, 0, 0, 1),
        (7, 2, 0, 1),
        (6, 0, 0, 1),
        (5, 0, 0, 1),
        (4, 0, 0, 1),
        (3, 0, 0, 1),
        (2, 0, 0, 1),
        (1, 0, 0, 1),
    ]);
    let mut badges = plugin();
    assert_eq!(
        right_part(&mut badges, "/kinds.svg?kind=pass_rate&style=flat-square"),
        ("90%".into(), "#4c1".into())
    );
    assert_eq!(
        right_part(
            &mut badges,
            "/kinds.svg?kind=pass_rate&style=flat-square&builds=4"
        ),
        ("75%".into(), "#dfb317".into())
    );
    assert_eq!(
        right_part(
            &mut badges,
            "/kinds.svg?kind=pass_rate&style=flat-square&builds=3"
        ),
        ("100%".into(), "#4c1".into())
    );
}

#[test]
fn bad_kinds_and_builds_are_400() {
    kinds_data(&[]);
    let mut badges = plugin();
    for (query, message) in [
        ("kind=nosuch", "bad badge request: kind \"nosuch\" is not a badge kind (expected one of: status, duration, pass_rate)\n"),
        ("kind=", "bad badge request: kind \"\" is not a badge kind (expected one of: status, duration, pass_rate)\n"),
        ("kind=%3Cscript%3E", "bad badge request: kind \"<script>\" is not a badge kind (expected one of: status, duration, pass_rate)\n"),
        ("kind=pass_rate&builds=0", "bad badge request: builds must be a whole number from 1 to 1000, not \"0\"\n"),
        ("kind=pass_rate&builds=1001", "bad badge request: builds must be a whole number from 1 to 1000, not \"1001\"\n"),
        ("kind=pass_rate&builds=2.5", "bad badge request: builds must be a whole number from 1 to 1000, not \"2.5\"\n"),
        ("kind=pass_rate&builds=-1", "bad badge request: builds must be a whole number from 1 to 1000, not \"-1\"\n"),
        ("builds=x", "bad badge request: builds must be a whole number from 1 to 1000, not \"x\"\n"),
    ] {
        let response = get(&mut badges, &format!("/kinds.svg?{query}"));
        assert_eq!(response.status, 400, "{query}");
        assert_eq!(response.body_text(), Some(message), "{query}");
    }
}

#[test]
fn readings_are_kept_per_kind_and_n() {
    use std::cell::RefCell;
    use std::rc::Rc;
    let queries = Rc::new(RefCell::new(Vec::<String>::new()));
    let seen = queries.clone();
    testing::set_data(move |_, query| {
        seen.borrow_mut().push(query.to_owned());
        Ok(r#"{"builds": [{"number": 1, "complete": true, "results": 0, "started_at": 5, "complete_at": 50}], "meta": {}}"#.into())
    });
    let mut badges = plugin();
    for url in [
        "/docs.svg",
        "/docs.svg?kind=duration",
        "/docs.png?kind=duration&builds=7",
        "/docs.svg?kind=pass_rate",
        "/docs.svg?kind=pass_rate&builds=100",
        "/docs.svg?kind=pass_rate&builds=7",
        "/docs.png?kind=pass_rate&builds=7&style=flat",
    ] {
        assert_eq!(get(&mut badges, url).status, 200, "{url}");
    }
    // Bounded reads: the last build, the last finished one, the last N finished ones.
    assert_eq!(
        *queries.borrow(),
        [
            "order=-number&limit=1&field=number&field=complete&field=results&field=started_at&field=complete_at",
            "order=-number&limit=1&complete=true&field=number&field=complete&field=results&field=started_at&field=complete_at",
            "order=-number&limit=100&complete=true&field=number&field=complete&field=results&field=complete_at",
            "order=-number&limit=7&complete=true&field=number&field=complete&field=results&field=complete_at",
        ]
    );
}

#[test]
fn kind_is_chosen_in_the_url_and_builds_can_be_configured() {
    let config = |json: &str| Config::from_json("badges", json).unwrap();
    let err = Badges::init(config(r#"{"kind": "duration"}"#)).unwrap_err();
    assert!(
        err.starts_with("badges: option 'kind' cannot be set in [www.plugins.badges]"),
        "{err}"
    );
    for (json, error) in [
        (
            r#"{"builds": 0}"#,
            "badges: option 'builds' must be a whole number from 1 to 1000, not 0",
        ),
        (
            r#"{"builds": 5000}"#,
            "badges: option 'builds' must be a whole number from 1 to 1000, not 5000",
        ),
        (
            r#"{"builds": "10"}"#,
            "badges: invalid config: option 'builds': invalid type: string \"10\", expected i64",
        ),
    ] {
        assert_eq!(Badges::init(config(json)).unwrap_err(), error, "{json}");
    }
    kinds_data(&[(3, 0, 0, 1), (2, 2, 0, 1), (1, 0, 0, 1)]);
    let configured = Options::from_config(&config(r#"{"builds": 2, "left_text": "CI"}"#)).unwrap();
    let mut badges = Badges::new(configured, "/nonexistent");
    assert_eq!(
        right_part(&mut badges, "/kinds.svg?kind=pass_rate&style=flat-square").0,
        "50%"
    );
    // The configured left text is the status badge's; the other kinds say what they show.
    assert!(get(&mut badges, "/kinds.svg")
        .body_text()
        .unwrap()
        .contains(">CI</text>"));
    assert!(get(&mut badges, "/kinds.svg?kind=duration")
        .body_text()
        .unwrap()
        .contains(">duration</text>"));
}
