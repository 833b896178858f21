//! Where kernels come from: how a user names one, and turning the name
//! into an image QEMU can boot, with its config when it is known.
//!
//! - `host`: the running kernel, natively, no QEMU.
//! - a path to a bzImage or vmlinuz.
//! - a path to a `.deb` or `.rpm`, or to a directory of them: a
//!   distribution's kernel package, unpacked ([`package`]).
//! - `debian:NAME`: a kernel from Debian's archive ([`debian`]).
//! - `tree:PATH`: a kernel source tree, built ([`tree`]).
//!
//! [`bisect`] drives `git bisect` in such a tree.

pub mod bisect;
pub mod debian;
pub mod package;
pub mod tree;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use kconform_core::kernel::parse_config;
use serde::Deserialize;

/// What is wrong with a kernel spec, a matrix file or an image.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpecError {
    #[error("{0}")]
    BadSpec(String),
    #[error("cannot open the kernel image {path}: {why}")]
    Unreadable { path: PathBuf, why: String },
    #[error("{path} is not a bootable x86 kernel image{hint}: pass a bzImage or vmlinuz")]
    NotAnImage { path: PathBuf, hint: &'static str },
    #[error("`host` runs natively, not under QEMU")]
    HostNotBootable,
    #[error("cannot read the matrix file {path}: {why}")]
    MatrixUnreadable { path: PathBuf, why: String },
    #[error("{path}: {problem}")]
    MatrixMalformed { path: PathBuf, problem: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KernelSpec {
    Host,
    Image(PathBuf),
    Debian(String),
    Tree(PathBuf),
    /// A .deb or .rpm, or a directory of them.
    Package(PathBuf),
}

impl KernelSpec {
    pub fn parse(s: &str) -> Result<KernelSpec, SpecError> {
        let bad = |m: &str| Err(SpecError::BadSpec(m.to_string()));
        let s = s.trim();
        if s == "host" {
            return Ok(KernelSpec::Host);
        }
        if let Some(name) = s.strip_prefix("debian:") {
            if name.is_empty() {
                return bad("`debian:` needs a name: a suite (bullseye, bookworm, trixie, sid) or an image name such as 6.1.0-50-cloud-amd64");
            }
            return Ok(KernelSpec::Debian(name.to_string()));
        }
        if let Some(path) = s.strip_prefix("tree:") {
            if path.is_empty() {
                return bad("`tree:` needs the path of a kernel source tree");
            }
            return Ok(KernelSpec::Tree(PathBuf::from(path)));
        }
        if s.is_empty() {
            return bad("empty kernel spec (use host, a bzImage path, debian:NAME or tree:PATH)");
        }
        if package::names_packages(Path::new(s)) {
            return Ok(KernelSpec::Package(PathBuf::from(s)));
        }
        if let Some((scheme, _)) = s.split_once(':') {
            if !scheme.contains('/') && !Path::new(s).exists() {
                return bad(&format!(
                    "unknown kernel spec `{s}`: use host, a bzImage path, debian:NAME or tree:PATH"
                ));
            }
        }
        Ok(KernelSpec::Image(PathBuf::from(s)))
    }

    pub fn is_host(&self) -> bool {
        matches!(self, KernelSpec::Host)
    }
}

impl fmt::Display for KernelSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KernelSpec::Host => f.write_str("host"),
            KernelSpec::Image(p) => write!(f, "{}", p.display()),
            KernelSpec::Debian(n) => write!(f, "debian:{n}"),
            KernelSpec::Tree(p) => write!(f, "tree:{}", p.display()),
            KernelSpec::Package(p) => write!(f, "{}", p.display()),
        }
    }
}

/// A matrix file: `kernels = ["debian:bookworm", "tree:/src/linux", ...]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MatrixFile {
    kernels: Vec<String>,
}

/// The kernels a matrix file names.
pub fn load_matrix(path: &Path) -> Result<Vec<KernelSpec>, SpecError> {
    let text = std::fs::read_to_string(path).map_err(|e| SpecError::MatrixUnreadable {
        path: path.to_path_buf(),
        why: e.to_string(),
    })?;
    parse_matrix(path, &text)
}

/// The kernels a matrix file's text names; `path` is how errors name it.
pub fn parse_matrix(path: &Path, text: &str) -> Result<Vec<KernelSpec>, SpecError> {
    let malformed = |problem: String| SpecError::MatrixMalformed {
        path: path.to_path_buf(),
        problem,
    };
    let m: MatrixFile =
        toml::from_str(text).map_err(|e| malformed(format!("not a matrix file: {e}")))?;
    if m.kernels.is_empty() {
        return Err(malformed("`kernels` is empty".into()));
    }
    m.kernels
        .iter()
        .map(|k| KernelSpec::parse(k).map_err(|e| malformed(e.to_string())))
        .collect()
}

