//! The embedded campaign store: bounded maps in memory, saved to the state directory
//! (atomically, when something changed) and read back at start, so a restart does not
//! forget a campaign under way. `palisade campaign` reads the saved file.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context;
use palisade_engine::campaign::{BANDS, SAME_TEMPLATE};
use serde::{Deserialize, Serialize};

use crate::record::{similarity, Copy, Observation, Seen, Settings, Signature, Summary};

/// One campaign's state.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Campaign {
    id: String,
    signature: Signature,
    bands: Vec<u64>,
    first_seen: u64,
    last_seen: u64,
    /// Keyed hashes, with the last time each was seen.
    recipients: HashMap<String, u64>,
    senders: HashMap<String, u64>,
    ips: HashMap<String, u64>,
    copies: VecDeque<Copy>,
    copies_seen: u64,
    threat_symbols: BTreeSet<String>,
    threat_since: Option<u64>,
    #[serde(default)]
    pruned: u64,
}

impl Campaign {
    fn summary(&self) -> Summary {
        Summary {
            id: self.id.clone(),
            first_seen: self.first_seen,
            last_seen: self.last_seen,
            recipients: self.recipients.len() as u64,
            senders: self.senders.len() as u64,
            ips: self.ips.len() as u64,
            copies: self.copies_seen,
            threat: self.threat_since.is_some(),
            threat_since: self.threat_since,
            symbols: self.threat_symbols.iter().cloned().collect(),
        }
    }

    /// Forgets what fell out of the window (at most once a minute: linear in the sets).
    fn prune(&mut self, now: u64, window: u64) {
        if now.saturating_sub(self.pruned) < 60 {
            return;
        }
        self.pruned = now;
        let since = now.saturating_sub(window);
        for set in [&mut self.recipients, &mut self.senders, &mut self.ips] {
            set.retain(|_, t| *t >= since);
        }
        while self.copies.front().is_some_and(|c| c.at < since) {
            self.copies.pop_front();
        }
    }
}

/// Adds to a bounded set: when full, the tenth seen longest ago makes room (one sort
/// per tenth of the bound: amortised logarithmic).
fn add(set: &mut HashMap<String, u64>, key: &str, now: u64, bound: usize) {
    if let Some(t) = set.get_mut(key) {
        *t = now;
        return;
    }
    if set.len() >= bound {
        let mut by_age: Vec<(u64, String)> = set.iter().map(|(k, t)| (*t, k.clone())).collect();
        by_age.sort_unstable();
        for (_, k) in by_age.into_iter().take((bound / 10).max(1)) {
            set.remove(&k);
        }
    }
    set.insert(key.to_string(), now);
}

/// The saved form of [`State`].
#[derive(Serialize)]
struct Saved<'a> {
    campaigns: &'a HashMap<String, Campaign>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    campaigns: HashMap<String, Campaign>,
    /// (band index, band key) -> campaign id.
    #[serde(skip)]
    bands: HashMap<(usize, u64), String>,
    #[serde(skip)]
    dirty: bool,
}

impl State {
    fn index(&mut self, c: &Campaign) {
        for (b, key) in c.bands.iter().enumerate() {
            self.bands.entry((b, *key)).or_insert_with(|| c.id.clone());
        }
    }

    fn remove(&mut self, id: &str) {
        if let Some(c) = self.campaigns.remove(id) {
            for (b, key) in c.bands.iter().enumerate() {
                if self.bands.get(&(b, *key)).is_some_and(|v| v == id) {
                    self.bands.remove(&(b, *key));
                }
            }
        }
    }

