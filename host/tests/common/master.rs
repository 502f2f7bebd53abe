//! The config file a test serves (`master.toml`), built from settings merged into the parsed
//! document instead of edited as text: a misspelt anchor cannot silently leave a setting out.
//! Keys keep their order (the `/config` answer lists plugins as the file does).

use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, Item, Table};

/// A `master.toml` under construction.
#[derive(Clone, Debug)]
pub struct MasterToml(DocumentMut);

impl MasterToml {
    /// `fixtures/reference/master.toml`: the config the reference recordings were taken with.
    pub fn reference() -> Self {
        Self::load(&super::reference_dir().join("../master.toml"))
    }

    /// A config file as it is on disk.
    pub fn load(path: &Path) -> Self {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        Self(parse(&text))
    }

    /// The smallest config: `state.sqlite` next to the file, served on port 8010.
    pub fn sqlite() -> Self {
        Self(DocumentMut::new())
            .set(&["db", "db_url"], "sqlite:///state.sqlite")
            .set(&["www", "port"], 8010)
    }

    /// Sets the key at `path` (`&["www", "plugin_limits", "hello", "deadline_ms"]`),
    /// creating the tables on the way.
    pub fn set(mut self, path: &[&str], value: impl Into<toml_edit::Value>) -> Self {
        let (last, tables) = path.split_last().expect("a key");
        table_at(&mut self.0, tables).insert(last, Item::Value(value.into()));
        self
    }

    /// Removes the key at `path`, if there.
    pub fn remove(mut self, path: &[&str]) -> Self {
        let (last, tables) = path.split_last().expect("a key");
        table_at(&mut self.0, tables).remove(last);
        self
    }

    /// Merges TOML text as if it were written at the end of the `[www]` table: its bare keys
    /// go into `[www]`, its `[table]` headers name tables from the root, as in a file.
    pub fn www_toml(self, text: &str) -> Self {
        self.append(&["www"], text)
    }

    /// Enables plugin `name` with TOML text written at the end of its
    /// `[www.plugins.<name>]` table (`"left_color = \"#222\""`, or `""` for none).
    pub fn plugin(self, name: &str, text: &str) -> Self {
        self.append(&["www", "plugins", name], text)
    }

    /// Looks for plugins in these folders, compiled components cached in the shared folder.
    pub fn plugin_dirs(self, dirs: &[&Path]) -> Self {
        let dirs: toml_edit::Array = dirs.iter().map(|d| d.display().to_string()).collect();
        self.set(&["www", "plugin_dirs"], dirs).set(
            &["www", "plugin_cache_dir"],
            super::plugin_cache_dir().display().to_string(),
        )
    }

    /// The file's text.
    pub fn text(&self) -> String {
        self.0.to_string()
    }

    /// Writes `master.toml` into `dir`; returns its path.
    pub fn write(&self, dir: &Path) -> PathBuf {
        let path = dir.join("master.toml");
        std::fs::write(&path, self.text()).unwrap();
        path
    }

    /// Merges `text` as if written at the end of the table at `path`: the keys before its
    /// first header line go into that table, the headers name tables from the root. Tables
    /// are merged key by key; any other value replaces the one there.
    fn append(mut self, path: &[&str], text: &str) -> Self {
        let split = if text.starts_with('[') {
            0
        } else {
            text.find("\n[").map_or(text.len(), |at| at + 1)
        };
        let bare = parse(&text[..split]);
        let headers = parse(&text[split..]);
        merge(table_at(&mut self.0, path), bare.as_table());
        merge(self.0.as_table_mut(), headers.as_table());
        self
    }
}

fn parse(text: &str) -> DocumentMut {
    text.parse()
        .unwrap_or_else(|e| panic!("not TOML: {e}\n{text}"))
}

/// The table at `path`, made (as a `[header]` table) where missing.
fn table_at<'a>(document: &'a mut DocumentMut, path: &[&str]) -> &'a mut Table {
    let mut table = document.as_table_mut();
    for name in path {
        let item = table.entry(name).or_insert_with(toml_edit::table);
        if item.is_inline_table() {
            let inline = std::mem::take(item).into_value().unwrap();
            let toml_edit::Value::InlineTable(inline) = inline else {
                unreachable!()
            };
            *item = Item::Table(inline.into_table());
        }
        table = item
            .as_table_mut()
            .unwrap_or_else(|| panic!("{name} in {path:?} is not a table"));
    }
    table
}

/// Merges `from` into `into`: tables key by key, anything else replaced.
fn merge(into: &mut Table, from: &Table) {
    for (key, item) in from.iter() {
        match (into.get_mut(key).and_then(Item::as_table_mut), item) {
            (Some(existing), Item::Table(incoming)) => merge(existing, incoming),
            _ => {
                into.insert(key, item.clone());
            }
        }
    }
}
