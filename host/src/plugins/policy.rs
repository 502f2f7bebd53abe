//! What crosses the sandbox's edge over HTTP: the headers a plugin may see, the answers it may
//! give, and the manifest it may declare. Decisions and reasons are in docs/security.md.

use axum::http::{HeaderName, HeaderValue};

use super::instance::Setup;
use super::versions::HostManifest;
use super::{Fault, MenuEntry, Response};

/// Request headers that carry credentials; a plugin never sees them (the identity travels in
/// the request's `user`). The remote-user header of `RemoteUserAuth` is added by the caller.
const CREDENTIAL_HEADERS: &[&str] = &["cookie", "authorization", "proxy-authorization"];

/// Framing and hop-by-hop headers: the server frames its own answers.
const FRAMING_HEADERS: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "keep-alive",
    "te",
    "trailer",
    "proxy-connection",
];

/// Headers that would act for the whole site rather than the plugin's answer: session cookies,
/// cross-origin grants, wiping the site's storage, widening a service worker's scope, pinning
/// HTTPS for the host.
const SITE_HEADERS: &[&str] = &[
    "set-cookie",
    "set-cookie2",
    "clear-site-data",
    "service-worker-allowed",
    "strict-transport-security",
    "alt-svc",
];

/// Added to every plugin answer: its documents get an opaque origin (scripts may run, but not
/// as the UI: no cookies, no storage, no same-origin requests), and nothing is content-sniffed.
pub(crate) const PLUGIN_CSP: &str =
    "sandbox allow-scripts allow-forms allow-popups allow-downloads";

/// Bytes counted for each header besides its name and value (`: ` and the line end).
const HEADER_OVERHEAD: usize = 4;

/// Most sidebar entries one plugin may declare, and the longest label.
const MAX_MENU_ENTRIES: usize = 16;
const MAX_LABEL: usize = 64;
const MAX_EVENTS: usize = 64;

/// The headers of a request as a plugin gets them: without credentials, nor the header
/// `RemoteUserAuth` reads the user from (`remote_user_header`, any case).
pub(crate) fn request_headers(
    headers: impl IntoIterator<Item = (String, String)>,
    remote_user_header: Option<&str>,
) -> Vec<(String, String)> {
    headers
        .into_iter()
        .filter(|(name, _)| {
            !CREDENTIAL_HEADERS.contains(&name.as_str())
                && !remote_user_header.is_some_and(|h| h.eq_ignore_ascii_case(name))
        })
        .collect()
}

/// Checks and cleans a plugin's answer: status 200–599, valid headers, nothing that frames the
/// message or acts for the site, no redirect off the site, the whole answer within
/// `response_mib`; then adds the sandbox's own headers.
pub(super) fn response(setup: &Setup, mut response: Response) -> Result<Response, Fault> {
    let bad = |reason: String| Fault::BadResponse {
        plugin: setup.name.clone(),
        reason,
    };
    if !(200..=599).contains(&response.status) {
        return Err(bad(format!(
            "status {} is not allowed (200 to 599)",
            response.status
        )));
    }
    let mut size = response.body.len();
    let mut dropped: Vec<String> = Vec::new();
    let mut kept = Vec::with_capacity(response.headers.len() + 2);
    for (name, value) in std::mem::take(&mut response.headers) {
        size = size.saturating_add(name.len() + value.len() + HEADER_OVERHEAD);
        if size > setup.limits.response_bytes {
            break;
        }
        if HeaderName::from_bytes(name.as_bytes()).is_err()
            || HeaderValue::from_str(&value).is_err()
        {
            return Err(bad(format!("invalid header {name:?}: {value:?}")));
        }
        let lower = name.to_ascii_lowercase();
        if FRAMING_HEADERS.contains(&lower.as_str())
            || SITE_HEADERS.contains(&lower.as_str())
            || lower.starts_with("access-control-")
            || lower == "x-content-type-options"
        {
            dropped.push(lower);
            continue;
        }
        if lower == "location" && leaves_the_site(&value) {
            return Err(bad(format!(
                "redirect to {value:?}: a plugin may only redirect within the site"
            )));
        }
        kept.push((lower, value));
    }
    if size > setup.limits.response_bytes {
        return Err(bad(format!(
            "the answer (headers and body) is over the limit of {} MiB",
            setup.limits.response_bytes >> 20
        )));
    }
    if !dropped.is_empty() {
        dropped.sort();
        dropped.dedup();
        setup.log.warn(&format!(
            "headers a plugin may not set were dropped: {}",
            dropped.join(", ")
        ));
    }
    kept.push(("x-content-type-options".into(), "nosniff".into()));
    kept.push(("content-security-policy".into(), PLUGIN_CSP.into()));
    response.headers = kept;
    Ok(response)
}

