//! Postfix's own tools for one instance: `postqueue -j`, `postcat -q`, `postsuper -H/-d`
//! and `sendmail`, and what a held message's headers say about Palisade's verdict.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{anyhow, bail, Context};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::held::{Held, HoldOutcome};
use crate::message::{decoded_subject, header, header_from, ReleaseNote};
use palisade_config::clock::now_unsigned as now;

/// Postfix's tools for one instance.
#[derive(Debug, Clone)]
pub struct Tools {
    pub(crate) config: Option<PathBuf>,
    pub(crate) sendmail: PathBuf,
    /// The record of queued messages Palisade put on hold afterwards (campaign copies),
    /// so they count as Palisade's: `campaign-holds.json` in the state directory.
    pub(crate) holds: Option<PathBuf>,
}

/// One queued message Palisade put on hold afterwards.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CampaignHold {
    queue_id: String,
    arrival_time: u64,
    campaign: String,
    held_at: u64,
}

/// Hold records are kept this long (held messages are reviewed well within it).
const HOLD_RECORD_DAYS: u64 = 90;

impl Tools {
    pub(crate) fn run_bytes(&self, tool: &str, args: &[&str]) -> anyhow::Result<Vec<u8>> {
        let mut cmd = Command::new(tool);
        if let Some(dir) = &self.config {
            cmd.arg("-c").arg(dir);
        }
        cmd.args(args);
        let out = match cmd.output() {
            Ok(o) => o,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                bail!("{tool} not found: is Postfix installed (and on PATH)?")
            }
            Err(e) => return Err(e).with_context(|| format!("cannot run {tool}")),
        };
        if !out.status.success() {
            bail!(
                "{tool} {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(out.stdout)
    }

    pub(crate) fn run(&self, tool: &str, args: &[&str]) -> anyhow::Result<String> {
        Ok(String::from_utf8_lossy(&self.run_bytes(tool, args)?).into_owned())
    }

    /// Every queued message, as postqueue -j describes it.
    pub(crate) fn queue(&self) -> anyhow::Result<Vec<Value>> {
        let text = self.run("postqueue", &["-j"])?;
        let mut out = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: Value = serde_json::from_str(line)
                .with_context(|| format!("unexpected postqueue -j output: {line}"))?;
            out.push(v);
        }
        Ok(out)
    }

    /// Every message in the hold queue.
    pub(crate) fn hold_queue(&self) -> anyhow::Result<Vec<Value>> {
        let mut all = self.queue()?;
        all.retain(|v| v["queue_name"] == "hold");
        Ok(all)
    }

