//! Bundles what kconform needs from its source tree into the binary, so an
//! installed `kconform` works with the checkout gone: the expectations,
//! the default matrix, the config fragments, and the guest's sources
//! (built on first use; see src/vm/guest.rs).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[path = "src/bundled/pack.rs"]
mod pack;

fn main() {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap())
        .parent()
        .unwrap()
        .to_path_buf();
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    for watched in [
        "fixtures/expectations",
        "fixtures/matrix.toml",
        "kernel-configs",
        "harness/core",
        "suites",
        "Cargo.toml",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }

    let mut code = String::new();
    let files = |dir: &str, ext: &str| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(root.join(dir))
            .unwrap_or_else(|e| panic!("{dir}: {e}"))
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == ext))
            .collect();
        v.sort();
        v
    };
    let entry = |rel: &str, abs: &Path| format!("    ({rel:?}, include_str!({:?})),\n", abs);
    code.push_str("/// `fixtures/expectations/*.toml`: (path in the source tree, text).\n");
    code.push_str("pub const EXPECTATIONS: &[(&str, &str)] = &[\n");
    for f in files("fixtures/expectations", "toml") {
        let rel = f
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        code.push_str(&entry(&rel, &f));
    }
    code.push_str("];\n/// `kernel-configs/*.config`: (name without `.config`, text).\n");
    code.push_str("pub const FRAGMENTS: &[(&str, &str)] = &[\n");
    for f in files("kernel-configs", "config") {
        let name = f.file_stem().unwrap().to_string_lossy().into_owned();
        code.push_str(&entry(&name, &f));
    }
    code.push_str("];\n");
    let _ = writeln!(
        code,
        "/// `fixtures/matrix.toml`.\npub const MATRIX: &str = include_str!({:?});",
        root.join("fixtures/matrix.toml")
    );

    // The reproducers' C sources (suites/repro), by path below it.
    let mut c_files = Vec::new();
    walk_c(&root.join("suites/repro"), Path::new(""), &mut c_files);
    c_files.sort();
    code.push_str("/// `suites/repro/**/*.c`: (path below suites/repro, text).\n");
    code.push_str("pub const REPRO_SOURCES: &[(&str, &str)] = &[\n");
    for (rel, abs) in &c_files {
        code.push_str(&entry(rel, abs));
    }
    code.push_str("];\n");

    let tar = pack::tar_of(&root).expect("bundle the guest's sources");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    let archive = gz.finish().unwrap();
    let path = out.join("guest-src.tar.gz");
    std::fs::write(&path, &archive).unwrap();
    let _ = writeln!(
        code,
        "/// The guest's sources (see pack.rs).\npub const GUEST_SOURCES: &[u8] = include_bytes!({path:?});"
    );
    std::fs::write(out.join("bundled.rs"), code).unwrap();
}

fn walk_c(dir: &Path, rel: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries {
        let e = e.unwrap();
        let (path, rel) = (e.path(), rel.join(e.file_name()));
        if path.is_dir() {
            walk_c(&path, &rel, out);
        } else if path.extension().is_some_and(|x| x == "c") {
            out.push((rel.to_string_lossy().into_owned(), path));
        }
    }
}
