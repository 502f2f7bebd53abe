//! The client behind a reverse proxy: `[www] trusted_proxies` and the headers such a proxy
//! sets (`Forwarded`, `X-Forwarded-For`, `-Proto`, `-Host`, `-Prefix`, `X-Real-IP`).
//!
//! Only a request whose peer is a trusted proxy may name the client's address, scheme and
//! host; from anyone else these headers are ignored. Through a chain of proxies the client is
//! the first address, counting back from the peer, that is not itself a trusted proxy (an
//! address a client writes into the header it sends is never reached while a trusted proxy
//! appends after it).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName};
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

/// The networks whose requests may set the forwarded headers (`[www] trusted_proxies`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses the config's entries: addresses (`127.0.0.1`, `::1`) or networks
    /// (`10.0.0.0/8`). The error names the entry and says what was expected.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<TrustedProxies, (usize, String)> {
        entries
            .iter()
            .enumerate()
            .map(|(i, entry)| {
                let entry = entry.as_ref().trim();
                let net = match entry.parse::<IpAddr>() {
                    Ok(address) => Ok(IpNet::from(address)),
                    Err(_) => entry.parse::<IpNet>(),
                };
                net.map(|net| net.trunc()).map_err(|_| {
                    (
                        i,
                        format!(
                            "'{entry}' is not an IP address or network (e.g. \"127.0.0.1\", \
                             \"::1\", \"10.0.0.0/8\")"
                        ),
                    )
                })
            })
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }

    /// Whether no proxy is trusted (the default).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `address` is a trusted proxy (an IPv4 address written as IPv6, as a dual-stack
    /// listener sees it, counts as the IPv4 address).
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.0.iter().any(|net| net.contains(&address))
    }
}

/// Who sent a request, as far as this server can trust it: a request extension set by
/// [`resolve`] for every request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Client {
    /// The client's address: the peer's, or the one a trusted proxy forwarded. `None` when
    /// the connection's address is unknown (a router driven without a listener).
    pub address: Option<IpAddr>,
    /// Whether the client's request came over HTTPS, as a trusted proxy says.
    pub https: bool,
    /// The host the client asked for, as a trusted proxy says.
    pub host: Option<String>,
    /// The path the proxy serves this server under (`X-Forwarded-Prefix`), without the
    /// trailing `/`, as a trusted proxy says.
    pub prefix: Option<String>,
    /// Whether the peer is a trusted proxy.
    pub proxied: bool,
}

impl Client {
    /// The client of a request with these headers from `peer`.
    pub fn of(trusted: &TrustedProxies, peer: Option<IpAddr>, headers: &HeaderMap) -> Client {
        let Some(peer) = peer.map(|peer| peer.to_canonical()) else {
            return Client::default();
        };
        if !trusted.contains(peer) {
            return Client {
                address: Some(peer),
                ..Client::default()
            };
        }
        let forwarded = joined(headers, &axum::http::header::FORWARDED);
        let hops = match &forwarded {
            Some(value) => forwarded_hops(value),
            None => x_forwarded_hops(headers),
        };
        // Back from the peer: each hop's address counts while the one that reported it is
        // trusted.
        let mut address = peer;
        let mut chosen = None;
        for hop in hops.iter().rev() {
            if !trusted.contains(address) {
                break;
            }
            chosen = Some(hop);
            match hop.address {
                Some(next) => address = next,
                None => break,
            }
        }
        let (https, host) = match chosen {
            Some(hop) => (hop.https, hop.host.clone()),
            None => (false, None),
        };
        Client {
            address: Some(address),
            https,
            host,
            prefix: last_value(headers, "x-forwarded-prefix").and_then(prefix),
            proxied: true,
        }
    }

    /// The server's public root for absolute URLs (redirects): the configured `buildbotURL`
    /// when the config sets one; else, for a request through a trusted proxy that names the
    /// host, `<scheme>://<host><prefix>/`; else the default `buildbotURL`.
    pub fn public_root<'a>(
        &self,
        buildbot_url: &'a str,
        configured: bool,
    ) -> std::borrow::Cow<'a, str> {
        match (&self.host, configured) {
            (Some(host), false) => {
                let scheme = if self.https { "https" } else { "http" };
                let prefix = self.prefix.as_deref().unwrap_or("");
                format!("{scheme}://{host}{prefix}/").into()
            }
            _ => buildbot_url.into(),
        }
    }
}

/// The request's client: the one [`resolve`] found, else the connection's peer as is.
pub fn of_extensions(extensions: &axum::http::Extensions) -> Client {
    if let Some(client) = extensions.get::<Client>() {
        return client.clone();
    }
    Client {
        address: extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| peer.ip().to_canonical()),
        ..Client::default()
    }
}

/// Middleware putting the request's [`Client`] on it; layered outermost, so the access log and
/// every handler see the same client.
pub async fn resolve(
    State(trusted): State<Arc<TrustedProxies>>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip());
    let client = Client::of(&trusted, peer, request.headers());
    request.extensions_mut().insert(client);
    next.run(request).await
}

