//! Trusting a reverse proxy: `server.forwarded_allow_ips` (gunicorn's
//! `--forwarded-allow-ips`) names the peers whose `Forwarded` (RFC 7239) or
//! `X-Forwarded-For` / `X-Forwarded-Proto` / `X-Forwarded-Host` headers describe the
//! client. From such a peer the request is corrected before anything else sees it:
//! the remote address (`REMOTE_ADDR`, `request.remote`), the scheme (`wsgi.url_scheme`,
//! `request.base`) and the `Host` header (`HTTP_HOST`, `SERVER_NAME`). From any other
//! peer the headers are left as they came and mean nothing.
//!
//! A chain of proxies is walked from the right (the hop nearest to us) past every
//! trusted address: the first untrusted address is the client (so a client cannot
//! choose its address by sending `X-Forwarded-For` through the proxy).

use std::net::{IpAddr, SocketAddr};

use http::header::{HeaderMap, HeaderName, HeaderValue, HOST};

/// The peers trusted to report the client (`server.forwarded_allow_ips`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trusted {
    all: bool,
    nets: Vec<(IpAddr, u8)>,
}

impl Default for Trusted {
    /// No peer is trusted (CherryPy's behaviour: the headers mean nothing to the server).
    fn default() -> Self {
        Trusted {
            all: false,
            nets: Vec::new(),
        }
    }
}

impl Trusted {
    /// Parses a comma-separated list of addresses and networks (`10.0.0.0/8`,
    /// `fd00::/8`); `*` trusts every peer, an empty list none. The error says which
    /// entry is wrong.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut trusted = Trusted {
            all: false,
            nets: Vec::new(),
        };
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if entry == "*" {
                trusted.all = true;
                continue;
            }
            let (addr, bits) = match entry.split_once('/') {
                Some((addr, bits)) => (addr, Some(bits)),
                None => (entry, None),
            };
            let ip: IpAddr = addr.trim_matches(['[', ']']).parse().map_err(|_| {
                format!("{entry:?} is not an IP address or network (e.g. 10.0.0.1, 10.0.0.0/8, ::1, or *)")
            })?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let prefix = match bits {
                None => max,
                Some(bits) => match bits.parse::<u8>() {
                    Ok(n) if n <= max => n,
                    _ => return Err(format!("{entry:?}: the prefix length must be 0 to {max}")),
                },
            };
            trusted.nets.push((ip, prefix));
        }
        Ok(trusted)
    }

    /// Whether no peer at all is trusted (an empty list).
    pub fn is_none(&self) -> bool {
        !self.all && self.nets.is_empty()
    }

    /// Whether a peer at `ip` is trusted (an IPv4-mapped IPv6 address as its IPv4 one).
    pub fn contains(&self, ip: IpAddr) -> bool {
        if self.all {
            return true;
        }
        let ip = canonical(ip);
        self.nets
            .iter()
            .any(|&(net, prefix)| in_network(ip, canonical(net), prefix))
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

fn in_network(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    let (a, b, width): (u128, u128, u32) = match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u32::from(a).into(), u32::from(b).into(), 32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128),
        _ => return false,
    };
    let shift = width - u32::from(prefix);
    if shift >= width {
        return true;
    }
    (a >> shift) == (b >> shift)
}

/// What a trusted proxy said about the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    /// The client's address (port 0 when the proxy did not give one).
    pub remote: SocketAddr,
    /// `"http"` or `"https"` when the proxy said which; `None` keeps the connection's.
    pub scheme: Option<&'static str>,
}

