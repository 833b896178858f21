//! `kconform diff OLD NEW`: the gate between two reports.

use std::path::Path;

use kconform_harness::report::{self, diff};

use crate::error::{Ended, Error};

pub fn diff(old: &Path, new: &Path) -> Result<Ended, Error> {
    let (old, new) = (report::read(old)?, report::read(new)?);
    let d = diff::diff(&old, &new);
    print!("{}", diff::render(&d));
    Ok(d.conclusion().into())
}
