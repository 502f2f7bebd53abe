//! The keys a config table accepts, read from the serde struct that reads the table, so that a
//! key is declared once (its field in the `Raw*` struct) and every hint that lists keys follows.

use serde::de::{Deserialize, Deserializer, Error as _, Visitor};

/// The field names (after `rename`) that `T`'s derived `Deserialize` accepts; empty when `T`
/// is not read as a struct.
pub(crate) fn field_names<T: for<'de> Deserialize<'de>>() -> &'static [&'static str] {
    let mut found = None;
    let _ = T::deserialize(Probe(&mut found));
    found.unwrap_or(&[])
}

/// A deserializer that records the field list a struct asks for, then stops.
struct Probe<'a>(&'a mut Option<&'static [&'static str]>);

impl<'de> Deserializer<'de> for Probe<'_> {
    type Error = serde::de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        Err(Self::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = Some(fields);
        Err(Self::Error::custom("fields recorded"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Table {
        port: u16,
        #[serde(rename = "logfileName")]
        logfile_name: String,
    }

    #[test]
    fn reads_the_fields_a_struct_accepts() {
        assert_eq!(field_names::<Table>(), ["port", "logfileName"]);
        assert!(field_names::<u64>().is_empty());
        assert!(field_names::<std::collections::BTreeMap<String, u64>>().is_empty());
    }
}
