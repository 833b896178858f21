//! What the binary carries from its source tree, so that an installed
//! `kconform` works with the checkout gone: the expectations, the default
//! matrix, the config fragments, and the guest's sources, which
//! [`crate::vm::guest`] builds on first use. The build script (build.rs)
//! bundles them; `--fixtures`, `--matrix FILE` and `--fragment` override
//! them.

pub(crate) mod pack;

use std::io;
use std::path::{Path, PathBuf};

use kconform_core::expect::{ExpectError, Expectations};
use sha2::{Digest, Sha256};

use crate::kernels::{parse_matrix, KernelSpec, SpecError};

include!(concat!(env!("OUT_DIR"), "/bundled.rs"));

/// How errors name a bundled file: its path in the source tree.
fn label(rel: &str) -> PathBuf {
    PathBuf::from(format!("{rel} (built in)"))
}

/// The bundled expectations, as `--fixtures fixtures/expectations` would
/// load them from the source tree.
pub fn expectations() -> Result<Expectations, ExpectError> {
    let mut all = Expectations::default();
    for (rel, text) in EXPECTATIONS {
        all.add_file(&label(rel), text)?;
    }
    Ok(all)
}

/// The default matrix, `fixtures/matrix.toml`.
pub fn matrix() -> Result<Vec<KernelSpec>, SpecError> {
    parse_matrix(&label("fixtures/matrix.toml"), MATRIX)
}

/// The names of the bundled config fragments (`minimal`, `distro`, ...).
pub fn fragment_names() -> Vec<&'static str> {
    FRAGMENTS.iter().map(|(name, _)| *name).collect()
}

/// The config fragment `tree:` kernels are built with: one built in, by
/// name, or a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fragment {
    Bundled(&'static str),
    File(PathBuf),
}

impl Fragment {
    /// `minimal`, `distro`, `small` (the built-in ones), else a path to an
    /// existing file; anything else is refused with the names there are.
    pub fn named(name: &str) -> Result<Fragment, String> {
        if let Some((n, _)) = FRAGMENTS.iter().find(|(n, _)| *n == name) {
            return Ok(Fragment::Bundled(n));
        }
        let path = PathBuf::from(name);
        if path.is_file() {
            return Ok(Fragment::File(path));
        }
        Err(format!(
            "--fragment {name}: no such file, and not one of the fragments built in ({}); \
             pass one of those names or the path of a config fragment",
            fragment_names().join(", ")
        ))
    }

    /// The fragment as a file, for the tree builder, which reads one and
    /// keys its build directory by it: a built-in one is written to
    /// `<cache>/fragments/NAME.config` (rewritten only when its text
    /// changed), only when a tree is built.
    pub fn file(&self, cache_root: &Path) -> io::Result<PathBuf> {
        let name = match self {
            Fragment::File(path) => return Ok(path.clone()),
            Fragment::Bundled(name) => *name,
        };
        let text = FRAGMENTS
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("", |(_, t)| *t);
        let path = cache_root.join("fragments").join(format!("{name}.config"));
        if std::fs::read_to_string(&path).is_ok_and(|old| old == text) {
            return Ok(path);
        }
        std::fs::create_dir_all(path.parent().unwrap_or(cache_root))?;
        crate::util::write_atomic(&path, text.as_bytes())?;
        Ok(path)
    }
}

/// A short name for the bundled guest sources: equal sources, equal id.
pub fn guest_sources_id() -> String {
    let digest = Sha256::digest(GUEST_SOURCES);
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether the source tree at `root` holds exactly the guest sources
/// this binary was built with (a checkout edited since would build a
/// guest whose scenarios differ from the host's).
pub fn checkout_matches(root: &Path) -> bool {
    use std::io::Read;
    let mut bundled = Vec::new();
    if flate2::read::GzDecoder::new(GUEST_SOURCES)
        .read_to_end(&mut bundled)
        .is_err()
    {
        return false;
    }
    pack::tar_of(root).is_ok_and(|t| t == bundled)
}

/// Unpack the bundled guest sources into `dir` (which must not exist).
pub fn unpack_guest_sources(dir: &Path) -> io::Result<()> {
    let gz = flate2::read::GzDecoder::new(GUEST_SOURCES);
    tar::Archive::new(gz).unpack(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
    }

    #[test]
    fn the_bundled_expectations_are_the_source_trees() {
        let bundled = expectations().unwrap();
        let tree = Expectations::load_dir(&repo().join("fixtures/expectations")).unwrap();
        assert!(bundled.by_id.len() > 400, "{}", bundled.by_id.len());
        assert_eq!(
            bundled.by_id.keys().collect::<Vec<_>>(),
            tree.by_id.keys().collect::<Vec<_>>()
        );
    }

    #[test]
    fn the_bundled_matrix_and_fragments_are_the_source_trees() {
        let tree = crate::kernels::load_matrix(&repo().join("fixtures/matrix.toml")).unwrap();
        assert_eq!(matrix().unwrap(), tree);
        assert!(
            fragment_names().contains(&"minimal"),
            "{:?}",
            fragment_names()
        );
        let cache = tempfile::tempdir().unwrap();
        let minimal = Fragment::named("minimal").unwrap();
        let file = minimal.file(cache.path()).unwrap();
        assert_eq!(
            std::fs::read_to_string(file).unwrap(),
            std::fs::read_to_string(repo().join("kernel-configs/minimal.config")).unwrap()
        );
        let own = repo().join("kernel-configs/distro.config");
        let named = Fragment::named(own.to_str().unwrap()).unwrap();
        assert_eq!(named.file(cache.path()).unwrap(), own);
        let err = Fragment::named("no-such").unwrap_err();
        assert!(err.contains("(distro, minimal, small)"), "{err}");
    }

    #[test]
    fn the_checkout_holds_the_bundled_guest_sources() {
        // This test binary was built from this tree just now.
        assert!(checkout_matches(repo()));
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        unpack_guest_sources(&src).unwrap();
        let manifest = std::fs::read_to_string(src.join("Cargo.toml")).unwrap();
        assert!(manifest.contains("\"suites\""), "{manifest}");
        assert!(!manifest.contains("kconform-harness"), "{manifest}");
        assert!(src.join("suites/src/bin/kconform-guest.rs").is_file());
        assert!(src.join("harness/core/src/guest/pid1.rs").is_file());
        assert!(!checkout_matches(dir.path()));
    }
}