/// Whether a `Location` value leads off this site: anything with a scheme or an authority
/// (`https:`, `//host`, `/\host`, `\\host`), after the trimming and tab/newline removal that
/// browsers apply.
fn leaves_the_site(location: &str) -> bool {
    let cleaned: String = location
        .trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let slashes = cleaned.replace('\\', "/");
    if slashes.starts_with("//") {
        return true;
    }
    let before_path = cleaned.split(['/', '?', '#']).next().unwrap_or_default();
    before_path.contains(':')
}

/// A manifest the host accepts: at most 16 menu entries with short one-line labels, each entry's
/// path within the plugin's own mount (starting with `/`, no `..`, no scheme or authority, no
/// control characters), at most 64 event patterns.
pub(super) fn manifest(mut manifest: HostManifest) -> anyhow::Result<HostManifest> {
    if manifest.menu.len() > MAX_MENU_ENTRIES {
        anyhow::bail!(
            "{} menu entries, at most {MAX_MENU_ENTRIES} are allowed",
            manifest.menu.len()
        );
    }
    if manifest.events.len() > MAX_EVENTS {
        anyhow::bail!(
            "{} event patterns, at most {MAX_EVENTS} are allowed",
            manifest.events.len()
        );
    }
    for entry in &mut manifest.menu {
        check_menu_entry(entry)?;
    }
    for event in &manifest.events {
        if event.len() > 200 || event.chars().any(char::is_control) {
            anyhow::bail!("event pattern {event:?} is not a valid event path");
        }
    }
    Ok(manifest)
}

fn check_menu_entry(entry: &mut MenuEntry) -> anyhow::Result<()> {
    let label = entry.label.trim();
    if label.is_empty() || label.chars().count() > MAX_LABEL || label.chars().any(char::is_control)
    {
        anyhow::bail!(
            "menu label {:?} must be one line of 1 to {MAX_LABEL} characters",
            entry.label
        );
    }
    entry.label = label.to_owned();
    let path = &entry.path;
    let inside = path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains('\\')
        && !path.chars().any(|c| c.is_control() || c.is_whitespace())
        && !path.split(['/', '?', '#']).any(|seg| {
            let lower = seg.to_ascii_lowercase();
            seg == ".." || lower == "%2e%2e" || lower == ".%2e" || lower == "%2e."
        })
        && path.len() <= 200;
    if !inside {
        anyhow::bail!(
            "menu path {path:?} must be a path within the plugin's mount, starting with '/'"
        );
    }
    // An icon is a name or a symbol the sidebar shows as text (escaped): short, one line.
    if entry.icon.chars().count() > 32 || entry.icon.chars().any(char::is_control) {
        anyhow::bail!(
            "menu icon {:?} must be an icon name or symbol of at most 32 characters",
            entry.icon
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_off_the_site_are_recognised() {
        for off in [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "\\\\evil.example",
            " javascript:alert(1)",
            "java\tscript:alert(1)",
            "HTTP://x",
        ] {
            assert!(leaves_the_site(off), "{off}");
        }
        for on in [
            "/plugins/x/",
            "next",
            "../builders",
            "?a=b:c",
            "a/b:c",
            "#x",
        ] {
            assert!(!leaves_the_site(on), "{on}");
        }
    }

    #[test]
    fn credentials_never_reach_a_plugin() {
        let headers = [
            ("cookie", "session=1"),
            ("authorization", "Basic x"),
            ("proxy-authorization", "Basic y"),
            ("x-remote-user", "admin"),
            ("accept", "text/html"),
        ]
        .map(|(n, v)| (n.to_owned(), v.to_owned()));
        let kept = request_headers(headers, Some("X-Remote-User"));
        assert_eq!(kept, [("accept".to_owned(), "text/html".to_owned())]);
    }

    #[test]
    fn menu_entries_stay_inside_the_mount() {
        let entry = |path: &str| MenuEntry {
            label: "x".into(),
            path: path.into(),
            order: 0,
            icon: String::new(),
        };
        for bad in [
            "https://evil/",
            "//evil",
            "/../../api",
            "/a/%2e%2e/b",
            "x",
            "/a b",
            "/\\x",
        ] {
            assert!(check_menu_entry(&mut entry(bad)).is_err(), "{bad}");
        }
        for good in ["/", "/grid", "/a/b?c=d"] {
            assert!(check_menu_entry(&mut entry(good)).is_ok(), "{good}");
        }
    }
}
