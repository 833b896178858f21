//! What building a kernel needs from the host (tools, headers), said
//! with the packages that provide it, and ccache when it is there.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use super::{TreeError, CCACHE_DIR};
use crate::util::which;

/// Something the build needs from the host.
#[derive(Clone, Copy, Debug)]
pub(super) enum Need {
    /// A program in PATH.
    Tool(&'static str),
    /// A header the host compiler must find.
    Header(&'static str),
}

/// What a build needs, when (any of these options set; none: always) and
/// the Debian package that provides it.
const NEEDS: &[(Need, &[&str], &str)] = &[
    (Need::Tool("make"), &[], "make"),
    (Need::Tool("gcc"), &[], "gcc"),
    (Need::Tool("ld"), &[], "binutils"),
    (Need::Tool("flex"), &[], "flex"),
    (Need::Tool("bison"), &[], "bison"),
    (Need::Tool("bc"), &[], "bc"),
    (Need::Tool("awk"), &[], "gawk"),
    (
        Need::Header("gelf.h"),
        &[
            "CONFIG_OBJTOOL",
            "CONFIG_STACK_VALIDATION",
            "CONFIG_UNWINDER_ORC",
        ],
        "libelf-dev",
    ),
    (
        Need::Header("openssl/bio.h"),
        &["CONFIG_MODULE_SIG", "CONFIG_SYSTEM_TRUSTED_KEYRING"],
        "libssl-dev",
    ),
    (Need::Tool("gzip"), &["CONFIG_KERNEL_GZIP"], "gzip"),
    (
        Need::Tool("xz"),
        &["CONFIG_KERNEL_XZ", "CONFIG_KERNEL_LZMA"],
        "xz-utils",
    ),
    (Need::Tool("lz4"), &["CONFIG_KERNEL_LZ4"], "lz4"),
    (Need::Tool("zstd"), &["CONFIG_KERNEL_ZSTD"], "zstd"),
    (Need::Tool("lzop"), &["CONFIG_KERNEL_LZO"], "lzop"),
    (Need::Tool("bzip2"), &["CONFIG_KERNEL_BZIP2"], "bzip2"),
    (Need::Tool("cpio"), &["CONFIG_IKHEADERS"], "cpio"),
];

/// With an empty config, the unconditional needs; with a generated one,
/// the needs its options bring. An error names what is missing and the
/// packages to install.
pub(super) fn missing_needs(
    config: &BTreeMap<String, String>,
    have: &dyn Fn(Need) -> bool,
) -> Result<(), TreeError> {
    let mut missing = Vec::new();
    let mut packages: Vec<String> = Vec::new();
    for (need, when, package) in NEEDS {
        let applies = if config.is_empty() {
            when.is_empty()
        } else {
            when.iter()
                .any(|o| config.get(*o).is_some_and(|v| v == "y"))
        };
        if applies && !have(*need) {
            missing.push(match need {
                Need::Tool(t) => format!("`{t}`"),
                Need::Header(h) => format!("<{h}>"),
            });
            if !packages.iter().any(|p| p == package) {
                packages.push(package.to_string());
            }
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(TreeError::MissingTools { missing, packages })
    }
}

pub(super) fn have_need(need: Need) -> bool {
    match need {
        Need::Tool(t) => which(t).is_some(),
        Need::Header(h) => {
            // The compiler's own search, so multiarch and pkg paths count.
            let child = Command::new("gcc")
                .args(["-E", "-x", "c", "-o", "/dev/null", "-"])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn();
            let Ok(mut child) = child else { return false };
            if let Some(mut stdin) = child.stdin.take() {
                let _ = writeln!(stdin, "#include <{h}>");
            }
            child.wait().is_ok_and(|s| s.success())
        }
    }
}

/// PATH with a directory of `gcc` -> ccache links first, when ccache is
/// installed. None (plain gcc) otherwise, or if the links cannot be made.
pub(super) fn ccache_path(build_dir: &Path) -> Option<OsString> {
    let ccache = which("ccache")?;
    let dir = build_dir.join(CCACHE_DIR);
    fs::create_dir_all(&dir).ok()?;
    for name in ["gcc", "cc"] {
        let link = dir.join(name);
        if fs::read_link(&link).ok().as_deref() != Some(ccache.as_path()) {
            let _ = fs::remove_file(&link);
            std::os::unix::fs::symlink(&ccache, &link).ok()?;
        }
    }
    let mut paths = vec![dir];
    if let Some(old) = std::env::var_os("PATH") {
        paths.extend(std::env::split_paths(&old));
    }
    std::env::join_paths(paths).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kconform_core::kernel::parse_config;

    #[test]
    fn missing_tools_name_their_packages() {
        let none = BTreeMap::new();
        assert!(missing_needs(&none, &|_| true).is_ok());
        let err = missing_needs(&none, &|n| !matches!(n, Need::Tool("flex" | "bc"))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot build kernels here, missing `flex`, `bc`; install with: apt-get install flex bc"
        );
        // Conditional needs only once a config asks for them.
        let config = parse_config("CONFIG_OBJTOOL=y\nCONFIG_KERNEL_XZ=y\n");
        let err = missing_needs(&config, &|n| matches!(n, Need::Tool(_))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot build kernels here, missing <gelf.h>; install with: apt-get install libelf-dev"
        );
        assert!(missing_needs(&none, &|n| matches!(n, Need::Tool(_))).is_ok());
    }
}