/// One proxy's report: the address it received the request from, its scheme and host.
#[derive(Debug, Default, PartialEq, Eq)]
struct Hop {
    address: Option<IpAddr>,
    https: bool,
    host: Option<String>,
}

/// The hops of RFC 7239's `Forwarded`: comma-separated elements of `;`-separated pairs.
fn forwarded_hops(value: &str) -> Vec<Hop> {
    split_outside_quotes(value, ',')
        .into_iter()
        .map(|element| {
            let mut hop = Hop::default();
            for pair in split_outside_quotes(element, ';') {
                let Some((key, value)) = pair.split_once('=') else {
                    continue;
                };
                let value = unquote(value.trim());
                match key.trim().to_ascii_lowercase().as_str() {
                    "for" => hop.address = node_address(&value),
                    "proto" => hop.https = value.eq_ignore_ascii_case("https"),
                    "host" => hop.host = host(&value),
                    _ => {}
                }
            }
            hop
        })
        .collect()
}

/// The hops of `X-Forwarded-For` (else `X-Real-IP`), with the scheme and host of
/// `X-Forwarded-Proto` and `X-Forwarded-Host`. These two are lists only when every proxy
/// appends to them; when their length matches the address list each hop takes its own, else
/// every hop takes the last value (the one the nearest proxy wrote).
fn x_forwarded_hops(headers: &HeaderMap) -> Vec<Hop> {
    let list = |name: &'static str| -> Vec<String> {
        joined(headers, &HeaderName::from_static(name))
            .map(|value| value.split(',').map(|v| v.trim().to_owned()).collect())
            .unwrap_or_default()
    };
    let mut addresses = list("x-forwarded-for");
    if addresses.is_empty() {
        addresses = list("x-real-ip");
    }
    let protos = list("x-forwarded-proto");
    let hosts = list("x-forwarded-host");
    let pick = |values: &[String], i: usize| -> Option<String> {
        if values.len() == addresses.len() {
            values.get(i).cloned()
        } else {
            values.last().cloned()
        }
    };
    (0..addresses.len())
        .map(|i| Hop {
            address: node_address(&addresses[i]),
            https: pick(&protos, i).is_some_and(|p| p.eq_ignore_ascii_case("https")),
            host: pick(&hosts, i).and_then(|h| host(&h)),
        })
        .collect()
}

/// Every value of header `name`, joined with `,` (a list may come in several lines); `None`
/// when absent or not text.
fn joined(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    let mut values = headers.get_all(name).iter().peekable();
    values.peek()?;
    let parts: Option<Vec<&str>> = values.map(|v| v.to_str().ok()).collect();
    Some(parts?.join(","))
}

