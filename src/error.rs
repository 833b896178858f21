//! The CLI's one error type, and the one place where what a command
//! concluded, or the error that stopped it, becomes the exit status:
//! 0 conforms, 1 fails (a regression), 125 cannot test (bad input, a
//! kernel that did not run), 130 interrupted.

use std::process::ExitCode;

use kconform_core::interrupt;
use kconform_core::record::Conclusion;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Harness(#[from] kconform_harness::Error),
    #[error(transparent)]
    Core(#[from] kconform_core::Error),
    #[error("{0}\n(fix the file, or point --fixtures / KCONFORM_FIXTURES at an expectations directory; without either kconform uses the expectations built into it)")]
    Fixtures(kconform_core::error::ExpectError),
    #[error("--format writes under the report directory: add --report DIR")]
    FormatWithoutReport,
    #[error("`boot` needs a kernel to boot under QEMU, not host")]
    BootHost,
    #[error("cannot find my own executable: {0}")]
    OwnExecutable(std::io::Error),
    #[error("cannot create a scratch directory: {0} (set TMPDIR to a writable directory)")]
    Scratch(std::io::Error),
    #[error("{0}")]
    Fragment(String),
    #[error(transparent)]
    Repro(#[from] kconform_harness::repro::ReproError),
    #[error("no instance has the id `{id}`{}", if .suggestions.is_empty() { "; `kconform list` shows every id".to_string() } else { format!("; did you mean: {}", .suggestions.join(", ")) })]
    UnknownId {
        id: String,
        suggestions: Vec<String>,
    },
    #[error("cannot run gcc to build the reproducer ({0}): install it (Debian: apt-get install gcc libc6-dev)")]
    NoCompiler(std::io::Error),
    #[error("the reproducer {path} does not compile:\n{message}")]
    Compile {
        path: std::path::PathBuf,
        message: String,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("the baseline {spec} could not be run: {why}")]
    BaselineNotRun { spec: String, why: String },
}

/// Leaf errors of the harness, through its one error type.
macro_rules! via_harness {
    ($($leaf:ty),*) => {$(
        impl From<$leaf> for Error {
            fn from(e: $leaf) -> Self {
                Error::Harness(e.into())
            }
        }
    )*};
}

via_harness!(
    kconform_harness::error::SpecError,
    kconform_harness::error::ReportError,
    kconform_harness::error::VmError,
    kconform_harness::error::BisectError
);

impl From<kconform_core::error::NoMatch> for Error {
    fn from(e: kconform_core::error::NoMatch) -> Self {
        Error::Core(e.into())
    }
}

/// What a command ends with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// A verdict on kernels: conforms, fails, or could not be tested.
    Judged(Conclusion),
    /// `boot --exec`: the program's own exit status, passed on.
    Program(u8),
}

impl From<Conclusion> for Ended {
    fn from(c: Conclusion) -> Self {
        Ended::Judged(c)
    }
}

/// The exit status for how a command ended.
pub fn exit_code(result: Result<Ended, Error>) -> ExitCode {
    if interrupt::requested() {
        if let Err(e) = &result {
            eprintln!("kconform: {e}");
        }
        eprintln!("kconform: interrupted");
        return ExitCode::from(interrupt::EXIT_STATUS);
    }
    match result {
        Ok(Ended::Judged(Conclusion::Conforms)) => ExitCode::SUCCESS,
        Ok(Ended::Judged(Conclusion::Fails)) => ExitCode::from(1),
        Ok(Ended::Judged(Conclusion::CannotTest)) => ExitCode::from(125),
        Ok(Ended::Program(status)) => ExitCode::from(status),
        Err(e) => {
            eprintln!("kconform: {e}");
            ExitCode::from(125)
        }
    }
}