/// Corrects the request from a trusted `peer` (`trusted_socket`: the connection came
/// through `server.socket_file`, which only local processes can reach, so it is trusted
/// whenever anyone is): returns the client and puts the forwarded host in the `Host`
/// header — in place of the one Host header, or where there is none only when
/// `host_optional` (HTTP/2, whose authority is in the request target): a request
/// without the Host that HTTP/1.1 requires is left for the framing check (RFC 9112
/// §3.2). From an untrusted peer, or without forwarding headers, the peer is the client
/// and nothing changes.
pub fn apply(
    trusted: &Trusted,
    trusted_socket: bool,
    peer: SocketAddr,
    headers: &mut HeaderMap,
    host_optional: bool,
) -> Client {
    let unchanged = Client {
        remote: peer,
        scheme: None,
    };
    let believed = if trusted_socket {
        !trusted.is_none()
    } else {
        trusted.contains(peer.ip())
    };
    if !believed {
        return unchanged;
    }
    // Most requests, even from a trusted peer, carry none of these: one pass over the
    // names instead of a lookup of each.
    let forwarding = headers.keys().any(|name| {
        name == FORWARDED
            || name == X_FORWARDED_FOR
            || name == X_FORWARDED_PROTO
            || name == X_FORWARDED_HOST
    });
    if !forwarding {
        return unchanged;
    }
    let hop = if headers.contains_key(FORWARDED) {
        from_forwarded(trusted, headers)
    } else {
        from_x_forwarded(trusted, headers)
    };
    let Some(hop) = hop else {
        return unchanged;
    };
    if let Some(host) = hop.host.filter(|h| valid_host(h)) {
        // Two Host headers (or none on HTTP/1.1) stay as they are: the framing check
        // answers 400.
        let hosts = headers.get_all(HOST).iter().count();
        if hosts == 1 || (hosts == 0 && host_optional) {
            if let Ok(value) = HeaderValue::from_str(&host) {
                headers.insert(HOST, value);
            }
        }
    }
    Client {
        remote: hop.remote.unwrap_or(peer),
        scheme: hop.scheme,
    }
}

const FORWARDED: HeaderName = HeaderName::from_static("forwarded");
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// The hop that describes the client.
#[derive(Debug, Default, PartialEq, Eq)]
struct Hop {
    remote: Option<SocketAddr>,
    scheme: Option<&'static str>,
    host: Option<String>,
}

/// Every value of `name`, comma-separated lists split, in order.
fn list(headers: &HeaderMap, name: &HeaderName) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect()
}

fn scheme(value: &str) -> Option<&'static str> {
    match value.to_ascii_lowercase().as_str() {
        "https" | "wss" => Some("https"),
        "http" | "ws" => Some("http"),
        _ => None,
    }
}

/// A node: `192.0.2.1`, `192.0.2.1:8080`, `[2001:db8::1]:4711`, `2001:db8::1`.
fn node(value: &str) -> Option<SocketAddr> {
    let value = value.trim().trim_matches('"');
    if let Ok(addr) = value.parse::<SocketAddr>() {
        return Some(addr);
    }
    let bare = value.strip_prefix('[').and_then(|v| v.strip_suffix(']'));
    bare.unwrap_or(value)
        .parse::<IpAddr>()
        .ok()
        .map(|ip| SocketAddr::new(ip, 0))
}

/// Index of the client in a chain of nodes (right to left, past trusted addresses);
/// `None` for an empty chain.
fn client_index(trusted: &Trusted, nodes: &[Option<SocketAddr>]) -> Option<usize> {
    let mut chosen = None;
    for (i, n) in nodes.iter().enumerate().rev() {
        chosen = Some(i);
        match n {
            Some(addr) if trusted.contains(addr.ip()) => continue,
            // An untrusted address, or an obfuscated/unknown node: the client.
            _ => break,
        }
    }
    chosen
}

fn from_x_forwarded(trusted: &Trusted, headers: &HeaderMap) -> Option<Hop> {
    let chain: Vec<Option<SocketAddr>> = list(headers, &X_FORWARDED_FOR)
        .iter()
        .map(|v| node(v))
        .collect();
    let proto = list(headers, &X_FORWARDED_PROTO);
    let host = list(headers, &X_FORWARDED_HOST);
    if chain.is_empty() && proto.is_empty() && host.is_empty() {
        return None;
    }
    Some(Hop {
        remote: client_index(trusted, &chain).and_then(|i| chain[i]),
        // The nearest proxy's (last) value: the one a trusted proxy set.
        scheme: proto.last().and_then(|p| scheme(p)),
        host: host.last().cloned(),
    })
}

