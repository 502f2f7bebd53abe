//! Reading the pages' HTML in tests with a real HTML parser (`scraper`): elements found by CSS
//! selector, their attributes (entities decoded) and their text, so that a test reads as "the
//! cells of the console's table" instead of cutting the markup apart as text.

use scraper::{ElementRef, Html, Selector};

/// Parses a whole page.
pub fn parse(html: &str) -> Html {
    Html::parse_document(html)
}

fn selector(css: &str) -> Selector {
    Selector::parse(css).unwrap_or_else(|e| panic!("bad selector {css:?}: {e}"))
}

/// Finding elements below a page or an element.
pub trait Find<'a>: Sized {
    /// The element everything is looked for below.
    fn scope(self) -> ElementRef<'a>;

    /// The elements below that match `css`, in document order.
    fn all(self, css: &str) -> Vec<ElementRef<'a>> {
        self.scope().select(&selector(css)).collect()
    }

    /// The one element below that matches `css`; fails when there is none or more than one.
    fn one(self, css: &str) -> ElementRef<'a> {
        let scope = self.scope();
        match scope.select(&selector(css)).collect::<Vec<_>>()[..] {
            [found] => found,
            ref found => panic!(
                "{} elements match {css:?} in:\n{}",
                found.len(),
                scope.html()
            ),
        }
    }

    /// Attribute `name` of every element below that matches `css`, in document order; fails
    /// when one of them lacks it.
    fn values(self, css: &str, name: &str) -> Vec<String> {
        self.all(css)
            .into_iter()
            .map(|e| attr(e, name).to_owned())
            .collect()
    }

    /// The integer attribute `name` of every element below that matches `css`.
    fn numbers(self, css: &str, name: &str) -> Vec<i64> {
        self.all(css).into_iter().map(|e| id(e, name)).collect()
    }

    /// Attribute `name` of every element below that has it, in document order.
    fn attrs(self, name: &str) -> Vec<String> {
        self.values(&format!("[{name}]"), name)
    }

    /// The integer attribute `name` of every element below that has it, in document order.
    fn ids(self, name: &str) -> Vec<i64> {
        self.numbers(&format!("[{name}]"), name)
    }
}

impl<'a> Find<'a> for ElementRef<'a> {
    fn scope(self) -> ElementRef<'a> {
        self
    }
}

impl<'a> Find<'a> for &'a Html {
    fn scope(self) -> ElementRef<'a> {
        self.root_element()
    }
}

/// Attribute `name` of `element`; fails when it has none.
pub fn attr<'a>(element: ElementRef<'a>, name: &str) -> &'a str {
    element
        .value()
        .attr(name)
        .unwrap_or_else(|| panic!("no {name} on {}", element.html()))
}

/// The integer attribute `name` of `element`.
pub fn id(element: ElementRef<'_>, name: &str) -> i64 {
    let value = attr(element, name);
    value
        .parse()
        .unwrap_or_else(|_| panic!("{name}={value:?} is not an integer"))
}

/// Whether `element` has the class `class`.
pub fn has_class(element: ElementRef<'_>, class: &str) -> bool {
    element.value().classes().any(|c| c == class)
}

/// The text of `element` and its descendants, joined.
pub fn text(element: ElementRef<'_>) -> String {
    element.text().collect()
}

/// Every attribute of `element`, in source order.
pub fn attrs_of<'a>(element: ElementRef<'a>) -> Vec<(&'a str, &'a str)> {
    element.value().attrs().collect()
}
