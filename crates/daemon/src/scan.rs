//! The scan seam: one collected message in, one verdict out. The daemon and `palisade
//! check` both come through here, so a file is scored exactly as mail is.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use palisade_auth::AuthReport;
use palisade_engine::{Engine, Envelope, Input, Thresholds, Verdict};
use palisade_milter::Message;

use crate::config::Config;

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
    /// A scanner for this configuration.
    pub fn new(config: &Config) -> Scanner {
        Scanner {
            engine: Engine::new(Thresholds {
                tag: config.policy.tag,
                quarantine: config.policy.quarantine,
                reject: config.policy.reject,
            }),
        }
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
