//! Colours of the badge's parts: what is accepted, and how it is written into the SVG.

/// CSS's named colours (CSS Color Module Level 4), which SVG renderers accept.
const NAMED: &[&str] = &[
    "aliceblue",
    "antiquewhite",
    "aqua",
    "aquamarine",
    "azure",
    "beige",
    "bisque",
    "black",
    "blanchedalmond",
    "blue",
    "blueviolet",
    "brown",
    "burlywood",
    "cadetblue",
    "chartreuse",
    "chocolate",
    "coral",
    "cornflowerblue",
    "cornsilk",
    "crimson",
    "cyan",
    "darkblue",
    "darkcyan",
    "darkgoldenrod",
    "darkgray",
    "darkgreen",
    "darkgrey",
    "darkkhaki",
    "darkmagenta",
    "darkolivegreen",
    "darkorange",
    "darkorchid",
    "darkred",
    "darksalmon",
    "darkseagreen",
    "darkslateblue",
    "darkslategray",
    "darkslategrey",
    "darkturquoise",
    "darkviolet",
    "deeppink",
    "deepskyblue",
    "dimgray",
    "dimgrey",
    "dodgerblue",
    "firebrick",
    "floralwhite",
    "forestgreen",
    "fuchsia",
    "gainsboro",
    "ghostwhite",
    "gold",
    "goldenrod",
    "gray",
    "green",
    "greenyellow",
    "grey",
    "honeydew",
    "hotpink",
    "indianred",
    "indigo",
    "ivory",
    "khaki",
    "lavender",
    "lavenderblush",
    "lawngreen",
    "lemonchiffon",
    "lightblue",
    "lightcoral",
    "lightcyan",
    "lightgoldenrodyellow",
    "lightgray",
    "lightgreen",
    "lightgrey",
    "lightpink",
    "lightsalmon",
    "lightseagreen",
    "lightskyblue",
    "lightslategray",
    "lightslategrey",
    "lightsteelblue",
    "lightyellow",
    "lime",
    "limegreen",
    "linen",
    "magenta",
    "maroon",
    "mediumaquamarine",
    "mediumblue",
    "mediumorchid",
    "mediumpurple",
    "mediumseagreen",
    "mediumslateblue",
    "mediumspringgreen",
    "mediumturquoise",
    "mediumvioletred",
    "midnightblue",
    "mintcream",
    "mistyrose",
    "moccasin",
    "navajowhite",
    "navy",
    "oldlace",
    "olive",
    "olivedrab",
    "orange",
    "orangered",
    "orchid",
    "palegoldenrod",
    "palegreen",
    "paleturquoise",
    "palevioletred",
    "papayawhip",
    "peachpuff",
    "peru",
    "pink",
    "plum",
    "powderblue",
    "purple",
    "rebeccapurple",
    "red",
    "rosybrown",
    "royalblue",
    "saddlebrown",
    "salmon",
    "sandybrown",
    "seagreen",
    "seashell",
    "sienna",
    "silver",
    "skyblue",
    "slateblue",
    "slategray",
    "slategrey",
    "snow",
    "springgreen",
    "steelblue",
    "tan",
    "teal",
    "thistle",
    "tomato",
    "transparent",
    "turquoise",
    "violet",
    "wheat",
    "white",
    "whitesmoke",
    "yellow",
    "yellowgreen",
];

/// The colour as written into the SVG, or why `text` is not a colour.
///
/// Accepted: `#` and 3, 4, 6 or 8 hexadecimal digits; the same digits without `#` (Buildbot's
/// documentation writes `?left_color=222` for `#222`; its default `skipped` colour lacks the
/// `#` too), which get the `#`; and CSS's named colours (`red`, `darkslategray`), any case.
///
/// ```
/// # use badges::color::normalize;
/// assert_eq!(normalize("222").unwrap(), "#222");
/// assert_eq!(normalize("#123456").unwrap(), "#123456");
/// assert_eq!(normalize("a4a61d").unwrap(), "#a4a61d");
/// assert_eq!(normalize("DarkSlateGray").unwrap(), "darkslategray");
/// assert!(normalize("#12345").is_err());
/// assert!(normalize("red\" onload=\"x").is_err());
/// ```
pub fn normalize(text: &str) -> Result<String, String> {
    let hex = text.strip_prefix('#').unwrap_or(text);
    if matches!(hex.len(), 3 | 4 | 6 | 8) && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(format!("#{hex}"));
    }
    let lower = text.to_ascii_lowercase();
    if NAMED.binary_search(&lower.as_str()).is_ok() {
        return Ok(lower);
    }
    let shown: String = text.chars().take(40).collect();
    Err(format!(
        "{shown:?} is not a colour (expected #rgb, #rgba, #rrggbb or #rrggbbaa, with or without \
         the '#', or a CSS colour name)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sorted_for_the_binary_search() {
        assert!(NAMED.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(NAMED.len(), 149);
    }

    #[test]
    fn accepts_and_rejects() {
        for (input, output) in [
            ("#555", "#555"),
            ("555", "#555"),
            ("#4c1", "#4c1"),
            ("abcd", "#abcd"),
            ("#ABCDEF", "#ABCDEF"),
            ("00ff00ff", "#00ff00ff"),
            ("red", "red"),
            ("Transparent", "transparent"),
        ] {
            assert_eq!(normalize(input).unwrap(), output, "{input}");
        }
        for bad in [
            "",
            "#",
            "#12",
            "12345",
            "#1234567",
            "#ggg",
            "reddish",
            "url(#x)",
            "#fff\"/><script>",
            "rgb(1,2,3)",
            " #fff",
        ] {
            assert!(normalize(bad).is_err(), "{bad:?}");
        }
        assert!(normalize("<b>")
            .unwrap_err()
            .starts_with("\"<b>\" is not a colour"));
    }
}
