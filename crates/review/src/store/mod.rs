//! The review database (SQLite): accounts, sessions, the audit log, and what Palisade
//! knows about each held message beyond the queue file (its verdict at the time it was
//! held, legal hold, reports, partial releases, pending dual-control releases).
//!
//! The daemon (web UI, verdict recorder, notifier) and the CLI (`palisade user`,
//! `palisade quarantine`, `palisade audit verify`) open the same file; WAL mode and a
//! busy timeout let them share it.

use palisade_config::clock::now;
use palisade_config::files::give_to_dir_owner;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads the quarantine, the messages and the audit log; exports evidence.
    Auditor,
    /// An auditor who also releases, deletes, reports and sets legal holds.
    Reviewer,
    /// A reviewer who also manages accounts.
    Admin,
}

impl Role {
    /// The role's name as stored and typed.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Auditor => "auditor",
            Role::Reviewer => "reviewer",
            Role::Admin => "admin",
        }
    }

    /// Parses `admin`, `reviewer` or `auditor`.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "auditor" => Some(Role::Auditor),
            "reviewer" => Some(Role::Reviewer),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    /// Whether this role may release, delete, report and hold.
    pub(crate) fn can_review(self) -> bool {
        self >= Role::Reviewer
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An account as listed.
#[derive(Debug, Clone, Serialize)]
pub struct User {
    /// Login name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Creation time, seconds since the epoch.
    pub created: i64,
}

/// A signed-in session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The user.
    pub user: String,
    /// Their role (read at every request: removing a user ends their sessions).
    pub role: Role,
    /// The token forms and API calls must send back.
    pub csrf: String,
}

/// A release that waits for a second reviewer (dual control).
#[derive(Debug, Clone, Serialize)]
pub struct PendingRelease {
    /// Who asked first.
    pub user: String,
    /// Their reason.
    pub reason: String,
    /// The recipients to release to (empty = all).
    pub recipients: Vec<String>,
    /// When, seconds since the epoch.
    pub time: i64,
}

/// Palisade's own facts about a held message.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MessageState {
    /// Exempt from deletion.
    pub legal_hold: bool,
    /// When it was marked as reported, seconds since the epoch.
    pub reported: Option<i64>,
    /// Recipients a copy was already released to.
    pub released_to: Vec<String>,
    /// A release waiting for a second reviewer.
    pub pending_release: Option<PendingRelease>,
}

/// A message that left the hold queue by a review action: what it was and what became
/// of it. The message itself is gone; these facts stay, so an audit entry, a stale page
/// or a second click can still say what happened.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct Closed {
    /// Postfix queue id (reused by Postfix later: `arrival` tells messages apart).
    pub queue_id: String,
    /// Arrival, seconds since the epoch.
    pub arrival: i64,
    /// Subject, decoded, as the recipients would have seen it.
    pub subject: String,
    /// The From header (display name and address), decoded.
    pub from: String,
    /// The envelope sender.
    pub sender: String,
    /// Envelope recipients.
    pub recipients: Vec<String>,
    /// Palisade's score.
    pub score: f64,
    /// Symbols with their scores, as in X-Palisade-Result.
    pub symbols: Vec<String>,
    /// The verdict recorded when it was held, if there was one.
    pub verdict: Option<serde_json::Value>,
    /// `released` or `deleted`.
    pub outcome: String,
    /// Who did it.
    pub by: String,
    /// When, seconds since the epoch.
    pub at: i64,
    /// Their reason.
    pub reason: String,
    /// Every recipient who got a copy, in the end.
    pub released_to: Vec<String>,
}

/// Which audit entries to show (all fields optional; empty means any).
#[derive(Debug, Clone, Default)]
pub(crate) struct AuditFilter {
    /// One message's entries (any arrival).
    pub queue_id: String,
    /// One person's entries.
    pub actor: String,
    /// One action (`release`, `delete`, …).
    pub action: String,
    /// From this time on (RFC 3339 UTC, as the log writes it).
    pub since: String,
    /// Before this time (RFC 3339 UTC).
    pub until: String,
    /// Leave out `view` entries.
    pub no_views: bool,
}

