//! Debian's names for things: suites and kernel images, the fields of
//! `apt-cache show` stanzas, and where an unpacked package keeps its
//! vmlinuz and config.

use std::path::{Path, PathBuf};

use super::version::compare;
use super::{Spec, SUGGESTIONS, SUITES};

pub(super) fn classify(name: &str) -> Spec<'_> {
    let name = name.strip_prefix("linux-image-").unwrap_or(name);
    if name == "unstable" {
        return Spec::Suite("sid");
    }
    match SUITES.into_iter().find(|s| *s == name) {
        Some(s) => Spec::Suite(s),
        None if looks_like_image(name) => Spec::Image(name),
        None => Spec::Neither,
    }
}

/// A `debian:` name that stands for several images: every image of one
/// suite or of all of them whose name matches `pattern`.
#[derive(Debug)]
pub(super) struct Set<'a> {
    pub(super) suite: Option<&'static str>,
    pub(super) text: &'a str,
    pub(super) pattern: glob::Pattern,
}

/// `all`, `SUITE/GLOB` (`bookworm/*`) or a glob over every suite
/// (`6.1.0-*-cloud-amd64`); `None` for a name of one kernel.
pub(super) fn set_of(name: &str) -> Option<Result<Set<'_>, String>> {
    let (suite, text) = match name.split_once('/') {
        Some((suite, text)) => match classify(suite) {
            Spec::Suite(s) => (Some(s), text),
            _ => {
                return Some(Err(format!(
                    "`{suite}` is not a suite (bullseye, bookworm, trixie, sid or unstable)"
                )))
            }
        },
        None if name == "all" => (None, "*"),
        None if name.contains(['*', '?', '[']) => (None, name),
        None => return None,
    };
    let text = if text.is_empty() { "*" } else { text };
    Some(
        glob::Pattern::new(text)
            .map(|pattern| Set {
                suite,
                text,
                pattern,
            })
            .map_err(|e| format!("`{text}` is not a glob: {e}")),
    )
}

/// A kernel release as Debian names images: three numbers, then `-` or `+`
/// and more (5.10.0-46-rt-amd64, 6.1.0-0.deb11.52-amd64,
/// 7.2.13+deb14-cloud-amd64), in characters apt takes literally.
pub(super) fn looks_like_image(name: &str) -> bool {
    let literal = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b));
    let Some((release, rest)) = name.split_once(['-', '+']) else {
        return false;
    };
    let nums: Vec<&str> = release.split('.').collect();
    literal
        && !rest.is_empty()
        && nums.len() == 3
        && nums
            .iter()
            .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// A field of the first stanza of `apt-cache show` output, continuation
/// lines joined.
pub(super) fn field(stanza: &str, key: &str) -> Option<String> {
    let mut lines = stanza.lines().take_while(|l| !l.trim().is_empty());
    let first = lines.find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))?;
    let more = lines.take_while(|l| l.starts_with([' ', '\t']));
    Some(
        std::iter::once(first)
            .chain(more)
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(" ")
            .trim()
            .into(),
    )
}

/// The stanza of the first of `pkgs` present in `apt-cache show` output.
pub(super) fn pick(show: &str, pkgs: &[&str]) -> Option<(String, String)> {
    let stanzas: Vec<&str> = show.split("\n\n").collect();
    pkgs.iter().find_map(|p| {
        let s = stanzas
            .iter()
            .find(|s| field(s, "Package").as_deref() == Some(p))?;
        Some((p.to_string(), s.to_string()))
    })
}

/// The package names in Depends, alternatives included, constraints dropped.
pub(super) fn depends(stanza: &str) -> Vec<String> {
    let Some(deps) = field(stanza, "Depends") else {
        return vec![];
    };
    deps.split([',', '|'])
        .filter_map(|d| d.split(['(', '[', ' ']).find(|w| !w.is_empty()))
        .map(|d| d.split(':').next().unwrap_or(d).to_string())
        .collect()
}

