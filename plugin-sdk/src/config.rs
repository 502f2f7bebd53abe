//! A plugin's config (`[www.plugins.<name>]`) with checks that produce clear error texts.

use std::fmt;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// The plugin's options from `[www.plugins.<name>]`, a JSON object (empty when the plugin is
/// enabled with `true`).
///
/// The accessors return error texts that name the plugin and the option, ready to be returned
/// from [`Plugin::init`](crate::Plugin::init):
///
/// ```
/// use buildbot_plugin_sdk::Config;
///
/// let config = Config::from_json("hello", r#"{"greeting": 3, "colour": "red"}"#).unwrap();
/// assert_eq!(
///     config.deny_unknown(&["greeting"]).unwrap_err(),
///     "hello: unknown option 'colour' (expected one of: greeting)"
/// );
/// assert_eq!(
///     config.string("greeting").unwrap_err(),
///     "hello: option 'greeting' must be a string, not 3"
/// );
/// ```
///
/// Or deserialize the whole table into a struct with [`Config::parse`].
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    plugin: String,
    values: Map<String, Value>,
}

impl Config {
    /// A config with the given options, for the plugin named `plugin`.
    pub fn new(plugin: impl Into<String>, values: Map<String, Value>) -> Config {
        Config {
            plugin: plugin.into(),
            values,
        }
    }

    /// A config without options (the plugin enabled with `true`).
    pub fn empty(plugin: impl Into<String>) -> Config {
        Config::new(plugin, Map::new())
    }

