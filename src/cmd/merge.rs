//! `kconform merge --report OUT SHARD...`: the shards of a sharded run
//! joined into one report per kernel.

use std::path::{Path, PathBuf};

use kconform_core::record::Conclusion;
use kconform_harness::report::{self, shard};

use super::write_run_files;
use crate::error::{Ended, Error};

pub fn merge(out: &Path, shards: &[PathBuf]) -> Result<Ended, Error> {
    let mut reports = Vec::new();
    for s in shards {
        reports.extend(report::read_all(s)?);
    }
    let catalog = kconform_suites::catalog();
    let order: Vec<&str> = catalog.iter().map(|i| i.id.as_str()).collect();
    let merged = shard::merge(reports, &order)?;
    write_run_files(out, &merged.iter().collect::<Vec<_>>(), false)?;
    for r in &merged {
        let path = report::write(r, out)?;
        let s = &r.summary;
        println!(
            "{}: {} results ({} pass, {} fail, {} skip, {} error): {}",
            r.kernel.spec,
            s.total(),
            s.pass,
            s.fail,
            s.skip,
            s.error,
            path.display()
        );
    }
    Ok(Conclusion::Conforms.into())
}
