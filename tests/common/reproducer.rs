//! One instance's C reproducer, written by `kconform repro` from the
//! checkout's C twins and built with gcc: shared by the native twin check
//! (tests/repro.rs, static as the file's header says) and the one in a
//! guest (tests/vm/repro.rs, linked against a libc copied there).

use std::path::Path;
use std::process::Command;

/// Write `id`'s reproducer to `c` and build it into `bin` with
/// `gcc -O2 -Wall -Werror` and `link` (the linker flags); a failure says
/// which step, with its message.
pub fn build(
    kconform: &Path,
    sources: &Path,
    id: &str,
    c: &Path,
    bin: &Path,
    link: &[&str],
) -> Result<(), String> {
    let out = Command::new(kconform)
        .args(["repro", id, "-o"])
        .arg(c)
        .env("KCONFORM_REPRO_SRC", sources)
        .output()
        .map_err(|e| format!("cannot run kconform repro: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "kconform repro {id} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let out = Command::new("gcc")
        .args(["-O2", "-Wall", "-Werror"])
        .args(link)
        .arg("-o")
        .arg(bin)
        .arg(c)
        .output()
        .map_err(|e| {
            format!("cannot run gcc ({e}): install it (Debian: apt-get install gcc libc6-dev)")
        })?;
    if !out.status.success() {
        return Err(format!(
            "{id}: {} does not compile:\n{}",
            c.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}
