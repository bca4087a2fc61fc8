//! The scan seam: one collected message in, one verdict out. The daemon and `palisade
//! check` both come through here, so a file is scored exactly as mail is.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use palisade_auth::{AuthReport, AuthRequest, AuthSettings, Authenticator};
use palisade_engine::rules::DEFAULT_PACKS;
use palisade_engine::{
    Cidr, Engine, Envelope, FromHeader, Input, Lists, Protection, RuleSet, Thresholds, Verdict,
};
use palisade_milter::Message;

use palisade_config::host_name;
use palisade_config::{Config, ConfigError, ConfigIssue};

/// Everything a scan needs that does not change per message.
#[derive(Debug, Clone)]
pub struct Scanner {
    engine: Engine,
    auth: Option<Authenticator>,
    authserv_id: String,
    /// Whether messages are fingerprinted for campaigns.
    fingerprints: bool,
}

/// A verdict and what went into it.
#[derive(Debug, Clone)]
pub struct Scanned {
    /// The verdict.
    pub verdict: Verdict,
    /// Authentication results.
    pub auth: AuthReport,
    /// Time the scan took (authentication included).
    pub elapsed: Duration,
    /// The campaign fingerprint (when campaigns are on and the text is long enough).
    pub fingerprint: Option<palisade_engine::campaign::Fingerprint>,
}

fn issue(key: &str, message: String) -> ConfigError {
    ConfigError {
        issues: vec![ConfigIssue {
            key: key.into(),
            message,
            origin: "configuration".into(),
        }],
    }
}

impl Scanner {
    /// A scanner for this configuration: the default rule packs plus those named by
    /// `[rules] paths`, compiled once; score overrides; what to protect; and, unless
    /// `offline` or `[auth] enabled = false`, an authenticator on the `[dns]` resolvers.
    pub fn new(config: &Config, offline: bool) -> Result<Scanner, ConfigError> {
        Self::reconfigured(config, offline, None)
    }

    /// Like [`Scanner::new`], keeping the DNS cache and resolver health of `previous`
    /// when the resolvers did not change (a reload must not forget them).
    pub fn reconfigured(
        config: &Config,
        offline: bool,
        previous: Option<&Scanner>,
    ) -> Result<Scanner, ConfigError> {
        let rules = load_rules(config)?;
        let scores = config.scores.iter().map(|(k, v)| (k.clone(), *v)).collect();
        let engine = Engine::new(
            Thresholds {
                tag: config.policy.tag,
                quarantine: config.policy.quarantine,
                reject: config.policy.reject,
            },
            rules,
        )
        .with_protection(Protection {
            domains: config.protect.domains.clone(),
            names: config.protect.names.clone(),
            watch_domains: config.protect.watch_domains.clone(),
        })
        .with_lists(Lists {
            allow_senders: config.policy.allow_senders.clone(),
            deny_senders: config.policy.deny_senders.clone(),
            allow_ips: config
                .policy
                .allow_ips
                .iter()
                .filter_map(|n| Cidr::parse(n))
                .collect(),
            deny_ips: config
                .policy
                .deny_ips
                .iter()
                .filter_map(|n| Cidr::parse(n))
                .collect(),
        })
        .with_recipient_thresholds(
            config
                .policy
                .recipient_domains
                .iter()
                .map(|(domain, o)| {
                    (
                        domain.to_ascii_lowercase(),
                        Thresholds {
                            tag: o.tag.unwrap_or(config.policy.tag),
                            quarantine: o.quarantine.unwrap_or(config.policy.quarantine),
                            reject: o.reject.unwrap_or(config.policy.reject),
                        },
                    )
                })
                .collect(),
        )
        .with_scores(&scores)
        .map_err(|unknown| {
            issue(
                "scores",
                format!("no rule or check is called {}", unknown.join(", ")),
            )
        })?;
        let authserv_id = if config.auth.authserv_id.is_empty() {
            host_name()
        } else {
            config.auth.authserv_id.clone()
        };
        let auth = if offline || !config.auth.enabled {
            None
        } else {
            let nameservers = config
                .dns
                .nameservers
                .iter()
                .filter_map(|n| n.parse::<SocketAddr>().ok())
                .collect();
            let settings = AuthSettings {
                nameservers,
                timeout: config.dns.timeout,
                attempts: config.dns.attempts,
                cache_entries: config.dns.cache_entries,
                deadline: config.auth.deadline,
                trusted_arc_sealers: config.auth.trusted_arc_sealers.clone(),
                host_domain: authserv_id.clone(),
                max_dkim_signatures: config.auth.max_dkim_signatures,
            };
            let auth = match previous.and_then(|p| p.auth.as_ref()) {
                Some(prev) => prev.reconfigured(settings),
                None => Authenticator::new(settings),
            };
            Some(auth.map_err(|e| issue("dns.nameservers", e.to_string()))?)
        };
        Ok(Scanner {
            engine,
            auth,
            authserv_id,
            fingerprints: false,
        })
    }

