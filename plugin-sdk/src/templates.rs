//! HTML (and SVG, XML) from minijinja templates that escape every value they insert: the
//! default way for a view to write its pages, so that a forgotten `escape_html` cannot become
//! a hole.

use minijinja::Environment;
use serde::Serialize;

use crate::{Error, Response};

/// A plugin's templates, usually built once in [`Plugin::init`](crate::Plugin::init) from
/// sources compiled into the plugin (`include_str!`).
///
/// Templates whose name ends in `.html`, `.htm`, `.xml` or `.svg` escape every `{{ value }}`
/// for HTML; `{{ value|safe }}` inserts markup the plugin made itself. The syntax is Jinja's
/// (minijinja): `{% for %}`, `{% if %}`, `{% include %}`, `{% extends %}`, macros and filters.
///
/// ```
/// use buildbot_plugin_sdk::{serde_json::json, Templates};
///
/// let templates = Templates::new()
///     .with("index.html", "<h1>{{ title }}</h1>{% for b in builders %}<p>{{ b }}</p>{% endfor %}")
///     .unwrap();
/// let page = templates
///     .render("index.html", json!({"title": "Builders <all>", "builders": ["a&b"]}))
///     .unwrap();
/// assert_eq!(page.status, 200);
/// assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
/// assert_eq!(page.body_text(), Some("<h1>Builders &lt;all&gt;</h1><p>a&amp;b</p>"));
///
/// // A template that does not parse is refused when it is added, naming it and the line.
/// let error = Templates::new().with("bad.html", "{% for %}").unwrap_err();
/// assert!(error.starts_with("template bad.html:"), "{error}");
/// ```
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
}

impl Default for Templates {
    fn default() -> Self {
        Templates::new()
    }
}

impl Templates {
    /// No templates yet.
    pub fn new() -> Templates {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|name| {
            let markup = [".html", ".htm", ".xml", ".svg"]
                .iter()
                .any(|suffix| name.ends_with(suffix));
            if markup {
                minijinja::AutoEscape::Html
            } else {
                minijinja::AutoEscape::None
            }
        });
        Templates { env }
    }

    /// Adds template `name`; an error text names the template and what is wrong where, ready
    /// to be returned from `init`.
    pub fn with(mut self, name: &'static str, source: &'static str) -> Result<Templates, String> {
        self.env
            .add_template(name, source)
            .map_err(|e| format!("template {name}: {e}"))?;
        Ok(self)
    }

    /// Renders template `name` with `context` (anything `Serialize`, e.g. `json!({...})` or a
    /// struct) as text.
    pub fn render_text(&self, name: &str, context: impl Serialize) -> Result<String, Error> {
        let template = self
            .env
            .get_template(name)
            .map_err(|e| Error::new(500, format!("template {name}: {e}")))?;
        template
            .render(minijinja::value::Serde(context))
            .map_err(|e| Error::new(500, format!("template {name}: {e}")))
    }

    /// Renders template `name` as a `200 text/html` answer (`image/svg+xml` for a `.svg`
    /// template).
    pub fn render(&self, name: &str, context: impl Serialize) -> Result<Response, Error> {
        let text = self.render_text(name, context)?;
        Ok(if name.ends_with(".svg") {
            Response::svg(text)
        } else {
            Response::html(text)
        })
    }
}
