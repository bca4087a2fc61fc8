//! `palisade quarantine`: review what Palisade held in Postfix's hold queue, and release
//! or delete it, with Postfix's own tools (postqueue -j, postcat -q, postsuper -H / -d).

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand};
use serde::Serialize;
use serde_json::Value;

use crate::escape::{block, line};

/// Arguments of `palisade quarantine`.
#[derive(Debug, Args)]
pub struct QuarantineArgs {
    /// What to do.
    #[command(subcommand)]
    action: QuarantineCmd,
    /// Print JSON for scripts.
    #[arg(long, global = true)]
    json: bool,
    /// Postfix configuration directory of a non-default instance (passed as `-c`).
    #[arg(long, global = true, value_name = "DIR")]
    postfix_config: Option<PathBuf>,
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
    /// Release a held message to delivery now (postsuper -H, then postqueue -i).
    Release {
        /// Postfix queue id.
        id: String,
    },
    /// Delete a held message (postsuper -d).
    Delete {
        /// Postfix queue id.
        id: String,
    },
}

/// One message Palisade held.
#[derive(Debug, Clone, Serialize)]
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
    /// Palisade's score.
    pub score: f64,
    /// Symbols with their scores, as in X-Palisade-Result.
    pub symbols: Vec<String>,
    /// The X-Palisade-Result header value.
    pub result: String,
}

struct Postfix {
    config: Option<PathBuf>,
}

impl Postfix {
    fn run(&self, tool: &str, args: &[&str]) -> anyhow::Result<String> {
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
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Every message in the hold queue, as postqueue -j describes it.
    fn hold_queue(&self) -> anyhow::Result<Vec<Value>> {
        let text = self.run("postqueue", &["-j"])?;
        let mut out = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: Value = serde_json::from_str(line)
                .with_context(|| format!("unexpected postqueue -j output: {line}"))?;
            if v["queue_name"] == "hold" {
                out.push(v);
            }
        }
        Ok(out)
    }

    fn headers(&self, id: &str) -> anyhow::Result<String> {
        self.run("postcat", &["-h", "-q", id])
    }

    fn message(&self, id: &str) -> anyhow::Result<String> {
        self.run("postcat", &["-h", "-b", "-q", id])
    }
}

/// A header's unfolded value from a header block.
fn header(headers: &str, name: &str) -> Option<String> {
    let mut found: Option<String> = None;
    for line in headers.lines() {
        if let Some(v) = found.as_mut() {
            if line.starts_with([' ', '\t']) {
                v.push(' ');
                v.push_str(line.trim());
                continue;
            }
            break;
        }
        if let Some((n, v)) = line.split_once(':') {
            if n.eq_ignore_ascii_case(name) {
                found = Some(v.trim().to_string());
            }
        }
    }
    found
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

fn valid_id(id: &str) -> anyhow::Result<()> {
    if id.is_empty() || id.len() > 32 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        bail!("`{id}` is not a Postfix queue id");
    }
    Ok(())
}

/// Reads one held message's facts; `None` when Palisade did not hold it.
fn held(pf: &Postfix, entry: &Value, now: u64) -> anyhow::Result<Option<Held>> {
    let id = entry["queue_id"].as_str().unwrap_or_default().to_string();
    let headers = pf.headers(&id)?;
    let Some(result) = header(&headers, "X-Palisade-Result") else {
        return Ok(None);
    };
    if !result.starts_with("quarantine") {
        return Ok(None);
    }
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
    let arrival = entry["arrival_time"].as_u64().unwrap_or(0);
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
        subject: decoded_subject(&headers),
        score,
        symbols,
        result,
    }))
}

fn find(pf: &Postfix, id: &str) -> anyhow::Result<Held> {
    valid_id(id)?;
    let now = now();
    let entry = pf
        .hold_queue()?
        .into_iter()
        .find(|e| e["queue_id"] == id)
        .ok_or_else(|| anyhow!("no message {id} in the hold queue"))?;
    held(pf, &entry, now)?
        .ok_or_else(|| anyhow!("message {id} is in the hold queue, but Palisade did not hold it"))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn age(s: u64) -> String {
    match s {
        0..=119 => format!("{s}s"),
        120..=7199 => format!("{}m", s / 60),
        7200..=172_799 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}

/// Lists what Palisade held.
pub fn list(config: Option<PathBuf>) -> anyhow::Result<Vec<Held>> {
    let pf = Postfix { config };
    let now = now();
    let mut out = Vec::new();
    for entry in pf.hold_queue()? {
        if let Some(h) = held(&pf, &entry, now)? {
            out.push(h);
        }
    }
    out.sort_by_key(|h| h.arrival_time);
    Ok(out)
}

fn run(args: QuarantineArgs) -> anyhow::Result<()> {
    let pf = Postfix {
        config: args.postfix_config.clone(),
    };
    match args.action {
        QuarantineCmd::List => {
            let held = list(args.postfix_config)?;
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
            let h = find(&pf, &id)?;
            let message = pf.message(&id)?;
            if args.json {
                let mut v = serde_json::to_value(&h)?;
                v["message"] = Value::String(message);
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                let headers = pf.headers(&id)?;
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
        QuarantineCmd::Release { id } => {
            find(&pf, &id)?;
            pf.run("postsuper", &["-H", &id])?;
            // postsuper -H puts it in the deferred queue, which the queue manager scans
            // only every queue_run_delay; ask for delivery now.
            pf.run("postqueue", &["-i", &id])?;
            report(args.json, "released", &id, "it goes on to delivery now");
        }
        QuarantineCmd::Delete { id } => {
            find(&pf, &id)?;
            pf.run("postsuper", &["-d", &id, "hold"])?;
            report(args.json, "deleted", &id, "it is gone from the hold queue");
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
