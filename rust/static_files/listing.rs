//! The HTML index of a directory (`cherrypy-rs static --listing`): names escaped for
//! HTML and percent-encoded in links, directories first, sizes and modification dates.
//! Blocking: call it off the tokio threads.

use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::SystemTime;

fn escape_html(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
}

/// RFC 3986 unreserved bytes stay, everything else is %XX.
fn encode_segment(name: &[u8], out: &mut String) {
    for &b in name {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

fn human_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

struct Item {
    name: Vec<u8>,
    dir: bool,
    size: u64,
    modified: Option<SystemTime>,
}

/// The listing page of `dir`, shown as `title` (the decoded request path).
pub fn render(dir: &Path, title: &str, dotfiles: bool) -> std::io::Result<String> {
    let mut items = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name().as_bytes().to_vec();
        if !dotfiles && name.first() == Some(&b'.') {
            continue;
        }
        // Follow symlinks for the kind and size shown; a broken one is left out.
        let Ok(meta) = std::fs::metadata(entry.path()) else {
            continue;
        };
        if !meta.is_dir() && !meta.is_file() {
            continue;
        }
        items.push(Item {
            name,
            dir: meta.is_dir(),
            size: meta.len(),
            modified: meta.modified().ok(),
        });
    }
    items.sort_by(|a, b| b.dir.cmp(&a.dir).then_with(|| a.name.cmp(&b.name)));
    let mut page = String::with_capacity(512 + items.len() * 160);
    let mut escaped_title = String::new();
    escape_html(title, &mut escaped_title);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n\
         <title>Index of {escaped_title}</title>\n</head>\n<body>\n\
         <h1>Index of {escaped_title}</h1>\n<table>\n\
         <tr><th>Name</th><th>Size</th><th>Last modified</th></tr>\n"
    );
    if title != "/" {
        page.push_str("<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n");
    }
    for item in &items {
        let mut href = String::new();
        encode_segment(&item.name, &mut href);
        let mut shown = String::new();
        escape_html(&String::from_utf8_lossy(&item.name), &mut shown);
        let (slash, size) = if item.dir {
            ("/", "-".to_string())
        } else {
            ("", human_size(item.size))
        };
        let modified = item
            .modified
            .map(httpdate::fmt_http_date)
            .unwrap_or_default();
        let _ = writeln!(
            page,
            "<tr><td><a href=\"{href}{slash}\">{shown}{slash}</a></td>\
             <td>{size}</td><td>{modified}</td></tr>"
        );
    }
    page.push_str("</table>\n</body>\n</html>\n");
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped_and_encoded() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("<b>&x\".txt"), "12345").unwrap();
        std::fs::write(dir.path().join(".hidden"), "").unwrap();
        std::fs::create_dir(dir.path().join("sub dir")).unwrap();
        let page = render(dir.path(), "/files/<x>/", false).unwrap();
        assert!(page.contains("Index of /files/&lt;x&gt;/"), "{page}");
        assert!(page.contains("href=\"%3Cb%3E%26x%22.txt\""), "{page}");
        assert!(page.contains("&lt;b&gt;&amp;x&quot;.txt"), "{page}");
        assert!(page.contains("href=\"sub%20dir/\""), "{page}");
        assert!(page.contains("5 B"));
        assert!(!page.contains("hidden"));
        // Directories are listed first.
        assert!(page.find("sub%20dir").unwrap() < page.find("%3Cb%3E").unwrap());
        assert!(render(dir.path(), "/", true).unwrap().contains(".hidden"));
    }

    #[test]
    fn sizes_are_human() {
        assert_eq!(human_size(10), "10 B");
        assert_eq!(human_size(2048), "2.0 KiB");
        assert_eq!(human_size(10 << 20), "10.0 MiB");
    }
}