/// Dependencies that may carry the vmlinuz or config of image `name`:
/// linux-binary-NAME first, then the like; never modules or headers.
pub(super) fn kernel_parts(deps: &[String], name: &str) -> Vec<String> {
    let skip = [
        "linux-modules-",
        "linux-headers-",
        "linux-image-",
        "linux-kbuild-",
    ];
    let mut parts: Vec<String> = deps
        .iter()
        .filter(|d| d.contains(name) && !skip.iter().any(|s| d.starts_with(s)))
        .cloned()
        .collect();
    parts.sort_by_key(|d| !d.starts_with("linux-binary-"));
    parts.dedup();
    parts
}

/// The image name a metapackage's stanza depends on.
pub(super) fn image_of_meta(stanza: &str) -> Option<String> {
    depends(stanza)
        .into_iter()
        .filter_map(|d| d.strip_prefix("linux-image-").map(str::to_string))
        .find(|n| looks_like_image(n))
}

/// Image names in `apt-cache search` output, oldest first: not
/// metapackages or -dbg, and an -unsigned package named as its image (some
/// suites keep only the unsigned twin; the fetcher takes either).
pub(super) fn image_names(search: &str) -> Vec<String> {
    let mut names: Vec<String> = search
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.strip_prefix("linux-image-"))
        .map(|n| n.strip_suffix("-unsigned").unwrap_or(n))
        .filter(|n| looks_like_image(n) && n.ends_with("amd64"))
        .map(str::to_string)
        .collect();
    names.sort_by(|a, b| compare(a, b));
    names.dedup();
    names
}

/// The names a glob (`*`, `?`, `[...]`) matches as a whole.
pub(super) fn matching(pattern: &glob::Pattern, names: &[String]) -> Vec<String> {
    names
        .iter()
        .filter(|n| pattern.matches(n))
        .cloned()
        .collect()
}

pub(super) fn nearest(name: &str, names: &[String]) -> Vec<String> {
    nearest_by(names, |n| strsim::levenshtein(name, n))
}

/// The names a glob comes nearest to matching: fewest edits to the glob's
/// literal characters, its `*` matching any run and `?` any one character.
pub(super) fn nearest_to_glob(glob: &str, names: &[String]) -> Vec<String> {
    nearest_by(names, |n| glob_distance(glob, n))
}

fn glob_distance(glob: &str, name: &str) -> usize {
    let (p, n): (Vec<char>, Vec<char>) = (glob.chars().collect(), name.chars().collect());
    // d[i][j]: edits for p[..i] to match n[..j].
    let mut d = vec![vec![0usize; n.len() + 1]; p.len() + 1];
    d[0] = (0..=n.len()).collect();
    for i in 1..=p.len() {
        d[i][0] = if p[i - 1] == '*' {
            d[i - 1][0]
        } else {
            d[i - 1][0] + 1
        };
        for j in 1..=n.len() {
            d[i][j] = match p[i - 1] {
                '*' => d[i - 1][j].min(d[i][j - 1]),
                c => {
                    let same = c == '?' || c == n[j - 1];
                    (d[i - 1][j - 1] + usize::from(!same))
                        .min(d[i - 1][j] + 1)
                        .min(d[i][j - 1] + 1)
                }
            };
        }
    }
    d[p.len()][n.len()]
}

fn nearest_by(names: &[String], distance: impl Fn(&str) -> usize) -> Vec<String> {
    let mut v: Vec<(usize, &String)> = names.iter().map(|n| (distance(n), n)).collect();
    v.sort();
    v.dedup();
    v.into_iter()
        .take(SUGGESTIONS)
        .map(|(_, n)| n.clone())
        .collect()
}

