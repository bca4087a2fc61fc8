//! `palisade quarantine`: review what Palisade held in Postfix's hold queue, and release
//! or delete it, with Postfix's own tools (postqueue -j, postcat -q, postsuper -H / -d).

use std::path::PathBuf;
use std::process::{Command, ExitCode};

use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::{Config, Sources};
use crate::escape::{block, line};

pub mod helper;
use crate::review::store::Store;
use crate::review::{Actor, Released, Review};

/// Arguments of `palisade quarantine`.
#[derive(Debug, Args)]
pub struct QuarantineArgs {
    /// What to do.
    #[command(subcommand)]
    action: QuarantineCmd,
    /// Print JSON for scripts.
    #[arg(long, global = true)]
    json: bool,
    /// Postfix configuration directory of a non-default instance (passed as `-c`);
    /// overrides `[quarantine] postfix_config`.
    #[arg(long, global = true, value_name = "DIR")]
    postfix_config: Option<PathBuf>,
    /// Configuration file (default: $PALISADE_CONFIG, else the embedded defaults).
    #[arg(long, short = 'c', global = true, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// `palisade quarantine …`
#[derive(Debug, Subcommand)]
enum QuarantineCmd {
    /// List the messages Palisade held.
    List,
    /// Show one held message: the verdict, then the message.
    Show {
        /// Postfix queue id.
        id: String,
    },
    /// Release a held message to delivery now (postsuper -H, then postqueue -i), or a
    /// copy to some recipients (--to).
    Release {
        /// Postfix queue id.
        id: String,
        /// Release only to this recipient (repeatable); the message stays held for the rest.
        #[arg(long, value_name = "ADDR")]
        to: Vec<String>,
        /// Why (kept in the audit log).
        #[arg(long, default_value = "released from the command line")]
        reason: String,
    },
    /// Delete a held message (postsuper -d), unless it is under legal hold.
    Delete {
        /// Postfix queue id.
        id: String,
        /// Why (kept in the audit log).
        #[arg(long, default_value = "deleted from the command line")]
        reason: String,
    },
    /// Mark a held message as reported (to the police, an election authority, …).
    Report {
        /// Postfix queue id.
        id: String,
        /// To whom, case number (kept in the audit log).
        #[arg(long)]
        reason: String,
    },
    /// Place (or with --off lift) a legal hold: the message cannot be deleted.
    Hold {
        /// Postfix queue id.
        id: String,
        /// Why (kept in the audit log).
        #[arg(long)]
        reason: String,
        /// Lift the hold instead.
        #[arg(long)]
        off: bool,
    },
    /// Run the queue helper: the privileged side that lets an unprivileged daemon's
    /// review UI read, release and delete what Palisade held (see docs/quarantine.md).
    Helper {
        /// Socket to listen on.
        #[arg(
            long,
            value_name = "PATH",
            default_value = "/run/palisade-queue/queue.sock"
        )]
        socket: PathBuf,
        /// Group that may connect (the daemon's).
        #[arg(long, value_name = "GROUP")]
        group: Option<String>,
        /// Where the helper records queued copies of threatening campaigns it put on
        /// hold (a directory the helper may write; default: campaign-holds.json in
        /// [state] dir).
        #[arg(long, value_name = "FILE")]
        holds: Option<PathBuf>,
    },
    /// Write the evidence bundle (tar: message, SHA-256, verdict, audit trail, ARF report).
    Export {
        /// Postfix queue id.
        id: String,
        /// Output file (default: palisade-ID.tar in the current directory; - = stdout).
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

/// One message Palisade held.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Held {
    /// Postfix queue id.
    pub queue_id: String,
    /// Arrival, seconds since the epoch.
    pub arrival_time: u64,
    /// Seconds since arrival.
    pub age_s: u64,
    /// Size in bytes.
    pub size: u64,
    /// Envelope sender.
    pub sender: String,
    /// Envelope recipients.
    pub recipients: Vec<String>,
    /// Subject, decoded.
    pub subject: String,
    /// The From header as the recipient sees it (display name and address), decoded.
    #[serde(default)]
    pub from: String,
    /// Palisade's score.
    pub score: f64,
    /// Symbols with their scores, as in X-Palisade-Result.
    pub symbols: Vec<String>,
    /// The X-Palisade-Result header value.
    pub result: String,
}

