//! `palisade check`: scores message files the way the daemon scores mail.

use std::io::{IsTerminal, Read};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use palisade_engine::Envelope;
use serde_json::json;

use palisade_bench::files::{expand_paths, strip_mbox_line};
use palisade_server::scan::Scanner;

use crate::common::ConfigArg;

/// Arguments of `palisade check`.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// One JSON object per message on stdout.
    #[arg(long)]
    json: bool,
    /// Skip DNS: authentication results are `none`.
    #[arg(long)]
    offline: bool,
    /// The SMTP client's address to assume.
    #[arg(long, value_name = "IP")]
    client_ip: Option<IpAddr>,
    /// The HELO name to assume.
    #[arg(long, value_name = "NAME")]
    helo: Option<String>,
    /// The envelope sender to assume.
    #[arg(long, value_name = "ADDR")]
    mail_from: Option<String>,
    /// Envelope recipients to assume.
    #[arg(long, value_name = "ADDR")]
    rcpt: Vec<String>,
    /// Message files, directories (read recursively), or - for standard input.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
}

/// Runs `palisade check`.
pub fn main(args: CheckArgs) -> ExitCode {
    let config = match args.config.load() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let runtime = match crate::common::runtime(false) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let scanner = match Scanner::new(&config, args.offline) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("palisade: {e}");
            return ExitCode::from(crate::common::EXIT_CONFIG);
        }
    };
    let envelope = Envelope {
        client_ip: args.client_ip,
        helo: args.helo.clone().unwrap_or_default(),
        mail_from: args.mail_from.clone().unwrap_or_default(),
        rcpt_to: args.rcpt.clone(),
    };
    let inputs = expand_paths(&args.paths);
    let progress = (inputs.len() > 1 && std::io::stderr().is_terminal())
        .then(|| indicatif::ProgressBar::new(inputs.len() as u64));
    let mut failed = false;
    for input in inputs {
        if let Some(p) = &progress {
            p.inc(1);
        }
        let (path, raw) = match input {
            Ok(path) => match read(&path) {
                Ok(raw) => (path, raw),
                Err(e) => {
                    eprintln!("palisade: {}: {e}", path.display());
                    failed = true;
                    continue;
                }
            },
            Err((path, e)) => {
                eprintln!("palisade: {}: {e}", path.display());
                failed = true;
                continue;
            }
        };
        let raw = strip_mbox_line(&raw);
        let scanned = runtime.block_on(scanner.scan(raw, envelope.clone()));
        let v = &scanned.verdict;
        let line = if args.json {
            json!({
                "path": path.display().to_string(),
                "action": v.action.as_str(),
                "score": v.score,
                "required": if v.required.is_finite() { v.required } else { 0.0 },
                "symbols": v.symbols,
                "auth": {
                    "spf": scanned.auth.spf.as_str(),
                    "dkim": scanned.auth.dkim.as_str(),
                    "dmarc": scanned.auth.dmarc.as_str(),
                    "arc": scanned.auth.arc.as_str(),
                },
                "elapsed_us": scanned.elapsed.as_micros() as u64,
            })
            .to_string()
        } else {
            let mut s = format!(
                "{}: {} score={:.2} required={:.2}",
                path.display(),
                v.action.as_str(),
                v.score,
                if v.required.is_finite() {
                    v.required
                } else {
                    0.0
                }
            );
            for sym in &v.symbols {
                s.push_str(&format!(
                    "\n  {:<28} {:>6.2}  {:<13} {}",
                    sym.name,
                    sym.score,
                    sym.category,
                    palisade_report::escape::line(&sym.detail)
                ));
            }
            s
        };
        match &progress {
            Some(p) => p.suspend(|| println!("{line}")),
            None => println!("{line}"),
        }
    }
    if let Some(p) = progress {
        p.finish_and_clear();
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn read(path: &Path) -> std::io::Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut v = Vec::new();
        std::io::stdin().read_to_end(&mut v)?;
        Ok(v)
    } else {
        std::fs::read(path)
    }
}
