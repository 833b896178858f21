//! `cargo install`: a kconform installed into a temporary root works with
//! its source tree out of view (an empty tmpfs mounted over it, in a mount
//! namespace of its own): `list`, a native `run` and a VM `run`, the
//! guest built from the sources the binary carries.

use std::path::Path;
use std::process::Command;

use kconform_core::expect::Status;
use kconform_harness::kernels::KernelSpec;

use crate::read_report;

pub(crate) fn installed_without_checkout(spec: &KernelSpec) -> Result<(), String> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let root = dir.path().join("root");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    // A target directory of its own, kept, so a second run is incremental
    // and never waits on the lock of the `cargo test` running this.
    let out = Command::new(cargo)
        .args(["install", "--quiet", "--locked", "--path"])
        .arg(repo)
        .arg("--root")
        .arg(&root)
        .env("CARGO_TARGET_DIR", repo.join("target/install-test"))
        .output()
        .map_err(|e| format!("cannot run cargo install: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo install failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let bin = root.join("bin/kconform");
    let hidden = |args: &[&str]| -> Result<(i32, String), String> {
        // Unprivileged, a user namespace lets the mount happen.
        let userns: &[&str] = if nix::unistd::geteuid().is_root() {
            &[]
        } else {
            &["--user", "--map-root-user"]
        };
        let out = Command::new("unshare")
            .args(userns)
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg(r#"mount -t tmpfs kconform-gone "$0" && cd / && exec "$@""#)
            .arg(repo)
            .arg(&bin)
            .args(args)
            .env_remove("KCONFORM_FIXTURES")
            .env_remove("KCONFORM_GUEST")
            .env_remove("KCONFORM_FRAGMENT")
            .env_remove("CARGO_TARGET_DIR")
            .output()
            .map_err(|e| format!("cannot run unshare (util-linux): {e}"))?;
        Ok((out.status.code().unwrap_or(-1), crate::output_text(&out)))
    };

    let (code, listed) = hidden(&["list"])?;
    let ids = listed.lines().count();
    let catalog = kconform_suites::catalog().len();
    if code != 0 || ids != catalog {
        return Err(format!(
            "list: exit {code}, {ids} ids (the catalog has {catalog}):\n{}",
            crate::tail(&listed)
        ));
    }
    let (code, native) = hidden(&["run", "--filter", "wait/", "--quiet"])?;
    if code != 0 || !native.contains("ran 9 of 9") {
        return Err(format!(
            "native run: exit {code}:\n{}",
            crate::tail(&native)
        ));
    }
    let reports = dir.path().join("reports");
    let reports_arg = reports.to_string_lossy().into_owned();
    let spec = spec.to_string();
    let (code, vm) = hidden(&[
        "run",
        "--kernel",
        &spec,
        "--filter",
        "wait/",
        "--report",
        &reports_arg,
    ])?;
    let report = read_report(&reports, &spec)?;
    let passed = report
        .results
        .iter()
        .filter(|r| r.status == Status::Pass)
        .count();
    if code != 0 || passed != 9 {
        return Err(format!(
            "VM run on {spec}: exit {code}, {passed} of 9 passed:\n{}",
            crate::tail(&vm)
        ));
    }
    Ok(())
}
