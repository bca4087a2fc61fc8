//! What Palisade knows of each held message beyond the queue file: its recorded verdict,
//! legal hold, reports, partial releases, pending dual-control releases, notices, and
//! the record of a message no longer held.

use rusqlite::{params, Connection, OptionalExtension};

use super::{now, Closed, MessageState, PendingRelease, Store};

impl Store {
    /// Keeps the verdict a message was held with (JSON), keyed by queue id; `at` is
    /// when it was judged (end of message). Rows older than that are an earlier
    /// message's (Postfix reuses queue ids) and go; a row made since (a reviewer or the
    /// notifier got there before the recorder) keeps its flags.
    pub(crate) fn record_verdict(
        &self,
        queue_id: &str,
        verdict: &str,
        at: i64,
    ) -> anyhow::Result<()> {
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
    pub(crate) fn user_exists(&self, name: &str) -> anyhow::Result<bool> {
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
    pub(crate) fn settle(&self, queue_id: &str, arrival: i64) -> anyhow::Result<()> {
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
    pub(crate) fn set_legal_hold(&self, queue_id: &str, on: bool) -> anyhow::Result<()> {
        let conn = self.conn();
        Self::ensure_row(&conn, queue_id)?;
        conn.execute(
            "UPDATE messages SET legal_hold = ?2 WHERE queue_id = ?1",
            params![queue_id, on as i64],
        )?;
        Ok(())
    }

    /// Marks the message as reported now.
    pub(crate) fn set_reported(&self, queue_id: &str) -> anyhow::Result<()> {
        let conn = self.conn();
        Self::ensure_row(&conn, queue_id)?;
        conn.execute(
            "UPDATE messages SET reported = ?2 WHERE queue_id = ?1",
            params![queue_id, now()],
        )?;
        Ok(())
    }

    /// Adds recipients a copy went to.
    pub(crate) fn add_released(&self, queue_id: &str, recipients: &[String]) -> anyhow::Result<()> {
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
    pub(crate) fn set_pending(
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
    pub(crate) fn set_notified(&self, queue_id: &str, what: Notified) -> anyhow::Result<()> {
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