/// The review database.
pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    hash TEXT NOT NULL,
    created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created INTEGER NOT NULL,
    expires INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    queue_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_queue_id ON audit(queue_id);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE IF NOT EXISTS messages (
    queue_id TEXT PRIMARY KEY,
    created INTEGER NOT NULL,
    recorded INTEGER,
    verdict TEXT,
    legal_hold INTEGER NOT NULL DEFAULT 0,
    reported INTEGER,
    released_to TEXT NOT NULL DEFAULT '[]',
    pending TEXT,
    noticed INTEGER,
    digested INTEGER
);
CREATE TABLE IF NOT EXISTS closed (
    queue_id TEXT NOT NULL,
    arrival INTEGER NOT NULL,
    closed INTEGER NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (queue_id, arrival)
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
";

/// `n` random bytes as hex, from the operating system's generator.
pub(crate) fn random_hex(n: usize) -> anyhow::Result<String> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(hex::encode(buf))
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Compares two secrets in time that does not depend on where they differ.
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Store {
    /// Opens (creating if needed) the database at `path`, its directory included.
    pub fn open(path: &Path) -> anyhow::Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.exists() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
        }
        let fresh = !path.exists();
        let conn = Connection::open(path)
            .with_context(|| format!("cannot open the database {}", path.display()))?;
        if fresh {
            // Password hashes and session hashes: for the daemon's user only. Created by
            // root (`palisade user add` on a fresh install), the file goes to the owner
            // of its directory, the daemon's state directory; SQLite gives the journal
            // files it makes later to the database file's owner.
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
            give_to_dir_owner(path)?;
        }
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .with_context(|| format!("{} is not a usable SQLite database", path.display()))?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.execute_batch(SCHEMA)
            .with_context(|| format!("{} is not a usable SQLite database", path.display()))?;
        Ok(Store {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
        })
    }

    /// Where the database lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (every write
        // is one statement or one transaction), so a poisoned lock is still usable.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A small persistent value (such as when the last digest went out).
    pub fn meta(&self, key: &str) -> anyhow::Result<Option<String>> {
        Ok(self
            .conn()
            .query_row("SELECT value FROM meta WHERE key = ?1", params![key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Sets a small persistent value.
    pub(crate) fn set_meta(&self, key: &str, value: &str) -> anyhow::Result<()> {
        self.conn().execute(
            "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }
}

mod accounts;
mod audit_log;
mod held;

pub use accounts::valid_user_name;
pub use held::Notified;

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Store::open(&dir.path().join("db").join("palisade.db")).expect("open");
        (dir, s)
    }

    #[test]
    fn users_and_passwords() {
        let (_d, s) = store();
        s.add_user("clerk", Role::Reviewer, "correct horse battery")
            .expect("add");
        assert_eq!(
            s.check_password("clerk", "correct horse battery")
                .expect("check"),
            Some(Role::Reviewer)
        );
        assert_eq!(
            s.check_password("clerk", "wrong password!").expect("check"),
            None
        );
        assert_eq!(
            s.check_password("nobody", "correct horse battery")
                .expect("check"),
            None
        );
        assert!(s.add_user("x", Role::Admin, "short").is_err());
        assert!(s
            .add_user("bad name", Role::Admin, "long enough pw")
            .is_err());
        let (token, csrf) = s
            .create_session("clerk", Duration::from_secs(60))
            .expect("session");
        let live = s.session(&token).expect("lookup").expect("live");
        assert_eq!(
            (live.user.as_str(), live.role, live.csrf.as_str()),
            ("clerk", Role::Reviewer, csrf.as_str())
        );
        assert!(s.session(&"0".repeat(64)).expect("lookup").is_none());
        // Removing the user ends the session.
        assert!(s.remove_user("clerk").expect("remove"));
        assert!(s.session(&token).expect("lookup").is_none());
        assert!(!s.remove_user("clerk").expect("remove"));
    }

    #[test]
    fn expired_sessions_are_gone() {
        let (_d, s) = store();
        s.add_user("a", Role::Auditor, "0123456789ab").expect("add");
        let (token, _) = s.create_session("a", Duration::ZERO).expect("session");
        // Expiry is at second granularity: a zero TTL lives until the clock ticks over.
        std::thread::sleep(Duration::from_millis(1100));
        assert!(s.session(&token).expect("lookup").is_none());
    }

    #[test]
    fn message_state_round_trips() {
        let (_d, s) = store();
        assert!(!s.state("ABC").expect("state").legal_hold);
        s.set_legal_hold("ABC", true).expect("hold");
        s.add_released("ABC", &["a@x".into()]).expect("rel");
        s.add_released("ABC", &["a@x".into(), "b@x".into()])
            .expect("rel");
        s.set_pending(
            "ABC",
            Some(&PendingRelease {
                user: "u".into(),
                reason: "r".into(),
                recipients: vec![],
                time: 5,
            }),
        )
        .expect("pending");
        let st = s.state("ABC").expect("state");
        assert!(st.legal_hold);
        assert_eq!(st.released_to, vec!["a@x", "b@x"]);
        assert_eq!(st.pending_release.expect("pending").user, "u");
        s.set_pending("ABC", None).expect("clear");
        assert!(s.state("ABC").expect("state").pending_release.is_none());
        // An earlier message's row is forgotten once a later one holds the id.
        s.settle("ABC", now() - 10).expect("settle");
        assert!(
            s.state("ABC").expect("state").legal_hold,
            "same message: kept"
        );
        s.settle("ABC", now() + 10).expect("settle");
        assert!(
            !s.state("ABC").expect("state").legal_hold,
            "a new message: gone"
        );
        // A late verdict record keeps what was set on this message since it was judged,
        // and drops what an earlier message left.
        s.set_legal_hold("ABC", true).expect("hold");
        s.record_verdict("ABC", r#"{"score":12.5}"#, now() - 5)
            .expect("record");
        assert_eq!(
            s.verdict("ABC").expect("verdict").expect("some")["score"],
            12.5
        );
        assert!(s.state("ABC").expect("state").legal_hold, "set since: kept");
        s.record_verdict("ABC", r#"{"score":13}"#, now() + 5)
            .expect("record");
        assert!(
            !s.state("ABC").expect("state").legal_hold,
            "set before this message was judged: an earlier message's"
        );
    }

    #[test]
    fn closed_messages_keep_their_facts_and_the_audit_filters() {
        let (_d, s) = store();
        assert!(s.closed("ABC").expect("closed").is_none());
        let first = Closed {
            queue_id: "ABC".into(),
            arrival: 100,
            subject: "Final notice".into(),
            from: "County Clerk <clerk@county.example>".into(),
            sender: "bounce@bulk.example".into(),
            recipients: vec!["a@x".into(), "b@x".into()],
            outcome: "deleted".into(),
            by: "clerk".into(),
            at: 200,
            ..Closed::default()
        };
        s.close(&first).expect("close");
        // Postfix reused the id for a later message, released since.
        s.close(&Closed {
            arrival: 300,
            outcome: "released".into(),
            at: 400,
            ..first.clone()
        })
        .expect("close");
        let c = s.closed("ABC").expect("closed").expect("some");
        assert_eq!((c.arrival, c.outcome.as_str()), (300, "released"));
        assert_eq!(c.from, "County Clerk <clerk@county.example>");
        // settle() for a newer message does not erase what became of older ones.
        s.settle("ABC", 500).expect("settle");
        assert!(s.closed("ABC").expect("closed").is_some());

        for (actor, action, id) in [
            ("clerk", "view", "ABC"),
            ("clerk", "delete", "ABC"),
            ("officer", "release", "DEF"),
            ("clerk", "login", ""),
        ] {
            s.audit(actor, action, id, "r", "").expect("audit");
        }
        let page = |f: &AuditFilter| {
            let (entries, total) = s.audit_page(f, 0, 2).expect("page");
            (entries.iter().map(|e| e.seq).collect::<Vec<_>>(), total)
        };
        assert_eq!(page(&AuditFilter::default()), (vec![4, 3], 4));
        let views_folded = AuditFilter {
            no_views: true,
            ..AuditFilter::default()
        };
        assert_eq!(page(&views_folded), (vec![4, 3], 3));
        let by_message = AuditFilter {
            queue_id: "ABC".into(),
            ..views_folded.clone()
        };
        assert_eq!(page(&by_message), (vec![2], 1));
        let by_person = AuditFilter {
            actor: "clerk".into(),
            ..AuditFilter::default()
        };
        assert_eq!(page(&by_person), (vec![4, 2], 3));
        let (second, _) = s.audit_page(&by_person, 2, 2).expect("page 2");
        assert_eq!(second.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1]);
        let future = AuditFilter {
            since: "2999-01-01T00:00:00Z".into(),
            ..AuditFilter::default()
        };
        assert_eq!(page(&future), (vec![], 0));
        let (actors, actions) = s.audit_choices().expect("choices");
        assert_eq!(actors, vec!["clerk", "officer"]);
        assert!(actions.contains(&"delete".to_string()));
    }

    #[test]
    fn audit_log_is_append_only_in_sqlite() {
        let (_d, s) = store();
        s.audit("clerk", "view", "ABC", "", "").expect("audit");
        let conn = s.conn();
        assert!(conn.execute("UPDATE audit SET reason = 'x'", []).is_err());
        assert!(conn.execute("DELETE FROM audit", []).is_err());
    }
}
