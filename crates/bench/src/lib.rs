//! `palisade bench` and the MTA-side connection it is built on: speaks to any milter as
//! Postfix does (the same event order, macros and per-message ABORT), over many
//! connections at once, and reports throughput and latency.
//!
//! Depends on `palisade-milter` (the protocol's client side) and `palisade-config` (socket
//! addresses) only: it loads any milter, Palisade or another, and knows nothing of the
//! server it measures.
#![forbid(unsafe_code)]

pub mod connection;
pub mod files;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use palisade_config::socket::SocketSpec;
use palisade_milter::client::{self, Connection, Envelope, ParsedMessage};
use serde_json::json;

pub use connection::{AnyStream, MilterConnection};
use files::load_messages;

/// Arguments of `palisade bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The milter to load: inet:HOST:PORT, inet6:[ADDR]:PORT or unix:PATH.
    #[arg(long, value_name = "SOCKET")]
    pub target: String,
    /// Concurrent milter connections.
    #[arg(long, default_value_t = 8)]
    pub connections: usize,
    /// Messages to send in total (the inputs are reused round-robin).
    #[arg(long, default_value_t = 1000)]
    pub messages: u64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Message files or directories.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

/// What a bench run measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// The target socket.
    pub target: String,
    /// Connections used.
    pub connections: usize,
    /// Messages that got a final reply.
    pub messages: u64,
    /// Connection or protocol failures.
    pub errors: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Per-message latency, sorted.
    pub latencies: Vec<Duration>,
    /// Count of each reply seen at end of message (final replies and modifications).
    pub replies: BTreeMap<String, u64>,
}

impl Report {
    fn percentile(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        let i =
            ((self.latencies.len() as f64 * p).ceil() as usize).clamp(1, self.latencies.len()) - 1;
        self.latencies[i].as_secs_f64() * 1000.0
    }

    /// Messages per second.
    pub fn rate(&self) -> f64 {
        self.messages as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The `--json` object.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        json!({
            "target": self.target,
            "connections": self.connections,
            "messages": self.messages,
            "errors": self.errors,
            "elapsed_s": round3(self.elapsed.as_secs_f64()),
            "messages_per_s": round3(self.rate()),
            "latency_ms": {
                "p50": round3(self.percentile(0.50)),
                "p95": round3(self.percentile(0.95)),
                "p99": round3(self.percentile(0.99)),
                "max": round3(self.latencies.last().map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0)),
            },
            "replies": self.replies,
        })
    }

    /// The text report.
    pub fn to_text(&self) -> String {
        let replies: Vec<String> = self
            .replies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!(
            "target      {}\nconnections {}\nmessages    {} ({} errors)\nelapsed     {:.3} s\nthroughput  {:.1} messages/s\nlatency ms  p50 {:.3}  p95 {:.3}  p99 {:.3}  max {:.3}\nreplies     {}\n",
            self.target,
            self.connections,
            self.messages,
            self.errors,
            self.elapsed.as_secs_f64(),
            self.rate(),
            self.percentile(0.50),
            self.percentile(0.95),
            self.percentile(0.99),
            self.latencies.last().map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0),
            replies.join(" ")
        )
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Runs a load against `target` with `messages` spread over `connections`.
pub async fn bench(
    target: &SocketSpec,
    connections: usize,
    total: u64,
    inputs: Arc<Vec<ParsedMessage>>,
    progress: Option<indicatif::ProgressBar>,
) -> anyhow::Result<Report> {
    if inputs.is_empty() {
        bail!("no messages to send");
    }
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let replies = Arc::new(Mutex::new(BTreeMap::<String, u64>::new()));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..connections.max(1) {
        let (next, errors, replies, inputs) = (
            next.clone(),
            errors.clone(),
            replies.clone(),
            inputs.clone(),
        );
        let target = target.clone();
        let progress = progress.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut seen = BTreeMap::<String, u64>::new();
            let mut consecutive_failures = 0u32;
            'reconnect: while next.load(Ordering::Relaxed) < total && consecutive_failures < 20 {
                let mut conn = match open(&target, worker).await {
                    Ok(c) => c,
                    Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        consecutive_failures += 1;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= total {
                        let _ = conn.quit().await;
                        break 'reconnect;
                    }
                    let message = &inputs[(n % inputs.len() as u64) as usize];
                    let env = Envelope {
                        mail_from: "bench@example.org".into(),
                        rcpt_to: vec!["rcpt@example.net".into()],
                        queue_id: format!("B{n:X}"),
                        auth_user: None,
                    };
                    let t = Instant::now();
                    match conn.message(&env, message).await {
                        Ok(outcome) => {
                            latencies.push(t.elapsed());
                            consecutive_failures = 0;
                            for m in &outcome.modifications {
                                *seen.entry(m.name().to_string()).or_default() += 1;
                            }
                            *seen.entry(outcome.reply.name().to_string()).or_default() += 1;
                            if let Some(p) = &progress {
                                p.inc(1);
                            }
                        }
                        Err(_) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                            consecutive_failures += 1;
                            continue 'reconnect;
                        }
                    }
                }
            }
            if let Ok(mut r) = replies.lock() {
                for (k, v) in seen {
                    *r.entry(k).or_default() += v;
                }
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.context("bench worker failed")?);
    }
    let elapsed = start.elapsed();
    latencies.sort_unstable();
    let replies = replies.lock().map(|r| r.clone()).unwrap_or_default();
    Ok(Report {
        target: target.to_string(),
        connections,
        messages: latencies.len() as u64,
        errors: errors.load(Ordering::Relaxed),
        elapsed,
        latencies,
        replies,
    })
}

async fn open(target: &SocketSpec, worker: usize) -> anyhow::Result<MilterConnection<AnyStream>> {
    let stream = AnyStream::connect(target).await?;
    let mut conn = MilterConnection::open(stream, client::postfix_offer()).await?;
    // A documentation address (TEST-NET-1): outside every default trusted network, so
    // the milter scans the messages. It is only a string in the protocol.
    let c = Connection {
        address: format!("192.0.2.{}", 1 + worker % 254),
        hostname: "bench.example.org".into(),
        ..Connection::default()
    };
    if let Some(outcome) = conn.connect_client(&c).await? {
        bail!(
            "milter ended the connection at {}: {:?}",
            outcome.answered,
            outcome.reply
        );
    }
    Ok(conn)
}

/// Runs `palisade bench`.
pub fn main(args: BenchArgs, runtime: &tokio::runtime::Runtime) -> ExitCode {
    let target: SocketSpec = match args.target.parse() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("palisade: --target {e}");
            return ExitCode::from(2);
        }
    };
    let inputs = match load_messages(&args.paths) {
        Ok(m) if !m.is_empty() => Arc::new(m),
        Ok(_) => {
            eprintln!("palisade: no messages found in the given paths");
            return ExitCode::from(1);
        }
        Err(e) => {
            eprintln!("palisade: {e:#}");
            return ExitCode::from(1);
        }
    };
    let progress = std::io::stderr()
        .is_terminal()
        .then(|| indicatif::ProgressBar::new(args.messages));
    let result = runtime.block_on(bench(
        &target,
        args.connections,
        args.messages,
        inputs,
        progress.clone(),
    ));
    if let Some(p) = progress {
        p.finish_and_clear();
    }
    match result {
        Ok(report) => {
            if args.json {
                println!("{}", report.to_json());
            } else {
                print!("{}", report.to_text());
            }
            if report.messages == 0 {
                eprintln!(
                    "palisade: no message got an answer ({} errors)",
                    report.errors
                );
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("palisade: {e:#}");
            ExitCode::FAILURE
        }
    }
}
