//! Reading the parsed TOML document into the config's serde structs. The reader is a serde
//! `Deserializer` of our own over `toml_edit`'s document, with an error type of our own
//! ([`Fault`]): a failure keeps its parts (the unknown key and the keys a table accepts, the
//! value found and the type expected) and the key path where it happened, so no message of
//! serde's or toml's is ever taken apart to find them.
//!
//! The reader follows serde's data model with two conventions of the config:
//! - a TOML datetime reaches serde as its text (plugin settings keep it as a string);
//! - an enum whose serde name is a lower-case key (`#[serde(rename = "type")]`) is a table
//!   tagged by that key: `type = "GitHubAuth"` picks the variant, and the table's other keys
//!   are the variant's fields. Other enums are read from a string (a unit variant's name).

use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    Unexpected, VariantAccess, Visitor,
};
use toml_edit::{Item, TableLike, Value};

use super::error::{Fail, KeyPath, Target};

/// Reads the whole document as `T`.
pub(crate) fn from_document<T: DeserializeOwned>(
    doc: &toml_edit::ImDocument<String>,
) -> Result<T, Fault> {
    T::deserialize(Reader {
        node: Node::Table(doc.as_table()),
        path: KeyPath::default(),
        tag: None,
    })
}

/// Why reading failed, and where.
#[derive(Debug)]
pub(crate) struct Fault {
    kind: FaultKind,
    /// Set by the reader of the node the fault was raised at; `None` until then.
    at: Option<(KeyPath, Target)>,
}

#[derive(Debug)]
enum FaultKind {
    /// A key the table does not accept; `known` are the keys it does.
    UnknownKey {
        key: String,
        known: &'static [&'static str],
    },
    /// A name that is none of `known` (an enum's variants).
    UnknownName {
        name: String,
        known: &'static [&'static str],
    },
    /// A required key absent from the table.
    MissingKey(&'static str),
    /// A value of the wrong type, or out of the type's range.
    WrongType { found: Found, expected: Expected },
    /// An array of the wrong length.
    WrongLength { len: usize, expected: Expected },
    /// A message of our own deserializers (secrets, for instance).
    Message(String),
}

/// What was found where something else was expected, as serde's `Unexpected` describes it.
#[derive(Debug, Clone, PartialEq)]
enum Found {
    Bool(bool),
    Integer(i128),
    Float(f64),
    Str(String),
    Array,
    Table,
    /// A shape TOML cannot produce (serde's own words for it).
    Other(String),
}

impl From<Unexpected<'_>> for Found {
    fn from(unexpected: Unexpected<'_>) -> Self {
        match unexpected {
            Unexpected::Bool(b) => Found::Bool(b),
            Unexpected::Unsigned(n) => Found::Integer(i128::from(n)),
            Unexpected::Signed(n) => Found::Integer(i128::from(n)),
            Unexpected::Float(f) => Found::Float(f),
            Unexpected::Char(c) => Found::Str(c.to_string()),
            Unexpected::Str(s) => Found::Str(s.to_owned()),
            Unexpected::Seq => Found::Array,
            Unexpected::Map => Found::Table,
            other => Found::Other(other.to_string()),
        }
    }
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Found::Bool(b) => write!(f, "{b}"),
            Found::Integer(n) => write!(f, "integer {n}"),
            Found::Float(x) => write!(f, "number {x:?}"),
            Found::Str(s) => write!(f, "string {s:?}"),
            Found::Array => f.write_str("an array"),
            Found::Table => f.write_str("a table"),
            Found::Other(what) => f.write_str(what),
        }
    }
}

/// What the config wanted: the type the reader was asked for, or, when serde asked for
/// anything (`deserialize_any`), the words of the visitor (our own deserializers').
#[derive(Debug, Clone)]
enum Expected {
    Type(Shape),
    Text(String),
}