/// RFC 7239 §4: `Forwarded: for=192.0.2.60;proto=https;host=example.com, for=...`.
fn from_forwarded(trusted: &Trusted, headers: &HeaderMap) -> Option<Hop> {
    let mut elements: Vec<Vec<(String, String)>> = Vec::new();
    for value in headers.get_all(FORWARDED).iter() {
        let Ok(text) = value.to_str() else {
            return None;
        };
        for element in split_unquoted(text, ',') {
            let mut pairs = Vec::new();
            for pair in split_unquoted(&element, ';') {
                let Some((name, value)) = pair.split_once('=') else {
                    continue;
                };
                pairs.push((name.trim().to_ascii_lowercase(), unquote(value.trim())));
            }
            elements.push(pairs);
        }
    }
    let get = |element: &Vec<(String, String)>, key: &str| {
        element
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, v)| v.clone())
    };
    let chain: Vec<Option<SocketAddr>> = elements
        .iter()
        .map(|e| get(e, "for").and_then(|v| node(&v)))
        .collect();
    let index = client_index(trusted, &chain)?;
    // The element the proxy that received the client's request added: its proto and
    // host are what the client asked for.
    let element = &elements[index];
    Some(Hop {
        remote: chain[index],
        scheme: get(element, "proto").and_then(|p| scheme(&p)),
        host: get(element, "host"),
    })
}

/// Splits on `sep` outside double-quoted strings (RFC 7230 §3.2.6 quoted-string).
fn split_unquoted(text: &str, sep: char) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for c in text.chars() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == sep && !quoted {
            parts.push(std::mem::take(&mut current));
            continue;
        }
        current.push(c);
    }
    parts.push(current);
    parts
        .into_iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

fn unquote(value: &str) -> String {
    match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => {
            let mut out = String::with_capacity(inner.len());
            let mut escaped = false;
            for c in inner.chars() {
                if !escaped && c == '\\' {
                    escaped = true;
                    continue;
                }
                escaped = false;
                out.push(c);
            }
            out
        }
        None => value.to_string(),
    }
}

