//! The audit log's hash chain. Each entry's hash covers the previous entry's hash and
//! every field of its own, so changing, inserting or removing an entry breaks every hash
//! after it. The newest (seq, hash) is also written to a head file next to the database,
//! so that removing entries from the end is detected too; `palisade audit verify` prints
//! the head, which can be kept elsewhere (a ticket, a printout) as an outside anchor.

use std::path::{Path, PathBuf};

use anyhow::Context;
use palisade_config::clock::format_time;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The `prev` of the first entry.
pub(crate) const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit entry.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Entry {
    /// Position in the log, from 1, without gaps.
    pub seq: i64,
    /// When, RFC 3339 UTC.
    pub time: String,
    /// Who: a user name, or `cli:<unix user>`, or `palisade` for the daemon itself.
    pub actor: String,
    /// What: `login`, `view`, `release`, `delete`, `report`, `export`, `legal-hold`, …
    pub action: String,
    /// The message it concerns (empty for account events).
    pub queue_id: String,
    /// The reason the person gave.
    pub reason: String,
    /// Anything else worth keeping (recipients released to, a user added, …).
    pub detail: String,
    /// The previous entry's hash.
    pub prev: String,
    /// SHA-256 over `prev` and the fields above.
    pub hash: String,
}

impl Entry {
    /// An entry chained to `prev`, with its hash computed.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        seq: i64,
        time: String,
        actor: &str,
        action: &str,
        queue_id: &str,
        reason: &str,
        detail: &str,
        prev: String,
    ) -> Entry {
        let mut e = Entry {
            seq,
            time,
            actor: actor.into(),
            action: action.into(),
            queue_id: queue_id.into(),
            reason: reason.into(),
            detail: detail.into(),
            prev,
            hash: String::new(),
        };
        e.hash = e.compute_hash();
        e
    }

    /// The hash this entry should carry. Fields go in as a JSON array: every field is
    /// delimited and escaped, so no two different entries hash the same input.
    pub(crate) fn compute_hash(&self) -> String {
        let fields = serde_json::json!([
            self.seq,
            self.time,
            self.actor,
            self.action,
            self.queue_id,
            self.reason,
            self.detail
        ]);
        let mut h = Sha256::new();
        h.update(self.prev.as_bytes());
        h.update(b"\n");
        h.update(fields.to_string().as_bytes());
        hex::encode(h.finalize())
    }
}

/// Now, RFC 3339 UTC with seconds.
pub fn timestamp() -> String {
    format_time(time::OffsetDateTime::now_utc().unix_timestamp())
}

/// The head file for a database.
pub(crate) fn head_path(db: &Path) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(".audit-head");
    db.with_file_name(name)
}

/// Replaces the head file (written aside, then renamed: never half a line). Called
/// with the database's write lock held, so heads are written in log order.
pub(crate) fn write_head(path: &Path, seq: i64, hash: &str) -> anyhow::Result<()> {
    // A name of its own per writer: two processes never share a temporary file.
    let tmp = path.with_extension(format!("audit-head.{}.{seq}.tmp", std::process::id()));
    std::fs::write(&tmp, format!("{seq} {hash}\n"))
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    // Written by root (the CLI), it stays the daemon's: same owner as the database.
    if nix::unistd::geteuid().is_root() {
        use std::os::unix::fs::MetadataExt;
        let db = path.with_extension("");
        if let Ok(m) = std::fs::metadata(&db) {
            let _ = std::os::unix::fs::chown(&tmp, Some(m.uid()), Some(m.gid()));
        }
    }
    std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

fn read_head(path: &Path) -> anyhow::Result<Option<(i64, String)>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let mut parts = text.split_whitespace();
    let seq = parts.next().and_then(|s| s.parse().ok());
    let hash = parts.next().map(str::to_string);
    match (seq, hash) {
        (Some(s), Some(h)) => Ok(Some((s, h))),
        _ => anyhow::bail!("{} is not an audit head (`SEQ HASH`)", path.display()),
    }
}

/// A database row as an entry.
pub(crate) fn row_to_entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
    Ok(Entry {
        seq: r.get(0)?,
        time: r.get(1)?,
        actor: r.get(2)?,
        action: r.get(3)?,
        queue_id: r.get(4)?,
        reason: r.get(5)?,
        detail: r.get(6)?,
        prev: r.get(7)?,
        hash: r.get(8)?,
    })
}

