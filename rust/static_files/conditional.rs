//! Conditional requests (RFC 9110 §13): validators of a file and the evaluation order of
//! §13.2.2 — If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since — and
//! If-Range (§13.1.5). Dates are parsed (IMF-fixdate, RFC 850 and asctime), never
//! compared as strings.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{self, HeaderMap, HeaderValue};
use http::Method;

/// A representation's validators, with their header values made once.
#[derive(Debug, Clone)]
pub struct Validators {
    /// The entity tag, quoted (`"5f3a-1c"`); strong: it changes with the content's
    /// modification time (to the nanosecond) and size.
    pub etag: String,
    /// Last modification, truncated to whole seconds (what an HTTP-date can carry).
    pub modified: SystemTime,
    pub etag_header: HeaderValue,
    pub last_modified_header: HeaderValue,
}

impl Validators {
    pub fn new(modified: SystemTime, len: u64, tag: &str) -> Self {
        let nanos = modified
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let secs = modified
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let etag = format!("\"{nanos:x}-{len:x}{tag}\"");
        let modified = UNIX_EPOCH + Duration::from_secs(secs);
        let last_modified = httpdate::fmt_http_date(modified);
        Validators {
            etag_header: HeaderValue::from_str(&etag)
                .unwrap_or_else(|_| HeaderValue::from_static("\"0\"")),
            last_modified_header: HeaderValue::from_str(&last_modified)
                .unwrap_or_else(|_| HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT")),
            etag,
            modified,
        }
    }

    #[cfg(test)]
    pub fn last_modified(&self) -> String {
        httpdate::fmt_http_date(self.modified)
    }
}

/// What the preconditions say.
#[derive(Debug, PartialEq, Eq)]
pub enum Precondition {
    Proceed,
    NotModified,
    Failed,
}

fn header_str<'a>(headers: &'a HeaderMap, name: &header::HeaderName) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn date(headers: &HeaderMap, name: &header::HeaderName) -> Option<SystemTime> {
    // A repeated or invalid date header is ignored (RFC 9110 §13.1.3).
    let mut all = headers.get_all(name).iter();
    let first = all.next()?;
    if all.next().is_some() {
        return None;
    }
    httpdate::parse_http_date(first.to_str().ok()?.trim()).ok()
}

/// The entity tags of an If-Match / If-None-Match list (all its header lines), as
/// (weak, opaque-tag) pairs; `*` is `None`.
fn tags(headers: &HeaderMap, name: &header::HeaderName) -> Option<Option<Vec<(bool, String)>>> {
    let mut values = headers.get_all(name).iter().peekable();
    values.peek()?;
    let mut out = Vec::new();
    for value in values {
        let text = value.to_str().ok()?;
        for item in text.split(',') {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            if item == "*" {
                return Some(None);
            }
            let (weak, tag) = match item.strip_prefix("W/") {
                Some(rest) => (true, rest),
                None => (false, item),
            };
            out.push((weak, tag.to_string()));
        }
    }
    Some(Some(out))
}

/// Strong comparison (§8.8.3.2): both strong and equal.
fn strong_match(list: &[(bool, String)], etag: &str) -> bool {
    list.iter().any(|(weak, tag)| !weak && tag == etag)
}

/// Weak comparison: equal opaque tags, whatever their weakness.
fn weak_match(list: &[(bool, String)], etag: &str) -> bool {
    list.iter().any(|(_, tag)| tag == etag)
}

/// RFC 9110 §13.2.2, for a representation that exists.
pub fn evaluate(method: &Method, headers: &HeaderMap, v: &Validators) -> Precondition {
    match tags(headers, &header::IF_MATCH) {
        Some(None) => {}
        Some(Some(list)) => {
            if !strong_match(&list, &v.etag) {
                return Precondition::Failed;
            }
        }
        None => {
            if let Some(since) = date(headers, &header::IF_UNMODIFIED_SINCE) {
                if v.modified > since {
                    return Precondition::Failed;
                }
            }
        }
    }
    let read = method == Method::GET || method == Method::HEAD;
    match tags(headers, &header::IF_NONE_MATCH) {
        Some(list) => {
            let matched = match list {
                None => true,
                Some(list) => weak_match(&list, &v.etag),
            };
            if matched {
                return if read {
                    Precondition::NotModified
                } else {
                    Precondition::Failed
                };
            }
        }
        None => {
            if read {
                if let Some(since) = date(headers, &header::IF_MODIFIED_SINCE) {
                    if v.modified <= since {
                        return Precondition::NotModified;
                    }
                }
            }
        }
    }
    Precondition::Proceed
}

