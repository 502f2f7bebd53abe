//! Escaping text for HTML and XML (SVG) output.

use std::borrow::Cow;

/// Escapes `&`, `<`, `>`, `"` and `'` so that `text` can be put in HTML or XML (SVG) element
/// content and in quoted attribute values.
///
/// Borrows `text` when nothing needs escaping.
///
/// ```
/// use buildbot_plugin_sdk::escape_html;
///
/// assert_eq!(escape_html(r#"<a href="x">Tom & Jerry's</a>"#),
///            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;");
/// assert_eq!(escape_html("plain"), "plain");
/// ```
pub fn escape_html(text: &str) -> Cow<'_, str> {
    let Some(first) = text.find(['&', '<', '>', '"', '\'']) else {
        return Cow::Borrowed(text);
    };
    let mut out = String::with_capacity(text.len() + 16);
    out.push_str(&text[..first]);
    for c in text[first..].chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_special_character() {
        assert_eq!(escape_html(""), "");
        assert_eq!(escape_html("&&"), "&amp;&amp;");
        assert_eq!(escape_html("a<b>c"), "a&lt;b&gt;c");
        assert_eq!(escape_html("\"'"), "&quot;&#39;");
        assert_eq!(escape_html("é <ü>"), "é &lt;ü&gt;");
        assert!(matches!(escape_html("no specials"), Cow::Borrowed(_)));
        // already escaped text is escaped again: the function is not idempotent on purpose
        assert_eq!(escape_html("&amp;"), "&amp;amp;");
    }
}