/// A chain that checked out.
#[derive(Debug, Clone, Serialize)]
pub struct Verified {
    /// Entries checked.
    pub entries: i64,
    /// The newest entry's hash (the chain's head), or GENESIS when empty.
    pub head: String,
    /// Whether the head file was there to compare with.
    pub head_file: bool,
}

/// Walks the entries in order and checks every link; the first problem is the error,
/// naming the entry where the chain breaks.
pub fn verify(
    entries: impl Iterator<Item = anyhow::Result<Entry>>,
    head: &Path,
) -> anyhow::Result<Verified> {
    let mut prev = GENESIS.to_string();
    let mut expected_seq = 1;
    let mut by_seq_head: Option<String> = None;
    let head_rec = read_head(head)?;
    for e in entries {
        let e = e.context("the audit log cannot be read")?;
        if e.seq != expected_seq {
            anyhow::bail!(
                "entry {} is missing: the log jumps from {} to {}",
                expected_seq,
                expected_seq - 1,
                e.seq
            );
        }
        if e.prev != prev {
            anyhow::bail!(
                "entry {} does not follow entry {}: its link was changed",
                e.seq,
                e.seq - 1
            );
        }
        if e.compute_hash() != e.hash {
            anyhow::bail!(
                "entry {} ({} by {} at {}) was altered: its content no longer matches its hash",
                e.seq,
                e.action,
                e.actor,
                e.time
            );
        }
        if let Some((s, _)) = &head_rec {
            if *s == e.seq {
                by_seq_head = Some(e.hash.clone());
            }
        }
        prev = e.hash;
        expected_seq += 1;
    }
    let count = expected_seq - 1;
    if let Some((s, h)) = &head_rec {
        match &by_seq_head {
            None => anyhow::bail!(
                "the head file names entry {s}, but the log ends at entry {count}: entries were removed"
            ),
            Some(found) if found != h => anyhow::bail!(
                "entry {s} does not match the head file: the log was rewritten"
            ),
            Some(_) => {}
        }
    }
    Ok(Verified {
        entries: count,
        head: prev,
        head_file: head_rec.is_some(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<Entry> {
        let mut out: Vec<Entry> = Vec::new();
        for seq in 1..=n {
            let prev = out.last().map_or(GENESIS.to_string(), |e| e.hash.clone());
            out.push(Entry::new(
                seq,
                format!("2026-11-30T00:00:{seq:02}Z"),
                "clerk",
                "view",
                "ABC",
                "checking",
                "",
                prev,
            ));
        }
        out
    }

    fn run(entries: &[Entry], head: &Path) -> anyhow::Result<Verified> {
        verify(entries.iter().cloned().map(Ok), head)
    }

    #[test]
    fn intact_chain_verifies_and_every_tamper_is_found() {
        let dir = tempfile::tempdir().expect("tempdir");
        let head = dir.path().join("db.audit-head");
        let log = chain(5);
        write_head(&head, 5, &log[4].hash).expect("head");
        let ok = run(&log, &head).expect("intact");
        assert_eq!((ok.entries, ok.head.as_str()), (5, log[4].hash.as_str()));

        let mut edited = log.clone();
        edited[2].reason = "checkinG".into();
        let e = run(&edited, &head).expect_err("edit").to_string();
        assert!(e.contains("entry 3") && e.contains("altered"), "{e}");

        let mut rehashed = log.clone();
        rehashed[2].reason = "other".into();
        rehashed[2].hash = rehashed[2].compute_hash();
        let e = run(&rehashed, &head).expect_err("rehash").to_string();
        assert!(e.contains("entry 4"), "{e}");

        let mut removed = log.clone();
        removed.remove(1);
        let e = run(&removed, &head).expect_err("gap").to_string();
        assert!(e.contains("entry 2 is missing"), "{e}");

        let e = run(&log[..3], &head).expect_err("truncated").to_string();
        assert!(e.contains("entries were removed"), "{e}");

        // A head behind the log (the daemon stopped between commit and head write) is fine.
        write_head(&head, 4, &log[3].hash).expect("head");
        run(&log, &head).expect("head behind");
        assert!(run(&[], &dir.path().join("none")).expect("empty").entries == 0);
    }
}
