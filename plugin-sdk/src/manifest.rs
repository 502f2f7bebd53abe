//! Who a plugin is and what it offers: [`Manifest`] and its sidebar [`MenuEntry`]s.

/// Who the plugin is and what it offers; returned by [`Plugin::manifest`](crate::Plugin::manifest).
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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// The name operators enable the plugin by and its mount point (`/plugins/<name>/`):
    /// letters, digits and `_`.
    pub name: String,
    /// The plugin's own version, e.g. `1.2.0`.
    pub version: String,
    /// One line saying what the plugin shows.
    pub description: String,
    /// Sidebar entries.
    pub menu: Vec<MenuEntry>,
    /// Event paths in Buildbot's websocket notation (`builds/*/*`, `changes/*/new`) whose events
    /// should refresh the plugin's views.
    pub events: Vec<String>,
}

impl Manifest {
    /// A manifest with a name and a version, and nothing else.
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

/// An entry of the UI's sidebar.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MenuEntry {
    /// Text shown in the sidebar.
    pub label: String,
    /// Path below the plugin's mount the entry opens, e.g. `/` or `/grid`.
    pub path: String,
    /// Position among all entries; smaller comes first.
    pub order: i32,
    /// Name of an icon (Font Awesome style), empty for none.
    pub icon: String,
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