impl Held {
    /// The fields scripts and evidence files show for a held message.
    pub fn summary(&self) -> Value {
        serde_json::json!({
            "queue_id": self.queue_id,
            "received": self.arrival_time,
            "sender": self.sender,
            "from": self.from,
            "recipients": self.recipients,
            "subject": self.subject,
            "score": self.score,
            "symbols": self.symbols,
            "size": self.size,
        })
    }
}

/// Postfix's hold queue. Either Postfix's own tools run here (`-c DIR` for a
/// non-default instance), which takes root or the mail owner, or, when the daemon runs
/// unprivileged, every operation goes to the queue helper (`palisade quarantine
/// helper`, see [`helper`]) over its socket. Every call may run processes or wait on a
/// socket: call from blocking threads.
#[derive(Debug, Clone)]
pub enum Queue {
    /// Run postqueue, postcat, postsuper and sendmail directly.
    Tools(Tools),
    /// Ask the queue helper at this socket path.
    Helper(PathBuf),
}

/// Postfix's tools for one instance.
#[derive(Debug, Clone)]
pub struct Tools {
    config: Option<PathBuf>,
    sendmail: PathBuf,
    /// The record of queued messages Palisade put on hold afterwards (campaign copies),
    /// so they count as Palisade's: `campaign-holds.json` in the state directory.
    holds: Option<PathBuf>,
}

/// What became of a request to hold a queued copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HoldOutcome {
    /// It was in the queue and is now on hold.
    Held,
    /// It is no longer in the queue (delivered, or already on hold), or the queue id
    /// now names another message.
    Gone,
}

/// One queued message Palisade put on hold afterwards.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CampaignHold {
    queue_id: String,
    arrival_time: u64,
    campaign: String,
    held_at: u64,
}

/// Hold records are kept this long (held messages are reviewed well within it).
const HOLD_RECORD_DAYS: u64 = 90;

impl Queue {
    /// The hold queue of the Postfix instance configured in `dir` (None = default),
    /// with the sendmail used for partial releases and notifications.
    pub fn new(config: Option<PathBuf>, sendmail: PathBuf) -> Queue {
        Queue::Tools(Tools {
            config,
            sendmail,
            holds: None,
        })
    }

    /// Where messages put on hold afterwards are recorded (see [`Queue::hold_queued`]).
    pub fn with_holds(self, path: PathBuf) -> Queue {
        match self {
            Queue::Tools(t) => Queue::Tools(Tools {
                holds: Some(path),
                ..t
            }),
            other => other,
        }
    }

    /// Puts messages Palisade scanned and let through on hold, each if it is still in
    /// the queue (not delivered, not held) and still the message that arrived near its
    /// `at` (queue ids are reused). They then count as held by Palisade, for campaign
    /// `campaign`. One outcome per message, in order.
    pub fn hold_queued(
        &self,
        copies: &[(String, u64)],
        campaign: &str,
    ) -> anyhow::Result<Vec<HoldOutcome>> {
        for (id, _) in copies {
            valid_id(id)?;
        }
        match self {
            Queue::Tools(t) => t.hold_queued(copies, campaign),
            Queue::Helper(p) => Ok(serde_json::from_slice(&helper::call(
                p,
                &helper::Request::HoldQueued {
                    copies: copies.to_vec(),
                    campaign: campaign.into(),
                },
                &[],
            )?)?),
        }
    }

    /// Everything Palisade holds, oldest first.
    pub fn list(&self) -> anyhow::Result<Vec<Held>> {
        match self {
            Queue::Tools(t) => t.list(),
            Queue::Helper(p) => helper::list(p),
        }
    }

