//! Just enough of X.509 (RFC 5280 §4.1) to describe a certificate: subject and issuer
//! names, serial number and validity. A small DER reader (X.690) over the bytes rustls has
//! already verified; it never panics on malformed input, it returns `None`.

use chrono::{DateTime, NaiveDate, Utc};

/// One attribute of a distinguished name, in certificate order: ("CN", "example").
pub type Attribute = (String, String);

/// What the server tells applications about a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSummary {
    pub subject: Vec<Attribute>,
    pub issuer: Vec<Attribute>,
    /// The serial number in upper-case hex, as mod_ssl shows it.
    pub serial: String,
    /// X.509 version (1, 2 or 3).
    pub version: u8,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

/// A DER tag-length-value reader over a byte slice.
struct Der<'a> {
    rest: &'a [u8],
}

impl<'a> Der<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Der { rest: bytes }
    }

    fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// The next element: (tag, contents).
    fn next(&mut self) -> Option<(u8, &'a [u8])> {
        let (&tag, rest) = self.rest.split_first()?;
        let (&first, mut rest) = rest.split_first()?;
        let len = if first < 0x80 {
            first as usize
        } else {
            let n = (first & 0x7f) as usize;
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let mut len = 0usize;
            for &b in &rest[..n] {
                len = (len << 8) | b as usize;
            }
            rest = &rest[n..];
            len
        };
        if rest.len() < len {
            return None;
        }
        let (contents, after) = rest.split_at(len);
        self.rest = after;
        Some((tag, contents))
    }

    /// The next element, which must carry `tag`.
    fn expect(&mut self, tag: u8) -> Option<&'a [u8]> {
        match self.next()? {
            (t, contents) if t == tag => Some(contents),
            _ => None,
        }
    }
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const INTEGER: u8 = 0x02;
const OID: u8 = 0x06;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
const VERSION: u8 = 0xa0;

/// Reads the parts of a DER certificate that `CertSummary` holds.
pub fn summarize(der: &[u8]) -> Option<CertSummary> {
    let cert = Der::new(der).expect(SEQUENCE)?;
    let mut tbs = Der::new(Der::new(cert).expect(SEQUENCE)?);
    let mut version = 1;
    if tbs.peek_tag() == Some(VERSION) {
        let explicit = tbs.expect(VERSION)?;
        let v = Der::new(explicit).expect(INTEGER)?;
        version = v.last().copied().unwrap_or(0).saturating_add(1);
    }
    let serial = tbs.expect(INTEGER)?;
    tbs.expect(SEQUENCE)?; // signature algorithm
    let issuer = name(tbs.expect(SEQUENCE)?)?;
    let mut validity = Der::new(tbs.expect(SEQUENCE)?);
    let not_before = time(validity.next()?)?;
    let not_after = time(validity.next()?)?;
    let subject = name(tbs.expect(SEQUENCE)?)?;
    Some(CertSummary {
        subject,
        issuer,
        serial: hex_serial(serial),
        version,
        not_before,
        not_after,
    })
}

/// Only the expiry date (for the warning at start).
pub fn not_after(der: &[u8]) -> Option<DateTime<Utc>> {
    summarize(der).map(|s| s.not_after)
}

fn hex_serial(bytes: &[u8]) -> String {
    // A positive INTEGER may carry a leading 0x00; mod_ssl does not show it.
    let trimmed = match bytes {
        [0, rest @ ..] if !rest.is_empty() => rest,
        other => other,
    };
    trimmed.iter().map(|b| format!("{b:02X}")).collect()
}

/// Name ::= SEQUENCE OF RelativeDistinguishedName (SET OF AttributeTypeAndValue).
fn name(contents: &[u8]) -> Option<Vec<Attribute>> {
    let mut rdns = Der::new(contents);
    let mut out = Vec::new();
    while rdns.peek_tag().is_some() {
        let mut set = Der::new(rdns.expect(SET)?);
        while set.peek_tag().is_some() {
            let mut atv = Der::new(set.expect(SEQUENCE)?);
            let oid = atv.expect(OID)?;
            let (tag, value) = atv.next()?;
            out.push((attribute_name(oid), string_value(tag, value)));
        }
    }
    Some(out)
}

/// The short names OpenSSL and mod_ssl use; other attributes by dotted OID.
fn attribute_name(oid: &[u8]) -> String {
    let short = match oid {
        [0x55, 0x04, 0x03] => "CN",
        [0x55, 0x04, 0x04] => "SN",
        [0x55, 0x04, 0x05] => "serialNumber",
        [0x55, 0x04, 0x06] => "C",
        [0x55, 0x04, 0x07] => "L",
        [0x55, 0x04, 0x08] => "ST",
        [0x55, 0x04, 0x09] => "street",
        [0x55, 0x04, 0x0a] => "O",
        [0x55, 0x04, 0x0b] => "OU",
        [0x55, 0x04, 0x0c] => "title",
        [0x55, 0x04, 0x2a] => "GN",
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01] => "emailAddress",
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19] => "DC",
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01] => "UID",
        _ => return dotted(oid),
    };
    short.to_string()
}

