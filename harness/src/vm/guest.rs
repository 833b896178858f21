//! The guest binary on the host side: finding (or building) the static
//! `kconform-guest` and its probe, and the base initramfs made from them.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{initramfs, VmError};
use crate::bundled;

/// The static programs a guest boots with.
#[derive(Clone, Debug)]
pub struct Binaries {
    /// `kconform-guest`, /init of the initramfs.
    pub init: PathBuf,
    /// `kconform-probe`, what scenarios exec in the guest; without it
    /// they exec /init, which answers the probe modes too, only slower.
    pub probe: Option<PathBuf>,
}

impl Binaries {
    /// Each of them, if it is a static ELF; a dynamic one would die at
    /// once in the guest.
    fn checked(self) -> Result<Binaries, VmError> {
        check_static(&self.init)?;
        if let Some(probe) = &self.probe {
            check_static(probe)?;
        }
        Ok(self)
    }
}

/// The guest as a run boots it.
#[derive(Clone, Debug)]
pub struct Guest {
    pub binary: PathBuf,
    /// The compressed base archive (see [`initramfs`]).
    pub base: PathBuf,
    /// Hash of the ids the host expects the guest to have.
    pub catalog: String,
}

impl Guest {
    /// Write the base initramfs for `binaries` (plus an optional program
    /// for exec plans) into `dir`.
    pub fn prepare(
        binaries: &Binaries,
        exec: Option<&Path>,
        catalog: String,
        dir: &Path,
    ) -> Result<Guest, VmError> {
        let base = dir.join("base.cpio.gz");
        // A boot that execs a program runs no scenario, so no probe.
        let probe = binaries.probe.as_deref().filter(|_| exec.is_none());
        initramfs::write_base(&binaries.init, probe, exec, &base)
            .map_err(VmError::io("write the initramfs", &base))?;
        Ok(Guest {
            binary: binaries.init.clone(),
            base,
            catalog,
        })
    }
}

/// The static guest binaries: `$KCONFORM_GUEST` (with `$KCONFORM_PROBE`
/// where set), else both built with cargo (a no-op when they are
/// current) from the source tree this binary was built in, while that
/// tree still holds the same guest sources; else from the sources the
/// binary carries ([`crate::bundled`]), unpacked under
/// `<cache_root>/guest/`, as after `cargo install` with the checkout
/// gone. `say` hears what is going on, as building takes a while the
/// first time.
pub fn locate_or_build(cache_root: &Path, say: &dyn Fn(&str)) -> Result<Binaries, VmError> {
    if let Some(p) = std::env::var_os("KCONFORM_GUEST") {
        // A probe is only taken with the guest it was built with: a
        // stale one beside a newer guest could answer in an old format.
        return Binaries {
            init: PathBuf::from(p),
            probe: std::env::var_os("KCONFORM_PROBE").map(PathBuf::from),
        }
        .checked();
    }
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .filter(|w| w.join("suites/Cargo.toml").is_file() && bundled::checkout_matches(w));
    // Its own target directory: building it inside a `cargo test` run of
    // the same workspace must not wait on that run's lock, and its
    // RUSTFLAGS must not invalidate the host build.
    let (workspace, target_dir) = match checkout {
        Some(w) => (w.to_path_buf(), w.join("target/guest")),
        None => {
            let dir = cache_root.join("guest").join(bundled::guest_sources_id());
            let src = dir.join("src");
            if !src.join("Cargo.toml").is_file() {
                say("unpacking the guest's sources (carried in this binary)");
                unpack_whole(&dir, &src)?;
            }
            (src, dir.join("target"))
        }
    };
    let triple = "x86_64-unknown-linux-gnu";
    let release = target_dir.join(triple).join("release");
    say("building the static guest binaries (cargo build --release, crt-static, non-PIE, LTO)");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(&workspace)
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "kconform-suites",
            "--bin",
            "kconform-guest",
            "--bin",
            "kconform-probe",
        ])
        .args(["--target", triple])
        .env("CARGO_TARGET_DIR", &target_dir)
        .env_remove("RUSTFLAGS")
        // The guest is /init of a bare initramfs: no dynamic loader there.
        // Not position-independent either: QEMU's TCG keys translated code
        // by virtual address, so every exec of a static-pie at a fresh
        // random base translated the whole binary again (an exec of the
        // guest cost 22 ms under TCG as static-pie, 4 ms at a fixed base).
        .env(
            "CARGO_ENCODED_RUSTFLAGS",
            "-C\u{1f}target-feature=+crt-static\u{1f}-C\u{1f}relocation-model=static",
        )
        // Whole-program optimisation: a smaller, tighter binary that
        // every instance and subject forks and faults in under TCG.
        // Bookworm's suite after boot, 16 alternating runs: median 1.46 s
        // against 1.55 s; the guest's first build takes about 50 s.
        .env("CARGO_PROFILE_RELEASE_LTO", "fat")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
        .output()
        .map_err(|e| {
            VmError::Guest(format!(
                "cannot run cargo to build the guest in {}: {e}; kconform builds its static \
                 guest with cargo on first use (install Rust, or set KCONFORM_GUEST to a built \
                 kconform-guest)",
                workspace.display()
            ))
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(VmError::Guest(format!(
            "building the guest binary failed:\n{}",
            crate::util::tail(&stderr, 20)
        )));
    }
    Binaries {
        init: release.join("kconform-guest"),
        probe: Some(release.join("kconform-probe")),
    }
    .checked()
}