    pub(crate) fn campaign_holds(&self) -> Vec<CampaignHold> {
        let Some(path) = &self.holds else {
            return Vec::new();
        };
        std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// The campaign a message in the hold queue was held for afterwards, if it was.
    pub(crate) fn campaign_hold(&self, id: &str, arrival: u64) -> Option<String> {
        self.campaign_holds()
            .into_iter()
            .find(|h| h.queue_id == id && h.arrival_time == arrival)
            .map(|h| h.campaign)
    }

    pub(crate) fn hold_queued(
        &self,
        copies: &[(String, u64)],
        campaign: &str,
    ) -> anyhow::Result<Vec<HoldOutcome>> {
        let Some(holds) = self.holds.clone() else {
            bail!("no state directory to record holds in");
        };
        // One look at the queue for all of them.
        let queue = self.queue()?;
        let mut records = self.campaign_holds();
        let now = now();
        records.retain(|h| h.held_at + HOLD_RECORD_DAYS * 86_400 >= now);
        let mut chosen = Vec::new();
        let mut out = Vec::new();
        for (id, at) in copies {
            // Still queued, not on hold, and arrived before it was scanned (and not
            // long before: a queue id reused since names another message).
            let entry = queue.iter().find(|e| {
                let arrival = e["arrival_time"].as_u64().unwrap_or(0);
                e["queue_id"] == id.as_str()
                    && e["queue_name"] != "hold"
                    && arrival <= at + 5
                    && arrival + 3600 >= *at
            });
            // Only mail Palisade scanned.
            let scanned = match entry {
                Some(_) => header(&self.headers(id)?, "X-Palisade-Result").is_some(),
                None => false,
            };
            match entry {
                Some(e) if scanned => {
                    records.push(CampaignHold {
                        queue_id: id.clone(),
                        arrival_time: e["arrival_time"].as_u64().unwrap_or(0),
                        campaign: campaign.to_string(),
                        held_at: now,
                    });
                    chosen.push(id.clone());
                    out.push(HoldOutcome::Held);
                }
                _ => out.push(HoldOutcome::Gone),
            }
        }
        if chosen.is_empty() {
            return Ok(out);
        }
        // Recorded before the hold: a message on hold is never one nobody claims.
        palisade_config::files::write_atomic(&holds, &serde_json::to_vec(&records)?, 0o640)?;
        for id in &chosen {
            self.run("postsuper", &["-h", id])?;
        }
        Ok(out)
    }

    /// The header block of a queued message.
    pub(crate) fn headers(&self, id: &str) -> anyhow::Result<String> {
        self.run("postcat", &["-h", "-q", id])
    }

    pub(crate) fn raw(&self, id: &str) -> anyhow::Result<Vec<u8>> {
        self.run_bytes("postcat", &["-h", "-b", "-q", id])
    }

    /// Everything Palisade holds, oldest first.
    pub(crate) fn list(&self) -> anyhow::Result<Vec<Held>> {
        let now = now();
        let mut out = Vec::new();
        let queue = self.hold_queue()?;
        for entry in &queue {
            if let Some(h) = held(self, entry, now)? {
                out.push(h);
            }
        }
        // Forget messages that left the hold queue.
        let present: std::collections::HashSet<(&str, u64)> = queue
            .iter()
            .map(|e| {
                (
                    e["queue_id"].as_str().unwrap_or_default(),
                    e["arrival_time"].as_u64().unwrap_or(0),
                )
            })
            .collect();
        FACTS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(config, id, arrival), _| {
                config != &self.config || present.contains(&(id.as_str(), *arrival))
            });
        out.sort_by_key(|h| h.arrival_time);
        Ok(out)
    }

    pub(crate) fn find(&self, id: &str) -> anyhow::Result<Held> {
        let now = now();
        let entry = self
            .hold_queue()?
            .into_iter()
            .find(|e| e["queue_id"] == id)
            .ok_or_else(|| anyhow!("no message {id} in the hold queue"))?;
        held(self, &entry, now)?.ok_or_else(|| {
            anyhow!("message {id} is in the hold queue, but Palisade did not hold it")
        })
    }

    /// postsuper -H, then postqueue -i.
    pub(crate) fn release(&self, id: &str) -> anyhow::Result<()> {
        self.run("postsuper", &["-H", id])?;
        // postsuper -H puts it in the deferred queue, which the queue manager scans
        // only every queue_run_delay; ask for delivery now. The message is released
        // either way: a failure here only means it waits for the next queue run.
        if let Err(e) = self.run("postqueue", &["-i", id]) {
            tracing::warn!(queue_id = %palisade_report::escape::Safe(id), error = %format!("{e:#}"), "released; it goes out with the next queue run");
        }
        Ok(())
    }

    /// A copy through sendmail to recipients of the held message only.
    pub(crate) fn release_copy(
        &self,
        id: &str,
        recipients: &[String],
        note: Option<&ReleaseNote>,
    ) -> anyhow::Result<()> {
        if recipients.is_empty() {
            bail!("no recipients to release to");
        }
        let held = self.find(id)?;
        for r in recipients {
            if !held.recipients.iter().any(|h| h.eq_ignore_ascii_case(r)) {
                bail!("{r} is not a recipient of {id}");
            }
        }
        let raw = self.raw(id)?;
        let raw = match note {
            Some(n) => n.apply(&raw),
            None => raw,
        };
        let sender = if held.sender.is_empty() {
            "<>"
        } else {
            held.sender.as_str()
        };
        self.sendmail(sender, recipients, &raw)
    }

