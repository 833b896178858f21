//! `kconform list`: every instance id, one per line.

use kconform_core::record::Conclusion;

use super::chosen;
use crate::error::{Ended, Error};

pub fn list(patterns: &[String]) -> Result<Ended, Error> {
    let catalog = kconform_suites::catalog();
    for inst in chosen(&catalog, patterns)? {
        println!("{}", inst.id);
    }
    Ok(Conclusion::Conforms.into())
}