    /// Parses the JSON text the server passes to `init`; it must be an object.
    ///
    /// ```
    /// # use buildbot_plugin_sdk::Config;
    /// assert!(Config::from_json("p", "{}").unwrap().is_empty());
    /// assert_eq!(Config::from_json("p", "3").unwrap_err(), "p: the config must be a JSON object, not 3");
    /// ```
    pub fn from_json(plugin: &str, text: &str) -> Result<Config, String> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| format!("{plugin}: the config is not valid JSON: {e}"))?;
        match value {
            Value::Object(values) => Ok(Config::new(plugin, values)),
            other => Err(format!(
                "{plugin}: the config must be a JSON object, not {other}"
            )),
        }
    }

    /// The plugin's name, as used in error texts.
    pub fn plugin(&self) -> &str {
        &self.plugin
    }

    /// All options.
    pub fn values(&self) -> &Map<String, Value> {
        &self.values
    }

    /// Whether there are no options.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The raw value of an option.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.values.get(key)
    }

    /// An error text about this plugin's config: `"<plugin>: <message>"`.
    pub fn error(&self, message: impl fmt::Display) -> String {
        format!("{}: {message}", self.plugin)
    }

    /// Fails on the first option whose name is not in `known`.
    pub fn deny_unknown(&self, known: &[&str]) -> Result<(), String> {
        match self
            .values
            .keys()
            .find(|key| !known.contains(&key.as_str()))
        {
            None => Ok(()),
            Some(key) if known.is_empty() => Err(self.error(format_args!(
                "unknown option '{key}' (the plugin takes none)"
            ))),
            Some(key) => Err(self.error(format_args!(
                "unknown option '{key}' (expected one of: {})",
                known.join(", ")
            ))),
        }
    }

    /// A string option; `Ok(None)` when it is absent.
    pub fn string(&self, key: &str) -> Result<Option<&str>, String> {
        match self.values.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.wrong_type(key, "a string", other)),
        }
    }

    /// A string option, or `default` when it is absent.
    pub fn string_or(&self, key: &str, default: &str) -> Result<String, String> {
        Ok(self.string(key)?.unwrap_or(default).to_owned())
    }

    /// A boolean option; `Ok(None)` when it is absent.
    pub fn bool(&self, key: &str) -> Result<Option<bool>, String> {
        match self.values.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(self.wrong_type(key, "true or false", other)),
        }
    }

    /// An integer option; `Ok(None)` when it is absent.
    pub fn integer(&self, key: &str) -> Result<Option<i64>, String> {
        match self.values.get(key) {
            None => Ok(None),
            Some(value) => value
                .as_i64()
                .map(Some)
                .ok_or_else(|| self.wrong_type(key, "an integer", value)),
        }
    }

    /// A boolean option, or `default` when it is absent.
    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool, String> {
        Ok(self.bool(key)?.unwrap_or(default))
    }

    /// An integer option, or `default` when it is absent.
    pub fn int_or(&self, key: &str, default: i64) -> Result<i64, String> {
        Ok(self.integer(key)?.unwrap_or(default))
    }

    /// A number option (integer or float); `Ok(None)` when it is absent.
    pub fn number(&self, key: &str) -> Result<Option<f64>, String> {
        match self.values.get(key) {
            None => Ok(None),
            Some(value) => value
                .as_f64()
                .map(Some)
                .ok_or_else(|| self.wrong_type(key, "a number", value)),
        }
    }

    /// Deserializes all options into `T`, a struct deriving `Deserialize`: the options are
    /// named once, by its fields. An option that is not one of its fields is refused (as the
    /// server's own config refuses unknown keys), with or without
    /// `#[serde(deny_unknown_fields)]`; give optional fields `#[serde(default)]`.
    ///
    /// ```
    /// use buildbot_plugin_sdk::{serde::Deserialize, Config};
    ///
    /// #[derive(Debug, Deserialize)]
    /// #[serde(crate = "buildbot_plugin_sdk::serde")]
    /// struct Options {
    ///     #[serde(default)]
    ///     limit: u32,
    /// }
    ///
    /// let config = Config::from_json("p", r#"{"limit": 20}"#).unwrap();
    /// assert_eq!(config.parse::<Options>().unwrap().limit, 20);
    /// let config = Config::from_json("p", r#"{"limits": 20}"#).unwrap();
    /// assert_eq!(
    ///     config.parse::<Options>().unwrap_err(),
    ///     "p: unknown option 'limits' (expected one of: limit)"
    /// );
    /// let config = Config::from_json("p", r#"{"limit": "x"}"#).unwrap();
    /// assert_eq!(
    ///     config.parse::<Options>().unwrap_err(),
    ///     "p: invalid config: option 'limit': invalid type: string \"x\", expected u32"
    /// );
    /// ```
    /// Every error names the option it is about (`option 'limit': ...`, or the one at fault in
    /// a table: `option 'scheme': success: ...`), which is how `buildbot-www check-config` finds
    /// the option's line in the config file.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, String> {
        serde_path_to_error::deserialize(Strict(Value::Object(self.values.clone()))).map_err(
            |error| {
                let path = error.path().to_string();
                let message = error.into_inner().to_string();
                if message.starts_with(UNKNOWN_OPTION) {
                    return self.error(format_args!("{message}"));
                }
                match path.split_once('.') {
                    _ if path == "." => self.error(format_args!("invalid config: {message}")),
                    Some((option, below)) => self.error(format_args!(
                        "invalid config: option '{option}': {below}: {message}"
                    )),
                    None => self.error(format_args!("invalid config: option '{path}': {message}")),
                }
            },
        )
    }

    /// The error text of an option whose value is outside what it accepts, for the checks a
    /// plugin makes after [`Config::parse`]: `<plugin>: option '<name>' must be <accepted>, not
    /// <value>`.
    ///
    /// ```
    /// use buildbot_plugin_sdk::Config;
    ///
    /// assert_eq!(
    ///     Config::empty("view").out_of_range("limit", "from 1 to 1000", 0),
    ///     "view: option 'limit' must be from 1 to 1000, not 0"
    /// );
    /// ```
    pub fn out_of_range(
        &self,
        option: &str,
        accepted: impl fmt::Display,
        value: impl fmt::Display,
    ) -> String {
        self.error(format_args!(
            "option '{option}' must be {accepted}, not {value}"
        ))
    }

    fn wrong_type(&self, key: &str, expected: &str, got: &Value) -> String {
        self.error(format_args!("option '{key}' must be {expected}, not {got}"))
    }
}