/// Unpack the bundled sources into `src` inside `dir`, appearing whole
/// (by rename) so an interrupted unpack is never built from.
fn unpack_whole(dir: &Path, src: &Path) -> Result<(), VmError> {
    let io = |what: &'static str, p: &Path| VmError::io(what, p);
    std::fs::create_dir_all(dir).map_err(io("create the guest build directory", dir))?;
    let tmp = tempfile::Builder::new()
        .prefix(".src-")
        .tempdir_in(dir)
        .map_err(io("create a scratch directory in", dir))?;
    let staged = tmp.path().join("src");
    bundled::unpack_guest_sources(&staged)
        .map_err(io("unpack the guest's sources into", &staged))?;
    match std::fs::rename(&staged, src) {
        Ok(()) => Ok(()),
        // Another kconform unpacked the same sources first.
        Err(_) if src.join("Cargo.toml").is_file() => Ok(()),
        Err(e) => Err(io("move the guest's sources to", src)(e)),
    }
}

/// A dynamically linked guest would die at once as /init: say so now.
fn check_static(path: &Path) -> Result<(), VmError> {
    let bytes = std::fs::read(path).map_err(VmError::io("read the guest binary", path))?;
    if bytes.get(..4) != Some(b"\x7fELF") {
        return Err(VmError::Guest(format!(
            "{} is not an ELF binary",
            path.display()
        )));
    }
    if has_interpreter(&bytes) {
        return Err(VmError::Guest(format!(
            "{} is dynamically linked; the guest must be static \
             (build with RUSTFLAGS='-C target-feature=+crt-static -C relocation-model=static' \
             --target x86_64-unknown-linux-gnu)",
            path.display()
        )));
    }
    Ok(())
}

/// Whether a 64-bit little-endian ELF has a PT_INTERP program header.
fn has_interpreter(elf: &[u8]) -> bool {
    let u16_at = |o: usize| {
        elf.get(o..o + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
    };
    let u64_at = |o: usize| {
        elf.get(o..o + 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap()) as usize)
    };
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38))
    else {
        return false;
    };
    (0..phnum).any(|i| {
        let o = phoff + i * phentsize;
        elf.get(o..o + 4) == Some(&3u32.to_le_bytes()[..]) // PT_INTERP
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dynamic_binary_is_refused_as_guest() {
        // This test binary itself is dynamically linked.
        let me = std::env::current_exe().unwrap();
        let err = check_static(&me).unwrap_err().to_string();
        assert!(err.contains("dynamically linked"), "{err}");
    }

    #[test]
    fn a_non_elf_is_refused_as_guest() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        std::fs::write(&p, b"#!/bin/sh\n").unwrap();
        assert!(check_static(&p)
            .unwrap_err()
            .to_string()
            .contains("not an ELF"));
    }
}
