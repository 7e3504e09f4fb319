//! The answer cache: an answer depends only on the query, its parameter values and the data, so
//! it is kept under (parsed query, parameters, data version) and reused until the data changes.
//!
//! Every load bumps the store's data version ([`crate::store::NodeStore::data_version`]). The
//! cache holds entries of one version only: the first lookup at a newer version empties it, and
//! a lookup or insert at an older version is ignored, so a stale answer is never served. The
//! cache only saves execution time: every request is still verified and logged on its own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use oxigraph::model::Term;
use oxigraph::sparql::Variable;
use serde_json::Value;

/// What an answer depends on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    /// The query's canonical text ([`crate::store::canonical_text`]): texts that differ
    /// only in layout share an entry.
    pub query: String,
    /// The bound parameter values, in declaration order.
    pub bindings: Vec<(Variable, Term)>,
    /// The data version the answer was computed at.
    pub data_version: u64,
}

/// A bounded cache of answers (SPARQL results JSON) of the current data version, evicting the
/// least recently used entry when full.
#[derive(Debug)]
pub struct AnswerCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    version: u64,
    clock: u64,
    entries: HashMap<CacheKey, (Arc<Value>, u64)>,
}

impl AnswerCache {
    /// A cache of at most `capacity` answers; 0 caches nothing.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere while holding the lock leaves only a cache behind: keep using it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The answer for `key`, if cached at its data version.
    pub fn get(&self, key: &CacheKey) -> Option<Arc<Value>> {
        let mut inner = self.lock();
        if !inner.current(key.data_version) {
            return None;
        }
        inner.clock += 1;
        let now = inner.clock;
        let (value, used) = inner.entries.get_mut(key)?;
        *used = now;
        Some(Arc::clone(value))
    }

    /// Keeps `value` as the answer for `key`, unless the data has moved on since.
    pub fn insert(&self, key: CacheKey, value: Arc<Value>) {
        if self.capacity == 0 {
            return;
        }
        let mut inner = self.lock();
        if !inner.current(key.data_version) {
            return;
        }
        if inner.entries.len() >= self.capacity && !inner.entries.contains_key(&key) {
            inner.evict_least_recent();
        }
        inner.clock += 1;
        let now = inner.clock;
        inner.entries.insert(key, (value, now));
    }

    /// The cached answer for `key`, or the one `compute` makes (then cached). The flag says
    /// whether it came from the cache.
    pub fn get_or_compute<E>(
        &self,
        key: CacheKey,
        compute: impl FnOnce() -> Result<Value, E>,
    ) -> Result<(Arc<Value>, bool), E> {
        if let Some(value) = self.get(&key) {
            return Ok((value, true));
        }
        let value = Arc::new(compute()?);
        self.insert(key, Arc::clone(&value));
        Ok((value, false))
    }

    /// Number of cached answers.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Inner {
    /// Moves to `version` when it is newer (dropping every older answer); false when
    /// `version` is older than what the cache holds.
    fn current(&mut self, version: u64) -> bool {
        if version > self.version {
            self.entries.clear();
            self.version = version;
        }
        version == self.version
    }

    fn evict_least_recent(&mut self) {
        let oldest = self
            .entries
            .iter()
            .min_by_key(|(_, (_, used))| *used)
            .map(|(key, _)| key.clone());
        if let Some(key) = oldest {
            self.entries.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use oxigraph::model::Literal;

    use super::*;
    use crate::exchange::answer::result_json;
    use crate::store::canonical_text;
    use crate::store::{parse_read_only, LoadRequest, NoProgress, NodeStore, QueryLimits};

    const COUNT: &str = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o . FILTER(?o >= ?min) }";

    fn key(query: &str, min: i64, version: u64) -> CacheKey {
        CacheKey {
            query: canonical_text(query, &parse_read_only(query).unwrap()),
            bindings: vec![(Variable::new_unchecked("min"), Literal::from(min).into())],
            data_version: version,
        }
    }

    fn value(n: i64) -> Arc<Value> {
        Arc::new(serde_json::json!(n))
    }

    fn load(store: &NodeStore, dir: &Path, values: &[i64]) {
        let file = dir.join("data.ttl");
        let body: String = values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("<urn:s{i}> <urn:p> {v} .\n"))
            .collect();
        std::fs::write(&file, body).unwrap();
        let request = LoadRequest {
            files: vec![file],
            graph: Some("urn:kikv:dataset:test".into()),
            replace: true,
            format: None,
            ontologies: vec!["http://purl.org/ozo/onz-g".into()],
            memory_mb: 64,
        };
        store.load(&request, &NoProgress).unwrap();
    }

