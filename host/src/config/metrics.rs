//! `[www.metrics]`: whether and where `/metrics` (Prometheus) is served, and to whom. See
//! docs/deployment.md, "Metrics".

use serde::Deserialize;

use super::error::{Fail, KeyPath};
use super::port::{Port, RawPort};

/// `[www.metrics]`, validated: who may read `/metrics`.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricsAccess {
    /// Neither `port` nor `role`: `/metrics` on the main port, for everyone.
    Open,
    /// `role`: `/metrics` on the main port, for users with this role (`[www.authz]
    /// roleMatchers`); others get 403.
    Role(String),
    /// `port`: `/metrics` on a listener of its own (nothing else is served there), for whoever
    /// reaches it; the main port answers 404.
    Port(Port),
}

/// `[www.metrics]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMetrics {
    #[serde(default)]
    port: Option<RawPort>,
    #[serde(default)]
    role: Option<String>,
}

impl RawMetrics {
    /// Checks the table; `main` is `[www] port`, which the metrics port must differ from.
    pub(super) fn validate(self, at: &KeyPath, main: Option<&Port>) -> Result<MetricsAccess, Fail> {
        match (self.port, self.role) {
            (Some(_), Some(_)) => Err(Fail::at(
                at.key("role"),
                "give either `port` (a listener of its own, for whoever reaches it) or `role` \
                 (the main port, for users with that role), not both",
            )),
            (None, Some(role)) => {
                if role.trim().is_empty() {
                    return Err(Fail::at(at.key("role"), "must not be empty"));
                }
                Ok(MetricsAccess::Role(role))
            }
            (Some(port), None) => {
                let port = port.resolve().map_err(|m| Fail::at(at.key("port"), m))?;
                if let Some(main) = main {
                    if port.port != 0 && port.port == main.port && overlaps(&port.host, &main.host)
                    {
                        return Err(Fail::at(
                            at.key("port"),
                            format!(
                                "port {} is [www] port; give the metrics listener a port of \
                                 its own, or leave `port` out to serve /metrics on the main port",
                                port.port
                            ),
                        ));
                    }
                }
                Ok(MetricsAccess::Port(port))
            }
            (None, None) => Ok(MetricsAccess::Open),
        }
    }
}

/// Whether two interfaces can collide on one port: the same address, or one of them all.
fn overlaps(a: &str, b: &str) -> bool {
    let any = |h: &str| h == "0.0.0.0" || h == "::";
    a == b || any(a) || any(b)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn parse(text: &str) -> Result<Option<MetricsAccess>, String> {
        crate::config::parse(text, Path::new("master.toml"))
            .map(|c| c.www.metrics)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn absent_empty_role_and_port() {
        assert_eq!(parse("").unwrap(), None);
        assert_eq!(parse("[www.metrics]\n").unwrap(), Some(MetricsAccess::Open));
        assert_eq!(
            parse("[www.metrics]\nrole = \"ops\"\n").unwrap(),
            Some(MetricsAccess::Role("ops".into()))
        );
        let Some(MetricsAccess::Port(port)) =
            parse("[www]\nport = 8010\n[www.metrics]\nport = \"tcp:9100:interface=127.0.0.1\"\n")
                .unwrap()
        else {
            panic!("a port")
        };
        assert_eq!((port.host.as_str(), port.port), ("127.0.0.1", 9100));
    }

    #[test]
    fn bad_values_are_refused_at_their_key() {
        for (text, expected) in [
            (
                "[www.metrics]\nport = 9100\nrole = \"ops\"\n",
                "master.toml:3:8: error: [www.metrics] role: give either `port`",
            ),
            (
                "[www.metrics]\nrole = \" \"\n",
                "[www.metrics] role: must not be empty",
            ),
            (
                "[www.metrics]\nport = \"tcp:x\"\n",
                "[www.metrics] port: 'x' is not a port number",
            ),
            (
                "[www]\nport = 8010\n[www.metrics]\nport = \"tcp:8010:interface=127.0.0.1\"\n",
                "[www.metrics] port: port 8010 is [www] port",
            ),
            (
                "[www.metrics]\npath = \"/m\"\n",
                "unknown key 'path' in [www.metrics]",
            ),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(expected), "{text}: {e}");
        }
        // Different interfaces may share a port number.
        assert!(parse(
            "[www]\nport = \"tcp:8010:interface=10.0.0.1\"\n\
             [www.metrics]\nport = \"tcp:8010:interface=127.0.0.1\"\n"
        )
        .is_ok());
    }
}
