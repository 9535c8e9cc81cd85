//! Request-target decoding as CherryPy (through cheroot) does it: the path is
//! percent-decoded except for `%2F`, which stays encoded (upper-cased) so that an encoded
//! slash never splits a path segment; the bytes are then read as UTF-8, or as ISO-8859-1
//! when they are not valid UTF-8 (PEP 3333).

/// The value of one hexadecimal digit.
pub fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes `raw`, keeping `%2F`/`%2f` as `%2F`. Malformed escapes stay literal.
pub fn decode_path_bytes(raw: &str) -> Vec<u8> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                let value = h * 16 + l;
                if value == b'/' {
                    out.extend_from_slice(b"%2F");
                } else {
                    out.push(value);
                }
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

/// Bytes as text: UTF-8 when valid, else ISO-8859-1 (every byte is one code point).
pub fn text(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => e.into_bytes().iter().map(|&b| b as char).collect(),
    }
}

/// ISO-8859-1 text of header bytes (RFC 9110 §5.5: field values are octets).
pub fn latin1(bytes: &[u8]) -> String {
    if bytes.is_ascii() {
        // ASCII is valid UTF-8: no per-byte work.
        String::from_utf8_lossy(bytes).into_owned()
    } else {
        bytes.iter().map(|&b| b as char).collect()
    }
}

/// Whether `value` is a valid Host field value (RFC 9110 §7.2: `uri-host [ ":" port ]`,
/// RFC 3986 §3.2.2): a registered name or IPv4 address (unreserved characters,
/// sub-delimiters and percent-escapes), or an IP literal in brackets, then at most one
/// port of digits. No userinfo (`@`), no `/`, spaces or control bytes. An empty value is
/// valid (RFC 9112 §3.2: a target without authority).
pub fn valid_host(value: &[u8]) -> bool {
    let (host, port) = if value.first() == Some(&b'[') {
        let Some(end) = value.iter().position(|&b| b == b']') else {
            return false;
        };
        let literal = &value[1..end];
        if literal.is_empty()
            || !literal
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b":._~!$&'()*+,;=-".contains(&b))
        {
            return false;
        }
        match &value[end + 1..] {
            [] => (&value[..=end], None),
            [b':', port @ ..] => (&value[..=end], Some(port)),
            _ => return false,
        }
    } else {
        match value.iter().position(|&b| b == b':') {
            Some(i) => (&value[..i], Some(&value[i + 1..])),
            None => (value, None),
        }
    };
    let host_ok = host.first() == Some(&b'[') || valid_reg_name(host);
    let port_ok = port.is_none_or(|p| p.len() <= 5 && p.iter().all(u8::is_ascii_digit));
    host_ok && port_ok
}

/// RFC 3986 §3.2.2: `reg-name = *( unreserved / pct-encoded / sub-delims )` (which also
/// covers IPv4 addresses).
fn valid_reg_name(name: &[u8]) -> bool {
    let mut i = 0;
    while i < name.len() {
        let b = name[i];
        if b == b'%' {
            match (
                name.get(i + 1).copied().and_then(hex),
                name.get(i + 2).copied().and_then(hex),
            ) {
                (Some(_), Some(_)) => i += 3,
                _ => return false,
            }
            continue;
        }
        if !REG_NAME_BYTES[usize::from(b)] {
            return false;
        }
        i += 1;
    }
    true
}

/// The bytes a reg-name holds as themselves: unreserved and sub-delims (one lookup per
/// byte: every request's Host is checked).
static REG_NAME_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric();
        b += 1;
    }
    let others = b"-._~!$&'()*+,;=";
    let mut i = 0;
    while i < others.len() {
        table[others[i] as usize] = true;
        i += 1;
    }
    table
};

/// The decoded path as CherryPy's `request.path_info` holds it.
pub fn decode_path(raw: &str) -> String {
    if !raw.contains('%') {
        return raw.to_string();
    }
    text(decode_path_bytes(raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_all_but_the_slash() {
        assert_eq!(decode_path("/a%20b"), "/a b");
        assert_eq!(decode_path("/a%2fb%2Fc"), "/a%2Fb%2Fc");
        assert_eq!(decode_path("/caf%C3%A9"), "/café");
    }

    #[test]
    fn invalid_utf8_falls_back_to_latin1() {
        assert_eq!(decode_path("/caf%E9"), "/café");
    }

    #[test]
    fn malformed_escapes_stay_literal() {
        assert_eq!(decode_path("/a%zz"), "/a%zz");
        assert_eq!(decode_path("/a%2"), "/a%2");
        assert_eq!(decode_path("/a%"), "/a%");
        assert_eq!(decode_path("%41"), "A");
    }

    #[test]
    fn host_values() {
        for ok in [
            "",
            "example.com",
            "example.com:8080",
            "127.0.0.1:80",
            "[::1]",
            "[::1]:8443",
            "a-b.c_d~e",
            "caf%C3%A9.test",
            "example.com:",
        ] {
            assert!(valid_host(ok.as_bytes()), "{ok:?} should be valid");
        }
        for bad in [
            "exa mple.com",
            "example.com/x",
            "user@example.com",
            "example.com:80:81",
            "example.com:8o",
            "example.com:123456",
            "[::1",
            "[::1]x",
            "[]",
            "a\tb",
            "a\x01b",
            "%zz.test",
            "\u{e9}.test",
        ] {
            assert!(!valid_host(bad.as_bytes()), "{bad:?} should be invalid");
        }
    }

    #[test]
    fn latin1_maps_each_byte() {
        assert_eq!(latin1(b"abc"), "abc");
        assert_eq!(latin1(b"\xe9"), "é");
    }
}