/// X.690 §8.19: the first byte holds two arcs, then base-128 groups.
fn dotted(oid: &[u8]) -> String {
    let mut arcs: Vec<u64> = Vec::new();
    let mut value: u64 = 0;
    for &b in oid {
        value = (value << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (value / 40).min(2);
                arcs.push(first);
                arcs.push(value - first * 40);
            } else {
                arcs.push(value);
            }
            value = 0;
        }
    }
    arcs.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// The text of a DirectoryString (UTF8, Printable, IA5, Teletex, BMP).
fn string_value(tag: u8, value: &[u8]) -> String {
    match tag {
        // BMPString: UTF-16 big-endian.
        0x1e => {
            let units: Vec<u16> = value
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16_lossy(&units)
        }
        _ => String::from_utf8_lossy(value).into_owned(),
    }
}

/// UTCTime (YYMMDDHHMMSSZ, RFC 5280 §4.1.2.5.1) or GeneralizedTime (YYYYMMDDHHMMSSZ).
fn time((tag, value): (u8, &[u8])) -> Option<DateTime<Utc>> {
    let text = std::str::from_utf8(value).ok()?.strip_suffix('Z')?;
    let (year, rest) = match tag {
        UTC_TIME => {
            let yy: i32 = text.get(..2)?.parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, text.get(2..)?)
        }
        GENERALIZED_TIME => (text.get(..4)?.parse().ok()?, text.get(4..)?),
        _ => return None,
    };
    let field = |i: usize| -> Option<u32> { rest.get(i..i + 2)?.parse().ok() };
    let date = NaiveDate::from_ymd_opt(year, field(0)?, field(2)?)?;
    let at = date.and_hms_opt(field(4)?, field(6)?, field(8)?)?;
    Some(at.and_utc())
}

/// "C=US,O=Example,CN=client": the attributes in certificate order, as cheroot's
/// builtin adapter writes SSL_CLIENT_S_DN.
pub fn format_dn(attributes: &[Attribute]) -> String {
    attributes
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// "Dec  1 06:55:00 2026 GMT", mod_ssl's format for SSL_CLIENT_V_START / _V_END.
pub fn format_time(at: &DateTime<Utc>) -> String {
    at.format("%b %e %H:%M:%S %Y GMT").to_string()
}

/// PEM text of a DER certificate (RFC 7468 §5), as SSL_CLIENT_CERT carries it.
pub fn to_pem(der: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::with_capacity(der.len().div_ceil(3) * 4);
    for chunk in der.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(TABLE[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                b64.push('=');
            }
        }
    }
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};

    fn cert(cn: &str, org: &str) -> Vec<u8> {
        let mut params = CertificateParams::new(vec!["localhost".into()]).unwrap();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CountryName, "US");
        dn.push(DnType::OrganizationName, org);
        dn.push(DnType::CommonName, cn);
        params.distinguished_name = dn;
        params.serial_number = Some(vec![0x00, 0x9a, 0x01].into());
        params.not_before = rcgen::date_time_ymd(2024, 1, 2);
        params.not_after = rcgen::date_time_ymd(2051, 3, 4);
        let key = KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn reads_names_serial_and_validity() {
        let der = cert("client one", "Example Ltd");
        let s = summarize(&der).unwrap();
        assert_eq!(format_dn(&s.subject), "C=US,O=Example Ltd,CN=client one");
        assert_eq!(s.subject, s.issuer);
        assert_eq!(s.version, 3);
        assert_eq!(s.serial, "9A01");
        assert_eq!(format_time(&s.not_before), "Jan  2 00:00:00 2024 GMT");
        // 2051 is past UTCTime's range: GeneralizedTime (RFC 5280 §4.1.2.5).
        assert_eq!(format_time(&s.not_after), "Mar  4 00:00:00 2051 GMT");
    }

    #[test]
    fn garbage_is_none_not_a_panic() {
        assert!(summarize(b"").is_none());
        assert!(summarize(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_none());
        let der = cert("x", "y");
        for cut in [1, 10, der.len() / 2, der.len() - 1] {
            let _ = summarize(&der[..cut]);
        }
    }

    #[test]
    fn pem_round_trips_through_pki_types() {
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::CertificateDer;
        for n in [100, 101, 102] {
            let der: Vec<u8> = (0..n).map(|i| (i * 7) as u8).collect();
            let back = CertificateDer::from_pem_slice(to_pem(&der).as_bytes()).unwrap();
            assert_eq!(back.as_ref(), der.as_slice());
        }
    }

    #[test]
    fn unknown_oids_are_dotted() {
        assert_eq!(
            dotted(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d]),
            "1.2.840.113549"
        );
    }
}