    fn count(store: &NodeStore, cache: &AnswerCache, min: i64) -> (Arc<Value>, bool) {
        let query = parse_read_only(COUNT).unwrap();
        let version = store.data_version().unwrap();
        let bindings = vec![(Variable::new_unchecked("min"), Literal::from(min).into())];
        let key = CacheKey {
            query: canonical_text(COUNT, &query),
            bindings: bindings.clone(),
            data_version: version,
        };
        let limits = QueryLimits {
            timeout: Duration::from_secs(10),
            max_rows: 10,
        };
        cache
            .get_or_compute(key, || {
                let answer = store.evaluate(&query, &bindings, limits).unwrap();
                result_json(&answer)
            })
            .unwrap()
    }

    fn n(value: &Value) -> String {
        value["results"]["bindings"][0]["n"]["value"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn a_load_invalidates_on_a_real_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = NodeStore::open(&dir.path().join("store")).unwrap();
        let cache = AnswerCache::new(16);
        load(&store, dir.path(), &[1, 2, 3]);
        let (first, hit) = count(&store, &cache, 2);
        assert_eq!((n(&first), hit), ("2".to_owned(), false));
        let (again, hit) = count(&store, &cache, 2);
        assert_eq!((n(&again), hit), ("2".to_owned(), true));
        // Other parameter values are another answer.
        let (other, hit) = count(&store, &cache, 1);
        assert_eq!((n(&other), hit), ("3".to_owned(), false));

        let before = store.data_version().unwrap();
        load(&store, dir.path(), &[5, 6, 7, 8]);
        assert!(store.data_version().unwrap() > before);
        let (fresh, hit) = count(&store, &cache, 2);
        assert_eq!((n(&fresh), hit), ("4".to_owned(), false));
        // The old version's entries are gone and are never served again.
        assert_eq!(cache.get(&key(COUNT, 2, before)), None);
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn layout_of_the_query_text_does_not_matter() {
        let cache = AnswerCache::new(4);
        cache.insert(key(COUNT, 1, 1), value(1));
        let relaid =
            "# a comment\nSELECT (COUNT(*) AS ?n)\n WHERE {\n ?s ?p ?o .\n FILTER(?o >= ?min)\n}";
        assert_eq!(cache.get(&key(relaid, 1, 1)), Some(value(1)));
    }

    #[test]
    fn an_answer_computed_at_an_old_version_is_not_kept() {
        let cache = AnswerCache::new(4);
        cache.insert(key(COUNT, 1, 5), value(5));
        cache.insert(key(COUNT, 2, 4), value(4));
        assert_eq!(cache.get(&key(COUNT, 2, 4)), None);
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn the_least_recently_used_answer_goes_first() {
        let cache = AnswerCache::new(2);
        cache.insert(key(COUNT, 1, 1), value(1));
        cache.insert(key(COUNT, 2, 1), value(2));
        assert!(cache.get(&key(COUNT, 1, 1)).is_some());
        cache.insert(key(COUNT, 3, 1), value(3));
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get(&key(COUNT, 2, 1)), None);
        assert_eq!(cache.get(&key(COUNT, 1, 1)), Some(value(1)));
        assert_eq!(cache.get(&key(COUNT, 3, 1)), Some(value(3)));
    }

    #[test]
    fn capacity_zero_caches_nothing() {
        let cache = AnswerCache::new(0);
        cache.insert(key(COUNT, 1, 1), value(1));
        assert!(cache.is_empty());
    }
}
