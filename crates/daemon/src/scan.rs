//! The scan seam: one collected message in, one verdict out. The daemon and `palisade
//! check` both come through here, so a file is scored exactly as mail is.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use palisade_auth::AuthReport;
use palisade_engine::rules::DEFAULT_PACKS;
use palisade_engine::{Engine, Envelope, Input, RuleSet, Thresholds, Verdict};
use palisade_milter::Message;

use crate::config::{Config, ConfigError, ConfigIssue};

/// Everything a scan needs that does not change per message.
#[derive(Debug, Clone)]
pub struct Scanner {
    engine: Engine,
}

/// A verdict and what went into it.
#[derive(Debug, Clone)]
pub struct Scanned {
    /// The verdict.
    pub verdict: Verdict,
    /// Authentication results.
    pub auth: AuthReport,
    /// Time the scan took.
    pub elapsed: Duration,
}

impl Scanner {
    /// A scanner for this configuration: the default rule packs plus those named by
    /// `[rules] paths`, compiled once.
    pub fn new(config: &Config) -> Result<Scanner, ConfigError> {
        let rules = load_rules(config)?;
        Ok(Scanner {
            engine: Engine::new(
                Thresholds {
                    tag: config.policy.tag,
                    quarantine: config.policy.quarantine,
                    reject: config.policy.reject,
                },
                rules,
            ),
        })
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The engine's thresholds.
    pub fn thresholds(&self) -> &Thresholds {
        self.engine.thresholds()
    }

    /// Scores a message collected by the milter session.
    pub fn scan_message(&self, message: &Message) -> Scanned {
        let env = &message.envelope;
        let envelope = Envelope {
            client_ip: env.client_addr.parse::<IpAddr>().ok(),
            helo: env.helo.clone(),
            mail_from: env.mail_from.clone(),
            rcpt_to: env.rcpt_to.clone(),
        };
        self.scan(&message.raw, message.truncated, message.size, envelope)
    }

    /// Scores raw message text with the given envelope.
    pub fn scan(&self, raw: &[u8], truncated: bool, size: u64, envelope: Envelope) -> Scanned {
        let start = Instant::now();
        let auth = AuthReport::default();
        let input = Input {
            raw,
            truncated,
            size,
            envelope,
            auth: auth.clone(),
        };
        let verdict = self.engine.scan(&input);
        Scanned {
            verdict,
            auth,
            elapsed: start.elapsed(),
        }
    }
}

/// Compiles the default packs and every file matched by `[rules] paths`. A pattern that
/// matches nothing, an unreadable file and a broken rule are configuration errors naming
/// the file (and the rule).
pub fn load_rules(config: &Config) -> Result<RuleSet, ConfigError> {
    let mut packs: Vec<(String, String)> = DEFAULT_PACKS
        .iter()
        .map(|(f, t)| (format!("(built in) {f}"), t.to_string()))
        .collect();
    let mut issues = Vec::new();
    let issue = |message: String| ConfigIssue {
        key: "rules.paths".into(),
        message,
        origin: "rule packs".into(),
    };
    for pattern in &config.rules.paths {
        let paths = match glob::glob(pattern) {
            Ok(p) => p,
            Err(e) => {
                issues.push(issue(format!("`{pattern}` is not a valid glob: {e}")));
                continue;
            }
        };
        let mut matched = 0;
        for path in paths {
            matched += 1;
            match path.map_err(|e| e.to_string()).and_then(|p| {
                std::fs::read_to_string(&p)
                    .map(|t| (p, t))
                    .map_err(|e| e.to_string())
            }) {
                Ok((p, text)) => packs.push((p.display().to_string(), text)),
                Err(e) => issues.push(issue(format!("cannot read a rule pack: {e}"))),
            }
        }
        if matched == 0 {
            issues.push(issue(format!("`{pattern}` matches no file")));
        }
    }
    if !issues.is_empty() {
        return Err(ConfigError { issues });
    }
    RuleSet::compile(packs).map_err(|e| ConfigError {
        issues: vec![issue(e.to_string())],
    })
}
