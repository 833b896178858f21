//! What the CLI tests share: the binary, the fixtures, and reading what
//! a command printed.

use std::path::PathBuf;
use std::process::{Command, Output};

pub fn kconform() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kconform"))
}

/// The repository's expectation files.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/expectations")
}

/// What the command printed, stdout then stderr.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The command is refused as bad input (exit 125), saying `needle`; what
/// it printed, for more checks.
pub fn assert_refused(cmd: &mut Command, needle: &str) -> String {
    let out = cmd.output().unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(125), "{t}");
    assert!(t.contains(needle), "expected `{needle}` in:\n{t}");
    t
}
