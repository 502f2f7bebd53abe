//! Secrets in the config: written inline, or read from an environment variable or a file at load
//! time; never printed.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::error::{Fail, KeyPath};

/// Where a secret comes from, as written in the config.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// `"text"`: written in the config itself.
    Inline,
    /// `{ env = "NAME" }`: the environment variable `NAME`.
    Env(String),
    /// `{ file = "path" }`: the content of a file (relative to the base directory), without
    /// its trailing newline.
    File(PathBuf),
}

impl SecretSource {
    /// The source a free-form value names: a one-key table `{ env = "NAME" }` or
    /// `{ file = "path" }`; `None` for anything else.
    pub(crate) fn written_as(value: &Value) -> Option<SecretSource> {
        let Value::Object(map) = value else {
            return None;
        };
        match map.iter().next() {
            Some((k, Value::String(v))) if map.len() == 1 && k == "env" => {
                Some(SecretSource::Env(v.clone()))
            }
            Some((k, Value::String(v))) if map.len() == 1 && k == "file" => {
                Some(SecretSource::File(PathBuf::from(v)))
            }
            _ => None,
        }
    }
}

/// Resolves every secret written inside free-form settings (a plugin's table), at any depth:
/// each `{ env = ... }` / `{ file = ... }` becomes its value in `table`. Returns the settings
/// as they may be shown to anyone: without those options (left out of tables and arrays).
pub(crate) fn resolve_within(
    table: &mut Map<String, Value>,
    path: &KeyPath,
    base_dir: &Path,
) -> Result<Map<String, Value>, Fail> {
    let mut public = Map::new();
    for (key, item) in table.iter_mut() {
        if let Some(shown) = resolve_value(item, &path.key(key), base_dir)? {
            public.insert(key.clone(), shown);
        }
    }
    Ok(public)
}

/// [`resolve_within`] for one value: `None` when the value is itself a secret.
fn resolve_value(
    value: &mut Value,
    path: &KeyPath,
    base_dir: &Path,
) -> Result<Option<Value>, Fail> {
    if let Some(source) = SecretSource::written_as(value) {
        let mut secret = Secret::unresolved(source);
        secret.resolve(path, base_dir)?;
        *value = Value::String(secret.value);
        return Ok(None);
    }
    Ok(Some(match value {
        Value::Object(map) => Value::Object(resolve_within(map, path, base_dir)?),
        Value::Array(items) => {
            let mut public = Vec::new();
            for (i, item) in items.iter_mut().enumerate() {
                public.extend(resolve_value(item, &path.index(i), base_dir)?);
            }
            Value::Array(public)
        }
        other => other.clone(),
    }))
}

/// A password, token or client secret. `Debug` and `Display` print `***`; use
/// [`Secret::expose`] where the value is really needed, and [`Secret::matches`] to check a
/// candidate without leaking timing.
#[derive(Clone)]
pub struct Secret {
    source: SecretSource,
    value: String,
}

impl Secret {
    /// A secret with a known value (for tests and code that builds configs by hand).
    pub fn new(value: impl Into<String>) -> Self {
        Secret {
            source: SecretSource::Inline,
            value: value.into(),
        }
    }

    /// A secret to read from `source` at load time.
    pub(crate) fn unresolved(source: SecretSource) -> Self {
        Secret {
            source,
            value: String::new(),
        }
    }

    /// The secret value.
    pub fn expose(&self) -> &str {
        &self.value
    }

    /// Where the value came from.
    pub fn source(&self) -> &SecretSource {
        &self.source
    }

    /// Whether `candidate` equals the secret, in time that depends only on the lengths.
    pub fn matches(&self, candidate: &[u8]) -> bool {
        constant_time_eq(self.value.as_bytes(), candidate)
    }

    /// Reads the value from the environment or the file it names. `path` is the key, for
    /// messages; `base_dir` resolves relative file names.
    pub(crate) fn resolve(&mut self, path: &KeyPath, base_dir: &Path) -> Result<(), Fail> {
        match &self.source {
            SecretSource::Inline => {}
            SecretSource::Env(name) => match std::env::var(name) {
                Ok(value) if value.is_empty() => {
                    return Err(Fail::at(
                        path.clone(),
                        format!("environment variable '{name}' is empty"),
                    ))
                }
                Ok(value) => self.value = value,
                Err(std::env::VarError::NotPresent) => {
                    return Err(Fail::at(
                        path.clone(),
                        format!("environment variable '{name}' is not set"),
                    ))
                }
                Err(std::env::VarError::NotUnicode(_)) => {
                    return Err(Fail::at(
                        path.clone(),
                        format!("environment variable '{name}' is not valid UTF-8"),
                    ))
                }
            },
            SecretSource::File(file) => {
                let full = base_dir.join(file);
                let text = std::fs::read_to_string(&full).map_err(|err| {
                    Fail::at(
                        path.clone(),
                        format!(
                            "cannot read secret file '{}': {}",
                            file.display(),
                            io_reason(&err)
                        ),
                    )
                })?;
                let value = text
                    .strip_suffix('\n')
                    .map(|t| t.strip_suffix('\r').unwrap_or(t))
                    .unwrap_or(&text);
                if value.is_empty() {
                    return Err(Fail::at(
                        path.clone(),
                        format!("secret file '{}' is empty", file.display()),
                    ));
                }
                self.value = value.to_owned();
            }
        }
        Ok(())
    }
}

