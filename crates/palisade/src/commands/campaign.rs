//! `palisade campaign list|show ID [--json]`: the campaigns the daemon counts, read from
//! the same store (the memory store's saved file, or Redis).

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use crate::common::ConfigArg;
use palisade_campaign::{Envelope, Keys, Store, StoreError, Summary};
use palisade_config::clock::format_time;

/// Arguments of `palisade campaign`.
#[derive(Debug, Args)]
pub(crate) struct CampaignArgs {
    /// What to do.
    #[command(subcommand)]
    action: CampaignCmd,
    /// Configuration file (default: $PALISADE_CONFIG, else the embedded defaults).
    #[arg(long, short = 'c', global = true, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
}

#[derive(Debug, Subcommand)]
enum CampaignCmd {
    /// Campaigns within the window, most recently seen first.
    List {
        /// Print JSON (one array).
        #[arg(long)]
        json: bool,
        /// Only campaigns some copy of which carried threat symbols.
        #[arg(long)]
        threats: bool,
        /// Only campaigns with at least this many distinct recipients.
        #[arg(long, default_value_t = 1, value_name = "N")]
        min_recipients: u64,
        /// At most this many.
        #[arg(long, default_value_t = 1000, value_name = "N")]
        limit: usize,
    },
    /// One campaign and its copies: when, on which host, the queue id, what was done
    /// and (with the campaign key) the recipients, so the people who got it can be
    /// warned.
    Show {
        /// Campaign id (from `campaign list` or the CAMPAIGN symbol).
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn summary_json(s: &Summary) -> Value {
    json!({
        "id": s.id,
        "first_seen": format_time(s.first_seen as i64),
        "last_seen": format_time(s.last_seen as i64),
        "recipients": s.recipients,
        "senders": s.senders,
        "client_addresses": s.ips,
        "copies": s.copies,
        "threat": s.threat,
        "threat_since": s.threat_since.map(|t| format_time(t as i64)),
        "symbols": s.symbols,
    })
}

fn run(args: CampaignArgs) -> Result<(), ExitCode> {
    let config = ConfigArg {
        config: args.config.clone(),
    }
    .load()?;
    let fail = |e: &dyn std::fmt::Display| {
        eprintln!("palisade: {e}");
        ExitCode::FAILURE
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| fail(&e))?;
    // The Redis client starts its connection task on this runtime.
    let store = {
        let _inside = runtime.enter();
        Store::open(&config, true).map_err(|e| fail(&format!("{e:#}")))?
    };
    // The CLI may wait longer than mail does.
    let wait = config.state.timeout.max(Duration::from_secs(10));
    fn call<T>(
        runtime: &tokio::runtime::Runtime,
        wait: Duration,
        f: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        runtime.block_on(async {
            match tokio::time::timeout(wait, f).await {
                Ok(r) => r,
                Err(_) => Err(StoreError::Timeout),
            }
        })
    }
    match args.action {
        CampaignCmd::List {
            json,
            threats,
            min_recipients,
            limit,
        } => {
            // Threatening campaigns have an index of their own: none is missed
            // behind newer, harmless ones.
            let mut all: Vec<Summary> = if threats {
                call(&runtime, wait, store.threats(0))
            } else {
                call(
                    &runtime,
                    wait,
                    store.list(limit.saturating_mul(4).max(limit)),
                )
            }
            .map_err(|e| fail(&format!("campaign store: {e}")))?;
            all.sort_by(|a, b| b.last_seen.cmp(&a.last_seen).then(a.id.cmp(&b.id)));
            let shown: Vec<&Summary> = all
                .iter()
                .filter(|s| (!threats || s.threat) && s.recipients >= min_recipients)
                .take(limit)
                .collect();
            if json {
                let out: Vec<Value> = shown.iter().map(|s| summary_json(s)).collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&out).map_err(|e| fail(&e))?
                );
            } else if shown.is_empty() {
                println!("no campaigns");
            } else {
                println!(
                    "{:<16}  {:<20}  {:>10}  {:>7}  {:>6}  {:<6}  SYMBOLS",
                    "ID", "FIRST SEEN", "RECIPIENTS", "SENDERS", "COPIES", "THREAT"
                );
                for s in shown {
                    println!(
                        "{:<16}  {:<20}  {:>10}  {:>7}  {:>6}  {:<6}  {}",
                        s.id,
                        format_time(s.first_seen as i64),
                        s.recipients,
                        s.senders,
                        s.copies,
                        if s.threat { "yes" } else { "no" },
                        s.symbols.join(",")
                    );
                }
            }
        }
        CampaignCmd::Show { id, json } => {
            if id.is_empty()
                || id.len() > 32
                || !id.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
            {
                eprintln!("palisade: `{id}` is not a campaign id (16 hex digits)");
                return Err(ExitCode::from(2));
            }
            let found = call(&runtime, wait, store.show(&id.to_ascii_lowercase(), 0))
                .map_err(|e| fail(&format!("campaign store: {e}")))?;
            let Some((summary, copies)) = found else {
                eprintln!("palisade: no campaign {id} (unknown, or older than the window)");
                return Err(ExitCode::FAILURE);
            };
            let keys = match Keys::load(&config.campaign_key_file()) {
                Ok(k) => Some(k),
                Err(e) => {
                    eprintln!("palisade: recipients stay sealed: {e:#}");
                    None
                }
            };
            let opened: Vec<Option<Envelope>> = copies
                .iter()
                .map(|c| {
                    keys.as_ref()
                        .and_then(|k| k.open(&c.sealed))
                        .and_then(|b| serde_json::from_slice(&b).ok())
                })
                .collect();
            if json {
                let mut out = summary_json(&summary);
                out["messages"] = copies
                    .iter()
                    .zip(&opened)
                    .map(|(c, e)| {
                        json!({
                            "time": format_time(c.at as i64),
                            "host": c.host,
                            "queue_id": c.queue_id,
                            "action": c.action,
                            "sender": e.as_ref().map(|e| e.from.clone()),
                            "recipients": e.as_ref().map(|e| e.to.clone()),
                        })
                    })
                    .collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&out).map_err(|e| fail(&e))?
                );
            } else {
                let s = &summary;
                println!("campaign {}", s.id);
                println!("  first seen        {}", format_time(s.first_seen as i64));
                println!("  last seen         {}", format_time(s.last_seen as i64));
                println!("  recipients        {}", s.recipients);
                println!("  sender domains    {}", s.senders);
                println!("  client addresses  {}", s.ips);
                println!("  copies            {}", s.copies);
                match s.threat_since {
                    Some(t) => println!(
                        "  threat            yes, since {} ({})",
                        format_time(t as i64),
                        s.symbols.join(", ")
                    ),
                    None => println!("  threat            no"),
                }
                println!();
                println!(
                    "{:<20}  {:<20}  {:<14}  {:<10}  RECIPIENTS",
                    "TIME", "HOST", "QUEUE ID", "ACTION"
                );
                for (c, e) in copies.iter().zip(&opened) {
                    println!(
                        "{:<20}  {:<20}  {:<14}  {:<10}  {}",
                        format_time(c.at as i64),
                        palisade_report::escape::line(&c.host),
                        palisade_report::escape::line(&c.queue_id),
                        c.action,
                        e.as_ref()
                            .map(|e| palisade_report::escape::line(&e.to.join(", ")).into_owned())
                            .unwrap_or_else(|| "(sealed)".to_string())
                    );
                }
            }
        }
    }
    Ok(())
}

/// Runs `palisade campaign`.
pub fn main(args: CampaignArgs) -> ExitCode {
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}
