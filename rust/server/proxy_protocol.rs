//! HAProxy's PROXY protocol (versions 1 and 2, haproxy.org/download/2.9/doc/proxy-protocol.txt):
//! with `server.proxy_protocol` on, a TCP load balancer opens every connection with a
//! header naming the client's address, and that address becomes the connection's
//! remote address. Only a peer in `server.forwarded_allow_ips` is read this way.
//!
//! The header is read exactly (no byte of the request behind it), so TLS and HTTP start
//! on the stream as if the header had not been there.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::io::{AsyncRead, AsyncReadExt};

/// Version 2's 12-byte signature.
const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";

/// Version 1's longest header, CRLF included (§2.1).
const V1_MAX: usize = 107;

/// What the header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    /// A proxied connection from `source` (the client) to `destination`.
    Proxied {
        source: SocketAddr,
        destination: SocketAddr,
    },
    /// The proxy's own connection (v2 LOCAL, a health check) or an unknown
    /// protocol (v1 `UNKNOWN`, v2 UNSPEC/UNIX): the peer's address stands.
    Local,
}

impl Header {
    /// The client's address, when the header gives one.
    pub fn source(&self) -> Option<SocketAddr> {
        match self {
            Header::Proxied { source, .. } => Some(*source),
            Header::Local => None,
        }
    }
}

/// Why a header was refused (the connection is closed).
#[derive(Debug, PartialEq, Eq)]
pub enum ProxyError {
    /// The connection does not start with a PROXY header.
    Missing,
    /// The header is malformed: what is wrong.
    Invalid(&'static str),
    /// The connection closed or failed while the header was read.
    Io,
}

impl std::fmt::Display for ProxyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProxyError::Missing => f.write_str("the connection does not start with a PROXY header"),
            ProxyError::Invalid(what) => write!(f, "invalid PROXY header: {what}"),
            ProxyError::Io => f.write_str("the connection closed during the PROXY header"),
        }
    }
}

/// Reads one PROXY header (v1 or v2) from the start of `stream`, and nothing more.
pub async fn read_header<S: AsyncRead + Unpin>(stream: &mut S) -> Result<Header, ProxyError> {
    let mut start = [0u8; 5];
    stream
        .read_exact(&mut start)
        .await
        .map_err(|_| ProxyError::Io)?;
    if &start == b"PROXY" {
        let mut line = start.to_vec();
        // Byte by byte: the request that follows must stay unread.
        while !line.ends_with(b"\r\n") {
            if line.len() >= V1_MAX {
                return Err(ProxyError::Invalid(
                    "a version 1 line longer than 107 bytes",
                ));
            }
            let byte = stream.read_u8().await.map_err(|_| ProxyError::Io)?;
            line.push(byte);
        }
        return parse_v1(&line);
    }
    if start[..] != V2_SIGNATURE[..5] {
        return Err(ProxyError::Missing);
    }
    let mut head = [0u8; 16];
    head[..5].copy_from_slice(&start);
    stream
        .read_exact(&mut head[5..])
        .await
        .map_err(|_| ProxyError::Io)?;
    let len = usize::from(u16::from_be_bytes([head[14], head[15]]));
    let mut rest = vec![0u8; len];
    stream
        .read_exact(&mut rest)
        .await
        .map_err(|_| ProxyError::Io)?;
    parse_v2(&head, &rest)
}

