//! A bounded in-memory cache for mail-auth's DNS lookups, honouring record TTLs.

use std::borrow::Borrow;
use std::hash::Hash;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use lru::LruCache;
use mail_auth::ResolverCache;

/// Entries kept at most; past it, the least recently used goes, in constant time.
pub(crate) struct TtlCache<K, V> {
    map: Mutex<LruCache<K, (V, Instant)>>,
    pub(crate) hits: AtomicU64,
    pub(crate) misses: AtomicU64,
}

impl<K: Hash + Eq, V: Clone> TtlCache<K, V> {
    pub(crate) fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        TtlCache {
            map: Mutex::new(LruCache::new(
                NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN),
            )),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }
}

impl<K: Hash + Eq, V: Clone> ResolverCache<K, V> for TtlCache<K, V> {
    fn get<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        // A poisoned lock only means another lookup panicked; the map is still usable.
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let found = match map.get(name) {
            Some((v, until)) if *until > Instant::now() => Some(v.clone()),
            Some(_) => {
                map.pop(name);
                None
            }
            None => None,
        };
        match found {
            Some(_) => self.hits.fetch_add(1, Ordering::Relaxed),
            None => self.misses.fetch_add(1, Ordering::Relaxed),
        };
        found
    }

    fn remove<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.pop(name).map(|(v, _)| v)
    }

    fn insert(&self, key: K, value: V, valid_until: Instant) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.put(key, (value, valid_until));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn least_recently_used_goes_and_expired_entries_are_misses() {
        let c: TtlCache<Box<str>, u32> = TtlCache::new(2);
        let later = Instant::now() + Duration::from_secs(60);
        c.insert("a".into(), 1, later);
        c.insert("b".into(), 2, later);
        assert_eq!(c.get("a"), Some(1));
        c.insert("c".into(), 3, later);
        assert_eq!(c.get("b"), None, "b was the least recently used");
        assert_eq!(c.get("a"), Some(1));
        c.insert("d".into(), 4, Instant::now());
        assert_eq!(c.get("d"), None, "expired");
        assert_eq!(c.remove("a"), Some(1));
    }
}