/// The type a `deserialize_*` call asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Shape {
    /// An unsigned integer, with its largest value when that is worth saying.
    Unsigned(Option<u64>),
    Integer,
    Number,
    Bool,
    Str,
    Array,
    Table,
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expected::Type(Shape::Unsigned(Some(max))) => write!(f, "an integer from 0 to {max}"),
            Expected::Type(Shape::Unsigned(None)) => f.write_str("a non-negative integer"),
            Expected::Type(Shape::Integer) => f.write_str("an integer"),
            Expected::Type(Shape::Number) => f.write_str("a number"),
            Expected::Type(Shape::Bool) => f.write_str("true or false"),
            Expected::Type(Shape::Str) => f.write_str("a string"),
            Expected::Type(Shape::Array) => f.write_str("an array"),
            Expected::Type(Shape::Table) => f.write_str("a table"),
            Expected::Text(text) => f.write_str(text),
        }
    }
}

impl Fault {
    fn new(kind: FaultKind) -> Self {
        Fault { kind, at: None }
    }

    /// A value of the wrong type for `shape`.
    fn wrong_type(found: Found, shape: Shape) -> Self {
        Fault::new(FaultKind::WrongType {
            found,
            expected: Expected::Type(shape),
        })
    }

    /// Places a fault raised by the visitor of the node at `path`; a fault already placed
    /// deeper keeps its place. `shape` is the type the node was asked for, if any.
    fn place(mut self, path: &KeyPath, target: Target, shape: Option<Shape>) -> Self {
        if self.at.is_some() {
            return self;
        }
        if let (Some(shape), FaultKind::WrongType { expected, .. }) = (shape, &mut self.kind) {
            *expected = Expected::Type(shape);
        }
        self.at = Some((path.clone(), target));
        self
    }

