//! `[www] port`: an integer or a Twisted `tcp:` endpoint string, turned into an address.

use std::net::IpAddr;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// Where the web server listens.
#[derive(Debug, Clone, PartialEq)]
pub struct Port {
    /// Interface address to bind (`interface=`; `0.0.0.0` when unspecified, like Twisted).
    pub host: String,
    /// TCP port (`0` asks the system for a free one).
    pub port: u16,
    /// The value as written in the config (JSON number or string), for `/config`.
    pub text: serde_json::Value,
    /// `backlog=`: the listen queue length, when given.
    pub backlog: Option<u32>,
}

impl Port {
    /// `host:port`, with brackets around IPv6 addresses, ready for `bind`.
    pub fn socket_addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// `port` as written: a TOML integer or a string.
#[derive(Debug, Clone)]
pub(crate) enum RawPort {
    Number(i64),
    Text(String),
}

impl<'de> Deserialize<'de> for RawPort {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PortVisitor;

        impl Visitor<'_> for PortVisitor {
            type Value = RawPort;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a port number or an endpoint string such as \"tcp:8010\"")
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawPort, E> {
                Ok(RawPort::Number(v))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawPort, E> {
                Ok(RawPort::Number(i64::try_from(v).unwrap_or(i64::MAX)))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawPort, E> {
                Ok(RawPort::Text(v.to_owned()))
            }
        }

        deserializer.deserialize_any(PortVisitor)
    }
}

/// All interfaces, as Twisted binds when no `interface=` is given.
const ANY_INTERFACE: &str = "0.0.0.0";

impl RawPort {
    /// Checks the value and resolves it to an address. The error is the message to show.
    pub(crate) fn resolve(&self) -> Result<Port, String> {
        match self {
            RawPort::Number(n) => Ok(Port {
                host: ANY_INTERFACE.to_owned(),
                port: port_number(*n)?,
                text: serde_json::Value::from(*n),
                backlog: None,
            }),
            RawPort::Text(text) => parse_endpoint(text).map(|(host, port, backlog)| Port {
                host,
                port,
                text: serde_json::Value::from(text.clone()),
                backlog,
            }),
        }
    }
}

fn port_number(n: i64) -> Result<u16, String> {
    u16::try_from(n).map_err(|_| format!("port {n} is out of range (0 to 65535)"))
}

/// Splits on `:` that are not escaped with a backslash, unescaping `\:` and `\\`.
fn split_endpoint(text: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(next) => parts.last_mut().unwrap().push(next),
                None => parts.last_mut().unwrap().push('\\'),
            },
            ':' => parts.push(String::new()),
            _ => parts.last_mut().unwrap().push(c),
        }
    }
    parts
}