/// The last value of a header that may be a list.
fn last_value(headers: &HeaderMap, name: &'static str) -> Option<String> {
    let value = joined(headers, &HeaderName::from_static(name))?;
    value.rsplit(',').next().map(|v| v.trim().to_owned())
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`,
/// `[2001:db8::1]:4711`; `None` for `unknown`, obfuscated names (`_hidden`) and anything else.
fn node_address(node: &str) -> Option<IpAddr> {
    let node = node.trim();
    if let Ok(address) = node.parse::<IpAddr>() {
        return Some(address.to_canonical());
    }
    if let Some(rest) = node.strip_prefix('[') {
        let (inside, _) = rest.split_once(']')?;
        return inside.parse::<IpAddr>().ok().map(|a| a.to_canonical());
    }
    node.parse::<SocketAddr>()
        .ok()
        .map(|a| a.ip().to_canonical())
}

/// A host as a client may send it in `Host` (name or address, optional port), else `None`:
/// nothing that could end or change a URL's authority.
fn host(value: &str) -> Option<String> {
    let value = value.trim();
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-.:[]_".contains(c);
    (!value.is_empty() && value.len() <= 255 && value.chars().all(allowed))
        .then(|| value.to_owned())
}

/// A path prefix (`/buildbot`, `/ci/bb/`) without its trailing `/`; `None` when empty or not
/// a plain path.
fn prefix(value: String) -> Option<String> {
    let trimmed = value.trim().trim_end_matches('/');
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-._~/%".contains(c);
    (trimmed.starts_with('/') && !trimmed.starts_with("//") && trimmed.chars().all(allowed))
        .then(|| trimmed.to_owned())
}

/// `s` split at `sep` where `sep` is not inside a quoted string.
fn split_outside_quotes(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                parts.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// A token or a quoted string's content.
fn unquote(value: &str) -> String {
    match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => {
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => out.extend(chars.next()),
                    c => out.push(c),
                }
            }
            out
        }
        None => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        map
    }

    fn trusted(entries: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(entries).unwrap()
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn entries_are_addresses_or_networks() {
        let t = trusted(&["127.0.0.1", "::1", "10.1.2.3/8"]);
        assert!(t.contains("10.200.0.1".parse().unwrap()));
        assert!(t.contains("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!t.contains("127.0.0.2".parse().unwrap()));
        let err = TrustedProxies::parse(&["127.0.0.1", "localhost"]).unwrap_err();
        assert_eq!(err.0, 1);
        assert!(err
            .1
            .contains("'localhost' is not an IP address or network"));
        assert!(TrustedProxies::parse(&["10.0.0.0/33"]).is_err());
    }

    #[test]
    fn an_untrusted_peer_sets_nothing() {
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "evil.example"),
            ("forwarded", "for=203.0.113.9;proto=https"),
        ]);
        let client = Client::of(&trusted(&["10.0.0.1"]), ip("192.0.2.7"), &h);
        assert_eq!(
            client,
            Client {
                address: ip("192.0.2.7"),
                ..Client::default()
            }
        );
        assert_eq!(
            Client::of(&TrustedProxies::default(), ip("10.0.0.1"), &h).address,
            ip("10.0.0.1")
        );
    }

    #[test]
    fn a_trusted_peer_names_the_client() {
        let h = headers(&[
            ("x-forwarded-for", "198.51.100.4"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "ci.example.org"),
            ("x-forwarded-prefix", "/buildbot/"),
        ]);
        let client = Client::of(&trusted(&["127.0.0.1"]), ip("127.0.0.1"), &h);
        assert_eq!(
            client,
            Client {
                address: ip("198.51.100.4"),
                https: true,
                host: Some("ci.example.org".into()),
                prefix: Some("/buildbot".into()),
                proxied: true,
            }
        );
        assert_eq!(
            client.public_root("http://localhost:8010/", false),
            "https://ci.example.org/buildbot/"
        );
        assert_eq!(
            client.public_root("https://bb.example/", true),
            "https://bb.example/"
        );
    }

    #[test]
    fn a_client_cannot_skip_a_trusted_proxy() {
        // The client wrote 10.0.0.5 itself; the proxy appended the client's real address.
        let h = headers(&[("x-forwarded-for", "10.0.0.5, 198.51.100.4")]);
        let client = Client::of(&trusted(&["127.0.0.1", "10.0.0.0/8"]), ip("127.0.0.1"), &h);
        assert_eq!(client.address, ip("198.51.100.4"));
        // Two trusted proxies in a row: the address before both.
        let h = headers(&[("x-forwarded-for", "198.51.100.4, 10.0.0.5")]);
        let client = Client::of(&trusted(&["127.0.0.1", "10.0.0.0/8"]), ip("127.0.0.1"), &h);
        assert_eq!(client.address, ip("198.51.100.4"));
        // Several header lines are one list.
        let h = headers(&[
            ("x-forwarded-for", "198.51.100.4"),
            ("x-forwarded-for", "10.0.0.5"),
        ]);
        let client = Client::of(&trusted(&["127.0.0.1", "10.0.0.0/8"]), ip("127.0.0.1"), &h);
        assert_eq!(client.address, ip("198.51.100.4"));
    }

    #[test]
    fn forwarded_takes_precedence_and_is_parsed_as_rfc_7239() {
        let h = headers(&[
            ("x-forwarded-for", "192.0.2.99"),
            (
                "forwarded",
                "for=\"[2001:db8::17]:4711\";proto=https;host=\"bb.example:8443\", for=10.0.0.5",
            ),
        ]);
        let client = Client::of(&trusted(&["127.0.0.1", "10.0.0.0/8"]), ip("127.0.0.1"), &h);
        assert_eq!(client.address, ip("2001:db8::17"));
        assert!(client.https);
        assert_eq!(client.host.as_deref(), Some("bb.example:8443"));
        // An unknown client: the last trusted hop's report, with the proxy's address.
        let h = headers(&[("forwarded", "for=unknown;proto=https")]);
        let client = Client::of(&trusted(&["127.0.0.1"]), ip("127.0.0.1"), &h);
        assert_eq!(client.address, ip("127.0.0.1"));
        assert!(client.https);
    }

    #[test]
    fn values_that_could_bend_a_url_are_ignored() {
        let h = headers(&[
            ("x-forwarded-for", "198.51.100.4"),
            ("x-forwarded-host", "evil.example/path?x"),
            ("x-forwarded-prefix", "//evil.example"),
        ]);
        let client = Client::of(&trusted(&["127.0.0.1"]), ip("127.0.0.1"), &h);
        assert_eq!(client.host, None);
        assert_eq!(client.prefix, None);
        assert_eq!(
            client.public_root("http://localhost:8010/", false),
            "http://localhost:8010/"
        );
        let h = headers(&[("x-forwarded-for", "not an address")]);
        let client = Client::of(&trusted(&["127.0.0.1"]), ip("127.0.0.1"), &h);
        assert_eq!(client.address, ip("127.0.0.1"));
    }

    #[test]
    fn aligned_lists_give_each_hop_its_own_scheme() {
        let h = headers(&[
            ("x-forwarded-for", "198.51.100.4, 10.0.0.5"),
            ("x-forwarded-proto", "https, http"),
        ]);
        let client = Client::of(&trusted(&["127.0.0.1", "10.0.0.0/8"]), ip("127.0.0.1"), &h);
        assert!(client.https);
        let h = headers(&[("x-real-ip", "198.51.100.4")]);
        let client = Client::of(&trusted(&["127.0.0.1"]), ip("127.0.0.1"), &h);
        assert_eq!(client.address, ip("198.51.100.4"));
    }
}
