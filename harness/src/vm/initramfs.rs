//! The guest's whole root filesystem: a cpio (newc) initramfs the harness
//! writes itself. No disk image, no distribution userland.
//!
//! It is two archives back to back, which the kernel unpacks in turn:
//! a gzip-compressed one with the guest binary (written once per run) and
//! a small uncompressed one with this boot's plan (written per boot), so a
//! reboot to continue after a crash costs no recompression.

use std::io::{self, Write};
use std::path::Path;

use cpio::newc::{Builder, ModeFileType};
use flate2::write::GzEncoder;

use kconform_core::guest::protocol::{Plan, EXEC_PATH, PLAN_PATH, PROBE_PATH, PROGS_DIR};

/// Write the base archive: /init (the guest), device nodes the runtime
/// needs before devtmpfs is mounted, mount points, and optionally the
/// guest's probe and a program for `Mode::Exec`.
pub fn write_base(
    guest: &Path,
    probe: Option<&Path>,
    exec: Option<&Path>,
    out: &Path,
) -> io::Result<()> {
    let mut archive = Archive::default();
    for dir in ["dev", "proc", "sys", "tmp", "kconform"] {
        archive.dir(dir);
    }
    // The kernel opens /dev/console for init's stdio, and Rust's runtime
    // aborts at start if fds 0-2 are closed and /dev/null is missing.
    archive.char_dev("dev/console", 0o600, 5, 1);
    archive.char_dev("dev/null", 0o666, 1, 3);
    archive.file("init", 0o755, &std::fs::read(guest)?);
    if let Some(probe) = probe {
        archive.file(
            PROBE_PATH.trim_start_matches('/'),
            0o755,
            &std::fs::read(probe)?,
        );
    }
    match exec {
        // A directory of programs (and what they load), run in turn.
        Some(dir) if dir.is_dir() => {
            archive.dir(PROGS_DIR.trim_start_matches('/'));
            archive.tree(dir, PROGS_DIR.trim_start_matches('/'))?;
        }
        Some(prog) => archive.file(
            EXEC_PATH.trim_start_matches('/'),
            0o755,
            &std::fs::read(prog)?,
        ),
        None => {}
    }
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&archive.finish()?)?;
    crate::util::write_atomic(out, &gz.finish()?)
}

/// The per-boot archive: just the plan.
pub fn plan_archive(plan: &Plan) -> io::Result<Vec<u8>> {
    let mut archive = Archive::default();
    let json = serde_json::to_vec(plan).map_err(io::Error::other)?;
    archive.file(PLAN_PATH.trim_start_matches('/'), 0o644, &json);
    archive.finish()
}

/// Base archive followed by this boot's plan, as one initrd file.
pub fn write_boot(base: &Path, plan: &Plan, out: &Path) -> io::Result<()> {
    let mut bytes = std::fs::read(base)?;
    // Each archive must start 4-byte aligned in the initrd.
    bytes.resize(bytes.len().next_multiple_of(4), 0);
    bytes.extend(plan_archive(plan)?);
    std::fs::write(out, bytes)
}

#[derive(Default)]
struct Archive {
    out: Vec<u8>,
    ino: u32,
    failed: Option<io::Error>,
}

impl Archive {
    fn entry(&mut self, b: Builder, data: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        self.ino += 1;
        let res = (|| {
            let mut w = b
                .ino(self.ino)
                .nlink(1)
                .write(std::mem::take(&mut self.out), data.len() as u32);
            w.write_all(data)?;
            w.finish()
        })();
        match res {
            Ok(out) => self.out = out,
            Err(e) => self.failed = Some(e),
        }
    }

    fn dir(&mut self, name: &str) {
        let b = Builder::new(name)
            .mode(0o755)
            .set_mode_file_type(ModeFileType::Directory);
        self.entry(b, &[]);
    }

    fn file(&mut self, name: &str, mode: u32, data: &[u8]) {
        let b = Builder::new(name)
            .mode(mode)
            .set_mode_file_type(ModeFileType::Regular);
        self.entry(b, data);
    }

    /// `dir`'s files and directories under `at`, modes kept, in name order.
    fn tree(&mut self, dir: &Path, at: &str) -> io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        for path in crate::util::sorted_entries(dir) {
            let name = match path.file_name() {
                Some(n) => format!("{at}/{}", n.to_string_lossy()),
                None => continue,
            };
            let meta = std::fs::metadata(&path)?;
            if meta.is_dir() {
                self.dir(&name);
                self.tree(&path, &name)?;
            } else {
                self.file(
                    &name,
                    meta.permissions().mode() & 0o7777,
                    &std::fs::read(&path)?,
                );
            }
        }
        Ok(())
    }

    fn char_dev(&mut self, name: &str, mode: u32, major: u32, minor: u32) {
        let b = Builder::new(name)
            .mode(mode)
            .set_mode_file_type(ModeFileType::Char)
            .rdev_major(major)
            .rdev_minor(minor);
        self.entry(b, &[]);
    }

    fn finish(mut self) -> io::Result<Vec<u8>> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        cpio::newc::trailer(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kconform_core::guest::protocol::Mode;

    fn names(bytes: &[u8]) -> Vec<(String, u32)> {
        let mut out = Vec::new();
        let mut rest = bytes;
        loop {
            let r = cpio::NewcReader::new(rest).unwrap();
            if r.entry().is_trailer() {
                break;
            }
            out.push((r.entry().name().to_string(), r.entry().mode()));
            rest = r.finish().unwrap();
        }
        out
    }

    #[test]
    fn plan_archive_holds_the_plan_where_the_guest_reads_it() {
        let plan = Plan {
            ids: vec!["a/b".into()],
            iterations: 5,
            jobs: 2,
            ..Plan::without_instances(Mode::Suite)
        };
        let bytes = plan_archive(&plan).unwrap();
        let mut r = cpio::NewcReader::new(&bytes[..]).unwrap();
        assert_eq!(r.entry().name(), "kconform/plan.json");
        let mut text = String::new();
        io::Read::read_to_string(&mut r, &mut text).unwrap();
        assert_eq!(serde_json::from_str::<Plan>(&text).unwrap(), plan);
    }

    #[test]
    fn base_archive_has_init_devices_and_mount_points() {
        let dir = tempfile::tempdir().unwrap();
        let guest = dir.path().join("guest");
        std::fs::write(&guest, b"\x7fELF not really").unwrap();
        let out = dir.path().join("base.cpio.gz");
        let probe = dir.path().join("probe");
        std::fs::write(&probe, b"\x7fELF nor this").unwrap();
        write_base(&guest, Some(&probe), None, &out).unwrap();
        let mut raw = Vec::new();
        io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(std::fs::File::open(&out).unwrap()),
            &mut raw,
        )
        .unwrap();
        let entries = names(&raw);
        let find = |n: &str| entries.iter().find(|(e, _)| e == n).map(|(_, m)| *m);
        assert_eq!(find("init"), Some(0o100755));
        assert_eq!(find("kconform/probe"), Some(0o100755));
        assert_eq!(find("dev/console"), Some(0o020600));
        assert_eq!(find("dev/null"), Some(0o020666));
        assert_eq!(find("proc"), Some(0o040755));
    }
}
