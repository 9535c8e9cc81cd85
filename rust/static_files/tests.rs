use super::entity::{content_type, Entity, Representation};
use super::respond::{respond, RequestHead, StaticReply};
use super::route::{Outcome, RouteOptions, Source, StaticRoute};
use super::DirOptions;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{Method, Version};
use http_body_util::BodyExt;
use std::time::UNIX_EPOCH;

fn entity(data: &'static [u8]) -> Entity {
    let modified = UNIX_EPOCH + Duration::from_secs(1_704_164_645);
    Entity::new(
        HeaderValue::from_static("text/plain"),
        Representation::from_bytes(Bytes::from_static(data), Some(modified)),
    )
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut m = HeaderMap::new();
    for (k, v) in pairs {
        m.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    m
}

fn run(e: &Entity, method: Method, version: Version, pairs: &[(&str, &str)]) -> StaticReply {
    let h = headers(pairs);
    respond(
        e,
        &RequestHead {
            method: &method,
            version,
            headers: &h,
        },
    )
}

async fn body(reply: StaticReply) -> Vec<u8> {
    reply.body.collect().await.unwrap().to_bytes().to_vec()
}

fn get(e: &Entity, pairs: &[(&str, &str)]) -> StaticReply {
    run(e, Method::GET, Version::HTTP_11, pairs)
}

#[tokio::test]
async fn whole_file_with_validators() {
    let e = entity(b"0123456789");
    let r = get(&e, &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["content-length"], "10");
    assert_eq!(r.headers["content-type"], "text/plain");
    assert_eq!(r.headers["accept-ranges"], "bytes");
    assert_eq!(r.headers["last-modified"], "Tue, 02 Jan 2024 03:04:05 GMT");
    assert!(r.headers.contains_key("etag"));
    assert!(!r.headers.contains_key("vary"));
    assert_eq!(body(r).await, b"0123456789");
}

#[tokio::test]
async fn head_has_the_headers_and_no_body() {
    let e = entity(b"0123456789");
    let r = run(&e, Method::HEAD, Version::HTTP_11, &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["content-length"], "10");
    assert!(r.body.is_empty());
    // Range handling is defined for GET only.
    let r = run(
        &e,
        Method::HEAD,
        Version::HTTP_11,
        &[("range", "bytes=0-1")],
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["content-length"], "10");
}

#[test]
fn conditional_requests() {
    let e = entity(b"0123456789");
    let tag = get(&e, &[]).headers["etag"].to_str().unwrap().to_string();
    let r = get(&e, &[("if-none-match", &tag)]);
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    assert_eq!(r.headers["etag"], tag.as_str());
    assert!(!r.headers.contains_key("content-length"));
    let r = get(
        &e,
        &[("if-modified-since", "Tue, 02 Jan 2024 03:04:05 GMT")],
    );
    assert_eq!(r.status, 304);
    let r = get(&e, &[("if-match", "\"nope\"")]);
    assert_eq!(r.status, 412);
    let r = get(
        &e,
        &[("if-unmodified-since", "Mon, 01 Jan 2024 00:00:00 GMT")],
    );
    assert_eq!(r.status, 412);
}

#[tokio::test]
async fn single_and_multiple_ranges() {
    let e = entity(b"0123456789");
    let r = get(&e, &[("range", "bytes=2-4")]);
    assert_eq!(r.status, 206);
    assert_eq!(r.headers["content-range"], "bytes 2-4/10");
    assert_eq!(r.headers["content-length"], "3");
    assert_eq!(body(r).await, b"234");

    let r = get(&e, &[("range", "bytes=0-1,-2")]);
    assert_eq!(r.status, 206);
    let ctype = r.headers["content-type"].to_str().unwrap().to_string();
    let boundary = ctype
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap()
        .to_string();
    let declared: usize = r.headers["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let b = body(r).await;
    assert_eq!(b.len(), declared);
    let expected = format!(
        "\r\n--{boundary}\r\nContent-type: text/plain\r\nContent-range: bytes 0-1/10\r\n\r\n01\
         \r\n--{boundary}\r\nContent-type: text/plain\r\nContent-range: bytes 8-9/10\r\n\r\n89\
         \r\n--{boundary}--\r\n"
    );
    assert_eq!(String::from_utf8(b).unwrap(), expected);
}

#[tokio::test]
async fn unsatisfiable_and_if_range() {
    let e = entity(b"0123456789");
    let r = get(&e, &[("range", "bytes=10-")]);
    assert_eq!(r.status, 416);
    assert_eq!(r.headers["content-range"], "bytes */10");
    let tag = get(&e, &[]).headers["etag"].to_str().unwrap().to_string();
    let r = get(&e, &[("range", "bytes=0-0"), ("if-range", &tag)]);
    assert_eq!(r.status, 206);
    let r = get(&e, &[("range", "bytes=0-0"), ("if-range", "\"old\"")]);
    assert_eq!(r.status, 200);
    assert_eq!(body(r).await, b"0123456789");
}

#[test]
fn http10_gets_no_ranges() {
    let e = entity(b"0123456789");
    let r = run(&e, Method::GET, Version::HTTP_10, &[("range", "bytes=0-0")]);
    assert_eq!(r.status, 200);
    assert!(!r.headers.contains_key("accept-ranges"));
}

#[tokio::test]
async fn precompressed_siblings_follow_accept_encoding() {
    let mut e = entity(b"plain");
    e.gzip = Some(Representation::from_bytes(Bytes::from_static(b"GZ"), None));
    e.br = Some(Representation::from_bytes(Bytes::from_static(b"BR"), None));
    let r = get(&e, &[("accept-encoding", "gzip, br")]);
    assert_eq!(r.headers["content-encoding"], "br");
    assert_eq!(r.headers["vary"], "Accept-Encoding");
    assert_eq!(r.headers["content-type"], "text/plain");
    assert_eq!(body(r).await, b"BR");
    let r = get(&e, &[("accept-encoding", "gzip, br;q=0")]);
    assert_eq!(r.headers["content-encoding"], "gzip");
    let r = get(&e, &[("accept-encoding", "identity")]);
    assert!(!r.headers.contains_key("content-encoding"));
    assert_eq!(r.headers["vary"], "Accept-Encoding");
    assert_eq!(body(r).await, b"plain");
    let r = get(&e, &[("accept-encoding", "*")]);
    assert_eq!(r.headers["content-encoding"], "br");
    let r = get(&e, &[]);
    assert!(!r.headers.contains_key("content-encoding"));
}

#[test]
fn content_types() {
    let mut table = HashMap::new();
    table.insert("txt".to_string(), "text/x-mine".to_string());
    assert_eq!(content_type(Path::new("/a/b.TXT"), &table), "text/x-mine");
    assert_eq!(content_type(Path::new("/a/b.css"), &table), "text/css");
    assert_eq!(
        content_type(Path::new("/a/b"), &table),
        "application/octet-stream"
    );
    assert_eq!(
        content_type(Path::new("/a/b.zzzz"), &table),
        "application/octet-stream"
    );
}

#[tokio::test]
async fn routes_serve_cache_and_revalidate() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    std::fs::write(root.join("a.txt"), "one").unwrap();
    std::fs::create_dir(root.join("d")).unwrap();
    let route = Arc::new(StaticRoute::new(
        Source::Dir {
            root: root.clone(),
            options: DirOptions::default(),
        },
        "/static".len(),
        RouteOptions::default(),
        None,
    ));
    let h = HeaderMap::new();
    let head = RequestHead {
        method: &Method::GET,
        version: Version::HTTP_11,
        headers: &h,
    };
    let Outcome::Reply(r) = route.serve(&head, "/static/a.txt", None).await else {
        panic!("not served")
    };
    assert_eq!(body(r).await, b"one");
    // cache_valid is zero: a change is seen at once.
    std::fs::write(root.join("a.txt"), "second").unwrap();
    let Outcome::Reply(r) = route.serve(&head, "/static/a.txt", None).await else {
        panic!("not served")
    };
    assert_eq!(body(r).await, b"second");
    let Outcome::Reply(r) = route.serve(&head, "/static/missing", None).await else {
        panic!("not served")
    };
    assert_eq!(r.status, 404);
    let Outcome::Reply(r) = route.serve(&head, "/static/../x", None).await else {
        panic!("not served")
    };
    assert_eq!(r.status, 403);
    let post = RequestHead {
        method: &Method::POST,
        version: Version::HTTP_11,
        headers: &h,
    };
    let Outcome::Reply(r) = route.serve(&post, "/static/a.txt", None).await else {
        panic!("not served")
    };
    assert_eq!(r.status, 405);
    assert_eq!(r.headers["allow"], "GET, HEAD");
}

/// Status, Content-Length and body of a GET of `/a.txt`.
async fn served(route: &Arc<StaticRoute>, head: &RequestHead<'_>) -> (u16, String, Vec<u8>) {
    match route.serve(head, "/a.txt", None).await {
        Outcome::Reply(r) => {
            let len = r
                .headers
                .get("content-length")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            (r.status.as_u16(), len, body(r).await)
        }
        Outcome::Fallback(_) => panic!("not served"),
    }
}

#[tokio::test]
async fn within_cache_valid_a_changed_file_is_reloaded() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let route = Arc::new(StaticRoute::new(
        Source::Dir {
            root: root.clone(),
            options: DirOptions::default(),
        },
        0,
        RouteOptions {
            cache_valid: Duration::from_secs(3600),
            ..RouteOptions::default()
        },
        None,
    ));
    let h = HeaderMap::new();
    let head = RequestHead {
        method: &Method::GET,
        version: Version::HTTP_11,
        headers: &h,
    };
    std::fs::write(root.join("a.txt"), "first version").unwrap();
    assert_eq!(
        served(&route, &head).await,
        (200, "13".into(), b"first version".to_vec())
    );
    // Unchanged: the cached entity itself is served again.
    assert_eq!(served(&route, &head).await.2, b"first version");
    // Truncated in place (same inode).
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(root.join("a.txt"))
        .unwrap();
    f.set_len(5).unwrap();
    drop(f);
    assert_eq!(
        served(&route, &head).await,
        (200, "5".into(), b"first".to_vec())
    );
    // Replaced by a rename: the cached descriptor's file is unlinked.
    std::fs::write(root.join("b.txt"), "second").unwrap();
    std::fs::rename(root.join("b.txt"), root.join("a.txt")).unwrap();
    assert_eq!(
        served(&route, &head).await,
        (200, "6".into(), b"second".to_vec())
    );
    std::fs::remove_file(root.join("a.txt")).unwrap();
    assert_eq!(served(&route, &head).await.0, 404);
}