    /// Drops campaigns last seen before the window, and the least recently seen when
    /// over the bound (a tenth at once, so the sort is paid rarely).
    fn expire(&mut self, now: u64, settings: &Settings) {
        let since = now.saturating_sub(settings.window);
        let old: Vec<String> = self
            .campaigns
            .values()
            .filter(|c| c.last_seen < since)
            .map(|c| c.id.clone())
            .collect();
        for id in old {
            self.remove(&id);
        }
        if self.campaigns.len() >= settings.max_campaigns {
            let mut by_age: Vec<(u64, String)> = self
                .campaigns
                .values()
                .map(|c| (c.last_seen, c.id.clone()))
                .collect();
            by_age.sort();
            let drop = (settings.max_campaigns / 10).max(1);
            for (_, id) in by_age.into_iter().take(drop) {
                self.remove(&id);
            }
        }
    }
}

/// The in-memory store.
#[derive(Debug)]
pub struct Memory {
    state: Mutex<State>,
    settings: Settings,
    path: Option<PathBuf>,
    /// When the last expiry pass ran.
    expired: Mutex<u64>,
}

impl Memory {
    /// An empty store, or the one saved at `path` when there is one. A saved file that
    /// cannot be read is an error (and is left in place for inspection).
    pub fn open(path: Option<PathBuf>, settings: Settings) -> anyhow::Result<Memory> {
        let mut state = State::default();
        if let Some(p) = &path {
            match read(p) {
                Ok(Some(saved)) => state = saved,
                Ok(None) => {}
                // Campaign counts are worth less than mail flowing: a damaged file is
                // moved aside (kept for inspection) and counting starts afresh.
                Err(e) if p.exists() => {
                    let aside = p.with_extension(format!(
                        "damaged-{}",
                        palisade_config::clock::now_unsigned()
                    ));
                    std::fs::rename(p, &aside)
                        .with_context(|| format!("{e:#}; and cannot move it aside"))?;
                    tracing::error!(error = %format!("{e:#}"), moved_to = %aside.display(), "campaign store unreadable: starting empty");
                }
                Err(e) => return Err(e),
            }
        }
        let ids: Vec<String> = state.campaigns.keys().cloned().collect();
        for id in ids {
            if let Some(c) = state.campaigns.get(&id).cloned() {
                state.index(&c);
            }
        }
        Ok(Memory {
            state: Mutex::new(state),
            settings,
            path,
            expired: Mutex::new(0),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a message into its campaign (a new one when it matches none).
    pub fn observe(&self, o: &Observation) -> Seen {
        let s = &self.settings;
        let now = o.at;
        {
            let mut last = self.expired.lock().unwrap_or_else(|e| e.into_inner());
            if now.saturating_sub(*last) >= 60 {
                *last = now;
                self.lock().expire(now, s);
            }
        }
        let mut state = self.lock();
        state.dirty = true;
        // Candidates share a band; the closest whole signature wins.
        let mut best: Option<(f64, String)> = None;
        let mut tried: Vec<&String> = Vec::new();
        for (b, key) in o.bands.iter().enumerate() {
            if let Some(id) = state.bands.get(&(b, *key)) {
                if tried.contains(&id) {
                    continue;
                }
                tried.push(id);
                if let Some(c) = state.campaigns.get(id) {
                    let sim = similarity(&c.signature, &o.signature);
                    if sim >= SAME_TEMPLATE && best.as_ref().is_none_or(|(bs, _)| sim > *bs) {
                        best = Some((sim, id.clone()));
                    }
                }
            }
        }
        let id = match best {
            Some((_, id)) => id,
            None => {
                if state.campaigns.len() >= s.max_campaigns {
                    state.expire(now, s);
                }
                // The first band key names it; a different template that happens to
                // share it takes the next free name.
                let mut key = o.bands[0];
                let mut id = format!("{key:016x}");
                while state.campaigns.contains_key(&id) {
                    key = key.wrapping_add(o.bands[BANDS - 1] | 1);
                    id = format!("{key:016x}");
                }
                let c = Campaign {
                    id: id.clone(),
                    signature: o.signature.clone(),
                    bands: o.bands.to_vec(),
                    first_seen: now,
                    last_seen: now,
                    recipients: HashMap::new(),
                    senders: HashMap::new(),
                    ips: HashMap::new(),
                    copies: VecDeque::new(),
                    copies_seen: 0,
                    threat_symbols: BTreeSet::new(),
                    threat_since: None,
                    pruned: now,
                };
                state.index(&c);
                state.campaigns.insert(id.clone(), c);
                id
            }
        };
        let Some(c) = state.campaigns.get_mut(&id) else {
            return Seen::default();
        };
        c.prune(now, s.window);
        c.last_seen = c.last_seen.max(now);
        c.copies_seen += 1;
        for r in &o.recipients {
            add(&mut c.recipients, r, now, s.max_recipients);
        }
        if !o.sender.is_empty() {
            add(&mut c.senders, &o.sender, now, s.max_recipients);
        }
        if !o.ip.is_empty() {
            add(&mut c.ips, &o.ip, now, s.max_recipients);
        }
        if !o.threat.is_empty() {
            c.threat_since.get_or_insert(now);
            for t in o.threat.iter().take(32) {
                if c.threat_symbols.len() < 32 {
                    c.threat_symbols.insert(t.clone());
                }
            }
        }
        Seen {
            summary: c.summary(),
        }
    }

    /// Keeps the record of one copy (the newest `max_copies` per campaign).
    pub fn record(&self, id: &str, copy: Copy) {
        let mut state = self.lock();
        state.dirty = true;
        if let Some(c) = state.campaigns.get_mut(id) {
            if c.copies.len() >= self.settings.max_copies {
                c.copies.pop_front();
            }
            c.copies.push_back(copy);
        }
    }

    /// Every campaign, most recently seen first.
    pub fn list(&self) -> Vec<Summary> {
        let state = self.lock();
        let mut out: Vec<Summary> = state.campaigns.values().map(Campaign::summary).collect();
        out.sort_by(|a, b| b.last_seen.cmp(&a.last_seen).then(a.id.cmp(&b.id)));
        out
    }

    /// One campaign and its copies, oldest first; copies at or after `since` only.
    pub fn show(&self, id: &str, since: u64) -> Option<(Summary, Vec<Copy>)> {
        let state = self.lock();
        state.campaigns.get(id).map(|c| {
            (
                c.summary(),
                c.copies.iter().filter(|x| x.at >= since).cloned().collect(),
            )
        })
    }

    /// Writes the store to its file when it changed (atomically: a crash leaves the old
    /// or the new file, never half of one).
    pub fn save(&self) -> anyhow::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        // A copy under the lock, the slow part (JSON) outside it: mail waits only for
        // the copy.
        let snapshot: HashMap<String, Campaign> = {
            let mut state = self.lock();
            if !state.dirty {
                return Ok(());
            }
            state.dirty = false;
            state.campaigns.clone()
        };
        let json = serde_json::to_vec(&Saved {
            campaigns: &snapshot,
        })?;
        palisade_config::files::write_atomic(path, &json, 0o600)
    }

    /// Campaign count.
    pub fn count(&self) -> usize {
        self.lock().campaigns.len()
    }
}

fn read(path: &Path) -> anyhow::Result<Option<State>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .with_context(|| format!("{} is not a campaign store", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Reads a saved store for the CLI (never moves or writes it).
pub(crate) fn read_saved(path: &Path, settings: Settings) -> anyhow::Result<Memory> {
    let Some(state) = read(path)? else {
        anyhow::bail!(
            "no campaign store at {} yet (the daemon saves it every few seconds while it runs)",
            path.display()
        );
    };
    let memory = Memory::open(None, settings)?;
    {
        let mut s = memory.lock();
        *s = state;
        let ids: Vec<String> = s.campaigns.keys().cloned().collect();
        for id in ids {
            if let Some(c) = s.campaigns.get(&id).cloned() {
                s.index(&c);
            }
        }
    }
    Ok(memory)
}