/// RFC 9110 §7.2: a host and optional port, as a Host header must be (a forwarded host
/// becomes the Host header and `request.base`); never empty here.
fn valid_host(host: &str) -> bool {
    !host.is_empty() && host.len() <= 255 && crate::uri::valid_host(host.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `cherrypy-rs` command's default (gunicorn's): proxies on this machine.
    fn local() -> Trusted {
        Trusted::parse("127.0.0.1,::1").expect("parse")
    }

    fn peer(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().expect("ip"), 40000)
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).expect("value"));
        }
        map
    }

    #[test]
    fn the_allow_list_parses_addresses_networks_and_star() {
        let t = Trusted::parse("10.0.0.0/8, ::1,192.0.2.7").expect("parse");
        assert!(t.contains("10.1.2.3".parse().expect("ip")));
        assert!(t.contains("::1".parse().expect("ip")));
        assert!(t.contains("::ffff:192.0.2.7".parse().expect("ip")));
        assert!(!t.contains("11.0.0.1".parse().expect("ip")));
        assert!(!t.contains("127.0.0.1".parse().expect("ip")));
        assert!(Trusted::parse("*")
            .expect("star")
            .contains("203.0.113.9".parse().expect("ip")));
        assert!(!Trusted::parse("")
            .expect("empty")
            .contains("127.0.0.1".parse().expect("ip")));
        assert!(local().contains("127.0.0.1".parse().expect("ip")));
        assert!(!Trusted::default().contains("127.0.0.1".parse().expect("ip")));
        let err = Trusted::parse("10.0.0.0/33").expect_err("prefix");
        assert!(err.contains("0 to 32"), "{err}");
        let err = Trusted::parse("localhost").expect_err("name");
        assert!(err.contains("\"localhost\""), "{err}");
    }

    #[test]
    fn x_forwarded_headers_from_a_trusted_peer_describe_the_client() {
        let mut h = headers(&[
            ("host", "backend:8080"),
            ("x-forwarded-for", "203.0.113.5"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "www.example.com"),
        ]);
        let client = apply(&local(), false, peer("127.0.0.1"), &mut h, false);
        assert_eq!(client.remote, "203.0.113.5:0".parse().expect("addr"));
        assert_eq!(client.scheme, Some("https"));
        assert_eq!(h[HOST], "www.example.com");
    }

    #[test]
    fn nothing_changes_for_an_untrusted_peer() {
        let mut h = headers(&[
            ("host", "backend:8080"),
            ("x-forwarded-for", "203.0.113.5"),
            ("x-forwarded-proto", "https"),
            ("forwarded", "for=198.51.100.1;proto=https;host=evil"),
        ]);
        let p = peer("192.0.2.1");
        let client = apply(&local(), false, p, &mut h, false);
        assert_eq!(
            client,
            Client {
                remote: p,
                scheme: None
            }
        );
        assert_eq!(h[HOST], "backend:8080");
    }

    #[test]
    fn a_chain_is_walked_from_the_right_past_trusted_proxies() {
        let trusted = Trusted::parse("127.0.0.1,10.0.0.0/8").expect("parse");
        // The client claimed 1.2.3.4; the first proxy saw 203.0.113.5.
        let mut h = headers(&[("x-forwarded-for", "1.2.3.4, 203.0.113.5, 10.0.0.2")]);
        let client = apply(&trusted, false, peer("127.0.0.1"), &mut h, false);
        assert_eq!(client.remote.ip().to_string(), "203.0.113.5");
        // All trusted: the leftmost.
        let mut h = headers(&[("x-forwarded-for", "10.0.0.3, 10.0.0.2")]);
        let client = apply(&trusted, false, peer("127.0.0.1"), &mut h, false);
        assert_eq!(client.remote.ip().to_string(), "10.0.0.3");
    }

    #[test]
    fn rfc7239_forwarded_with_quoted_ipv6_and_ports() {
        let mut h = headers(&[
            ("host", "backend"),
            (
                "forwarded",
                r#"for="[2001:db8:cafe::17]:4711";proto=https;host="example.com:8443", for=127.0.0.1;proto=http"#,
            ),
        ]);
        let client = apply(&local(), false, peer("::1"), &mut h, false);
        assert_eq!(
            client.remote,
            "[2001:db8:cafe::17]:4711".parse().expect("addr")
        );
        assert_eq!(client.scheme, Some("https"));
        assert_eq!(h[HOST], "example.com:8443");
        // Forwarded wins over X-Forwarded-*; an obfuscated node is the client, unknown.
        let mut h = headers(&[
            ("forwarded", "for=_hidden;proto=https"),
            ("x-forwarded-for", "203.0.113.5"),
        ]);
        let p = peer("127.0.0.1");
        let client = apply(&local(), false, p, &mut h, false);
        assert_eq!(client.remote, p);
        assert_eq!(client.scheme, Some("https"));
    }

    #[test]
    fn a_unix_socket_peer_is_trusted_and_bad_hosts_are_ignored() {
        let mut h = headers(&[
            ("host", "backend"),
            ("x-forwarded-for", "203.0.113.5"),
            ("x-forwarded-host", "evil.com/path?x"),
            ("x-forwarded-proto", "gopher"),
        ]);
        let unix = SocketAddr::from(([0, 0, 0, 0], 0));
        let some = Trusted::parse("10.0.0.1").expect("one");
        let client = apply(&some, true, unix, &mut h, false);
        assert_eq!(client.remote.ip().to_string(), "203.0.113.5");
        assert_eq!(client.scheme, None);
        assert_eq!(h[HOST], "backend");
        // Trusting no one (CherryPy's default) trusts no Unix peer either.
        let none = Trusted::parse("").expect("none");
        assert_eq!(apply(&none, true, unix, &mut h, false).remote, unix);
    }

    #[test]
    fn a_missing_host_is_added_only_where_optional() {
        let mut h = headers(&[("x-forwarded-host", "example.org")]);
        apply(&local(), false, peer("127.0.0.1"), &mut h, false);
        assert!(h.get(HOST).is_none());
        apply(&local(), false, peer("127.0.0.1"), &mut h, true);
        assert_eq!(h[HOST], "example.org");
    }

    #[test]
    fn two_host_headers_are_left_for_the_framing_check() {
        let mut h = headers(&[("host", "a"), ("host", "b"), ("x-forwarded-host", "c")]);
        apply(&local(), false, peer("127.0.0.1"), &mut h, false);
        assert_eq!(h.get_all(HOST).iter().count(), 2);
    }
}