/// A kernel image ready to boot, and what is known about it.
#[derive(Clone, Debug)]
pub struct BootTarget {
    /// How the user named it (`debian:sid`, a path, `tree:...`).
    pub spec: String,
    pub image: PathBuf,
    /// Where it came from, for the report.
    pub source: String,
    /// Its config, when known before booting, and where it was read.
    pub config: Option<(String, BTreeMap<String, String>)>,
}

impl BootTarget {
    /// Its config as the host read it, as .config lines: what the guest
    /// writes to /boot/config-RELEASE for a program there to find, as on
    /// a distribution's system.
    pub fn config_text(&self) -> Option<String> {
        self.config
            .as_ref()
            .map(|(_, options)| options.iter().map(|(k, v)| format!("{k}={v}\n")).collect())
    }
}

/// Where resolving may download, build and cache.
pub struct Resolver {
    pub cache_root: PathBuf,
    pub offline: bool,
    /// The config fragment `tree:` kernels are built with.
    pub fragment: crate::bundled::Fragment,
}

impl Resolver {
    fn debian(&self) -> debian::Fetcher {
        debian::Fetcher::new(self.cache_root.clone(), self.offline)
    }

    /// The kernels a spec names: a set (`debian:all`, `debian:bookworm/*`,
    /// a glob) becomes one `debian:IMAGE` per image, oldest first; any
    /// other spec is itself.
    pub fn expand(&self, spec: &KernelSpec) -> Result<Vec<KernelSpec>, crate::Error> {
        if let KernelSpec::Debian(n) = spec {
            if let Some(names) = self.debian().expand(n)? {
                return Ok(names.into_iter().map(KernelSpec::Debian).collect());
            }
        }
        Ok(vec![spec.clone()])
    }

    /// Whether resolving `spec` downloads: a Debian image not in the cache
    /// (suite aliases are looked up when resolved).
    pub fn must_download(&self, spec: &KernelSpec) -> bool {
        match spec {
            KernelSpec::Debian(n) => self.debian().must_download(n),
            _ => false,
        }
    }

    /// Turn a spec into something bootable; `say` hears slow steps.
    pub fn resolve(
        &self,
        spec: &KernelSpec,
        say: &dyn Fn(&str),
    ) -> Result<BootTarget, crate::Error> {
        let name = spec.to_string();
        match spec {
            KernelSpec::Host => Err(SpecError::HostNotBootable.into()),
            KernelSpec::Image(path) => {
                check_image(path)?;
                Ok(BootTarget {
                    spec: name,
                    image: path.clone(),
                    source: path.display().to_string(),
                    config: config_beside(path),
                })
            }
            KernelSpec::Debian(n) => {
                say("from the cache or Debian's archive");
                let k = self.debian().fetch(n)?;
                if let Some(note) = &k.note {
                    say(note);
                }
                check_image(&k.image)?;
                let config = k.config.as_ref().and_then(|c| {
                    let text = std::fs::read_to_string(c).ok()?;
                    Some((format!("{} {}", k.package, k.version), parse_config(&text)))
                });
                Ok(BootTarget {
                    spec: name,
                    image: k.image.clone(),
                    source: format!("{} {} ({})", k.package, k.version, k.suite),
                    config,
                })
            }
            KernelSpec::Tree(path) => {
                say("building the kernel tree");
                let fragment = self.fragment.file(&self.cache_root).map_err(|source| {
                    tree::TreeError::FragmentUnreadable {
                        path: self.cache_root.join("fragments"),
                        source,
                    }
                })?;
                let built = tree::build(path, &fragment, &self.cache_root)?;
                let text =
                    std::fs::read_to_string(&built.config).map_err(|e| SpecError::Unreadable {
                        path: built.config.clone(),
                        why: e.to_string(),
                    })?;
                Ok(BootTarget {
                    spec: name,
                    image: built.image.clone(),
                    source: format!("{} built in {}", path.display(), built.build_dir.display()),
                    config: Some((built.config.display().to_string(), parse_config(&text))),
                })
            }
            KernelSpec::Package(path) => Ok(package::resolve(path, name, &self.cache_root, say)?),
        }
    }
}

