//! `--filter`: which instances a run includes, and what to suggest when a
//! filter matches nothing.

/// One `--filter` pattern: a glob when it holds `*` (anchored at both
/// ends), otherwise a piece of the id that starts at the beginning of a
/// path segment (`ret-kill/` picks that area, `kill-thread` every
/// kill-thread variant, but neither matches in the middle of a word).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter(String);

impl Filter {
    pub fn new(pattern: &str) -> Self {
        Filter(pattern.to_string())
    }

    pub fn pattern(&self) -> &str {
        &self.0
    }

    pub fn matches(&self, id: &str) -> bool {
        if self.0.contains('*') {
            glob_match(&self.0, id)
        } else {
            id.starts_with(&self.0) || id.contains(&format!("/{}", self.0))
        }
    }
}

fn glob_match(pat: &str, s: &str) -> bool {
    let parts: Vec<&str> = pat.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !s.starts_with(first) || s.len() < first.len() + last.len() || !s.ends_with(last) {
        return false;
    }
    let mut rest = &s[first.len()..s.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("no scenario matches --filter `{pattern}`{}", suggest_text(.suggestions))]
pub struct NoMatch {
    pub pattern: String,
    pub suggestions: Vec<String>,
}

fn suggest_text(s: &[String]) -> String {
    if s.is_empty() {
        "; `kconform list` shows every id".to_string()
    } else {
        format!("; did you mean: {}", s.join(", "))
    }
}

/// Keep the ids any filter matches (all when there are none). A filter
/// that matches nothing is an error with the closest ids or id prefixes.
pub fn select<'a>(ids: &[&'a str], filters: &[Filter]) -> Result<Vec<&'a str>, NoMatch> {
    if filters.is_empty() {
        return Ok(ids.to_vec());
    }
    for f in filters {
        if !ids.iter().any(|id| f.matches(id)) {
            return Err(NoMatch {
                pattern: f.pattern().to_string(),
                suggestions: suggest(ids, f.pattern()),
            });
        }
    }
    Ok(ids
        .iter()
        .copied()
        .filter(|id| filters.iter().any(|f| f.matches(id)))
        .collect())
}

/// The instances any filter matches, in catalog order (all when there
/// are no filters); a filter that matches nothing is a [`NoMatch`].
pub fn select_instances<'a>(
    catalog: &'a [crate::Instance],
    filters: &[Filter],
) -> Result<Vec<&'a crate::Instance>, NoMatch> {
    let ids: Vec<&str> = catalog.iter().map(|i| i.id.as_str()).collect();
    select(&ids, filters)?;
    Ok(catalog
        .iter()
        .filter(|i| filters.is_empty() || filters.iter().any(|f| f.matches(&i.id)))
        .collect())
}

/// The few ids, or id prefixes, nearest to a pattern that matched nothing.
pub fn suggest(ids: &[&str], pattern: &str) -> Vec<String> {
    let pattern = pattern.trim_matches('*');
    let depth = pattern.matches('/').count() + 1;
    let mut candidates: Vec<String> = ids
        .iter()
        .map(|id| id.split('/').take(depth).collect::<Vec<_>>().join("/"))
        .collect();
    candidates.sort();
    candidates.dedup();
    let mut scored: Vec<(f64, String)> = candidates
        .into_iter()
        .map(|c| (strsim::normalized_damerau_levenshtein(pattern, &c), c))
        .filter(|(score, _)| *score >= 0.5)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    scored.into_iter().take(3).map(|(_, c)| c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDS: &[&str] = &[
        "tsync/ancestors/siblings-2",
        "tsync/diverged/returns-tid/siblings-2",
        "ret-kill/kill-process/single/untraced",
        "sa-immutable/trap/ignored/traceme/suppress",
    ];

    #[test]
    fn substring_and_glob() {
        assert_eq!(select(IDS, &[Filter::new("tsync/")]).unwrap().len(), 2);
        assert_eq!(
            select(IDS, &[Filter::new("*/untraced")]).unwrap(),
            vec![IDS[2]]
        );
        assert_eq!(
            select(IDS, &[Filter::new("tsync/*/siblings-2")])
                .unwrap()
                .len(),
            2
        );
        assert_eq!(select(IDS, &[Filter::new("sa-*")]).unwrap(), vec![IDS[3]]);
        assert_eq!(select(IDS, &[]).unwrap().len(), 4);
        assert_eq!(
            select(IDS, &[Filter::new("untraced")]).unwrap(),
            vec![IDS[2]]
        );
        // Not in the middle of a segment: "kill" is inside "ret-kill".
        assert!(select(IDS, &[Filter::new("kill/")]).is_err());
    }

    #[test]
    fn unknown_filter_suggests_close_ids() {
        let err = select(IDS, &[Filter::new("tsinc/ancestors")]).unwrap_err();
        assert_eq!(err.suggestions, vec!["tsync/ancestors".to_string()]);
        assert_eq!(
            err.to_string(),
            "no scenario matches --filter `tsinc/ancestors`; did you mean: tsync/ancestors"
        );
        let err = select(IDS, &[Filter::new("rett-kill")]).unwrap_err();
        assert_eq!(err.suggestions, vec!["ret-kill".to_string()]);
    }

    #[test]
    fn hopeless_filter_points_at_list() {
        let err = select(IDS, &[Filter::new("zzzzzzzzzzzz")]).unwrap_err();
        assert!(err.to_string().ends_with("`kconform list` shows every id"));
    }
}
