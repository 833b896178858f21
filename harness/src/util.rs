//! Small helpers every part of the harness shares: whole-or-nothing
//! writes, digests, locks, looking up programs, safe file names, log
//! tails, and child processes that an interrupt stops.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output};
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg};

/// Write through a temporary file in the same directory, synced, then
/// renamed over `path`: a reader never sees half a file, and a crash
/// leaves the old one intact. Threads may write the same file at once;
/// the last rename wins.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(
            ".{}.tmp-",
            path.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("kconform")
        ))
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map(drop).map_err(|e| e.error)
}

/// The entries of `dir`, sorted; none when it cannot be read.
pub fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

/// A working directory under `parent` (created if need be), removed
/// however the work ends, an interrupt included; ones older than
/// `stale`, left by killed processes, are swept first.
pub fn scratch_dir(parent: &Path, prefix: &str, stale: Duration) -> io::Result<tempfile::TempDir> {
    std::fs::create_dir_all(parent)?;
    for e in std::fs::read_dir(parent).into_iter().flatten().flatten() {
        let age = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok());
        if age.is_some_and(|a| a > stale) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
    tempfile::Builder::new().prefix(prefix).tempdir_in(parent)
}

/// sha256 of a file, in hex; none when it cannot be read.
pub fn sha256_file(path: &Path) -> Option<String> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    io::copy(&mut File::open(path).ok()?, &mut hasher).ok()?;
    Some(hex(&hasher.finalize()))
}

/// sha256 of a parsed config: `CONFIG_X=value` lines in name order.
pub fn sha256_config(config: &std::collections::BTreeMap<String, String>) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for (k, v) in config {
        hasher.update(format!("{k}={v}\n"));
    }
    hex(&hasher.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An exclusive lock on `path` (created if need be), held until the
/// returned value is dropped; waits for another holder.
pub fn lock_exclusive(path: &Path) -> io::Result<Flock<File>> {
    lock_file(path, FlockArg::LockExclusive)
}

/// A lock on the file at `path` (created if missing), shared or
/// exclusive as `how` says, held until the returned value is dropped.
pub fn lock_file(path: &Path, how: FlockArg) -> io::Result<Flock<File>> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?;
    Flock::lock(file, how).map_err(|(_, e)| io::Error::from(e))
}

/// A lock on an existing file or directory, shared or exclusive, waiting
/// or not (`how`), held until the returned value is dropped.
pub fn lock_existing(path: &Path, how: FlockArg) -> io::Result<Flock<File>> {
    let file = File::open(path)?;
    Flock::lock(file, how).map_err(|(_, e)| io::Error::from(e))
}

/// An executable called `name` in PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| {
                use std::os::unix::fs::PermissionsExt;
                m.is_file() && m.permissions().mode() & 0o111 != 0
            })
        })
}

/// `s` with every character outside ASCII letters, digits and `keep`
/// replaced by `_`: a file name, or a KCIDB path part.
pub fn safe_name(s: &str, keep: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || keep.contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

pub use kconform_core::console::tail;

/// A child process (make, apt-get, dpkg-deb) that an interrupt stops: it
/// is killed, with its process group when it leads one, when kconform is
/// asked to stop, and then this returns [`Interrupted`] as the error.
pub fn wait_interruptibly(mut child: Child) -> io::Result<ExitStatus> {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::{getpgid, Pid};
    let pid = Pid::from_raw(child.id() as i32);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if kconform_core::interrupt::requested() {
            if getpgid(Some(pid)) == Ok(pid) {
                let _ = kill(Pid::from_raw(-pid.as_raw()), Signal::SIGKILL);
            }
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::new(io::ErrorKind::Interrupted, Interrupted));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `cmd`'s status, output and errors as [`Command::output`] gives them,
/// but stopped by an interrupt.
pub fn output_interruptibly(cmd: &mut Command) -> io::Result<Output> {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    // Drained on threads, so a chatty child never blocks on a full pipe.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let status = wait_interruptibly(child)?;
    Ok(Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

/// The error of a child process stopped by an interrupt.
#[derive(Debug, thiserror::Error)]
#[error("interrupted")]
pub struct Interrupted;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_writes_leave_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn sha256_of_a_file_is_the_standard_one() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("abc");
        std::fs::write(&f, "abc").unwrap();
        assert_eq!(
            sha256_file(&f).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn names_are_made_safe() {
        assert_eq!(
            safe_name("debian:6.1.0-50-cloud-amd64", "._-"),
            "debian_6.1.0-50-cloud-amd64"
        );
        assert_eq!(safe_name("a/b c", "-_"), "a_b_c");
    }

    #[test]
    fn a_lock_is_exclusive_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("lock");
        let held = lock_exclusive(&p).unwrap();
        let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
        assert!(Flock::lock(f, FlockArg::LockExclusiveNonblock).is_err());
        drop(held);
        let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
        assert!(Flock::lock(f, FlockArg::LockExclusiveNonblock).is_ok());
    }
}
