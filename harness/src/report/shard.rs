//! Spreading a matrix over many CI machines: `--shard I/N` takes every
//! N-th kernel x instance pair, and `merge` joins the shards' reports
//! into one per kernel, refusing a result counted twice.

use std::collections::BTreeMap;
use std::str::FromStr;

use kconform_core::record::Report;

use super::ReportError;

/// Shard `index` (1-based) of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

/// Text that is not a shard.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a shard: use I/N with 1 <= I <= N, e.g. 2/4")]
pub struct BadShard(String);

impl FromStr for Shard {
    type Err = BadShard;

    fn from_str(s: &str) -> Result<Shard, BadShard> {
        let bad = || BadShard(s.to_string());
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if index == 0 || count == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// Whether pair (kernel `k`, instance `i`) of a matrix with `per_kernel`
    /// instances per kernel is this shard's: dealt round-robin over the
    /// pairs in order, so shards stay even and every pair has one shard.
    pub fn takes(&self, k: usize, i: usize, per_kernel: usize) -> bool {
        (k * per_kernel + i) % self.count == self.index - 1
    }
}

/// Join shard reports: one report per kernel spec, its results in the
/// order of `order` (ids not in it last). Refuses a result present in two
/// shards, and shards that booted different kernels under one spec.
pub fn merge(reports: Vec<Report>, order: &[&str]) -> Result<Vec<Report>, ReportError> {
    let rank: BTreeMap<&str, usize> = order.iter().enumerate().map(|(n, id)| (*id, n)).collect();
    let mut by_spec: BTreeMap<String, Report> = BTreeMap::new();
    let mut seen_order: Vec<String> = Vec::new();
    for r in reports {
        match by_spec.get_mut(&r.kernel.spec) {
            None => {
                seen_order.push(r.kernel.spec.clone());
                by_spec.insert(r.kernel.spec.clone(), r);
            }
            Some(into) => {
                if into.kernel.release != r.kernel.release
                    || into.kernel.image_sha256 != r.kernel.image_sha256
                {
                    return Err(ReportError::ShardsDiffer {
                        spec: r.kernel.spec,
                        one: into.kernel.release.clone(),
                        other: r.kernel.release,
                    });
                }
                for rec in r.results {
                    if into.results.iter().any(|x| x.id == rec.id) {
                        return Err(ReportError::Twice {
                            spec: r.kernel.spec,
                            id: rec.id,
                        });
                    }
                    into.results.push(rec);
                }
                into.duration_ms = into.duration_ms.max(r.duration_ms);
            }
        }
    }
    Ok(seen_order
        .into_iter()
        .map(|spec| {
            let mut r = by_spec.remove(&spec).expect("collected above");
            r.results
                .sort_by_key(|x| rank.get(x.id.as_str()).copied().unwrap_or(usize::MAX));
            let mut merged = Report::new(r.kernel, r.duration_ms, r.results);
            merged.shard = None;
            merged
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::fixed_report;
    use proptest::prelude::*;

    #[test]
    fn shards_parse_and_refuse_nonsense() {
        assert_eq!("2/4".parse(), Ok(Shard { index: 2, count: 4 }));
        for bad in ["0/4", "5/4", "1/0", "x/2", "3"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    proptest! {
        /// Every kernel x instance pair belongs to exactly one shard.
        #[test]
        fn every_pair_has_exactly_one_shard(kernels in 1usize..6, per_kernel in 1usize..40, count in 1usize..9) {
            for k in 0..kernels {
                for i in 0..per_kernel {
                    let owners = (1..=count)
                        .filter(|&index| Shard { index, count }.takes(k, i, per_kernel))
                        .count();
                    prop_assert_eq!(owners, 1);
                }
            }
        }
    }

    /// Split the fixed report's results over 3 shards, merge: the same
    /// results, in the same order, none lost, none twice.
    #[test]
    fn merging_the_shards_gives_back_the_whole_report() {
        let whole = fixed_report();
        let order: Vec<&str> = whole.results.iter().map(|r| r.id.as_str()).collect();
        let shards: Vec<Report> = (1..=3)
            .map(|index| {
                let shard = Shard { index, count: 3 };
                let mut r = whole.clone();
                r.results = whole
                    .results
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| shard.takes(0, *i, whole.results.len()))
                    .map(|(_, x)| x.clone())
                    .collect();
                r.shard = Some(shard.to_string());
                r
            })
            .collect();
        let merged = merge(shards.clone(), &order).unwrap();
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].results, whole.results);
        assert_eq!(merged[0].summary, whole.summary);

        let mut twice = shards;
        twice.push(twice[0].clone());
        let err = merge(twice, &order).unwrap_err();
        assert!(err.to_string().contains("is in two shard reports"), "{err}");
    }
}