/// Parses `tcp:PORT[:interface=ADDR][:backlog=N]` (arguments may also be `port=PORT`).
fn parse_endpoint(text: &str) -> Result<(String, u16, Option<u32>), String> {
    let hint = "expected a port number or \"tcp:PORT[:interface=ADDRESS]\"";
    let parts = split_endpoint(text.trim());
    let kind = parts[0].trim();
    if kind.is_empty() || parts.len() == 1 {
        if kind.chars().all(|c| c.is_ascii_digit()) && !kind.is_empty() {
            return Err(format!(
                "'{text}' is a string; write the port as an integer ({kind}) or as \"tcp:{kind}\""
            ));
        }
        return Err(format!("'{text}' is not an endpoint; {hint}"));
    }
    if !kind.eq_ignore_ascii_case("tcp") {
        let why = match kind.to_ascii_lowercase().as_str() {
            "ssl" | "tls" => "; serve TLS from a reverse proxy in front of the server",
            "unix" => "; listen on TCP (a reverse proxy can bridge a unix socket)",
            "tcp6" => "; use \"tcp:PORT:interface=::\" for IPv6",
            _ => "",
        };
        return Err(format!(
            "endpoint type '{kind}' is not supported, only 'tcp'{why}"
        ));
    }
    let mut port: Option<u16> = None;
    let mut interface: Option<String> = None;
    let mut backlog: Option<u32> = None;
    let args = &parts[1..];
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        let (key, value) = match arg.split_once('=') {
            Some((k, v)) => (k.trim().to_owned(), v.trim().to_owned()),
            None if port.is_none() && interface.is_none() => ("port".to_owned(), arg.clone()),
            None => {
                return Err(format!(
                    "unexpected argument '{arg}' in endpoint '{text}'; {hint}"
                ))
            }
        };
        match key.as_str() {
            "port" => {
                if port.is_some() {
                    return Err(format!("endpoint '{text}' gives the port twice"));
                }
                let n: i64 = value
                    .parse()
                    .map_err(|_| format!("'{value}' is not a port number in endpoint '{text}'"))?;
                port = Some(port_number(n)?);
            }
            "interface" => {
                if interface.is_some() {
                    return Err(format!("endpoint '{text}' gives the interface twice"));
                }
                // Twisted wants the colons of an IPv6 address escaped (`\:`); accept them
                // unescaped too, since nothing else may follow `interface=` but `key=value`.
                let mut address = value;
                while i < args.len() && !args[i].contains('=') {
                    address.push(':');
                    address.push_str(&args[i]);
                    i += 1;
                }
                let parsed: IpAddr = address.parse().map_err(|_| {
                    format!("interface '{address}' is not an IPv4 or IPv6 address")
                })?;
                interface = Some(parsed.to_string());
            }
            "backlog" => {
                let n: u32 = value
                    .parse()
                    .map_err(|_| format!("backlog '{value}' is not a positive integer"))?;
                backlog = Some(n);
            }
            other => {
                return Err(format!(
                    "unknown endpoint argument '{other}' in '{text}'; a tcp endpoint takes port, interface and backlog"
                ))
            }
        }
    }
    let port = port.ok_or_else(|| format!("endpoint '{text}' has no port; {hint}"))?;
    Ok((
        interface.unwrap_or_else(|| ANY_INTERFACE.to_owned()),
        port,
        backlog,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Result<Port, String> {
        RawPort::Text(s.to_owned()).resolve()
    }

    #[test]
    fn integer_listens_everywhere() {
        let p = RawPort::Number(8010).resolve().unwrap();
        assert_eq!((p.host.as_str(), p.port), ("0.0.0.0", 8010));
        assert_eq!(p.text, serde_json::json!(8010));
        assert_eq!(p.socket_addr(), "0.0.0.0:8010");
    }

    #[test]
    fn endpoint_strings() {
        let p = text("tcp:8010").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("0.0.0.0", 8010));
        let p = text("tcp:8010:interface=127.0.0.1").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("127.0.0.1", 8010));
        assert_eq!(p.text, serde_json::json!("tcp:8010:interface=127.0.0.1"));
        let p = text("tcp:port=8010:interface=::1").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("::1", 8010));
        assert_eq!(p.socket_addr(), "[::1]:8010");
        let p = text(r"tcp:8011:interface=\:\:1:backlog=50").unwrap();
        assert_eq!(
            (p.host.as_str(), p.port, p.backlog),
            ("::1", 8011, Some(50))
        );
        let p = text("TCP:interface=10.0.0.1:port=80").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("10.0.0.1", 80));
    }

    #[test]
    fn rejects_other_endpoints_and_junk() {
        assert!(text("ssl:443")
            .unwrap_err()
            .contains("'ssl' is not supported"));
        assert!(text("unix:/tmp/s").unwrap_err().contains("'unix'"));
        assert!(text("8010")
            .unwrap_err()
            .contains("write the port as an integer"));
        assert!(text("tcp:").unwrap_err().contains("not a port number"));
        assert!(text("tcp:interface=127.0.0.1")
            .unwrap_err()
            .contains("no port"));
        assert!(text("tcp:99999").unwrap_err().contains("out of range"));
        assert!(text("tcp:80:interface=localhost")
            .unwrap_err()
            .contains("not an IPv4 or IPv6 address"));
        assert!(text("tcp:80:mode=1")
            .unwrap_err()
            .contains("unknown endpoint argument"));
        assert!(RawPort::Number(-1).resolve().is_err());
    }
}
