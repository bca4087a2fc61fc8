//! The audit log's rows: appended in a chain (see [`crate::audit`]), read back with
//! filters and pages, and verified.

use std::time::Duration;

use anyhow::Context;

use rusqlite::{params, Connection, OptionalExtension};

use super::{AuditFilter, Store};
use crate::audit::{self, Entry};

impl Store {
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
    pub(crate) fn audit_entries(
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
                palisade_config::clock::format_time(since),
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
    pub(crate) fn audit_page(
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
    pub(crate) fn audit_choices(&self) -> anyhow::Result<(Vec<String>, Vec<String>)> {
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
}