    /// The failure as the config reports it.
    pub(crate) fn into_fail(self) -> Fail {
        let (path, target) = self.at.unwrap_or((KeyPath::default(), Target::Value));
        match self.kind {
            FaultKind::UnknownKey { key, known } => {
                // raised by the key itself, or by the visitor of its table
                let at = if target == Target::Key {
                    path
                } else {
                    path.key(&key)
                };
                Fail::unknown_key(at, known)
            }
            FaultKind::UnknownName { name, known } => {
                let what = path.last_key().unwrap_or("value").to_owned();
                Fail::unknown_name(path, &what, &name, known)
            }
            FaultKind::MissingKey(key) => Fail::missing_key(path, key),
            FaultKind::WrongType { found, expected } => {
                let negative = matches!(found, Found::Integer(n) if n < 0);
                if negative && matches!(expected, Expected::Type(Shape::Unsigned(_))) {
                    Fail::at(path, format!("must not be negative, found {found}"))
                } else {
                    Fail::at(path, format!("expected {expected}, found {found}"))
                }
            }
            FaultKind::WrongLength { len, expected } => {
                let elements = if len == 1 { "element" } else { "elements" };
                Fail::at(path, format!("expected {expected}, found {len} {elements}"))
            }
            FaultKind::Message(message) => Fail::at(path, message),
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            FaultKind::UnknownKey { key, .. } => write!(f, "unknown key '{key}'"),
            FaultKind::UnknownName { name, .. } => write!(f, "unknown name '{name}'"),
            FaultKind::MissingKey(key) => write!(f, "missing key '{key}'"),
            FaultKind::WrongType { found, expected } => {
                write!(f, "expected {expected}, found {found}")
            }
            FaultKind::WrongLength { len, expected } => {
                write!(f, "expected {expected}, found {len} elements")
            }
            FaultKind::Message(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for Fault {}

impl de::Error for Fault {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Fault::new(FaultKind::Message(msg.to_string()))
    }

    fn invalid_type(unexpected: Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        Fault::new(FaultKind::WrongType {
            found: unexpected.into(),
            expected: Expected::Text(expected.to_string()),
        })
    }

    fn invalid_value(unexpected: Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        Self::invalid_type(unexpected, expected)
    }

    fn invalid_length(len: usize, expected: &dyn de::Expected) -> Self {
        Fault::new(FaultKind::WrongLength {
            len,
            expected: Expected::Text(expected.to_string()),
        })
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        Fault::new(FaultKind::UnknownName {
            name: variant.to_owned(),
            known: expected,
        })
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        Fault::new(FaultKind::UnknownKey {
            key: field.to_owned(),
            known: expected,
        })
    }

    fn missing_field(field: &'static str) -> Self {
        Fault::new(FaultKind::MissingKey(field))
    }
}

/// A node of the document.
#[derive(Clone, Copy)]
enum Node<'a> {
    Item(&'a Item),
    Value(&'a Value),
    Table(&'a toml_edit::Table),
}

/// A node's content, as serde sees it.
enum Content<'a> {
    Str(&'a str),
    Integer(i64),
    Float(f64),
    Bool(bool),
    Datetime(String),
    Array(Vec<Node<'a>>),
    Table(&'a dyn TableLike),
}

impl<'a> Node<'a> {
    fn content(self) -> Content<'a> {
        match self {
            Node::Table(table) => Content::Table(table),
            Node::Item(Item::Table(table)) => Content::Table(table),
            Node::Item(Item::ArrayOfTables(tables)) => {
                Content::Array(tables.iter().map(Node::Table).collect())
            }
            Node::Item(Item::Value(value)) => Node::Value(value).content(),
            // an absent item never reaches a reader: tables only hand out their entries
            Node::Item(Item::None) => Content::Array(Vec::new()),
            Node::Value(value) => match value {
                Value::String(s) => Content::Str(s.value()),
                Value::Integer(n) => Content::Integer(*n.value()),
                Value::Float(x) => Content::Float(*x.value()),
                Value::Boolean(b) => Content::Bool(*b.value()),
                Value::Datetime(d) => Content::Datetime(d.value().to_string()),
                Value::Array(items) => Content::Array(items.iter().map(Node::Value).collect()),
                Value::InlineTable(table) => Content::Table(table),
            },
        }
    }
}

impl Content<'_> {
    fn found(&self) -> Found {
        match self {
            Content::Str(s) => Found::Str((*s).to_owned()),
            Content::Integer(n) => Found::Integer(i128::from(*n)),
            Content::Float(x) => Found::Float(*x),
            Content::Bool(b) => Found::Bool(*b),
            Content::Datetime(text) => Found::Str(text.clone()),
            Content::Array(_) => Found::Array,
            Content::Table(_) => Found::Table,
        }
    }
}

/// Reads one node at `path`. `tag` is the key of a tagged table that holds the variant (it
/// is not one of the variant's fields).
struct Reader<'a> {
    node: Node<'a>,
    path: KeyPath,
    tag: Option<&'a str>,
}

impl<'a> Reader<'a> {
    /// Hands the node to `visitor`, and places what it raises here.
    fn read<'de, V: Visitor<'de>>(
        self,
        visitor: V,
        shape: Option<Shape>,
    ) -> Result<V::Value, Fault> {
        let result = match self.node.content() {
            Content::Str(s) => visitor.visit_str(s),
            Content::Integer(n) => visitor.visit_i64(n),
            Content::Float(x) => visitor.visit_f64(x),
            Content::Bool(b) => visitor.visit_bool(b),
            Content::Datetime(text) => visitor.visit_string(text),
            Content::Array(items) => visitor.visit_seq(Elements {
                items: items.into_iter().enumerate(),
                path: &self.path,
            }),
            Content::Table(table) => visitor.visit_map(Entries {
                entries: table.iter(),
                pending: None,
                path: &self.path,
                tag: self.tag,
            }),
        };
        result.map_err(|fault| fault.place(&self.path, Target::Value, shape))
    }

    fn fail<T>(&self, fault: Fault) -> Result<T, Fault> {
        Err(fault.place(&self.path, Target::Value, None))
    }
}

macro_rules! read_as {
    ($($method:ident => $shape:expr),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Fault> {
                self.read(visitor, Some($shape))
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for Reader<'_> {
    type Error = Fault;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Fault> {
        self.read(visitor, None)
    }

    read_as! {
        deserialize_bool => Shape::Bool,
        deserialize_u8 => Shape::Unsigned(Some(u8::MAX.into())),
        deserialize_u16 => Shape::Unsigned(Some(u16::MAX.into())),
        deserialize_u32 => Shape::Unsigned(Some(u32::MAX.into())),
        deserialize_u64 => Shape::Unsigned(None),
        deserialize_u128 => Shape::Unsigned(None),
        deserialize_i8 => Shape::Integer,
        deserialize_i16 => Shape::Integer,
        deserialize_i32 => Shape::Integer,
        deserialize_i64 => Shape::Integer,
        deserialize_i128 => Shape::Integer,
        deserialize_f32 => Shape::Number,
        deserialize_f64 => Shape::Number,
        deserialize_char => Shape::Str,
        deserialize_str => Shape::Str,
        deserialize_string => Shape::Str,
        deserialize_identifier => Shape::Str,
        deserialize_seq => Shape::Array,
        deserialize_map => Shape::Table,
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Fault> {
        self.read(visitor, Some(Shape::Table))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Fault> {
        self.read(visitor, Some(Shape::Array))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Fault> {
        self.read(visitor, Some(Shape::Array))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Fault> {
        // a key that is written is `Some`; TOML has no null
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Fault> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Fault> {
        let tagged = name.starts_with(|c: char| c.is_ascii_lowercase());
        match (tagged, self.node.content()) {
            (false, Content::Str(s)) => {
                let variant = s.into_deserializer();
                visitor
                    .visit_enum(variant)
                    .map_err(|fault: Fault| fault.place(&self.path, Target::Value, None))
            }
            (true, Content::Table(table)) => {
                let Some((key, item)) = table.get_key_value(name) else {
                    return self.fail(de::Error::missing_field(name));
                };
                let tag = Reader {
                    node: Node::Item(item),
                    path: self.path.key(key.get()),
                    tag: None,
                };
                let body = Reader {
                    tag: Some(name),
                    ..self
                };
                visitor.visit_enum(TaggedTable { tag, body })
            }
            (tagged, content) => {
                let shape = if tagged { Shape::Table } else { Shape::Str };
                self.fail(Fault::wrong_type(content.found(), shape))
            }
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Fault> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! { bytes byte_buf unit unit_struct }
}

/// The entries of a table, in file order, for a map or a struct.
struct Entries<'r, 'a> {
    entries: toml_edit::Iter<'a>,
    pending: Option<(&'a str, &'a Item)>,
    path: &'r KeyPath,
    tag: Option<&'a str>,
}

impl<'de> MapAccess<'de> for Entries<'_, '_> {
    type Error = Fault;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Fault> {
        let Some((key, item)) = self
            .entries
            .by_ref()
            .find(|(key, _)| Some(*key) != self.tag)
        else {
            return Ok(None);
        };
        self.pending = Some((key, item));
        let path = self.path.key(key);
        seed.deserialize(key.into_deserializer())
            .map(Some)
            .map_err(|fault: Fault| fault.place(&path, Target::Key, Some(Shape::Str)))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Fault> {
        let Some((key, item)) = self.pending.take() else {
            return Err(de::Error::custom("a value was read before its key"));
        };
        // what the value's own Deserialize raises after reading it belongs to the value too
        let path = self.path.key(key);
        seed.deserialize(Reader {
            node: Node::Item(item),
            path: path.clone(),
            tag: None,
        })
        .map_err(|fault| fault.place(&path, Target::Value, None))
    }
}

/// The elements of an array (or an array of tables).
struct Elements<'r, 'a> {
    items: std::iter::Enumerate<std::vec::IntoIter<Node<'a>>>,
    path: &'r KeyPath,
}

impl<'de> SeqAccess<'de> for Elements<'_, '_> {
    type Error = Fault;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Fault> {
        let Some((i, node)) = self.items.next() else {
            return Ok(None);
        };
        let path = self.path.index(i);
        seed.deserialize(Reader {
            node,
            path: path.clone(),
            tag: None,
        })
        .map(Some)
        .map_err(|fault| fault.place(&path, Target::Value, None))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// A table tagged by one of its keys: the tag names the variant, the other keys are its fields.
struct TaggedTable<'a> {
    tag: Reader<'a>,
    body: Reader<'a>,
}

impl<'de, 'a> EnumAccess<'de> for TaggedTable<'a> {
    type Error = Fault;
    type Variant = Reader<'a>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Reader<'a>), Fault> {
        let variant = seed.deserialize(self.tag)?;
        Ok((variant, self.body))
    }
}

impl<'de> VariantAccess<'de> for Reader<'_> {
    type Error = Fault;

    fn unit_variant(self) -> Result<(), Fault> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Fault> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Fault> {
        self.read(visitor, Some(Shape::Array))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Fault> {
        self.read(visitor, Some(Shape::Table))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    fn read<T: DeserializeOwned>(text: &str) -> Result<T, String> {
        let doc = toml_edit::ImDocument::parse(text.to_owned()).unwrap();
        from_document::<T>(&doc).map_err(|fault| {
            let fail = fault.into_fail();
            if fail.bare {
                fail.message
            } else {
                format!("{}: {}", fail.path.describe(), fail.message)
            }
        })
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Table {
        port: u16,
        #[serde(default)]
        names: Vec<String>,
        #[serde(default)]
        kind: Option<Kind>,
        #[serde(default)]
        mode: Option<Mode>,
        #[serde(default)]
        evens: Vec<Even>,
        #[serde(default)]
        even: Option<Even>,
    }

    /// A value whose own check runs after reading it.
    #[derive(Debug, PartialEq)]
    struct Even(u64);

    impl<'de> Deserialize<'de> for Even {
        fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let n = u64::deserialize(d)?;
            if n % 2 == 1 {
                return Err(de::Error::custom(format!("{n} is odd")));
            }
            Ok(Even(n))
        }
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename = "type", deny_unknown_fields)]
    enum Kind {
        Plain {},
        Sized { size: u8 },
    }

    #[derive(Debug, Deserialize, PartialEq)]
    enum Mode {
        #[serde(rename = "fast")]
        Fast,
    }

    #[test]
    fn reads_tables_tagged_tables_and_string_enums() {
        let t: Table = read(
            "port = 1\nnames = [\"a\"]\nmode = \"fast\"\n[kind]\ntype = \"Sized\"\nsize = 3\n",
        )
        .unwrap();
        assert_eq!(t.kind, Some(Kind::Sized { size: 3 }));
        assert_eq!(t.mode, Some(Mode::Fast));
        assert_eq!(t.names, ["a"]);
    }

    #[test]
    fn datetimes_are_read_as_their_text() {
        let v: serde_json::Value = read("when = 1979-05-27T07:32:00Z\n").unwrap();
        assert_eq!(v["when"], "1979-05-27T07:32:00Z");
    }

    #[test]
    fn faults_keep_their_parts_and_their_place() {
        let cases = [
            (
                "port = 70000\n",
                "port: expected an integer from 0 to 65535, found integer 70000",
            ),
            (
                "port = -1\n",
                "port: must not be negative, found integer -1",
            ),
            (
                "port = 1.5\n",
                "port: expected an integer from 0 to 65535, found number 1.5",
            ),
            (
                "port = 1\nnames = [\"a\", 2]\n",
                "names[1]: expected a string, found integer 2",
            ),
            (
                "port = 1\nnames = \"a\"\n",
                "names: expected an array, found string \"a\"",
            ),
            (
                "port = 1\nprot = 2\n",
                "unknown top-level key 'prot'; did you mean 'port'?",
            ),
            (
                "port = 1\nmode = \"slow\"\n",
                "mode: unknown mode 'slow'; expected one of: fast",
            ),
            (
                "port = 1\nmode = 1\n",
                "mode: expected a string, found integer 1",
            ),
            (
                "port = 1\nkind = \"Plain\"\n",
                "kind: expected a table, found string \"Plain\"",
            ),
            (
                "port = 1\n[kind]\nsize = 3\n",
                "missing key 'type' in [kind]",
            ),
            (
                "port = 1\n[kind]\ntype = \"Sizd\"\n",
                "[kind] type: unknown type 'Sizd'; did you mean 'Sized'?",
            ),
            (
                "port = 1\n[kind]\ntype = \"Sized\"\nsize = 256\n",
                "[kind] size: expected an integer from 0 to 255, found integer 256",
            ),
            (
                "port = 1\n[kind]\ntype = \"Plain\"\nsize = 2\n",
                "unknown key 'size' in [kind]",
            ),
            ("", "missing top-level key 'port'"),
            ("port = 1\neven = 3\n", "even: 3 is odd"),
            ("port = 1\nevens = [2, 5]\n", "evens[1]: 5 is odd"),
        ];
        for (text, expected) in cases {
            assert_eq!(read::<Table>(text).unwrap_err(), expected, "{text}");
        }
    }
}