    /// One message Palisade holds.
    pub fn find(&self, id: &str) -> anyhow::Result<Held> {
        valid_id(id)?;
        match self {
            Queue::Tools(t) => t.find(id),
            Queue::Helper(p) => helper::find(p, id),
        }
    }

    /// The header block of a held message.
    pub fn headers(&self, id: &str) -> anyhow::Result<String> {
        valid_id(id)?;
        match self {
            Queue::Tools(t) => t.headers(id),
            Queue::Helper(p) => Ok(String::from_utf8_lossy(&helper::call(
                p,
                &helper::Request::Headers { id: id.into() },
                &[],
            )?)
            .into_owned()),
        }
    }

    /// The message as Postfix holds it (headers and body, as `postcat -h -b` prints
    /// them), byte for byte.
    pub fn raw(&self, id: &str) -> anyhow::Result<Vec<u8>> {
        valid_id(id)?;
        match self {
            Queue::Tools(t) => t.raw(id),
            Queue::Helper(p) => helper::call(p, &helper::Request::Raw { id: id.into() }, &[]),
        }
    }

    /// Releases the whole message to delivery now.
    pub fn release(&self, id: &str) -> anyhow::Result<()> {
        valid_id(id)?;
        match self {
            Queue::Tools(t) => t.release(id),
            Queue::Helper(p) => {
                helper::call(p, &helper::Request::Release { id: id.into() }, &[]).map(drop)
            }
        }
    }

    /// Delivers a copy to some of its recipients (envelope sender kept), marked as
    /// released as `note` says; the held original stays for the others.
    pub fn release_copy(
        &self,
        id: &str,
        recipients: &[String],
        note: Option<&ReleaseNote>,
    ) -> anyhow::Result<()> {
        valid_id(id)?;
        match self {
            Queue::Tools(t) => t.release_copy(id, recipients, note),
            Queue::Helper(p) => helper::call(
                p,
                &helper::Request::Copy {
                    id: id.into(),
                    recipients: recipients.to_vec(),
                    note: note.cloned(),
                },
                &[],
            )
            .map(drop),
        }
    }

    /// Deletes a held message.
    pub fn delete(&self, id: &str) -> anyhow::Result<()> {
        valid_id(id)?;
        match self {
            Queue::Tools(t) => t.delete(id),
            Queue::Helper(p) => {
                helper::call(p, &helper::Request::Delete { id: id.into() }, &[]).map(drop)
            }
        }
    }

    /// Sends a notification through the local Postfix.
    pub fn send(&self, from: &str, to: &[String], message: &[u8]) -> anyhow::Result<()> {
        match self {
            Queue::Tools(t) => t.sendmail(from, to, message),
            Queue::Helper(p) => helper::call(
                p,
                &helper::Request::Send {
                    from: from.into(),
                    to: to.to_vec(),
                },
                message,
            )
            .map(drop),
        }
    }
}