    /// Also computes each message's campaign fingerprint (the daemon, with campaigns
    /// on).
    pub(crate) fn with_fingerprints(mut self, on: bool) -> Scanner {
        self.fingerprints = on;
        self
    }

    /// The authserv-id written into Authentication-Results.
    pub fn authserv_id(&self) -> &str {
        &self.authserv_id
    }

    /// The compiled rules (for explanations of held messages).
    pub fn rules(&self) -> &RuleSet {
        self.engine.rules()
    }

    /// The authenticator, when authentication is on.
    pub fn authenticator(&self) -> Option<&Authenticator> {
        self.auth.as_ref()
    }

    /// Authenticates a message (DNS; waits without blocking other connections).
    pub async fn authenticate(
        &self,
        raw: &[u8],
        envelope: &Envelope,
        from: &FromHeader,
        truncated: bool,
    ) -> AuthReport {
        let Some(auth) = &self.auth else {
            return AuthReport::default();
        };
        let addresses = from.addresses();
        auth.authenticate(AuthRequest {
            raw,
            client_ip: envelope.client_ip,
            helo: &envelope.helo,
            mail_from: &envelope.mail_from,
            from: &addresses,
            truncated,
        })
        .await
    }

    /// The engine's view of a milter message's envelope.
    pub fn envelope(message: &Message) -> Envelope {
        let env = &message.envelope;
        Envelope {
            client_ip: env.client_addr.parse::<IpAddr>().ok(),
            helo: env.helo.clone(),
            mail_from: env.mail_from.clone(),
            rcpt_to: env.rcpt_to.clone(),
        }
    }

    /// Scores a message collected by the milter session, with its authentication report
    /// (CPU only).
    pub fn score_message(&self, message: &Message, from: FromHeader, auth: AuthReport) -> Scanned {
        self.score(
            &message.raw,
            message.truncated,
            message.size,
            Self::envelope(message),
            Some(from),
            auth,
        )
    }

    /// Authenticates and scores raw message text, as `palisade check` does.
    pub async fn scan(&self, raw: &[u8], envelope: Envelope) -> Scanned {
        let start = Instant::now();
        let from = FromHeader::parse(raw);
        let auth = self.authenticate(raw, &envelope, &from, false).await;
        let mut scanned = self.score(raw, false, raw.len() as u64, envelope, Some(from), auth);
        scanned.elapsed = start.elapsed();
        scanned
    }

    /// Scores with a given authentication report (CPU only).
    pub fn score(
        &self,
        raw: &[u8],
        truncated: bool,
        size: u64,
        envelope: Envelope,
        from: Option<FromHeader>,
        auth: AuthReport,
    ) -> Scanned {
        let start = Instant::now();
        let input = Input {
            raw,
            truncated,
            size,
            envelope,
            auth,
            from,
        };
        let (verdict, fingerprint) = if self.fingerprints {
            self.engine.scan_with_fingerprint(&input)
        } else {
            (self.engine.scan(&input), None)
        };
        let elapsed = start.elapsed() + input.auth.dns.elapsed;
        Scanned {
            verdict,
            auth: input.auth,
            elapsed,
            fingerprint,
        }
    }

    /// The verdict with symbols added from outside the message (campaigns), scores and
    /// thresholds applied as for the message's own.
    pub fn rescore(
        &self,
        verdict: Verdict,
        extra: Vec<palisade_engine::Symbol>,
        rcpt_to: &[String],
    ) -> Verdict {
        self.engine.rescore(verdict, extra, rcpt_to)
    }
}

/// Compiles the built-in packs (unless `[rules] builtin = false`) and every file matched
/// by `[rules] paths`. A pattern that matches nothing, an unreadable file, a broken rule
/// and no pack at all are configuration errors naming the file (and the rule).
pub(crate) fn load_rules(config: &Config) -> Result<RuleSet, ConfigError> {
    let mut packs: Vec<(String, String)> = if config.rules.builtin {
        DEFAULT_PACKS
            .iter()
            .map(|(f, t)| (format!("(built in) {f}"), t.to_string()))
            .collect()
    } else {
        Vec::new()
    };
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
    if packs.is_empty() && issues.is_empty() {
        issues.push(issue(
            "no rule pack: `rules.builtin` is false and `rules.paths` is empty".into(),
        ));
    }
    if !issues.is_empty() {
        return Err(ConfigError { issues });
    }
    RuleSet::compile(packs).map_err(|e| ConfigError {
        issues: vec![issue(e.to_string())],
    })
}