/// An I/O error's reason without the `(os error N)` tail, lower-cased.
pub(crate) fn io_reason(err: &std::io::Error) -> String {
    let text = match err.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => err.to_string(),
    };
    let text = text
        .split(" (os error")
        .next()
        .unwrap_or_default()
        .to_owned();
    super::error::lower_first(&text)
}

/// Equality that looks at every byte of the longer input whatever the content.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let len = a.len().max(b.len());
    let mut diff = (a.len() ^ b.len()) as u64;
    for i in 0..len {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= u64::from(x ^ y);
    }
    std::hint::black_box(diff) == 0
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Inline => f.write_str("Inline"),
            SecretSource::Env(name) => write!(f, "Env({name:?})"),
            SecretSource::File(path) => write!(f, "File({path:?})"),
        }
    }
}

const EXPECTING: &str = "a string, { env = \"NAME\" } or { file = \"path\" }";

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SecretVisitor;

        impl<'de> Visitor<'de> for SecretVisitor {
            type Value = Secret;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(EXPECTING)
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Secret, E> {
                Ok(Secret::new(v))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Secret, E> {
                Ok(Secret::new(v))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Secret, A::Error> {
                let mut source = None;
                while let Some(key) = map.next_key::<String>()? {
                    if source.is_some() {
                        return Err(de::Error::custom(format!(
                            "a secret takes one key, 'env' or 'file'; found a second key '{key}'"
                        )));
                    }
                    source = Some(match key.as_str() {
                        "env" => {
                            let name: String = map.next_value()?;
                            if name.is_empty() {
                                return Err(de::Error::custom(
                                    "the environment variable name is empty",
                                ));
                            }
                            SecretSource::Env(name)
                        }
                        "file" => {
                            let file: String = map.next_value()?;
                            if file.is_empty() {
                                return Err(de::Error::custom("the secret file name is empty"));
                            }
                            SecretSource::File(PathBuf::from(file))
                        }
                        _ => return Err(de::Error::unknown_field(&key, &["env", "file"])),
                    });
                }
                match source {
                    Some(source) => Ok(Secret {
                        source,
                        value: String::new(),
                    }),
                    None => Err(de::Error::custom(format!("expected {EXPECTING}"))),
                }
            }
        }

        deserializer.deserialize_any(SecretVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_the_value() {
        let s = Secret::new("doh!");
        assert_eq!(format!("{s} {s:?}"), "*** ***");
        assert_eq!(s.expose(), "doh!");
    }

    #[test]
    fn compares() {
        let s = Secret::new("doh!");
        assert!(s.matches(b"doh!"));
        assert!(!s.matches(b"doh"));
        assert!(!s.matches(b"doh!!"));
        assert!(!s.matches(b"DOH!"));
        assert!(!s.matches(b""));
        assert!(Secret::new("").matches(b""));
    }

    #[test]
    fn reads_a_file_without_its_newline() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pw"), "s3cret\n").unwrap();
        let mut s: Secret = toml::from_str::<toml::Table>("x = { file = \"pw\" }")
            .unwrap()
            .remove("x")
            .unwrap()
            .try_into()
            .unwrap();
        s.resolve(&KeyPath::of(&["x"]), dir.path()).unwrap();
        assert_eq!(s.expose(), "s3cret");
        assert_eq!(s.source(), &SecretSource::File("pw".into()));
    }

    #[test]
    fn names_the_missing_variable() {
        let mut s = Secret {
            source: SecretSource::Env("BUILDBOT_WWW_SURELY_UNSET_1".into()),
            value: String::new(),
        };
        let err = s
            .resolve(&KeyPath::of(&["www", "x"]), Path::new("."))
            .unwrap_err();
        assert_eq!(
            err.message,
            "environment variable 'BUILDBOT_WWW_SURELY_UNSET_1' is not set"
        );
    }
}
