//! Debian's version order, as `dpkg --compare-versions` has it: for
//! package versions (`6.1.192-3`, `1:2.0~rc1-1`) and for the kernel
//! releases Debian names its images by (`6.1.0-57-cloud-amd64` before
//! `6.12.118+deb13-amd64`), which are valid versions too.

use std::cmp::Ordering;

/// `a` against `b` in dpkg's order: epoch, then upstream, then revision.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (ea, ua, ra) = split(a);
    let (eb, ub, rb) = split(b);
    ea.cmp(&eb)
        .then_with(|| verrevcmp(ua, ub))
        .then_with(|| verrevcmp(ra, rb))
}

/// Epoch (before a `:`), upstream, and revision (after the last `-`).
fn split(v: &str) -> (u64, &str, &str) {
    let (epoch, rest) = match v.split_once(':') {
        Some((e, rest)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => {
            (e.parse().unwrap_or(u64::MAX), rest)
        }
        _ => (0, v),
    };
    match rest.rsplit_once('-') {
        Some((upstream, revision)) => (epoch, upstream, revision),
        None => (epoch, rest, ""),
    }
}

/// dpkg's weight of a character in the non-digit parts: `~` before the
/// end, the end before letters, letters before everything else.
fn weight(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's verrevcmp: alternating runs of non-digits (by `weight`) and
/// digits (by value, leading zeros ignored).
fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    let digit = |s: &[u8]| s.first().is_some_and(u8::is_ascii_digit);
    while !a.is_empty() || !b.is_empty() {
        while (!a.is_empty() && !digit(a)) || (!b.is_empty() && !digit(b)) {
            let (wa, wb) = (weight(a.first().copied()), weight(b.first().copied()));
            if wa != wb {
                return wa.cmp(&wb);
            }
            a = a.get(1..).unwrap_or_default();
            b = b.get(1..).unwrap_or_default();
        }
        while a.first() == Some(&b'0') {
            a = &a[1..];
        }
        while b.first() == Some(&b'0') {
            b = &b[1..];
        }
        let mut first_diff = Ordering::Equal;
        while digit(a) && digit(b) {
            if first_diff == Ordering::Equal {
                first_diff = a[0].cmp(&b[0]);
            }
            a = &a[1..];
            b = &b[1..];
        }
        if digit(a) {
            return Ordering::Greater;
        }
        if digit(b) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    /// In order, oldest first.
    const RELEASES: [&str; 10] = [
        "5.10.0-30-amd64",
        "5.10.0-46-cloud-amd64",
        "6.1.0-0.deb11.52-amd64",
        "6.1.0-41-cloud-amd64",
        "6.1.0-57-amd64",
        "6.1.0-57-cloud-amd64",
        "6.12.90+deb13-amd64",
        "6.12.118+deb12-amd64",
        "6.12.118+deb13-amd64",
        "7.2.13+deb14-cloud-amd64",
    ];

    #[test]
    fn kernels_in_version_order() {
        for (i, a) in RELEASES.iter().enumerate() {
            for (j, b) in RELEASES.iter().enumerate() {
                assert_eq!(compare(a, b), i.cmp(&j), "{a} vs {b}");
            }
        }
        let mut shuffled = RELEASES;
        shuffled.reverse();
        shuffled.swap(2, 7);
        shuffled.sort_by(|a, b| compare(a, b));
        assert_eq!(shuffled, RELEASES);
        // The short forms: 5.10 < 6.1.0-41 < 6.1.0-57 < 6.12 < 7.2.
        let short = ["5.10", "6.1.0-41", "6.1.0-57", "6.12", "7.2"];
        assert!(short
            .windows(2)
            .all(|w| compare(w[0], w[1]) == Ordering::Less));
    }

    #[test]
    fn package_versions_as_dpkg_orders_them() {
        let less = [
            ("1.0~rc1-1", "1.0-1"),
            ("1.0-1", "1.0-1.1"),
            ("1.0-1", "1:0.9-1"),
            ("6.1.170-2", "6.1.192-3"),
            ("6.1.192-2", "6.1.192-3"),
            ("1.0", "1.0a"),
            ("1.0a", "1.0+"),
            ("1.01", "1.2"),
            ("1.0~~", "1.0~"),
        ];
        for (a, b) in less {
            assert_eq!(compare(a, b), Ordering::Less, "{a} < {b}");
            assert_eq!(compare(b, a), Ordering::Greater, "{b} > {a}");
        }
        assert_eq!(compare("1.001-1", "1.1-1"), Ordering::Equal);
        assert_eq!(compare("0:1.0", "1.0"), Ordering::Equal);
    }

    /// The same pairs through dpkg itself, where it is installed (Debian
    /// hosts, CI): the reference this module copies.
    #[test]
    fn agrees_with_dpkg() {
        let Some(dpkg) = crate::util::which("dpkg") else {
            eprintln!("dpkg not installed: skipped");
            return;
        };
        let more = ["1.0~rc1-1", "1.0-1", "1:0.9-1", "1.0a", "1.0+", "6.1.192-3"];
        let all: Vec<&str> = RELEASES.iter().copied().chain(more).collect();
        for a in &all {
            for b in &all {
                let lt = std::process::Command::new(&dpkg)
                    .args(["--compare-versions", a, "lt", b])
                    .status()
                    .unwrap()
                    .success();
                assert_eq!(compare(a, b) == Ordering::Less, lt, "{a} lt {b}");
            }
        }
    }
}