/// Whether a file starts like a bootable x86 image: every one (bzImage,
/// Debian's vmlinuz) carries the setup header magic "HdrS" at 0x202.
pub fn is_bzimage(path: &Path) -> bool {
    check_image(path).is_ok()
}

/// Refuse what QEMU cannot boot as an x86 kernel, before starting it.
pub fn check_image(path: &Path) -> Result<(), SpecError> {
    use std::io::Read;
    let mut head = [0u8; 0x210];
    let unreadable = |e: std::io::Error| SpecError::Unreadable {
        path: path.to_path_buf(),
        why: e.to_string(),
    };
    let mut f = std::fs::File::open(path).map_err(unreadable)?;
    let n = f.read(&mut head).map_err(unreadable)?;
    if n < head.len() || &head[0x202..0x206] != b"HdrS" {
        let hint = if head.starts_with(b"\x7fELF") {
            " (an ELF vmlinux: boot arch/x86/boot/bzImage instead)"
        } else {
            ""
        };
        return Err(SpecError::NotAnImage {
            path: path.to_path_buf(),
            hint,
        });
    }
    Ok(())
}

/// A config that sits where builds and distributions leave one: the
/// build tree's .config for arch/x86/boot/bzImage, /boot/config-R for
/// /boot/vmlinuz-R, or a `config` file next to the image.
fn config_beside(image: &Path) -> Option<(String, BTreeMap<String, String>)> {
    let dir = image.parent()?;
    let file = image.file_name()?.to_str()?;
    let mut candidates = vec![dir.join("config"), dir.join(".config")];
    if let Some(release) = file.strip_prefix("vmlinuz-") {
        candidates.push(dir.join(format!("config-{release}")));
    }
    if dir.ends_with("arch/x86/boot") {
        candidates.push(dir.join("../../../.config"));
    }
    candidates.into_iter().find_map(|c| {
        let text = std::fs::read_to_string(&c).ok()?;
        text.contains("CONFIG_")
            .then(|| (c.display().to_string(), parse_config(&text)))
    })
}

/// `$KCONFORM_CACHE`, else `$XDG_CACHE_HOME/kconform`, else `~/.cache/kconform`:
/// Debian kernels, tree builds, the KVM probe's answer.
pub fn default_cache_root() -> PathBuf {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("KCONFORM_CACHE")
        .or_else(|| var("XDG_CACHE_HOME").map(|x| x.join("kconform")))
        .or_else(|| var("HOME").map(|h| h.join(".cache/kconform")))
        .unwrap_or_else(|| std::env::temp_dir().join("kconform-cache"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_by_their_prefix() {
        assert_eq!(KernelSpec::parse("host"), Ok(KernelSpec::Host));
        assert_eq!(
            KernelSpec::parse("debian:bookworm"),
            Ok(KernelSpec::Debian("bookworm".into()))
        );
        assert_eq!(
            KernelSpec::parse("tree:/src/linux"),
            Ok(KernelSpec::Tree("/src/linux".into()))
        );
        assert_eq!(
            KernelSpec::parse("/boot/vmlinuz-6.1"),
            Ok(KernelSpec::Image("/boot/vmlinuz-6.1".into()))
        );
        assert!(KernelSpec::parse("debian:").is_err());
        assert!(KernelSpec::parse("fedora:40")
            .unwrap_err()
            .to_string()
            .contains("unknown kernel spec"));
    }

    #[test]
    fn a_file_that_is_not_a_kernel_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("notes.txt");
        std::fs::write(&p, "hello").unwrap();
        let err = check_image(&p).unwrap_err().to_string();
        assert!(err.contains("not a bootable x86 kernel image"), "{err}");
        let missing = dir.path().join("nope");
        assert!(check_image(&missing)
            .unwrap_err()
            .to_string()
            .contains("cannot open"));
    }

    #[test]
    fn a_bzimage_header_is_accepted_and_its_config_found() {
        let dir = tempfile::tempdir().unwrap();
        let boot = dir.path().join("arch/x86/boot");
        std::fs::create_dir_all(&boot).unwrap();
        let mut img = vec![0u8; 0x400];
        img[0x202..0x206].copy_from_slice(b"HdrS");
        std::fs::write(boot.join("bzImage"), &img).unwrap();
        std::fs::write(dir.path().join(".config"), "CONFIG_SECCOMP=y\n").unwrap();
        check_image(&boot.join("bzImage")).unwrap();
        let (src, cfg) = config_beside(&boot.join("bzImage")).unwrap();
        assert!(src.ends_with(".config"));
        assert_eq!(cfg.get("CONFIG_SECCOMP").map(String::as_str), Some("y"));
    }
}