/// §2.1: `PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\n` (or `TCP6`, or `UNKNOWN`
/// followed by anything).
pub fn parse_v1(line: &[u8]) -> Result<Header, ProxyError> {
    let text = std::str::from_utf8(line)
        .map_err(|_| ProxyError::Invalid("not ASCII"))?
        .strip_suffix("\r\n")
        .ok_or(ProxyError::Invalid("a version 1 line must end with CRLF"))?;
    let mut fields = text.split(' ');
    if fields.next() != Some("PROXY") {
        return Err(ProxyError::Missing);
    }
    let family = fields.next().ok_or(ProxyError::Invalid("no protocol"))?;
    if family == "UNKNOWN" {
        return Ok(Header::Local);
    }
    let parts: Vec<&str> = fields.collect();
    let [src, dst, sport, dport] = parts[..] else {
        return Err(ProxyError::Invalid(
            "expected: PROXY TCP4|TCP6 SOURCE DESTINATION SPORT DPORT",
        ));
    };
    let ip = |s: &str| -> Result<IpAddr, ProxyError> {
        let ip: IpAddr = s
            .parse()
            .map_err(|_| ProxyError::Invalid("an address is not an IP address"))?;
        match (family, ip) {
            ("TCP4", IpAddr::V4(_)) | ("TCP6", IpAddr::V6(_)) => Ok(ip),
            ("TCP4" | "TCP6", _) => Err(ProxyError::Invalid(
                "an address does not match the protocol",
            )),
            _ => Err(ProxyError::Invalid(
                "the protocol is not TCP4, TCP6 or UNKNOWN",
            )),
        }
    };
    let port = |s: &str| -> Result<u16, ProxyError> {
        // §2.1: no leading zeros... but a plain decimal number is all we need.
        s.parse()
            .map_err(|_| ProxyError::Invalid("a port is not a number from 0 to 65535"))
    };
    Ok(Header::Proxied {
        source: SocketAddr::new(ip(src)?, port(sport)?),
        destination: SocketAddr::new(ip(dst)?, port(dport)?),
    })
}

