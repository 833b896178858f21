//! `kconform repro`: a standalone C reproducer for one instance, from its
//! scenario's C twin (suites/repro) and the instance's expectation.

use std::collections::BTreeMap;

use kconform_core::model::Instance;
use kconform_core::record::Conclusion;
use kconform_core::select::suggest;
use kconform_harness::report;
use kconform_harness::repro::{self, SeenOn, Sources};

use super::expectations;
use crate::cli::ReproArgs;
use crate::error::{Ended, Error};

pub fn repro(args: ReproArgs) -> Result<Ended, Error> {
    let catalog = kconform_suites::catalog();
    let sources = Sources::load()?;
    if args.list {
        list(&catalog, &sources);
        return Ok(Conclusion::Conforms.into());
    }
    let id = args.id.as_deref().unwrap_or_default();
    let inst = find(&catalog, id)?;
    let expectations = expectations(args.fixtures.as_deref())?;
    let seen = match &args.report {
        Some(path) => {
            let r = report::read(path)?;
            r.results.iter().find(|x| x.id == inst.id).map(|x| SeenOn {
                kernel: r.kernel.release.clone(),
                observed: x.observed.clone().unwrap_or_else(|| {
                    format!(
                        "({}: {})",
                        x.status.as_str(),
                        x.reason.clone().unwrap_or_default()
                    )
                }),
            })
        }
        None => None,
    };
    let scenarios = scenarios(&catalog);
    let text = repro::generate(
        &sources,
        inst,
        &scenarios,
        expectations.get(&inst.id),
        seen.as_ref(),
    )?;
    match &args.output {
        Some(path) => {
            kconform_harness::util::write_atomic(path, text.as_bytes()).map_err(|source| {
                Error::Write {
                    path: path.clone(),
                    source,
                }
            })?
        }
        None => print!("{text}"),
    }
    Ok(Conclusion::Conforms.into())
}

/// The instance with exactly this id, or the nearest ids.
fn find<'a>(catalog: &'a [Instance], id: &str) -> Result<&'a Instance, Error> {
    if let Some(inst) = catalog.iter().find(|i| i.id == id) {
        return Ok(inst);
    }
    let ids: Vec<&str> = catalog.iter().map(|i| i.id.as_str()).collect();
    let mut suggestions = suggest(&ids, id);
    // A scenario's base or an area names several instances: offer them.
    let under: Vec<String> = ids
        .iter()
        .filter(|i| i.starts_with(&format!("{id}/")))
        .take(8)
        .map(|i| i.to_string())
        .collect();
    if !under.is_empty() {
        suggestions = under;
    }
    Err(kconform_core::error::NoMatch {
        pattern: id.to_string(),
        suggestions,
    }
    .into())
}

/// Every scenario base, once, in catalog order.
fn scenarios(catalog: &[Instance]) -> Vec<&'static str> {
    let mut seen = Vec::new();
    for i in catalog {
        if !seen.contains(&i.scenario) {
            seen.push(i.scenario);
        }
    }
    seen
}

fn list(catalog: &[Instance], sources: &Sources) {
    let mut per: BTreeMap<&str, usize> = BTreeMap::new();
    for i in catalog {
        *per.entry(i.scenario).or_default() += 1;
    }
    let (mut covered, mut instances) = (0, 0);
    for base in scenarios(catalog) {
        let twin = sources.has_twin(base);
        if twin {
            covered += 1;
            instances += per[base];
        }
        println!(
            "{:<4} {base} ({} instances)",
            if twin { "C" } else { "-" },
            per[base]
        );
    }
    println!(
        "{covered} of {} scenarios have a C twin, covering {instances} of {} instances",
        per.len(),
        catalog.len()
    );
}
