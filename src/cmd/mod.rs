//! One module per subcommand, and what several of them share.

pub mod bisect;
pub mod bisect_step;
pub mod boot;
pub mod bugs;
pub mod cache;
pub mod diff;
pub mod list;
pub mod merge;
pub mod repro;
pub mod run;

use std::path::Path;

use kconform_core::expect::Expectations;
use kconform_core::model::Instance;
use kconform_core::record::Report;
use kconform_core::select::{select_instances, Filter};
use kconform_harness::report;

use crate::error::Error;

/// The catalog's instances any pattern matches (all without patterns).
pub fn chosen<'a>(
    catalog: &'a [Instance],
    patterns: &[String],
) -> Result<Vec<&'a Instance>, Error> {
    let filters: Vec<Filter> = patterns.iter().map(|p| Filter::new(p)).collect();
    Ok(select_instances(catalog, &filters)?)
}

/// The expectations in `dir`, or an error that says how to point at them.
/// `--fixtures DIR`, else the expectations built into kconform.
pub fn expectations(dir: Option<&Path>) -> Result<Expectations, Error> {
    match dir {
        Some(dir) => Expectations::load_dir(dir),
        None => kconform_harness::bundled::expectations(),
    }
    .map_err(Error::Fixtures)
}

pub fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// DIR/index.html for the reports of one run, and DIR/kcidb.json when asked.
pub fn write_run_files(dir: &Path, reports: &[&Report], kcidb: bool) -> Result<(), Error> {
    let html = kconform_harness::report::html::index(reports);
    let path = report::write_file(dir, "index.html", html.as_bytes())?;
    println!("index: {}", path.display());
    if kcidb {
        let mut json = serde_json::to_vec_pretty(&report::kcidb::kcidb(reports))
            .expect("KCIDB data serialises");
        json.push(b'\n');
        let path = report::write_file(dir, "kcidb.json", &json)?;
        println!("kcidb: {}", path.display());
    }
    Ok(())
}