/// Whether a Range header may be honoured given If-Range (§13.1.5): an entity tag must
/// match strongly, a date must equal Last-Modified exactly.
pub fn range_allowed(headers: &HeaderMap, v: &Validators) -> bool {
    let Some(value) = header_str(headers, &header::IF_RANGE) else {
        return headers.get(header::IF_RANGE).is_none();
    };
    let value = value.trim();
    if value.starts_with('"') {
        return value == v.etag;
    }
    if value.starts_with("W/") {
        return false;
    }
    httpdate::parse_http_date(value).is_ok_and(|d| d == v.modified)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v() -> Validators {
        // 2024-01-02 03:04:05 UTC and 500 ns.
        Validators::new(UNIX_EPOCH + Duration::new(1_704_164_645, 500), 42, "")
    }

    fn h(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, val) in pairs {
            m.append(
                header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                val.parse().unwrap(),
            );
        }
        m
    }

    const LM: &str = "Tue, 02 Jan 2024 03:04:05 GMT";

    #[test]
    fn validators_look_right() {
        let v = v();
        assert_eq!(v.last_modified(), LM);
        assert!(v.etag.starts_with('"') && v.etag.ends_with("-2a\""));
        let other = Validators::new(UNIX_EPOCH + Duration::new(1_704_164_645, 501), 42, "");
        assert_ne!(v.etag, other.etag, "a sub-second change changes the tag");
    }

    #[test]
    fn modified_since_parses_dates() {
        let get = Method::GET;
        let v = v();
        assert_eq!(evaluate(&get, &h(&[]), &v), Precondition::Proceed);
        for same_or_later in [
            LM,
            "Tuesday, 02-Jan-24 03:04:05 GMT",
            "Tue Jan  2 03:04:05 2024",
            "Wed, 03 Jan 2024 00:00:00 GMT",
        ] {
            assert_eq!(
                evaluate(&get, &h(&[("if-modified-since", same_or_later)]), &v),
                Precondition::NotModified,
                "{same_or_later}"
            );
        }
        assert_eq!(
            evaluate(
                &get,
                &h(&[("if-modified-since", "Tue, 02 Jan 2024 03:04:04 GMT")]),
                &v
            ),
            Precondition::Proceed
        );
        // Garbage is ignored, and so is the header on a POST.
        assert_eq!(
            evaluate(&get, &h(&[("if-modified-since", "yesterday")]), &v),
            Precondition::Proceed
        );
        assert_eq!(
            evaluate(&Method::POST, &h(&[("if-modified-since", LM)]), &v),
            Precondition::Proceed
        );
    }

    #[test]
    fn none_match_wins_over_modified_since() {
        let v = v();
        let get = Method::GET;
        let tag = v.etag.clone();
        assert_eq!(
            evaluate(&get, &h(&[("if-none-match", &tag)]), &v),
            Precondition::NotModified
        );
        assert_eq!(
            evaluate(
                &get,
                &h(&[("if-none-match", &format!("\"x\", W/{tag}"))]),
                &v
            ),
            Precondition::NotModified
        );
        assert_eq!(
            evaluate(&get, &h(&[("if-none-match", "*")]), &v),
            Precondition::NotModified
        );
        assert_eq!(
            evaluate(
                &get,
                &h(&[("if-none-match", "\"other\""), ("if-modified-since", LM)]),
                &v
            ),
            Precondition::Proceed
        );
        assert_eq!(
            evaluate(&Method::DELETE, &h(&[("if-none-match", &tag)]), &v),
            Precondition::Failed
        );
    }

    #[test]
    fn if_match_and_unmodified_since_fail_with_412() {
        let v = v();
        let get = Method::GET;
        assert_eq!(
            evaluate(&get, &h(&[("if-match", "\"other\"")]), &v),
            Precondition::Failed
        );
        assert_eq!(
            evaluate(&get, &h(&[("if-match", &v.etag)]), &v),
            Precondition::Proceed
        );
        assert_eq!(
            evaluate(&get, &h(&[("if-match", &format!("W/{}", v.etag))]), &v),
            Precondition::Failed,
            "If-Match compares strongly"
        );
        assert_eq!(
            evaluate(&get, &h(&[("if-match", "*")]), &v),
            Precondition::Proceed
        );
        assert_eq!(
            evaluate(
                &get,
                &h(&[("if-unmodified-since", "Tue, 02 Jan 2024 03:04:04 GMT")]),
                &v
            ),
            Precondition::Failed
        );
        assert_eq!(
            evaluate(&get, &h(&[("if-unmodified-since", LM)]), &v),
            Precondition::Proceed
        );
    }

    #[test]
    fn if_range_needs_an_exact_validator() {
        let v = v();
        assert!(range_allowed(&h(&[]), &v));
        assert!(range_allowed(&h(&[("if-range", &v.etag)]), &v));
        assert!(range_allowed(&h(&[("if-range", LM)]), &v));
        assert!(!range_allowed(&h(&[("if-range", "\"old\"")]), &v));
        assert!(!range_allowed(
            &h(&[("if-range", &format!("W/{}", v.etag))]),
            &v
        ));
        assert!(!range_allowed(
            &h(&[("if-range", "Wed, 03 Jan 2024 00:00:00 GMT")]),
            &v
        ));
    }
}