impl Tools {
    fn run_bytes(&self, tool: &str, args: &[&str]) -> anyhow::Result<Vec<u8>> {
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

    fn run(&self, tool: &str, args: &[&str]) -> anyhow::Result<String> {
        Ok(String::from_utf8_lossy(&self.run_bytes(tool, args)?).into_owned())
    }

    /// Every queued message, as postqueue -j describes it.
    fn queue(&self) -> anyhow::Result<Vec<Value>> {
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
    fn hold_queue(&self) -> anyhow::Result<Vec<Value>> {
        let mut all = self.queue()?;
        all.retain(|v| v["queue_name"] == "hold");
        Ok(all)
    }

    fn campaign_holds(&self) -> Vec<CampaignHold> {
        let Some(path) = &self.holds else {
            return Vec::new();
        };
        std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// The campaign a message in the hold queue was held for afterwards, if it was.
    fn campaign_hold(&self, id: &str, arrival: u64) -> Option<String> {
        self.campaign_holds()
            .into_iter()
            .find(|h| h.queue_id == id && h.arrival_time == arrival)
            .map(|h| h.campaign)
    }

    fn hold_queued(
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
        crate::files::write_atomic(&holds, &serde_json::to_vec(&records)?, 0o640)?;
        for id in &chosen {
            self.run("postsuper", &["-h", id])?;
        }
        Ok(out)
    }

    /// The header block of a queued message.
    fn headers(&self, id: &str) -> anyhow::Result<String> {
        self.run("postcat", &["-h", "-q", id])
    }

    fn raw(&self, id: &str) -> anyhow::Result<Vec<u8>> {
        self.run_bytes("postcat", &["-h", "-b", "-q", id])
    }

    /// Everything Palisade holds, oldest first.
    fn list(&self) -> anyhow::Result<Vec<Held>> {
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

    fn find(&self, id: &str) -> anyhow::Result<Held> {
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
    fn release(&self, id: &str) -> anyhow::Result<()> {
        self.run("postsuper", &["-H", id])?;
        // postsuper -H puts it in the deferred queue, which the queue manager scans
        // only every queue_run_delay; ask for delivery now. The message is released
        // either way: a failure here only means it waits for the next queue run.
        if let Err(e) = self.run("postqueue", &["-i", id]) {
            tracing::warn!(queue_id = %crate::escape::Safe(id), error = %format!("{e:#}"), "released; it goes out with the next queue run");
        }
        Ok(())
    }

    /// A copy through sendmail to recipients of the held message only.
    fn release_copy(
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
    fn sendmail(&self, from: &str, to: &[String], message: &[u8]) -> anyhow::Result<()> {
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
    fn delete(&self, id: &str) -> anyhow::Result<()> {
        self.run("postsuper", &["-d", id, "hold"])?;
        Ok(())
    }
}

/// How a released copy tells its recipients that a reviewer released it, and whether
/// Palisade's warning marks go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseNote {
    /// The reviewer.
    pub by: String,
    /// When, RFC 3339.
    pub at: String,
    /// Remove the subject prefix, X-Spam-Flag/Status/Score/Level and X-Palisade-Result.
    pub remove_markers: bool,
    /// The subject prefix Palisade adds (`[policy] subject_prefix`).
    pub prefix: String,
}

/// Header fields Palisade writes on tagged and held mail.
const MARKER_HEADERS: &[&str] = &[
    "X-Spam-Flag",
    "X-Spam-Status",
    "X-Spam-Score",
    "X-Spam-Level",
    "X-Palisade-Result",
];

impl ReleaseNote {
    /// The message as its recipients get it: an `X-Palisade-Released` field on top (any
    /// earlier one dropped: only Palisade writes it), and, when markers go, without
    /// Palisade's marker fields and subject prefix. The body and every other field stay
    /// byte for byte. One pass over the header block.
    pub fn apply(&self, raw: &[u8]) -> Vec<u8> {
        let (head, body) = split_message(raw);
        let nl: &[u8] = if head.contains(&b'\r') {
            b"\r\n"
        } else {
            b"\n"
        };
        let mut out = Vec::with_capacity(raw.len() + 128);
        out.extend_from_slice(
            format!(
                "X-Palisade-Released: by {}; {}; {}",
                crate::escape::one_line(&self.by, 100),
                crate::escape::one_line(&self.at, 40),
                if self.remove_markers {
                    "warning marks removed"
                } else {
                    "warning marks kept"
                }
            )
            .as_bytes(),
        );
        out.extend_from_slice(nl);
        let prefix = self.prefix.trim();
        let mut drop = false;
        for field_line in head.split_inclusive(|&b| b == b'\n') {
            let continuation = field_line
                .first()
                .is_some_and(|b| *b == b' ' || *b == b'\t');
            if !continuation {
                let name = field_line
                    .split(|&b| b == b':')
                    .next()
                    .map(|n| String::from_utf8_lossy(n).trim().to_ascii_lowercase())
                    .unwrap_or_default();
                drop = name == "x-palisade-released"
                    || (self.remove_markers
                        && MARKER_HEADERS.iter().any(|m| m.eq_ignore_ascii_case(&name)));
                if !drop && self.remove_markers && name == "subject" && !prefix.is_empty() {
                    out.extend_from_slice(&strip_prefix(field_line, prefix.as_bytes()));
                    continue;
                }
            }
            if !drop {
                out.extend_from_slice(field_line);
            }
        }
        out.extend_from_slice(body);
        out
    }
}

/// `Subject: <prefix> rest` without the prefix (and the space after it).
fn strip_prefix(field_line: &[u8], prefix: &[u8]) -> Vec<u8> {
    let Some(colon) = field_line.iter().position(|&b| b == b':') else {
        return field_line.to_vec();
    };
    let value = &field_line[colon + 1..];
    let start = value
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(value.len());
    if !value[start..].starts_with(prefix) {
        return field_line.to_vec();
    }
    let mut rest = &value[start + prefix.len()..];
    while let [b' ' | b'\t', tail @ ..] = rest {
        rest = tail;
    }
    let mut out = field_line[..=colon].to_vec();
    out.push(b' ');
    out.extend_from_slice(rest);
    out
}

/// A message split into its header block (with its last line end) and the rest (the
/// empty line and the body).
pub fn split_message(raw: &[u8]) -> (&[u8], &[u8]) {
    let mut at = 0;
    for line in raw.split_inclusive(|&b| b == b'\n') {
        if line == b"\n" || line == b"\r\n" {
            return raw.split_at(at);
        }
        at += line.len();
    }
    (raw, &[])
}

/// The header fields of a header block, in order, each unfolded onto one line.
pub fn unfold(headers: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in headers.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
            continue;
        }
        let (n, v) = line.split_once(':').unwrap_or((line, ""));
        out.push((n.to_string(), v.trim().to_string()));
    }
    out
}

/// A header's unfolded value from a header block (the first field of that name).
pub fn header(headers: &str, name: &str) -> Option<String> {
    unfold(headers)
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn decoded_subject(headers: &str) -> String {
    let extracted = palisade_engine::extract::extract(
        format!("{headers}\r\n\r\n").as_bytes(),
        &Default::default(),
    );
    extracted
        .texts
        .first()
        .filter(|t| t.source == palisade_engine::extract::Source::Subject)
        .map(|t| t.text.clone())
        .unwrap_or_default()
}

/// The From header of a header block as a person reads it: `Name <address>`, encoded
/// words decoded; several addresses joined by commas; empty when there is none.
pub fn header_from(headers: &str) -> String {
    let block = format!("{headers}\r\n\r\n");
    let Some(msg) = mail_parser::MessageParser::default().parse_headers(block.as_bytes()) else {
        return String::new();
    };
    let Some(from) = msg.from() else {
        return String::new();
    };
    from.iter()
        .map(|a| {
            let addr = a.address().unwrap_or_default();
            match a.name().map(str::trim).filter(|n| !n.is_empty()) {
                Some(name) if !addr.is_empty() => format!("{name} <{addr}>"),
                Some(name) => name.to_string(),
                None => addr.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A header value with its encoded words (`=?utf-8?q?…?=`) decoded, for display.
pub fn decode_header(value: &str) -> String {
    if !value.contains("=?") {
        return value.to_string();
    }
    let block = format!("Subject: {value}\r\n\r\n");
    mail_parser::MessageParser::default()
        .parse_headers(block.as_bytes())
        .and_then(|m| m.subject().map(str::to_string))
        .unwrap_or_else(|| value.to_string())
}

fn valid_id(id: &str) -> anyhow::Result<()> {
    if id.is_empty() || id.len() > 32 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        bail!("`{id}` is not a Postfix queue id");
    }
    Ok(())
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

fn now() -> u64 {
    crate::review::store::now().max(0) as u64
}

fn age(s: u64) -> String {
    match s {
        0..=119 => format!("{s}s"),
        120..=7199 => format!("{}m", s / 60),
        7200..=172_799 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}

fn run(args: QuarantineArgs) -> anyhow::Result<()> {
    let config = Config::load(&Sources::from_process(args.config.clone()))?;
    let queue = crate::review::queue(&config, args.postfix_config.clone());
    let db = crate::review::database_path(&config);
    // The review database keeps the audit log and legal holds. Reading the queue works
    // without it; acting records into it when it exists (or is needed).
    if let QuarantineCmd::Helper {
        socket,
        group,
        holds,
    } = &args.action
    {
        let gid = match group {
            None => None,
            Some(g) => Some(
                nix::unistd::Group::from_name(g)?
                    .ok_or_else(|| anyhow!("no group {g} on this system"))?
                    .gid
                    .as_raw(),
            ),
        };
        let mut queue = crate::review::tools(&config, args.postfix_config.clone());
        if let Some(h) = holds {
            queue = queue.with_holds(h.clone());
        }
        let Queue::Tools(tools) = queue else {
            bail!("the helper runs Postfix's tools itself");
        };
        let listener = helper::bind(socket, 0o660, gid)?;
        crate::logging::init(&config.logging);
        tracing::info!(socket = %socket.display(), "queue helper ready");
        return helper::serve(listener, tools);
    }
    let needs_db = matches!(
        args.action,
        QuarantineCmd::Report { .. } | QuarantineCmd::Hold { .. } | QuarantineCmd::Export { .. }
    );
    // A database we cannot see is an error, not a reason to skip legal holds and the
    // audit log.
    let exists = db.try_exists().with_context(|| {
        format!(
            "cannot check for the review database {} (run as root or the daemon's user)",
            db.display()
        )
    })?;
    let acting = matches!(
        args.action,
        QuarantineCmd::Release { .. } | QuarantineCmd::Delete { .. }
    );
    if !exists && acting {
        eprintln!(
            "palisade: no review database at {}: legal holds are not checked and nothing is \
             audited (give --config the daemon's configuration if it has one)",
            db.display()
        );
    }
    let store = if exists || needs_db {
        Some(std::sync::Arc::new(Store::open(&db)?))
    } else {
        None
    };
    let actor = Actor::shell();
    let (markers, prefix) = crate::review::release_marks(&config);
    let note = |actor: &Actor| ReleaseNote {
        by: actor.name.clone(),
        at: crate::review::audit::timestamp(),
        remove_markers: markers == crate::config::ReleaseMarkers::Remove,
        prefix: prefix.clone(),
    };
    let review = store.clone().map(|store| Review {
        store,
        queue: queue.clone(),
        dual_control: false,
        markers,
        prefix: prefix.clone(),
    });
    let rules = || crate::scan::Scanner::new(&config, true).map(|s| s.rules().clone());
    match args.action {
        QuarantineCmd::List => {
            let held = queue.list()?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&held)?);
            } else if held.is_empty() {
                println!("nothing held by Palisade");
            } else {
                println!(
                    "{:<14} {:>5} {:>7}  {:<40} SUBJECT",
                    "QUEUE ID", "AGE", "SCORE", "FROM -> TO"
                );
                for h in &held {
                    let route = format!("{} -> {}", h.sender, h.recipients.join(","));
                    println!(
                        "{:<14} {:>5} {:>7.2}  {:<40} {}",
                        line(&h.queue_id),
                        age(h.age_s),
                        h.score,
                        line(&route),
                        line(&h.subject)
                    );
                    println!("{:>30}{}", "", line(&h.symbols.join(", ")));
                }
            }
        }
        QuarantineCmd::Show { id } => {
            let h = queue.find(&id)?;
            let message = String::from_utf8_lossy(&queue.raw(&id)?).into_owned();
            if let Some(s) = &store {
                s.audit(&actor.name, "view", &id, "", "")?;
            }
            if args.json {
                let mut v = serde_json::to_value(&h)?;
                v["message"] = Value::String(message);
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                let headers = queue.headers(&id)?;
                println!("queue id:    {}", line(&h.queue_id));
                println!("held for:    {}", age(h.age_s));
                println!("from:        {}", line(&h.sender));
                println!("to:          {}", line(&h.recipients.join(", ")));
                println!("subject:     {}", line(&h.subject));
                println!("verdict:     {}", line(&h.result));
                if let Some(ar) = header(&headers, "Authentication-Results") {
                    println!("auth:        {}", line(&ar));
                }
                println!("release:     palisade quarantine release {}", h.queue_id);
                println!("\n{}", block(&message));
            }
        }
        QuarantineCmd::Release { id, to, reason } => match &review {
            Some(review) => match review.release(&actor, &id, &reason, &to, &rules()?)? {
                Released::Released { recipients, whole } => report(
                    args.json,
                    "released",
                    &id,
                    &if whole {
                        "it goes on to delivery now".to_string()
                    } else {
                        format!(
                            "a copy goes to {}; it stays held for the others",
                            recipients.join(", ")
                        )
                    },
                ),
                Released::AwaitingSecondReviewer { .. } => report(
                    args.json,
                    "awaiting_second_reviewer",
                    &id,
                    "a second reviewer must release it too",
                ),
            },
            None => {
                let held = queue.find(&id)?;
                if to.is_empty() {
                    queue.release_copy(&id, &held.recipients, Some(&note(&actor)))?;
                    queue.delete(&id)?;
                    report(args.json, "released", &id, "it goes on to delivery now");
                } else {
                    queue.release_copy(&id, &to, Some(&note(&actor)))?;
                    report(
                        args.json,
                        "released",
                        &id,
                        &format!("a copy goes to {}", to.join(", ")),
                    );
                }
            }
        },
        QuarantineCmd::Delete { id, reason } => {
            match &review {
                Some(review) => review.delete(&actor, &id, &reason)?,
                None => {
                    queue.find(&id)?;
                    queue.delete(&id)?;
                }
            }
            report(args.json, "deleted", &id, "it is gone from the hold queue");
        }
        QuarantineCmd::Report { id, reason } => {
            if let Some(review) = &review {
                review.report(&actor, &id, &reason)?;
            }
            report(args.json, "reported", &id, "marked as reported");
        }
        QuarantineCmd::Hold { id, reason, off } => {
            if let Some(review) = &review {
                review.legal_hold(&actor, &id, !off, &reason)?;
            }
            let (what, detail) = if off {
                ("legal_hold_lifted", "it can be deleted again")
            } else {
                (
                    "legal_hold",
                    "it cannot be deleted until the hold is lifted",
                )
            };
            report(args.json, what, &id, detail);
        }
        QuarantineCmd::Helper { .. } => {}
        QuarantineCmd::Export { id, output } => {
            if let Some(review) = &review {
                let reporter = crate::review::export::Reporter {
                    host: crate::scan::host_name(),
                    from: crate::review::notify::report_address(&config),
                };
                let tar = review.export(&actor, &id, &rules()?, &reporter)?;
                let path = output.unwrap_or_else(|| PathBuf::from(format!("palisade-{id}.tar")));
                if path.as_os_str() == "-" {
                    use std::io::Write;
                    std::io::stdout().write_all(&tar)?;
                } else {
                    std::fs::write(&path, &tar)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    report(
                        args.json,
                        "exported",
                        &id,
                        &format!("bundle written to {}", path.display()),
                    );
                }
            }
        }
    }
    Ok(())
}

fn report(json: bool, what: &str, id: &str, detail: &str) {
    if json {
        println!("{}", serde_json::json!({ "queue_id": id, "result": what }));
    } else {
        println!("{what} {id}: {detail}");
    }
}

/// Runs `palisade quarantine`.
pub fn main(args: QuarantineArgs) -> ExitCode {
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<crate::config::ConfigError>().is_some() => {
            eprintln!("palisade: {e}");
            ExitCode::from(crate::cli::EXIT_CONFIG)
        }
        Err(e) => {
            eprintln!("palisade: {e:#}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_released_copy_loses_the_marks_and_says_who_released_it() {
        let held = "X-Palisade-Released: forged by the sender\nReceived: from x\nX-Spam-Flag: YES\nX-Spam-Status: Yes, score=30.00 required=5.00\n\ttests=THREAT_PURSUIT\nSubject: [SUSPECTED THREAT] Final notice\nX-Palisade-Result: quarantine; score=30.00; THREAT_PURSUIT(8.00)\nAuthentication-Results: mx; spf=fail\nFrom: a@b\n\nSubject: [SUSPECTED THREAT] in the body stays\nX-Spam-Flag: YES in the body stays\n";
        let note = ReleaseNote {
            by: "clerk".into(),
            at: "2026-12-07T21:00:00Z".into(),
            remove_markers: true,
            prefix: "[SUSPECTED THREAT] ".into(),
        };
        let out = String::from_utf8(note.apply(held.as_bytes())).unwrap();
        assert_eq!(
            out,
            "X-Palisade-Released: by clerk; 2026-12-07T21:00:00Z; warning marks removed\nReceived: from x\nSubject: Final notice\nAuthentication-Results: mx; spf=fail\nFrom: a@b\n\nSubject: [SUSPECTED THREAT] in the body stays\nX-Spam-Flag: YES in the body stays\n"
        );
        let kept = ReleaseNote {
            remove_markers: false,
            ..note
        };
        let out = String::from_utf8(kept.apply(held.as_bytes())).unwrap();
        assert!(out.starts_with(
            "X-Palisade-Released: by clerk; 2026-12-07T21:00:00Z; warning marks kept\nReceived"
        ));
        assert!(out.contains("Subject: [SUSPECTED THREAT] Final notice\n"));
        assert!(out.contains("X-Spam-Flag: YES\nX-Spam-Status"));
        assert!(!out.contains("forged by the sender"));
        // No header block end: everything is header; CRLF kept.
        let crlf =
            note_crlf().apply(b"Subject: [SUSPECTED THREAT]  x\r\nX-Spam-Score: 9\r\n\r\nbody\r\n");
        assert_eq!(
            String::from_utf8(crlf).unwrap(),
            "X-Palisade-Released: by a; t; warning marks removed\r\nSubject: x\r\n\r\nbody\r\n"
        );
    }

    fn note_crlf() -> ReleaseNote {
        ReleaseNote {
            by: "a".into(),
            at: "t".into(),
            remove_markers: true,
            prefix: "[SUSPECTED THREAT] ".into(),
        }
    }

    #[test]
    fn from_and_encoded_headers_read_as_people_see_them() {
        assert_eq!(
            header_from(
                "From: =?utf-8?q?Condado_de_Le=C3=B3n?= <clerk@county.example>\nSubject: x"
            ),
            "Condado de León <clerk@county.example>"
        );
        assert_eq!(header_from("From: plain@example.org"), "plain@example.org");
        assert_eq!(header_from("Subject: none"), "");
        assert_eq!(
            decode_header("=?utf-8?q?Aviso_=C3=BAltimo?="),
            "Aviso último"
        );
        assert_eq!(decode_header("plain text"), "plain text");
    }

    #[test]
    fn headers_unfold() {
        let h =
            "Subject: a\nX-Palisade-Result: quarantine; score=12.00;\n VOTE_OR_ELSE(6.00)\nTo: b\n";
        assert_eq!(
            header(h, "x-palisade-result").as_deref(),
            Some("quarantine; score=12.00; VOTE_OR_ELSE(6.00)")
        );
        assert_eq!(header(h, "Cc"), None);
        assert!(valid_id("4ABCDEF123").is_ok());
        assert!(valid_id("-rf").is_err());
        assert_eq!(age(30), "30s");
        assert_eq!(age(4000), "66m");
    }
}