/// §2.2: the 16-byte head (signature, version and command, family, length) and the
/// `len` bytes of addresses (and TLVs, ignored) after it.
pub fn parse_v2(head: &[u8; 16], rest: &[u8]) -> Result<Header, ProxyError> {
    if head[..12] != V2_SIGNATURE {
        return Err(ProxyError::Missing);
    }
    if head[12] >> 4 != 2 {
        return Err(ProxyError::Invalid("the version is not 2"));
    }
    match head[12] & 0x0f {
        0 => return Ok(Header::Local),
        1 => {}
        _ => return Err(ProxyError::Invalid("the command is not LOCAL or PROXY")),
    }
    let short = ProxyError::Invalid("the address block is shorter than its family needs");
    match head[13] >> 4 {
        // AF_INET
        1 => {
            let b = rest.get(..12).ok_or(short)?;
            let src = Ipv4Addr::new(b[0], b[1], b[2], b[3]);
            let dst = Ipv4Addr::new(b[4], b[5], b[6], b[7]);
            Ok(Header::Proxied {
                source: SocketAddr::new(src.into(), u16::from_be_bytes([b[8], b[9]])),
                destination: SocketAddr::new(dst.into(), u16::from_be_bytes([b[10], b[11]])),
            })
        }
        // AF_INET6
        2 => {
            let b = rest.get(..36).ok_or(short)?;
            let mut src = [0u8; 16];
            let mut dst = [0u8; 16];
            src.copy_from_slice(&b[..16]);
            dst.copy_from_slice(&b[16..32]);
            Ok(Header::Proxied {
                source: SocketAddr::new(
                    Ipv6Addr::from(src).into(),
                    u16::from_be_bytes([b[32], b[33]]),
                ),
                destination: SocketAddr::new(
                    Ipv6Addr::from(dst).into(),
                    u16::from_be_bytes([b[34], b[35]]),
                ),
            })
        }
        // AF_UNSPEC, AF_UNIX: no address to use.
        0 | 3 => Ok(Header::Local),
        _ => Err(ProxyError::Invalid("unknown address family")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("addr")
    }

    #[test]
    fn version_1_tcp4_tcp6_and_unknown() {
        assert_eq!(
            parse_v1(b"PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\n"),
            Ok(Header::Proxied {
                source: addr("192.0.2.1:56324"),
                destination: addr("198.51.100.1:443"),
            })
        );
        let h = parse_v1(b"PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n").expect("tcp6");
        assert_eq!(h.source(), Some(addr("[2001:db8::1]:1")));
        assert_eq!(parse_v1(b"PROXY UNKNOWN\r\n"), Ok(Header::Local));
        assert!(parse_v1(b"PROXY TCP4 2001:db8::1 192.0.2.1 1 2\r\n").is_err());
        assert!(parse_v1(b"PROXY TCP4 192.0.2.1 192.0.2.2 1 70000\r\n").is_err());
        assert!(parse_v1(b"PROXY TCP4 192.0.2.1\r\n").is_err());
        assert!(parse_v1(b"PROXY TCP4 192.0.2.1 192.0.2.2 1 2").is_err());
    }

    fn v2(command: u8, family: u8, body: &[u8]) -> Vec<u8> {
        let mut out = V2_SIGNATURE.to_vec();
        out.push(0x20 | command);
        out.push(family);
        out.extend_from_slice(&(body.len() as u16).to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    fn split(bytes: &[u8]) -> ([u8; 16], &[u8]) {
        let mut head = [0u8; 16];
        head.copy_from_slice(&bytes[..16]);
        (head, &bytes[16..])
    }

    #[test]
    fn version_2_inet_inet6_local_and_tlvs() {
        let mut body = vec![203, 0, 113, 7, 127, 0, 0, 1];
        body.extend_from_slice(&5555u16.to_be_bytes());
        body.extend_from_slice(&80u16.to_be_bytes());
        body.extend_from_slice(&[0x04, 0x00, 0x01, 0xaa]); // a TLV, ignored
        let bytes = v2(1, 0x11, &body);
        let (head, rest) = split(&bytes);
        assert_eq!(
            parse_v2(&head, rest).expect("inet").source(),
            Some(addr("203.0.113.7:5555"))
        );
        let mut body6 = Ipv6Addr::LOCALHOST.octets().to_vec();
        body6.extend_from_slice(&Ipv6Addr::UNSPECIFIED.octets());
        body6.extend_from_slice(&[0, 9, 0, 80]);
        let bytes = v2(1, 0x21, &body6);
        let (head, rest) = split(&bytes);
        assert_eq!(
            parse_v2(&head, rest).expect("inet6").source(),
            Some(addr("[::1]:9"))
        );
        let bytes = v2(0, 0x00, &[]);
        let (head, rest) = split(&bytes);
        assert_eq!(parse_v2(&head, rest), Ok(Header::Local));
        let bytes = v2(1, 0x11, &[1, 2, 3]);
        let (head, rest) = split(&bytes);
        assert!(parse_v2(&head, rest).is_err());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn read_header_consumes_the_header_and_nothing_else() {
        let mut input: &[u8] = b"PROXY TCP4 192.0.2.1 192.0.2.2 1000 80\r\nGET / HTTP/1.1\r\n";
        let h = read_header(&mut input).await.expect("v1");
        assert_eq!(h.source(), Some(addr("192.0.2.1:1000")));
        assert_eq!(input, b"GET / HTTP/1.1\r\n");
        let mut bytes = v2(1, 0x11, &[10, 0, 0, 1, 10, 0, 0, 2, 0, 1, 0, 2]);
        bytes.extend_from_slice(b"\x16\x03\x01");
        let mut input: &[u8] = &bytes;
        let h = read_header(&mut input).await.expect("v2");
        assert_eq!(h.source(), Some(addr("10.0.0.1:1")));
        assert_eq!(input, b"\x16\x03\x01");
        let mut input: &[u8] = b"GET / HTTP/1.1\r\n";
        assert_eq!(read_header(&mut input).await, Err(ProxyError::Missing));
        let long = [b"PROXY ".as_slice(), &[b'x'; 200]].concat();
        let mut input: &[u8] = &long;
        assert!(matches!(
            read_header(&mut input).await,
            Err(ProxyError::Invalid(_))
        ));
    }
}
