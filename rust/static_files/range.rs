//! `Range: bytes=…` (RFC 9110 §14.1–14.2): parsed against the representation's length
//! into satisfiable, half-open byte ranges. Ranges that add up to no more than the file
//! are served as asked (in their order, overlaps kept, as CherryPy does); beyond that they
//! are sorted and overlapping or adjacent ones merged (RFC 9110 §14.2 lets a server
//! coalesce), and a header with very many ranges is ignored, so a request cannot make the
//! server send more than the file (the multipart amplification peers have shipped).

/// Ranges past this count make the header ignored (the whole file is sent).
const MAX_RANGES: usize = 64;

/// What to send for a Range header.
#[derive(Debug, PartialEq, Eq)]
pub enum Ranges {
    /// No (usable) Range header: the whole representation.
    Whole,
    /// These `[start, end)` ranges: as requested when their lengths add up to no more
    /// than the representation, else sorted and disjoint.
    Partial(Vec<(u64, u64)>),
    /// Valid syntax, but no range overlaps the representation: 416.
    Unsatisfiable,
}

/// One `first-last`, `first-` or `-suffix` spec, or None when malformed.
fn spec(text: &str, len: u64) -> Option<Option<(u64, u64)>> {
    let (first, last) = text.trim().split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if first.is_empty() {
        if !digits(last) {
            return None;
        }
        // A suffix longer than u64 is simply "the whole file".
        let suffix = last.parse::<u64>().unwrap_or(u64::MAX);
        if suffix == 0 || len == 0 {
            return Some(None);
        }
        return Some(Some((len - suffix.min(len), len)));
    }
    if !digits(first) || !(last.is_empty() || digits(last)) {
        return None;
    }
    let start = first.parse::<u64>().ok()?;
    let end = if last.is_empty() {
        u64::MAX
    } else {
        let end = last.parse::<u64>().unwrap_or(u64::MAX);
        if end < start {
            return None;
        }
        end.saturating_add(1)
    };
    if start >= len {
        return Some(None);
    }
    Some(Some((start, end.min(len))))
}

/// Parses a Range header value for a representation of `len` bytes.
pub fn parse(value: &str, len: u64) -> Ranges {
    let Some((unit, set)) = value.split_once('=') else {
        return Ranges::Whole;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return Ranges::Whole;
    }
    let mut ranges = Vec::new();
    let mut specs = 0;
    for item in set.split(',') {
        if item.trim().is_empty() {
            continue;
        }
        specs += 1;
        if specs > MAX_RANGES {
            return Ranges::Whole;
        }
        match spec(item, len) {
            None => return Ranges::Whole,
            Some(None) => {}
            Some(Some(range)) => ranges.push(range),
        }
    }
    if specs == 0 {
        return Ranges::Whole;
    }
    if ranges.is_empty() {
        return Ranges::Unsatisfiable;
    }
    let requested = ranges
        .iter()
        .fold(0u64, |sum, (start, end)| sum.saturating_add(end - start));
    if requested <= len {
        return Ranges::Partial(ranges);
    }
    ranges.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for (start, end) in ranges {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    Ranges::Partial(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_ranges() {
        assert_eq!(parse("bytes=0-9", 100), Ranges::Partial(vec![(0, 10)]));
        assert_eq!(parse("bytes=90-", 100), Ranges::Partial(vec![(90, 100)]));
        assert_eq!(parse("bytes=-10", 100), Ranges::Partial(vec![(90, 100)]));
        assert_eq!(parse("bytes=-1000", 100), Ranges::Partial(vec![(0, 100)]));
        assert_eq!(
            parse("bytes=50-1000", 100),
            Ranges::Partial(vec![(50, 100)])
        );
        assert_eq!(parse("Bytes = 0-0", 100), Ranges::Partial(vec![(0, 1)]));
        assert_eq!(
            parse("bytes=0-99999999999999999999999", 100),
            Ranges::Partial(vec![(0, 100)])
        );
    }

    #[test]
    fn ranges_within_the_file_are_served_as_asked() {
        assert_eq!(
            parse("bytes=50-59, 0-9", 100),
            Ranges::Partial(vec![(50, 60), (0, 10)])
        );
        // CherryPy's test: overlapping and out of order, 7 bytes of 14.
        assert_eq!(
            parse("bytes=4-6,2-5", 14),
            Ranges::Partial(vec![(4, 7), (2, 6)])
        );
    }

    #[test]
    fn ranges_adding_up_to_more_than_the_file_are_sorted_and_merged() {
        assert_eq!(
            parse("bytes=0-9,5-19,20-29", 25),
            Ranges::Partial(vec![(0, 25)])
        );
        assert_eq!(
            parse("bytes=50-99,0-59", 100),
            Ranges::Partial(vec![(0, 100)])
        );
        let amplified = format!("bytes={}", vec!["0-99"; MAX_RANGES].join(","));
        assert_eq!(parse(&amplified, 100), Ranges::Partial(vec![(0, 100)]));
        assert_eq!(
            parse("bytes=0-9,200-300", 100),
            Ranges::Partial(vec![(0, 10)])
        );
    }

    #[test]
    fn unsatisfiable_and_ignored() {
        assert_eq!(parse("bytes=100-", 100), Ranges::Unsatisfiable);
        assert_eq!(parse("bytes=200-300,150-", 100), Ranges::Unsatisfiable);
        assert_eq!(parse("bytes=-0", 100), Ranges::Unsatisfiable);
        assert_eq!(parse("bytes=0-", 0), Ranges::Unsatisfiable);
        // Malformed: the header is ignored and the whole file is sent.
        for bad in [
            "bytes=9-0",
            "bytes=a-b",
            "bytes=1-2-3",
            "bytes=",
            "bytes=-",
            "items=0-1",
            "0-1",
            "bytes=+1-2",
        ] {
            assert_eq!(parse(bad, 100), Ranges::Whole, "{bad}");
        }
        let many = format!("bytes={}", vec!["0-0"; MAX_RANGES + 1].join(","));
        assert_eq!(parse(&many, 100), Ranges::Whole);
    }
}
