//! Who a plugin is and what it offers: [`Manifest`] and its sidebar [`MenuEntry`]s.

/// The WIT record `manifest` of `buildbot:www@0.2.0`, built with [`Manifest::new`] and returned
/// by [`Plugin::manifest`](crate::Plugin::manifest):
pub use crate::guest::wit::Manifest;

/// The WIT record `menu-entry` of `buildbot:www@0.2.0`, built with [`MenuEntry::new`]:
pub use crate::guest::wit::MenuEntry;

/// No name, version, description, menu entries or events.
impl Default for Manifest {
    fn default() -> Manifest {
        Manifest {
            name: String::new(),
            version: String::new(),
            description: String::new(),
            menu: Vec::new(),
            events: Vec::new(),
        }
    }
}

impl Manifest {
    /// A manifest with a name and a version, and nothing else.
    ///
    /// ```
    /// use buildbot_plugin_sdk::{Manifest, MenuEntry};
    ///
    /// let manifest = Manifest::new("grid_view", "1.0.0")
    ///     .description("Builds by builder and change")
    ///     .menu(MenuEntry::new("Grid", "/").order(20).icon("fa-th"))
    ///     .event("builds/*/*")
    ///     .events(["changes/*/new", "buildrequests/*/*"]);
    /// assert_eq!(manifest.menu[0].order, 20);
    /// assert_eq!(manifest.events, ["builds/*/*", "changes/*/new", "buildrequests/*/*"]);
    /// ```
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Manifest {
        Manifest {
            name: name.into(),
            version: version.into(),
            ..Manifest::default()
        }
    }

    /// The same manifest with a description.
    pub fn description(mut self, description: impl Into<String>) -> Manifest {
        self.description = description.into();
        self
    }

    /// The same manifest with one more sidebar entry.
    pub fn menu(mut self, entry: MenuEntry) -> Manifest {
        self.menu.push(entry);
        self
    }

    /// The same manifest with one more event path.
    pub fn event(mut self, path: impl Into<String>) -> Manifest {
        self.events.push(path.into());
        self
    }

    /// The same manifest with more event paths.
    pub fn events<S: Into<String>>(mut self, paths: impl IntoIterator<Item = S>) -> Manifest {
        self.events.extend(paths.into_iter().map(Into::into));
        self
    }
}

/// Label and path empty, order 0, no icon.
impl Default for MenuEntry {
    fn default() -> MenuEntry {
        MenuEntry {
            label: String::new(),
            path: String::new(),
            order: 0,
            icon: String::new(),
        }
    }
}

impl MenuEntry {
    /// An entry labelled `label` opening `path`, at order 0 and without an icon.
    pub fn new(label: impl Into<String>, path: impl Into<String>) -> MenuEntry {
        MenuEntry {
            label: label.into(),
            path: path.into(),
            ..MenuEntry::default()
        }
    }

    /// The same entry at another position.
    pub fn order(mut self, order: i32) -> MenuEntry {
        self.order = order;
        self
    }

    /// The same entry with an icon.
    pub fn icon(mut self, icon: impl Into<String>) -> MenuEntry {
        self.icon = icon.into();
        self
    }
}
