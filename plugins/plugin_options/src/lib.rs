//! A plugin's options (`[www.plugins.<name>]`) deserialized with the SDK's
//! [`Config::parse`] into a `#[derive(Deserialize)]` struct, with every error naming the option
//! it is about, so that `buildbot-www check-config` points at its line.
//!
//! `Config::parse` names an unknown option, but a value of the wrong type comes out as serde
//! words it, without the option (`invalid type: string "x", expected i64`). [`parse`] adds it:
//! `option 'changes': invalid type: ...`. Range and other value checks come after parsing, in
//! the plugin, with [`out_of_range`] and [`Config::error`].

use std::fmt;

use buildbot_plugin_sdk::serde::de::{DeserializeOwned, Error as _};
use buildbot_plugin_sdk::serde::{Deserialize, Deserializer};
use buildbot_plugin_sdk::Config;

/// The options of `config` as a `T`: [`Config::parse`], with the option named in value errors.
///
/// ```
/// use buildbot_plugin_sdk::{serde::Deserialize, Config};
///
/// #[derive(Debug, Default, Deserialize)]
/// #[serde(crate = "buildbot_plugin_sdk::serde", deny_unknown_fields, default)]
/// struct Options {
///     limit: i64,
///     scale: String,
/// }
///
/// let config = Config::from_json("view", r#"{"limit": "x"}"#).unwrap();
/// assert_eq!(
///     plugin_options::parse::<Options>(&config).unwrap_err(),
///     "view: invalid config: option 'limit': invalid type: string \"x\", expected i64"
/// );
/// let config = Config::from_json("view", r#"{"limits": 3}"#).unwrap();
/// assert_eq!(
///     plugin_options::parse::<Options>(&config).unwrap_err(),
///     "view: unknown option 'limits' (expected one of: limit, scale)"
/// );
/// let config = Config::from_json("view", r#"{"limit": 3}"#).unwrap();
/// assert_eq!(plugin_options::parse::<Options>(&config).unwrap().limit, 3);
/// ```
pub fn parse<T: DeserializeOwned>(config: &Config) -> Result<T, String> {
    config.parse::<Named<T>>().map(|named| named.0)
}

/// The error text of an option whose value is outside what it accepts: `option '<name>' must
/// be <accepted>, not <value>`, naming the plugin.
///
/// ```
/// use buildbot_plugin_sdk::Config;
///
/// assert_eq!(
///     plugin_options::out_of_range(&Config::empty("view"), "limit", "from 1 to 1000", 0),
///     "view: option 'limit' must be from 1 to 1000, not 0"
/// );
/// ```
pub fn out_of_range(
    config: &Config,
    option: &str,
    accepted: impl fmt::Display,
    value: impl fmt::Display,
) -> String {
    config.error(format_args!(
        "option '{option}' must be {accepted}, not {value}"
    ))
}

/// A `T` whose deserialization errors name the option (the first segment of the path) they are
/// about; an error about the options as a whole (an unknown option) passes unchanged.
struct Named<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Named<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde_path_to_error::deserialize(deserializer)
            .map(Named)
            .map_err(|error| {
                let path = error.path().to_string();
                let inner = error.into_inner();
                match path.split_once('.') {
                    _ if path == "." => inner,
                    Some((option, below)) => {
                        D::Error::custom(format_args!("option '{option}': {below}: {inner}"))
                    }
                    None => D::Error::custom(format_args!("option '{path}': {inner}")),
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[derive(Debug, Default, Deserialize)]
    #[serde(crate = "buildbot_plugin_sdk::serde", deny_unknown_fields, default)]
    struct Options {
        flag: bool,
        scheme: BTreeMap<String, String>,
    }

    fn parsed(json: &str) -> Result<Options, String> {
        parse(&Config::from_json("p", json).unwrap())
    }

    #[test]
    fn errors_name_the_option_even_inside_a_table() {
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
}
