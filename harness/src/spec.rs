//! Kernel specs: how a user names a kernel, and turning the name into an
//! image QEMU can boot.
//!
//! - `host`: the running kernel, natively, no QEMU.
//! - a path to a bzImage or vmlinuz.
//! - `debian:NAME`: a kernel from Debian's archive (see [`crate::debian`]).
//! - `tree:PATH`: a kernel source tree, built (see [`crate::tree`]).

use std::fmt;
use std::path::{Path, PathBuf};

use crate::kernel::parse_config;
use crate::vm::BootTarget;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KernelSpec {
    Host,
    Image(PathBuf),
    Debian(String),
    Tree(PathBuf),
}

impl KernelSpec {
    pub fn parse(s: &str) -> Result<KernelSpec, String> {
        let s = s.trim();
        if s == "host" {
            return Ok(KernelSpec::Host);
        }
        if let Some(name) = s.strip_prefix("debian:") {
            if name.is_empty() {
                return Err("`debian:` needs a name: a suite (bullseye, bookworm, trixie, sid) or an image name such as 6.1.0-50-cloud-amd64".into());
            }
            return Ok(KernelSpec::Debian(name.to_string()));
        }
        if let Some(path) = s.strip_prefix("tree:") {
            if path.is_empty() {
                return Err("`tree:` needs the path of a kernel source tree".into());
            }
            return Ok(KernelSpec::Tree(PathBuf::from(path)));
        }
        if s.is_empty() {
            return Err(
                "empty kernel spec (use host, a bzImage path, debian:NAME or tree:PATH)".into(),
            );
        }
        if let Some((scheme, _)) = s.split_once(':') {
            if !scheme.contains('/') && !Path::new(s).exists() {
                return Err(format!(
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
        }
    }
}

/// Where resolving may download, build and cache.
pub struct Resolver {
    pub cache_root: PathBuf,
    pub offline: bool,
    /// The config fragment `tree:` kernels are built with.
    pub fragment: PathBuf,
}

impl Resolver {
    /// Turn a spec into something bootable; `say` hears slow steps.
    pub fn resolve(&self, spec: &KernelSpec, say: &dyn Fn(&str)) -> Result<BootTarget, String> {
        let name = spec.to_string();
        match spec {
            KernelSpec::Host => Err("`host` runs natively, not under QEMU".into()),
            KernelSpec::Image(path) => {
                check_image(path)?;
                let config = config_beside(path);
                Ok(BootTarget {
                    spec: name,
                    image: path.clone(),
                    source: path.display().to_string(),
                    config,
                })
            }
            KernelSpec::Debian(n) => {
                say("from the cache or Debian's archive");
                let k = crate::debian::Fetcher::new(self.cache_root.clone(), self.offline)
                    .fetch(n)
                    .map_err(|e| e.to_string())?;
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
                let built = crate::tree::build(path, &self.fragment, &self.cache_root)
                    .map_err(|e| e.to_string())?;
                let text = std::fs::read_to_string(&built.config)
                    .map_err(|e| format!("{}: {e}", built.config.display()))?;
                Ok(BootTarget {
                    spec: name,
                    image: built.image.clone(),
                    source: format!("{} built in {}", path.display(), built.build_dir.display()),
                    config: Some((built.config.display().to_string(), parse_config(&text))),
                })
            }
        }
    }
}

/// Refuse what QEMU cannot boot as an x86 kernel, before starting it.
pub fn check_image(path: &Path) -> Result<(), String> {
    use std::io::Read;
    let mut head = [0u8; 0x210];
    let mut f = std::fs::File::open(path)
        .map_err(|e| format!("cannot open the kernel image {}: {e}", path.display()))?;
    let n = f
        .read(&mut head)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    // Every bootable x86 image (bzImage, Debian's vmlinuz) carries the
    // setup header magic "HdrS" at 0x202.
    if n < head.len() || &head[0x202..0x206] != b"HdrS" {
        let what = if head.starts_with(b"\x7fELF") {
            " (an ELF vmlinux: boot arch/x86/boot/bzImage instead)"
        } else {
            ""
        };
        return Err(format!(
            "{} is not a bootable x86 kernel image{what}: pass a bzImage or vmlinuz",
            path.display()
        ));
    }
    Ok(())
}

/// A config that sits where builds and distributions leave one: the
/// build tree's .config for arch/x86/boot/bzImage, /boot/config-R for
/// /boot/vmlinuz-R, or a `config` file next to the image.
fn config_beside(image: &Path) -> Option<(String, std::collections::BTreeMap<String, String>)> {
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
            .contains("unknown kernel spec"));
    }

    #[test]
    fn a_file_that_is_not_a_kernel_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("notes.txt");
        std::fs::write(&p, "hello").unwrap();
        let err = check_image(&p).unwrap_err();
        assert!(err.contains("not a bootable x86 kernel image"), "{err}");
        let missing = dir.path().join("nope");
        assert!(check_image(&missing).unwrap_err().contains("cannot open"));
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