/// The first vmlinuz and config in an unpacked package tree (see
/// [`crate::kernels::package::parts`]).
pub(super) fn find_parts(root: &Path) -> (Option<PathBuf>, Option<PathBuf>) {
    let (images, configs) = crate::kernels::package::parts(root, 0);
    let first =
        |found: Vec<crate::kernels::package::Found>| found.into_iter().next().map(|f| f.path);
    (first(images), first(configs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::debian::tests::bzimage;
    use crate::kernels::is_bzimage;
    use std::fs;

    const SID_IMAGE: &str = "\
Package: linux-image-7.2.13+deb14-cloud-amd64
Source: linux-signed-amd64 (7.2.13+1)
Version: 7.2.13-1
Installed-Size: 15
Depends: dracut | initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool, linux-base-7.2.13+deb14-cloud-amd64 (= 7.2.13-1),
 linux-binary-7.2.13+deb14-cloud-amd64 (= 7.2.13-1), linux-modules-7.2.13+deb14-cloud-amd64 (= 7.2.13-1)
Pre-Depends: linux-base (>= 4.17~)
Description: Linux 7.2.13 for x86-64 cloud
 The Linux kernel 7.2.13 and modules for use on x86-64 cloud.

";
    const BOOKWORM_META: &str = "\
Package: linux-image-cloud-amd64
Version: 6.1.192-2
Depends: linux-image-6.1.0-56-cloud-amd64 (= 6.1.192-2)
";
    const SID_META: &str = "\
Package: linux-image-cloud-amd64
Version: 7.2.13-1
Depends: linux-base-cloud-amd64 (= 7.2.13-1), linux-image-7.2.13+deb14-cloud-amd64 (= 7.2.13-1)
";

    #[test]
    fn classifies_aliases_and_images() {
        assert_eq!(classify("bookworm"), Spec::Suite("bookworm"));
        assert_eq!(classify("unstable"), Spec::Suite("sid"));
        for n in [
            "6.1.0-50-cloud-amd64",
            "6.1.0-50-amd64",
            "5.10.0-46-rt-amd64",
            "7.2.13+deb14-cloud-amd64",
            "6.1.0-0.deb11.52-amd64",
        ] {
            assert_eq!(classify(n), Spec::Image(n));
        }
        assert_eq!(
            classify("linux-image-6.1.0-50-amd64"),
            Spec::Image("6.1.0-50-amd64")
        );
        for n in [
            "stable",
            "bookwrm",
            "6.1-amd64",
            "6.1.0",
            "6.1.0-*",
            "6.1.0-50-AMD64",
            "6.1.0-5 0",
            "",
        ] {
            assert_eq!(classify(n), Spec::Neither, "{n}");
        }
    }

    const ARCHIVE: [&str; 9] = [
        "5.10.0-46-amd64",
        "5.10.0-46-cloud-amd64",
        "6.1.0-0.deb11.52-cloud-amd64",
        "6.1.0-41-cloud-amd64",
        "6.1.0-57-cloud-amd64",
        "6.1.0-57-rt-amd64",
        "6.12.118+deb12-cloud-amd64",
        "6.12.118+deb13-amd64",
        "7.2.13+deb14-cloud-amd64",
    ];

    fn expand(name: &str) -> Option<(Option<&'static str>, Vec<String>)> {
        let names: Vec<String> = ARCHIVE.iter().map(|n| n.to_string()).collect();
        let set = set_of(name)?.unwrap();
        Some((set.suite, matching(&set.pattern, &names)))
    }

    #[test]
    fn sets_expand_by_glob() {
        let (suite, all) = expand("all").unwrap();
        assert_eq!((suite, all.len()), (None, ARCHIVE.len()));
        assert_eq!(
            expand("6.1.0-*-cloud-amd64").unwrap().1,
            [
                "6.1.0-0.deb11.52-cloud-amd64",
                "6.1.0-41-cloud-amd64",
                "6.1.0-57-cloud-amd64"
            ]
        );
        assert_eq!(
            expand("*-rt-amd64").unwrap().1,
            ["6.1.0-57-rt-amd64"],
            "a glob matches the whole name"
        );
        assert_eq!(
            expand("6.1.0-[45]?-cloud-amd64").unwrap().1,
            ["6.1.0-41-cloud-amd64", "6.1.0-57-cloud-amd64"]
        );
        // The suite part picks the lists; the glob still filters.
        let (suite, names) = expand("bookworm/*").unwrap();
        assert_eq!((suite, names.len()), (Some("bookworm"), ARCHIVE.len()));
        assert_eq!(expand("unstable/").unwrap().0, Some("sid"));
        assert_eq!(
            expand("trixie/*+deb13-*").unwrap(),
            (Some("trixie"), vec!["6.12.118+deb13-amd64".to_string()])
        );
        assert!(expand("6.1.0-99-*").unwrap().1.is_empty());
        // One kernel's names are no sets.
        for one in ["bookworm", "6.1.0-57-cloud-amd64", "unstable", "allx"] {
            assert!(set_of(one).is_none(), "{one}");
        }
        let bad = set_of("bookwrm/*").unwrap().unwrap_err();
        assert!(bad.contains("`bookwrm` is not a suite"), "{bad}");
        let bad = set_of("6.1.0-[").unwrap().unwrap_err();
        assert!(bad.contains("not a glob"), "{bad}");
    }

    #[test]
    fn nearest_names_for_a_glob_that_matches_nothing() {
        let names: Vec<String> = ARCHIVE.iter().map(|n| n.to_string()).collect();
        let near = nearest_to_glob("6.1.0-*-clod-amd64", &names);
        assert_eq!(
            near[..3],
            [
                "6.1.0-0.deb11.52-cloud-amd64",
                "6.1.0-41-cloud-amd64",
                "6.1.0-57-cloud-amd64"
            ],
            "one edit from matching"
        );
        assert_eq!(
            nearest_to_glob("7.3.*-cloud-amd64", &names)[0],
            "7.2.13+deb14-cloud-amd64"
        );
        assert_eq!(
            glob_distance("6.1.0-*-cloud-amd64", "6.1.0-57-cloud-amd64"),
            0
        );
        assert_eq!(glob_distance("6.1.0-??-rt-amd64", "6.1.0-57-rt-amd64"), 0);
        assert_eq!(glob_distance("*-rt-amd64", "6.1.0-57-cloud-amd64"), 3);
        assert_eq!(
            glob_distance("abc", "abd"),
            strsim::levenshtein("abc", "abd")
        );
    }

    #[test]
    fn parses_fields_and_depends() {
        assert_eq!(field(SID_IMAGE, "Version").as_deref(), Some("7.2.13-1"));
        let both = format!("{BOOKWORM_META}\n{SID_IMAGE}");
        let (p, s) = pick(
            &both,
            &[
                "nope",
                "linux-image-7.2.13+deb14-cloud-amd64",
                "linux-image-cloud-amd64",
            ],
        )
        .unwrap();
        assert_eq!(
            (p.as_str(), s.as_str()),
            ("linux-image-7.2.13+deb14-cloud-amd64", SID_IMAGE.trim_end())
        );
        assert_eq!(pick(&both, &["linux-image"]), None);
        assert_eq!(field(SID_IMAGE, "Description").as_deref(),
                   Some("Linux 7.2.13 for x86-64 cloud The Linux kernel 7.2.13 and modules for use on x86-64 cloud."));
        assert_eq!(field(SID_IMAGE, "Depends:"), None);
        assert_eq!(
            field("Package: a\n\nVersion: 2\n", "Version"),
            None,
            "first stanza only"
        );
        assert_eq!(
            depends(SID_IMAGE),
            [
                "dracut",
                "initramfs-tools",
                "linux-initramfs-tool",
                "linux-base-7.2.13+deb14-cloud-amd64",
                "linux-binary-7.2.13+deb14-cloud-amd64",
                "linux-modules-7.2.13+deb14-cloud-amd64",
            ]
        );
        assert_eq!(
            depends("Depends: perl:any, libc6 [amd64] (>= 2)\n"),
            ["perl", "libc6"]
        );
    }

    #[test]
    fn follows_depends_to_the_kernel_not_the_modules() {
        let name = "7.2.13+deb14-cloud-amd64";
        assert_eq!(
            kernel_parts(&depends(SID_IMAGE), name),
            [
                "linux-binary-7.2.13+deb14-cloud-amd64",
                "linux-base-7.2.13+deb14-cloud-amd64"
            ]
        );
        let bookworm = "Depends: kmod, linux-base (>= 4.3~), initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool\n";
        assert!(kernel_parts(&depends(bookworm), "6.1.0-56-cloud-amd64").is_empty());
        assert_eq!(
            image_of_meta(BOOKWORM_META).as_deref(),
            Some("6.1.0-56-cloud-amd64")
        );
        assert_eq!(
            image_of_meta(SID_META).as_deref(),
            Some("7.2.13+deb14-cloud-amd64")
        );
        assert_eq!(image_of_meta("Depends: linux-image-6.1-amd64\n"), None);
    }

    #[test]
    fn lists_images_nearest_first() {
        let search = "\
linux-image-6.1.0-56-cloud-amd64 - Linux 6.1 for x86-64 cloud (signed)
linux-image-6.1.0-56-cloud-amd64-unsigned - Linux 6.1 for x86-64 cloud
linux-image-6.1.0-56-cloud-amd64-dbg - Debug symbols for linux-image-6.1.0-56-cloud-amd64
linux-image-6.1.0-50-rt-amd64 - Linux 6.1 for x86-64, PREEMPT_RT (signed)
linux-image-6.1.0-50-amd64 - Linux 6.1 for 64-bit PCs (signed)
linux-image-cloud-amd64 - Linux for x86-64 cloud (meta-package)
linux-image-6.12-amd64 - Linux for 64-bit PCs (meta-package)
linux-image-6.12-amd64-signed-template - Template for signed linux-image packages for amd64
linux-image-6.12.118+deb12-amd64-unsigned - Linux 6.12 for 64-bit PCs
";
        let names = image_names(search);
        assert_eq!(
            names,
            [
                "6.1.0-50-amd64",
                "6.1.0-50-rt-amd64",
                "6.1.0-56-cloud-amd64",
                "6.12.118+deb12-amd64"
            ]
        );
        assert_eq!(nearest("6.1.0-50-rt-amd", &names)[0], "6.1.0-50-rt-amd64");
        assert_eq!(
            nearest("6.1.0-57-cloud-amd64", &names)[0],
            "6.1.0-56-cloud-amd64"
        );
        let many: Vec<String> = (0..40).map(|i| format!("6.1.0-{i}-amd64")).collect();
        assert_eq!(nearest("6.1.0-7-amd64", &many).len(), SUGGESTIONS);
    }

    #[test]
    fn finds_vmlinuz_in_boot_and_modules_dir() {
        let t = tempfile::tempdir().unwrap();
        let (a, b) = (t.path().join("a"), t.path().join("b"));
        bzimage(&a.join("boot/vmlinuz-6.1.0-56-amd64"));
        fs::write(a.join("boot/config-6.1.0-56-amd64"), "CONFIG_SECCOMP=y\n").unwrap();
        fs::write(a.join("boot/System.map-6.1.0-56-amd64"), "").unwrap();
        let (v, c) = find_parts(&a);
        assert!(
            v.unwrap().ends_with("boot/vmlinuz-6.1.0-56-amd64")
                && is_bzimage(&a.join("boot/vmlinuz-6.1.0-56-amd64"))
        );
        assert!(c.unwrap().ends_with("boot/config-6.1.0-56-amd64"));
        bzimage(&b.join("usr/lib/modules/7.2.13+deb14-cloud-amd64/vmlinuz"));
        std::os::unix::fs::symlink(
            "/etc/hostname",
            b.join("usr/lib/modules/7.2.13+deb14-cloud-amd64/config"),
        )
        .unwrap();
        let (v, c) = find_parts(&b);
        assert!(v
            .unwrap()
            .ends_with("modules/7.2.13+deb14-cloud-amd64/vmlinuz"));
        assert_eq!(c, None, "a symlink out of the package is not its config");
        assert_eq!(find_parts(&t.path().join("none")), (None, None));
        assert!(!is_bzimage(&a.join("boot/config-6.1.0-56-amd64")));
    }
}
