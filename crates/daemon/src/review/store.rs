//! The review database (SQLite): accounts, sessions, the audit log, and what Palisade
//! knows about each held message beyond the queue file (its verdict at the time it was
//! held, legal hold, reports, partial releases, pending dual-control releases).
//!
//! The daemon (web UI, verdict recorder, notifier) and the CLI (`palisade user`,
//! `palisade quarantine`, `palisade audit verify`) open the same file; WAL mode and a
//! busy timeout let them share it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{bail, Context};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::audit::{self, Entry};

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
    pub fn can_review(self) -> bool {
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
pub struct AuditFilter {
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

/// Seconds since the epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `n` random bytes as hex, from the operating system's generator.
pub fn random_hex(n: usize) -> anyhow::Result<String> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(hex::encode(buf))
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Compares two secrets in time that does not depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
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

    // ---- accounts ----

    /// Adds an account, or replaces the role and password of an existing one.
    pub fn add_user(&self, name: &str, role: Role, password: &str) -> anyhow::Result<()> {
        valid_user_name(name)?;
        if password.chars().count() < 10 {
            bail!("the password must be at least 10 characters long");
        }
        let salt = SaltString::encode_b64(&random_bytes::<16>()?)
            .map_err(|e| anyhow::anyhow!("cannot make a salt: {e}"))?;
        let hash = Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))?
            .to_string();
        let conn = self.conn();
        conn.execute(
            "INSERT INTO users(name, role, hash, created) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(name) DO UPDATE SET role = excluded.role, hash = excluded.hash",
            params![name, role.as_str(), hash, now()],
        )?;
        // A changed password or role ends the sessions made with the old one.
        conn.execute("DELETE FROM sessions WHERE user = ?1", params![name])?;
        Ok(())
    }

    /// Removes an account and its sessions; false when there was none.
    pub fn remove_user(&self, name: &str) -> anyhow::Result<bool> {
        let conn = self.conn();
        conn.execute("DELETE FROM sessions WHERE user = ?1", params![name])?;
        Ok(conn.execute("DELETE FROM users WHERE name = ?1", params![name])? > 0)
    }

    /// Every account, by name.
    pub fn users(&self) -> anyhow::Result<Vec<User>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT name, role, created FROM users ORDER BY name")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (name, role, created) = row?;
            if let Some(role) = Role::parse(&role) {
                out.push(User {
                    name,
                    role,
                    created,
                });
            }
        }
        Ok(out)
    }

    /// The user's role when `password` is theirs. Slow on purpose (argon2): call it off
    /// the async threads. An unknown name costs as much as a wrong password.
    pub fn check_password(&self, name: &str, password: &str) -> anyhow::Result<Option<Role>> {
        let row: Option<(String, String)> = self
            .conn()
            .query_row(
                "SELECT role, hash FROM users WHERE name = ?1",
                params![name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((role, hash)) = row else {
            let _ = dummy_verify(password);
            return Ok(None);
        };
        let parsed =
            PasswordHash::new(&hash).map_err(|e| anyhow::anyhow!("stored hash unusable: {e}"))?;
        if Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
        {
            Ok(Role::parse(&role))
        } else {
            Ok(None)
        }
    }

    // ---- sessions ----

    /// Starts a session; returns its token (for the cookie) and its CSRF token.
    pub fn create_session(&self, user: &str, ttl: Duration) -> anyhow::Result<(String, String)> {
        let token = random_hex(32)?;
        let csrf = random_hex(32)?;
        let now = now();
        let conn = self.conn();
        conn.execute("DELETE FROM sessions WHERE expires < ?1", params![now])?;
        conn.execute(
            "INSERT INTO sessions(token_hash, user, csrf, created, expires) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![sha256_hex(token.as_bytes()), user, csrf, now, now + ttl.as_secs() as i64],
        )?;
        Ok((token, csrf))
    }

    /// The live session a token names.
    pub fn session(&self, token: &str) -> anyhow::Result<Option<Session>> {
        if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let row: Option<(String, String, String)> = self
            .conn()
            .query_row(
                "SELECT s.user, u.role, s.csrf FROM sessions s JOIN users u ON u.name = s.user
                 WHERE s.token_hash = ?1 AND s.expires >= ?2",
                params![sha256_hex(token.as_bytes()), now()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        Ok(row.and_then(|(user, role, csrf)| {
            Role::parse(&role).map(|role| Session { user, role, csrf })
        }))
    }

    /// Ends a session.
    pub fn end_session(&self, token: &str) -> anyhow::Result<()> {
        self.conn().execute(
            "DELETE FROM sessions WHERE token_hash = ?1",
            params![sha256_hex(token.as_bytes())],
        )?;
        Ok(())
    }

    // ---- audit log ----

    /// Appends an entry to the audit log (hash-chained to the one before) and moves the
    /// head file along.
    pub fn audit(
        &self,
        actor: &str,
        action: &str,
        queue_id: &str,
        reason: &str,
        detail: &str,
    ) -> anyhow::Result<Entry> {
        let entry = {
            let mut conn = self.conn();
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let last: Option<(i64, String)> = tx
                .query_row(
                    "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let (seq, prev) = last.map_or((1, audit::GENESIS.to_string()), |(s, h)| (s + 1, h));
            let entry = Entry::new(
                seq,
                audit::timestamp(),
                actor,
                action,
                queue_id,
                reason,
                detail,
                prev,
            );
            tx.execute(
                "INSERT INTO audit(seq, time, actor, action, queue_id, reason, detail, prev, hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    entry.seq,
                    entry.time,
                    entry.actor,
                    entry.action,
                    entry.queue_id,
                    entry.reason,
                    entry.detail,
                    entry.prev,
                    entry.hash
                ],
            )?;
            // The head moves while the write lock is held, so writers (threads and
            // processes alike) move it in log order and it never goes back.
            audit::write_head(&audit::head_path(&self.path), entry.seq, &entry.hash)?;
            tx.commit()?;
            entry
        };
        Ok(entry)
    }

    /// Audit entries, newest first: all of them (up to `limit`), or those of one
    /// message since it arrived (`(queue id, arrival)`, seconds since the epoch: Postfix
    /// reuses queue ids, and an earlier message's history is not this one's).
    pub fn audit_entries(
        &self,
        queue_id: Option<(&str, i64)>,
        limit: usize,
    ) -> anyhow::Result<Vec<Entry>> {
        let conn = self.conn();
        let (sql, id, since) = match queue_id {
            Some((id, since)) => (
                "SELECT seq, time, actor, action, queue_id, reason, detail, prev, hash FROM audit
                 WHERE queue_id = ?1 AND time >= ?2 ORDER BY seq DESC LIMIT ?3",
                id,
                audit::format_time(since),
            ),
            None => (
                "SELECT seq, time, actor, action, queue_id, reason, detail, prev, hash FROM audit
                 WHERE ?1 = ?1 AND ?2 = ?2 ORDER BY seq DESC LIMIT ?3",
                "",
                String::new(),
            ),
        };
        let mut stmt = conn.prepare(sql)?;
        let rows = stmt.query_map(params![id, since, limit as i64], audit::row_to_entry)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Audit entries matching `filter`, newest first, `limit` of them after skipping
    /// `offset`; and how many match in all.
    pub fn audit_page(
        &self,
        filter: &AuditFilter,
        offset: usize,
        limit: usize,
    ) -> anyhow::Result<(Vec<Entry>, usize)> {
        let conn = self.conn();
        let cond = "(?1 = '' OR queue_id = ?1) AND (?2 = '' OR actor = ?2)
             AND (?3 = '' OR action = ?3) AND (?4 = '' OR time >= ?4)
             AND (?5 = '' OR time < ?5) AND (?6 = 0 OR action <> 'view')";
        let p = params![
            filter.queue_id,
            filter.actor,
            filter.action,
            filter.since,
            filter.until,
            filter.no_views as i64
        ];
        let total: i64 = conn.query_row(
            &format!("SELECT count(*) FROM audit WHERE {cond}"),
            p,
            |r| r.get(0),
        )?;
        let mut stmt = conn.prepare(&format!(
            "SELECT seq, time, actor, action, queue_id, reason, detail, prev, hash FROM audit
             WHERE {cond} ORDER BY seq DESC LIMIT ?7 OFFSET ?8"
        ))?;
        let rows = stmt.query_map(
            params![
                filter.queue_id,
                filter.actor,
                filter.action,
                filter.since,
                filter.until,
                filter.no_views as i64,
                limit as i64,
                offset as i64
            ],
            audit::row_to_entry,
        )?;
        Ok((rows.collect::<Result<_, _>>()?, total.max(0) as usize))
    }

    /// The people and actions the audit log names, for the filter's choices.
    pub fn audit_choices(&self) -> anyhow::Result<(Vec<String>, Vec<String>)> {
        let conn = self.conn();
        let list = |sql: &str| -> anyhow::Result<Vec<String>> {
            let mut stmt = conn.prepare(sql)?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        };
        Ok((
            list("SELECT DISTINCT actor FROM audit ORDER BY actor")?,
            list("SELECT DISTINCT action FROM audit ORDER BY action")?,
        ))
    }

    /// Checks the whole chain (and the head file); see [`audit::verify`].
    ///
    /// It works on a connection of its own (so sign-ins and actions are not held up by
    /// the shared one) and takes the write lock for the duration: writers move the head
    /// file just before they commit, so with the lock held the file and the rows agree.
    pub fn verify_audit(&self) -> anyhow::Result<audit::Verified> {
        let mut conn = Connection::open(&self.path)
            .with_context(|| format!("cannot open {}", self.path.display()))?;
        conn.busy_timeout(Duration::from_secs(30))?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let verified = {
            let mut stmt = tx.prepare(
                "SELECT seq, time, actor, action, queue_id, reason, detail, prev, hash FROM audit ORDER BY seq",
            )?;
            let rows = stmt.query_map([], audit::row_to_entry)?;
            audit::verify(
                rows.map(|r| r.map_err(anyhow::Error::from)),
                &audit::head_path(&self.path),
            )
        };
        tx.rollback()?;
        verified
    }

    // ---- held messages ----

    /// Keeps the verdict a message was held with (JSON), keyed by queue id; `at` is
    /// when it was judged (end of message). Rows older than that are an earlier
    /// message's (Postfix reuses queue ids) and go; a row made since (a reviewer or the
    /// notifier got there before the recorder) keeps its flags.
    pub fn record_verdict(&self, queue_id: &str, verdict: &str, at: i64) -> anyhow::Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "DELETE FROM messages WHERE queue_id = ?1 AND created < ?2",
            params![queue_id, at],
        )?;
        tx.execute(
            "INSERT INTO messages(queue_id, created, recorded, verdict) VALUES (?1, ?2, ?2, ?3)
             ON CONFLICT(queue_id) DO UPDATE SET recorded = excluded.recorded, verdict = excluded.verdict",
            params![queue_id, at, verdict],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Whether an account of this name exists.
    pub fn user_exists(&self, name: &str) -> anyhow::Result<bool> {
        Ok(self
            .conn()
            .query_row("SELECT 1 FROM users WHERE name = ?1", params![name], |_| {
                Ok(())
            })
            .optional()?
            .is_some())
    }

    /// Forgets what an earlier message with this queue id left: Postfix reuses queue
    /// ids, and a row made before the message now held arrived is not about it. Call
    /// before reading or changing a held message's state.
    pub fn settle(&self, queue_id: &str, arrival: i64) -> anyhow::Result<()> {
        self.conn().execute(
            "DELETE FROM messages WHERE queue_id = ?1 AND created < ?2",
            params![queue_id, arrival],
        )?;
        Ok(())
    }

    /// Drops the state of a message that left the hold queue.
    pub fn forget(&self, queue_id: &str) -> anyhow::Result<()> {
        self.conn().execute(
            "DELETE FROM messages WHERE queue_id = ?1",
            params![queue_id],
        )?;
        Ok(())
    }

    /// Keeps what a message was and what became of it, as it leaves the hold queue.
    pub fn close(&self, record: &Closed) -> anyhow::Result<()> {
        self.conn().execute(
            "INSERT INTO closed(queue_id, arrival, closed, record) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(queue_id, arrival) DO UPDATE SET closed = excluded.closed, record = excluded.record",
            params![
                record.queue_id,
                record.arrival,
                record.at,
                serde_json::to_string(record)?
            ],
        )?;
        Ok(())
    }

    /// The latest message with this queue id that left the hold queue by a review
    /// action, if any.
    pub fn closed(&self, queue_id: &str) -> anyhow::Result<Option<Closed>> {
        let text: Option<String> = self
            .conn()
            .query_row(
                "SELECT record FROM closed WHERE queue_id = ?1 ORDER BY closed DESC, arrival DESC LIMIT 1",
                params![queue_id],
                |r| r.get(0),
            )
            .optional()?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    /// The verdict recorded when the message was held.
    pub fn verdict(&self, queue_id: &str) -> anyhow::Result<Option<serde_json::Value>> {
        let text: Option<Option<String>> = self
            .conn()
            .query_row(
                "SELECT verdict FROM messages WHERE queue_id = ?1",
                params![queue_id],
                |r| r.get(0),
            )
            .optional()?;
        Ok(text.flatten().and_then(|t| serde_json::from_str(&t).ok()))
    }

    /// Palisade's facts about a held message (defaults when it has none).
    pub fn state(&self, queue_id: &str) -> anyhow::Result<MessageState> {
        let row: Option<(i64, Option<i64>, String, Option<String>)> = self
            .conn()
            .query_row(
                "SELECT legal_hold, reported, released_to, pending FROM messages WHERE queue_id = ?1",
                params![queue_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let Some((hold, reported, released, pending)) = row else {
            return Ok(MessageState::default());
        };
        let pending = pending.and_then(|p| {
            let v: serde_json::Value = serde_json::from_str(&p).ok()?;
            Some(PendingRelease {
                user: v["user"].as_str()?.to_string(),
                reason: v["reason"].as_str().unwrap_or_default().to_string(),
                recipients: v["recipients"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default(),
                time: v["time"].as_i64().unwrap_or(0),
            })
        });
        Ok(MessageState {
            legal_hold: hold != 0,
            reported,
            released_to: serde_json::from_str(&released).unwrap_or_default(),
            pending_release: pending,
        })
    }

    fn ensure_row(conn: &Connection, queue_id: &str) -> rusqlite::Result<()> {
        conn.execute(
            "INSERT INTO messages(queue_id, created) VALUES (?1, ?2) ON CONFLICT(queue_id) DO NOTHING",
            params![queue_id, now()],
        )?;
        Ok(())
    }

    /// Sets or clears the legal hold.
    pub fn set_legal_hold(&self, queue_id: &str, on: bool) -> anyhow::Result<()> {
        let conn = self.conn();
        Self::ensure_row(&conn, queue_id)?;
        conn.execute(
            "UPDATE messages SET legal_hold = ?2 WHERE queue_id = ?1",
            params![queue_id, on as i64],
        )?;
        Ok(())
    }

    /// Marks the message as reported now.
    pub fn set_reported(&self, queue_id: &str) -> anyhow::Result<()> {
        let conn = self.conn();
        Self::ensure_row(&conn, queue_id)?;
        conn.execute(
            "UPDATE messages SET reported = ?2 WHERE queue_id = ?1",
            params![queue_id, now()],
        )?;
        Ok(())
    }

    /// Adds recipients a copy went to.
    pub fn add_released(&self, queue_id: &str, recipients: &[String]) -> anyhow::Result<()> {
        let mut state = self.state(queue_id)?;
        for r in recipients {
            if !state.released_to.contains(r) {
                state.released_to.push(r.clone());
            }
        }
        let conn = self.conn();
        Self::ensure_row(&conn, queue_id)?;
        conn.execute(
            "UPDATE messages SET released_to = ?2 WHERE queue_id = ?1",
            params![queue_id, serde_json::to_string(&state.released_to)?],
        )?;
        Ok(())
    }

    /// Records (or, with `None`, clears) a release waiting for a second reviewer.
    pub fn set_pending(
        &self,
        queue_id: &str,
        pending: Option<&PendingRelease>,
    ) -> anyhow::Result<()> {
        let conn = self.conn();
        Self::ensure_row(&conn, queue_id)?;
        let text = pending.map(serde_json::to_string).transpose()?;
        conn.execute(
            "UPDATE messages SET pending = ?2 WHERE queue_id = ?1",
            params![queue_id, text],
        )?;
        Ok(())
    }

    /// Whether notices (`"noticed"`) or the digest (`"digested"`) already covered it.
    pub fn notified(&self, queue_id: &str, what: Notified) -> anyhow::Result<bool> {
        let col = what.column();
        let v: Option<Option<i64>> = self
            .conn()
            .query_row(
                &format!("SELECT {col} FROM messages WHERE queue_id = ?1"),
                params![queue_id],
                |r| r.get(0),
            )
            .optional()?;
        Ok(v.flatten().is_some())
    }

    /// Records that notices or the digest covered it.
    pub fn set_notified(&self, queue_id: &str, what: Notified) -> anyhow::Result<()> {
        let conn = self.conn();
        Self::ensure_row(&conn, queue_id)?;
        conn.execute(
            &format!(
                "UPDATE messages SET {} = ?2 WHERE queue_id = ?1",
                what.column()
            ),
            params![queue_id, now()],
        )?;
        Ok(())
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
    pub fn set_meta(&self, key: &str, value: &str) -> anyhow::Result<()> {
        self.conn().execute(
            "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }
}

/// Which notification covered a message.
#[derive(Debug, Clone, Copy)]
pub enum Notified {
    /// The per-recipient notice.
    Notice,
    /// The reviewers' digest.
    Digest,
}

impl Notified {
    fn column(self) -> &'static str {
        match self {
            Notified::Notice => "noticed",
            Notified::Digest => "digested",
        }
    }
}

fn random_bytes<const N: usize>() -> anyhow::Result<[u8; N]> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(b)
}

/// Spends an argon2 verification on nothing, so that an unknown user name takes as long
/// as a wrong password.
fn dummy_verify(password: &str) -> bool {
    static DUMMY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let hash = DUMMY.get_or_init(|| {
        let salt = SaltString::encode_b64(b"palisade-dummy-salt").ok()?;
        Argon2::default()
            .hash_password(b"not a password anyone has", &salt)
            .ok()
            .map(|h| h.to_string())
    });
    hash.as_deref()
        .and_then(|h| PasswordHash::new(h).ok())
        .is_some_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
}

/// Account names: 1 to 64 of letters, digits, `.`, `_`, `-`, `@`.
pub fn valid_user_name(name: &str) -> anyhow::Result<()> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b))
    {
        bail!("`{name}` is not a valid user name (1-64 letters, digits, . _ - @)");
    }
    Ok(())
}

/// A file root creates in the daemon's state directory goes to the directory's owner
/// (the daemon's user), so the daemon can use what `palisade user add` or a first start
/// as root made. Does nothing when not root.
pub(crate) fn give_to_dir_owner(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt;
    if !nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Ok(meta) = std::fs::metadata(dir) {
        std::os::unix::fs::chown(path, Some(meta.uid()), Some(meta.gid()))
            .with_context(|| format!("cannot give {} to its directory's owner", path.display()))?;
    }
    Ok(())
}

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
