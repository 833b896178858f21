//! `kconform cache list|prune`: the Debian kernels under the cache, and
//! removing them; a kernel a running kconform holds is never removed.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use kconform_core::record::Conclusion;
use kconform_harness::kernels::debian::{CacheEntry, Fetcher};
use kconform_harness::kernels::default_cache_root;

use crate::cli::CacheAction;
use crate::error::{Ended, Error};

pub fn cache(action: CacheAction) -> Result<Ended, Error> {
    match action {
        CacheAction::List { cache } => list(cache),
        CacheAction::Prune { older_than, cache } => {
            let root = cache.unwrap_or_else(default_cache_root);
            let pruned = Fetcher::new(root.clone(), true)
                .prune(older_than)
                .map_err(kconform_harness::Error::from)?;
            for e in &pruned.removed {
                println!("removed {} {} ({})", e.name, e.version, size(e.bytes));
            }
            for e in &pruned.held {
                println!(
                    "kept    {} {}: a running kconform holds it",
                    e.name, e.version
                );
            }
            let freed: u64 = pruned.removed.iter().map(|e| e.bytes).sum();
            println!(
                "{} kernel(s) removed, {} freed; {} kept in use{}",
                pruned.removed.len(),
                size(freed),
                pruned.held.len(),
                match older_than {
                    Some(d) => format!(
                        " (only kernels unused for {})",
                        humantime::format_duration(d)
                    ),
                    None => String::new(),
                }
            );
            Ok(Conclusion::Conforms.into())
        }
    }
}

fn list(cache: Option<PathBuf>) -> Result<Ended, Error> {
    let root = cache.unwrap_or_else(default_cache_root);
    let entries = Fetcher::new(root.clone(), true).entries();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let rows: Vec<[String; 6]> = entries
        .iter()
        .map(|e: &CacheEntry| {
            [
                e.name.clone(),
                e.version.clone(),
                e.suite.clone(),
                size(e.bytes),
                ago(now, e.fetched_at),
                ago(now, e.used_at) + if e.held { " (in use)" } else { "" },
            ]
        })
        .collect();
    let header = ["kernel", "version", "suite", "size", "fetched", "used"].map(String::from);
    let widths: Vec<usize> = (0..6)
        .map(|i| {
            rows.iter()
                .chain([&header])
                .map(|r| r[i].len())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in [&header].into_iter().chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", cells.join("  ").trim_end());
    }
    let total: u64 = entries.iter().map(|e| e.bytes).sum();
    println!(
        "{} kernel(s), {} in {}",
        entries.len(),
        size(total),
        root.join("debian/kernels").display()
    );
    Ok(Conclusion::Conforms.into())
}

fn size(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

fn ago(now: u64, at: u64) -> String {
    let secs = now.saturating_sub(at);
    match secs {
        0..120 => format!("{secs} s ago"),
        120..7200 => format!("{} min ago", secs / 60),
        7200..172_800 => format!("{} h ago", secs / 3600),
        _ => format!("{} days ago", secs / 86_400),
    }
}