/// How [`Strict`]'s refusal of an option begins.
const UNKNOWN_OPTION: &str = "unknown option '";

/// The options as a deserializer that refuses keys the struct being built has no field for:
/// serde names the fields when it asks for a struct.
struct Strict(Value);

impl<'de> serde::Deserializer<'de> for Strict {
    type Error = serde_json::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        serde::Deserializer::deserialize_any(self.0, visitor)
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        if let Value::Object(values) = &self.0 {
            if let Some(key) = values.keys().find(|key| !fields.contains(&key.as_str())) {
                return Err(serde::de::Error::custom(format_args!(
                    "{UNKNOWN_OPTION}{key}' (expected one of: {})",
                    fields.join(", ")
                )));
            }
        }
        serde::Deserializer::deserialize_struct(self.0, name, fields, visitor)
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

    #[derive(Debug, Default, serde::Deserialize)]
    #[serde(deny_unknown_fields, default)]
    struct Options {
        flag: bool,
        scheme: std::collections::BTreeMap<String, String>,
    }

    fn parsed(json: &str) -> Result<Options, String> {
        Config::from_json("p", json).unwrap().parse()
    }

    #[test]
    fn parse_errors_name_the_option_even_inside_a_table() {
        assert_eq!(
            parsed(r#"{"flag": "yes"}"#).unwrap_err(),
            "p: invalid config: option 'flag': invalid type: string \"yes\", expected a boolean"
        );
        assert_eq!(
            parsed(r#"{"scheme": {"success": 3}}"#).unwrap_err(),
            "p: invalid config: option 'scheme': success: invalid type: integer `3`, expected a string"
        );
        assert_eq!(
            parsed(r#"{"scheme": 3}"#).unwrap_err(),
            "p: invalid config: option 'scheme': invalid type: integer `3`, expected a map"
        );
        assert_eq!(
            parsed(r#"{"flag": true, "colour": 1}"#).unwrap_err(),
            "p: unknown option 'colour' (expected one of: flag, scheme)"
        );
        let options = parsed(r#"{"scheme": {"success": "green"}}"#).unwrap();
        assert!(!options.flag);
        assert_eq!(options.scheme["success"], "green");
    }

    #[test]
    fn typed_accessors() {
        let config =
            Config::from_json("p", r#"{"s": "x", "b": true, "i": 3, "f": 1.5, "n": null}"#)
                .unwrap();
        assert_eq!(config.string("s").unwrap(), Some("x"));
        assert_eq!(config.string("missing").unwrap(), None);
        assert_eq!(config.string_or("missing", "d").unwrap(), "d");
        assert_eq!(config.bool("b").unwrap(), Some(true));
        assert_eq!(config.integer("i").unwrap(), Some(3));
        assert_eq!(config.int_or("missing", 9).unwrap(), 9);
        assert_eq!(config.int_or("i", 9).unwrap(), 3);
        assert!(config.bool_or("missing", true).unwrap());
        assert_eq!(config.number("f").unwrap(), Some(1.5));
        assert_eq!(config.number("i").unwrap(), Some(3.0));
        assert_eq!(
            config.integer("f").unwrap_err(),
            "p: option 'f' must be an integer, not 1.5"
        );
        assert_eq!(
            config.bool("n").unwrap_err(),
            "p: option 'n' must be true or false, not null"
        );
        assert_eq!(
            Config::empty("p").deny_unknown(&[]),
            Ok(()),
            "no options, none known"
        );
        assert_eq!(
            config.deny_unknown(&[]).unwrap_err(),
            "p: unknown option 's' (the plugin takes none)"
        );
        assert!(Config::from_json("p", "{")
            .unwrap_err()
            .starts_with("p: the config is not valid JSON"));
    }
}
