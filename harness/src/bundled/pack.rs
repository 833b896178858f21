//! The guest's sources as one deterministic archive. Shared by the build
//! script, which bundles them into the binary, and by the binary, which
//! checks whether a checkout beside it still holds the same sources.

use std::io;
use std::path::{Path, PathBuf};

/// The crates the static guest is built from, relative to the workspace.
pub const CRATES: [&str; 2] = ["harness/core", "suites"];

/// Files of the guest's crates, sorted, relative to `root`: their
/// manifests and sources, nothing a build leaves behind.
pub fn guest_files(root: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for krate in CRATES {
        walk(root, Path::new(krate), &mut files)?;
    }
    files.sort();
    Ok(files)
}

fn walk(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in std::fs::read_dir(root.join(rel))? {
        let entry = entry?;
        let name = entry.file_name();
        if name == "target" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        let rel = rel.join(&name);
        // The reproducers' C sources are the host's to generate from.
        if rel == Path::new("suites/repro") {
            continue;
        }
        if entry.file_type()?.is_dir() {
            walk(root, &rel, out)?;
        } else if entry.file_type()?.is_file() {
            out.push(rel);
        }
    }
    Ok(())
}

/// The workspace manifest cut down to the guest's crates: their members,
/// the shared package fields and dependency versions, no host crate.
pub fn guest_manifest(root_manifest: &str) -> Result<String, String> {
    let mut doc: toml::Table = toml::from_str(root_manifest).map_err(|e| e.to_string())?;
    for key in [
        "package",
        "dependencies",
        "dev-dependencies",
        "features",
        "test",
        "bin",
    ] {
        doc.remove(key);
    }
    let ws = doc
        .get_mut("workspace")
        .and_then(|w| w.as_table_mut())
        .ok_or("the manifest has no [workspace]")?;
    ws.insert(
        "members".into(),
        toml::Value::Array(CRATES.iter().map(|c| toml::Value::from(*c)).collect()),
    );
    if let Some(deps) = ws.get_mut("dependencies").and_then(|d| d.as_table_mut()) {
        deps.retain(|name, _| name != "kconform-harness" && name != "kconform");
    }
    toml::to_string(&doc).map_err(|e| e.to_string())
}

/// The tar: `Cargo.toml` (cut down), `Cargo.lock`, and the guest's
/// crates, with fixed times and owners so equal sources give equal bytes.
pub fn tar_of(root: &Path) -> io::Result<Vec<u8>> {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml"))?;
    let manifest = guest_manifest(&manifest).map_err(io::Error::other)?;
    let mut tar = tar::Builder::new(Vec::new());
    let mut add = |path: &Path, data: &[u8]| -> io::Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_cksum();
        tar.append_data(&mut header, path, data)
    };
    add(Path::new("Cargo.toml"), manifest.as_bytes())?;
    add(
        Path::new("Cargo.lock"),
        &std::fs::read(root.join("Cargo.lock"))?,
    )?;
    for f in guest_files(root)? {
        add(&f, &std::fs::read(root.join(&f))?)?;
    }
    tar.into_inner()
}
