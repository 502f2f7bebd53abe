//! `/badges`: a builder's badge (its status, its last build's duration or its pass rate: the
//! plugin's `kind`) previewed in each style of the badges plugin, with snippets to paste into a
//! README (Markdown, reStructuredText, AsciiDoc, HTML) that point at the server's public address
//! (`buildbotURL`, prefix included). The plugin's URL options are form fields; the badge URLs
//! carry the ones given.

use axum::extract::State;
use serde::Serialize;

use super::pages::{items, PageResult};
use super::{html, shell, PageRequest, UiState};

/// The badges plugin's built-in styles, previewed side by side.
const STYLES: [&str; 4] = ["plastic", "flat", "flat-square", "badgeio"];

/// The badge kinds of the plugin (`kind=`); the first is its default, left out of the URLs.
const KINDS: [&str; 3] = ["status", "duration", "pass_rate"];

/// The URL options offered as form fields, as the badges plugin names them.
const OPTIONS: [&str; 6] = [
    "left_text",
    "left_color",
    "left_pad",
    "right_pad",
    "border_radius",
    "font_size",
];

#[derive(Debug, Serialize)]
struct BadgePage {
    /// Every builder's id and name, for the choice.
    builders: Vec<(i64, String)>,
    /// The chosen builder's id and name (none when there are no builders).
    builder: Option<(i64, String)>,
    /// The options given, in [`OPTIONS`] order (empty when not given).
    options: Vec<(&'static str, String)>,
    /// The kind of badge, and the count of builds of a pass rate (empty: the plugin's).
    kind: &'static str,
    kinds: [&'static str; 3],
    builds: String,
    /// The style chosen for the snippets, and the image format.
    style: String,
    format: &'static str,
    styles: [&'static str; 4],
    /// The badge of each style, relative to the page (previews).
    previews: Vec<(&'static str, String)>,
    /// Ready-to-paste snippets: (language, text).
    snippets: Vec<(&'static str, String)>,
    /// Where the snippets point: `buildbotURL`.
    public_url: String,
}

/// `/badges?builder=ID&kind=K&builds=N&style=S&format=svg|png&left_text=...`.
pub(super) async fn page(State(state): State<UiState>, req: PageRequest) -> PageResult {
    if state.config.www.plugin("badges").is_none() {
        return Ok(crate::answers::twisted_not_found("File not found."));
    }
    let builders: Vec<(i64, String)> = items(
        &state,
        &req.user,
        "builders",
        &[
            ("field", "builderid".into()),
            ("field", "name".into()),
            ("order", "name".into()),
            ("limit", "20000".into()),
        ],
    )
    .await?
    .iter()
    .filter_map(|b| {
        Some((
            b.get("builderid")?.as_i64()?,
            b.get("name")?.as_str()?.to_owned(),
        ))
    })
    .collect();
    let chosen = req.arg("builder").and_then(|v| v.parse::<i64>().ok());
    let builder = chosen
        .and_then(|id| builders.iter().find(|(b, _)| *b == id))
        .or(builders.first())
        .cloned();
    let style = req
        .arg("style")
        .filter(|s| STYLES.contains(&s.as_str()))
        .unwrap_or_else(|| "plastic".to_owned());
    let format = if req.arg("format").as_deref() == Some("png") {
        "png"
    } else {
        "svg"
    };
    let kind = req
        .arg("kind")
        .and_then(|k| KINDS.into_iter().find(|known| *known == k))
        .unwrap_or(KINDS[0]);
    let builds = req.arg("builds").unwrap_or_default();
    let options: Vec<(&'static str, String)> = OPTIONS
        .iter()
        .map(|name| (*name, req.arg(name).unwrap_or_default()))
        .collect();
    // The arguments after `style`: the kind (unless the default), the count of a pass rate,
    // the options given.
    let mut args: Vec<(&str, String)> = Vec::new();
    if kind != KINDS[0] {
        args.push(("kind", kind.to_owned()));
    }
    if kind == "pass_rate" && !builds.is_empty() {
        args.push(("builds", builds.clone()));
    }
    args.extend(options.iter().cloned());
    let (previews, snippets) = match &builder {
        Some((id, name)) => {
            let previews = STYLES
                .iter()
                .map(|s| {
                    (
                        *s,
                        format!("{}{}", req.root, badge_path(name, s, format, &args)),
                    )
                })
                .collect();
            let public = &state.config.buildbot_url;
            let image = format!("{public}{}", badge_path(name, &style, format, &args));
            let target = format!("{public}builders/{id}");
            (previews, snippets(name, &image, &target))
        }
        None => (Vec::new(), Vec::new()),
    };
    let shell = shell(&state, &req, "badges", "Badges", &[]);
    let body = BadgePage {
        builders,
        builder,
        options,
        kind,
        kinds: KINDS,
        builds,
        style,
        format,
        styles: STYLES,
        previews,
        snippets,
        public_url: state.config.buildbot_url.clone(),
    };
    Ok(html(&state, "badges.html", &shell, &body))
}

/// `plugins/badges/<name>.<format>?style=...` with the other arguments given (empty ones left
/// out), percent-encoded.
fn badge_path(name: &str, style: &str, format: &str, args: &[(&str, String)]) -> String {
    let mut query = vec![format!("style={}", encode(style))];
    for (key, value) in args {
        if !value.is_empty() {
            query.push(format!("{key}={}", encode(value)));
        }
    }
    format!(
        "plugins/badges/{}.{format}?{}",
        encode(name),
        query.join("&")
    )
}

fn encode(text: &str) -> String {
    buildbot_plugin_sdk::data::encode_query_value(text)
}

/// The badge as a link to its builder, in each markup language.
fn snippets(name: &str, image: &str, target: &str) -> Vec<(&'static str, String)> {
    let html_attr = |s: &str| {
        s.replace('&', "&amp;")
            .replace('"', "&quot;")
            .replace('<', "&lt;")
    };
    let markdown_text = name.replace(['[', ']'], "");
    vec![
        (
            "Markdown",
            format!("[![{markdown_text}]({image})]({target})"),
        ),
        (
            "reStructuredText",
            format!(".. image:: {image}\n   :target: {target}\n   :alt: {name}"),
        ),
        (
            "AsciiDoc",
            format!(
                "image:{image}[{}, link=\"{target}\"]",
                name.replace([',', ']'], " ")
            ),
        ),
        (
            "HTML",
            format!(
                "<a href=\"{}\"><img src=\"{}\" alt=\"{}\"></a>",
                html_attr(target),
                html_attr(image),
                html_attr(name)
            ),
        ),
    ]
}