    /// Hands a message to Postfix's sendmail (-i: a lone dot is text).
    pub(crate) fn sendmail(&self, from: &str, to: &[String], message: &[u8]) -> anyhow::Result<()> {
        use std::io::Write;
        let mut cmd = Command::new(&self.sendmail);
        if let Some(dir) = &self.config {
            cmd.arg("-C").arg(dir);
        }
        cmd.arg("-i").arg("-f").arg(from).arg("--").args(to);
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot run {}", self.sendmail.display()))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(message)
                .context("cannot hand the message to sendmail")?;
        }
        let out = child
            .wait_with_output()
            .context("sendmail did not finish")?;
        if !out.status.success() {
            bail!(
                "sendmail failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }

    /// postsuper -d ID hold.
    pub(crate) fn delete(&self, id: &str) -> anyhow::Result<()> {
        self.run("postsuper", &["-d", id, "hold"])?;
        Ok(())
    }
}

/// What a queued message's headers say about Palisade's verdict: read once per
/// message (one `postcat` each), since a held message's headers do not change. `None`
/// when Palisade did not hold it.
#[derive(Debug, Clone)]
struct Facts {
    subject: String,
    from: String,
    score: f64,
    symbols: Vec<String>,
    result: String,
}

/// (Postfix instance, queue id, arrival time): queue ids are reused, arrival times
/// tell the messages apart.
type FactsKey = (Option<PathBuf>, String, u64);

/// Facts of the messages in the hold queue, pruned to those still there at every list.
static FACTS: std::sync::LazyLock<
    std::sync::Mutex<std::collections::HashMap<FactsKey, Option<Facts>>>,
> = std::sync::LazyLock::new(Default::default);

fn facts(pf: &Tools, id: &str, arrival: u64) -> anyhow::Result<Option<Facts>> {
    let key = (pf.config.clone(), id.to_string(), arrival);
    if let Some(f) = FACTS.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Ok(f.clone());
    }
    let headers = pf.headers(id)?;
    let campaign = || {
        pf.campaign_hold(id, arrival).and_then(|c| {
            header(&headers, "X-Palisade-Result").map(|r| {
                format!(
                    "{r}, CAMPAIGN_THREAT (held afterwards: a copy of threatening campaign {c})"
                )
            })
        })
    };
    let f = header(&headers, "X-Palisade-Result")
        .filter(|r| r.starts_with("quarantine"))
        .or_else(campaign)
        .map(|result| {
            let mut parts = result.splitn(3, ';');
            let _action = parts.next();
            let score = parts
                .next()
                .and_then(|s| s.trim().strip_prefix("score="))
                .and_then(|s| s.parse::<f64>().ok())
                .unwrap_or(0.0);
            let symbols = parts
                .next()
                .map(|s| s.split(',').map(|x| x.trim().to_string()).collect())
                .unwrap_or_default();
            Facts {
                subject: decoded_subject(&headers),
                from: header_from(&headers),
                score,
                symbols,
                result,
            }
        });
    FACTS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, f.clone());
    Ok(f)
}

/// Reads one held message's facts; `None` when Palisade did not hold it.
fn held(pf: &Tools, entry: &Value, now: u64) -> anyhow::Result<Option<Held>> {
    let id = entry["queue_id"].as_str().unwrap_or_default().to_string();
    let arrival = entry["arrival_time"].as_u64().unwrap_or(0);
    let Some(f) = facts(pf, &id, arrival)? else {
        return Ok(None);
    };
    Ok(Some(Held {
        queue_id: id,
        arrival_time: arrival,
        age_s: now.saturating_sub(arrival),
        size: entry["message_size"].as_u64().unwrap_or(0),
        sender: entry["sender"].as_str().unwrap_or_default().to_string(),
        recipients: entry["recipients"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|x| x["address"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        subject: f.subject,
        from: f.from,
        score: f.score,
        symbols: f.symbols,
        result: f.result,
    }))
}
