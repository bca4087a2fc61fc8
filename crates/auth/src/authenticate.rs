//! Running the checks against DNS, concurrently, with a cache and a deadline.

use base64::Engine as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use mail_auth::common::verify::DomainKey;
use mail_auth::dkim::Signature;
use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::dmarc::{Dmarc, Policy};
use mail_auth::hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{
    AuthenticatedMessage, DkimOutput, DkimResult, DmarcResult, DnsError, IprevResult,
    MessageAuthenticator, Parameters, RecordSet, SpfOutput, SpfResult, Txt, MX,
};

use crate::breaker::{Breaker, Probe};
use crate::cache::TtlCache;
use crate::{AuthReport, AuthResult, DkimSignature, DmarcDomain, DmarcPolicy};
use palisade_report::domain_of;

/// What authentication needs to know, from `[dns]` and `[auth]`.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// Resolvers; empty means /etc/resolv.conf.
    pub nameservers: Vec<SocketAddr>,
    /// Timeout of one query.
    pub timeout: Duration,
    /// Tries per query.
    pub attempts: usize,
    /// Records kept in Palisade's cache, per record type.
    pub cache_entries: usize,
    /// Deadline for all checks of one message; what is unfinished then is `temperror`.
    pub deadline: Duration,
    /// ARC sealers (domains) whose valid chain vouches for forwarded or list mail.
    pub trusted_arc_sealers: Vec<String>,
    /// This host's domain, for SPF's `%{r}` macro.
    pub host_domain: String,
    /// DKIM signatures verified per message at most (those for the From domain first).
    pub max_dkim_signatures: usize,
}

/// Why the authenticator could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The resolver could not be built (for instance, no usable /etc/resolv.conf).
    #[error("cannot set up the DNS resolver: {0}")]
    Resolver(String),
}

/// One message to authenticate.
#[derive(Debug, Clone, Copy)]
pub struct AuthRequest<'a> {
    /// The message as received.
    pub raw: &'a [u8],
    /// The SMTP client's address; without it SPF and iprev are not checked (`none`).
    pub client_ip: Option<IpAddr>,
    /// The HELO/EHLO name.
    pub helo: &'a str,
    /// MAIL FROM (empty for the null sender).
    pub mail_from: &'a str,
    /// The From addresses, from the parse the engine also uses; empty lets mail-auth
    /// read them itself.
    pub from: &'a [String],
    /// Whether the message was cut at the size limit (the body cannot match a DKIM body
    /// hash then, and that is not the sender's fault).
    pub truncated: bool,
}

struct Caches {
    txt: TtlCache<Box<str>, Txt>,
    mx: TtlCache<Box<str>, RecordSet<MX>>,
    ipv4: TtlCache<Box<str>, RecordSet<Ipv4Addr>>,
    ipv6: TtlCache<Box<str>, RecordSet<Ipv6Addr>>,
    ptr: TtlCache<IpAddr, RecordSet<Box<str>>>,
}

impl Caches {
    fn counts(&self) -> (u64, u64) {
        let hits = [
            &self.txt.hits,
            &self.mx.hits,
            &self.ipv4.hits,
            &self.ipv6.hits,
            &self.ptr.hits,
        ];
        let misses = [
            &self.txt.misses,
            &self.mx.misses,
            &self.ipv4.misses,
            &self.ipv6.misses,
            &self.ptr.misses,
        ];
        (
            hits.iter().map(|a| a.load(Ordering::Relaxed)).sum(),
            misses.iter().map(|a| a.load(Ordering::Relaxed)).sum(),
        )
    }
}

/// mail-auth's parameters with Palisade's caches attached.
type CachedParams<'x, P> = Parameters<
    'x,
    P,
    TtlCache<Box<str>, Txt>,
    TtlCache<Box<str>, RecordSet<MX>>,
    TtlCache<Box<str>, RecordSet<Ipv4Addr>>,
    TtlCache<Box<str>, RecordSet<Ipv6Addr>>,
    TtlCache<IpAddr, RecordSet<Box<str>>>,
>;

/// Checks senders. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Authenticator {
    inner: MessageAuthenticator,
    caches: Arc<Caches>,
    settings: Arc<AuthSettings>,
    breaker: Arc<Breaker>,
    probe: Probe,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// A resolver for `settings`: the given nameservers over UDP and TCP, or the system's.
    pub fn new(settings: AuthSettings) -> Result<Authenticator, AuthError> {
        let n = settings.cache_entries;
        let caches = Arc::new(Caches {
            txt: TtlCache::new(n),
            mx: TtlCache::new(n),
            ipv4: TtlCache::new(n),
            ipv6: TtlCache::new(n),
            ptr: TtlCache::new(n),
        });
        Self::build(settings, caches, Arc::new(Breaker::default()))
    }

    /// An authenticator for new settings that keeps this one's DNS cache and resolver
    /// health when the resolvers and the cache size are unchanged (a reload must not
    /// throw away what is known).
    pub fn reconfigured(&self, settings: AuthSettings) -> Result<Authenticator, AuthError> {
        if settings.nameservers == self.settings.nameservers
            && settings.cache_entries == self.settings.cache_entries
        {
            Self::build(settings, self.caches.clone(), self.breaker.clone())
        } else {
            Self::new(settings)
        }
    }

    fn build(
        settings: AuthSettings,
        caches: Arc<Caches>,
        breaker: Arc<Breaker>,
    ) -> Result<Authenticator, AuthError> {
        let (config, mut opts) = if settings.nameservers.is_empty() {
            mail_auth::hickory_resolver::system_conf::read_system_conf()
                .map_err(|e| AuthError::Resolver(e.to_string()))?
        } else {
            let mut config = ResolverConfig::default();
            for addr in &settings.nameservers {
                let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
                for c in &mut ns.connections {
                    c.port = addr.port();
                }
                config.add_name_server(ns);
            }
            (config, ResolverOpts::default())
        };
        opts.timeout = settings.timeout;
        opts.attempts = settings.attempts;
        // Palisade keeps its own per-type cache; hickory's stays small.
        opts.cache_size = 256;
        opts.edns0 = true;
        let probe = Probe::new(config.clone(), opts.clone())
            .map_err(|e| AuthError::Resolver(e.to_string()))?;
        let inner = MessageAuthenticator::new(config, opts)
            .map_err(|e| AuthError::Resolver(e.to_string()))?;
        Ok(Authenticator {
            inner,
            caches,
            settings: Arc::new(settings),
            breaker,
            probe,
        })
    }

    /// Lookups answered from Palisade's cache, and lookups sent to the resolver, since
    /// start (cumulative, for metrics).
    pub fn dns_counts(&self) -> (u64, u64) {
        self.caches.counts()
    }

    /// Runs every check for one message; never fails (problems become `temperror` or
    /// `permerror` in the report). SPF, DKIM, ARC, iprev and the DMARC record lookups
    /// start together; each method has its own budget, so one that hangs turns only
    /// itself into `temperror`. DMARC is then judged for every From domain. When the
    /// resolver is known to be down, nothing waits: every result is `temperror` at once.
    pub async fn authenticate(&self, req: AuthRequest<'_>) -> AuthReport {
        let start = Instant::now();
        if self.breaker.is_open() {
            self.breaker
                .probe_if_due(&self.probe, self.settings.timeout, self.settings.attempts);
            let mut report = all_temperror();
            report.dns.skipped = true;
            report.dns.temp_errors = 6;
            report.from_domains = from_domains(&req, None);
            report.from_domain = report.from_domains.first().cloned().unwrap_or_default();
            report.dns.elapsed = start.elapsed();
            return report;
        }
        let mut report = match tokio::time::timeout(self.settings.deadline, self.run(req)).await {
            Ok(report) => report,
            Err(_) => {
                let mut r = all_temperror();
                r.from_domains = from_domains(&req, None);
                r.from_domain = r.from_domains.first().cloned().unwrap_or_default();
                r
            }
        };
        report.dns.temp_errors = [
            report.spf,
            report.spf_helo,
            report.dkim,
            report.arc,
            report.dmarc,
            report.iprev,
        ]
        .iter()
        .filter(|r| **r == AuthResult::TempError)
        .count() as u32;
        if report.dns.temp_errors > 0 {
            // Some lookup failed: is it the zone, or the resolver? One query to the
            // resolver tells, in the background.
            self.breaker
                .probe_if_due(&self.probe, self.settings.timeout, self.settings.attempts);
        }
        report.dns.elapsed = start.elapsed();
        report
    }

    /// Whether the resolver is considered down (the circuit breaker is open).
    pub fn dns_down(&self) -> bool {
        self.breaker.is_open()
    }

    fn params<P>(&self, p: P) -> CachedParams<'_, P> {
        let c = &self.caches;
        Parameters::new(p)
            .with_txt_cache(&c.txt)
            .with_mx_cache(&c.mx)
            .with_ipv4_cache(&c.ipv4)
            .with_ipv6_cache(&c.ipv6)
            .with_ptr_cache(&c.ptr)
    }

    /// Looks up the DMARC records DMARC will walk for `domain`, all at once, into the
    /// cache; false when any lookup failed for a reason other than "no such record".
    async fn prefetch_dmarc(&self, domain: &str, budget: Duration) -> bool {
        let names = dmarc_walk(domain);
        let lookups = names.iter().map(|name| async move {
            let key = format!("_dmarc.{name}.");
            let lookup = self.inner.txt_lookup::<Dmarc>(key, Some(&self.caches.txt));
            match tokio::time::timeout(budget, lookup).await {
                Ok(found) => !temporary(found.err()),
                Err(_) => false,
            }
        });
        join_all(lookups).await.into_iter().all(|ok| ok)
    }

    /// Looks up the keys of `signatures`, all at once, into the cache; returns, per
    /// signature, whether its key lookup failed temporarily. Each lookup has its own
    /// budget: a key that answered keeps its answer whatever the others do.
    async fn prefetch_dkim_keys(&self, signatures: &[&Signature], budget: Duration) -> Vec<bool> {
        let lookups = signatures.iter().map(|sig| async move {
            let key = format!("{}._domainkey.{}.", sig.s, sig.d);
            let lookup = self
                .inner
                .txt_lookup::<DomainKey>(key, Some(&self.caches.txt));
            match tokio::time::timeout(budget, lookup).await {
                Ok(found) => temporary(found.err()),
                Err(_) => true,
            }
        });
        join_all(lookups).await
    }

    async fn run(&self, req: AuthRequest<'_>) -> AuthReport {
        let started = Instant::now();
        let a = &self.inner;
        let host = self.settings.host_domain.as_str();
        // Each method gets most of the deadline; DMARC, which needs their results, keeps
        // the rest, and its records are looked up from time zero.
        let budget = self.settings.deadline.mul_f64(0.8);
        let helo_is_domain = req.helo.contains('.')
            && !req.helo.starts_with('[')
            && req.helo.parse::<IpAddr>().is_err();
        let message = AuthenticatedMessage::parse(req.raw);
        let from_domains = from_domains(&req, message.as_ref());
        let from_lower = from_domains.first().cloned().unwrap_or_default();
        // The RFC 5321 domain DMARC aligns SPF with: MAIL FROM's, or HELO's for the null
        // sender. Known without SPF's answer, so an SPF timeout stays "unknown".
        let mail_from_domain = match req.mail_from.rsplit_once('@') {
            Some((_, d)) => d.trim_end_matches('.').to_ascii_lowercase(),
            None if req.mail_from.is_empty() => req.helo.to_ascii_lowercase(),
            None => String::new(),
        };

        // DKIM: the signatures for the From domain first, then the others, up to the cap.
        // Kept by position, so that copies of one signature count as many signatures.
        let all: Vec<&Signature> = message
            .as_ref()
            .map(|m| m.dkim_headers.iter().map(|h| &h.header).collect())
            .unwrap_or_default();
        let mut order: Vec<usize> = (0..all.len()).collect();
        order.sort_by_key(|&i| !from_domains.iter().any(|f| aligned(&all[i].d, f)));
        let cap = self.settings.max_dkim_signatures.max(1);
        let dkim_unchecked = order.len().saturating_sub(cap) as u32;
        order.truncate(cap);
        let signatures: Vec<&Signature> = order.iter().map(|&i| all[i]).collect();

        let spf_mail = async {
            let ip = req.client_ip?;
            let params = SpfParameters::verify_mail_from(ip, req.helo, host, req.mail_from);
            Some(tokio::time::timeout(budget, a.verify_spf(self.params(params))).await)
        };
        let spf_helo = async {
            match req.client_ip {
                Some(ip) if helo_is_domain => {
                    let params = SpfParameters::verify_ehlo(ip, req.helo, host);
                    Some(tokio::time::timeout(budget, a.verify_spf(self.params(params))).await)
                }
                _ => None,
            }
        };
        let dkim_keys = self.prefetch_dkim_keys(&signatures, budget);
        let arc = async {
            let m = message.as_ref()?;
            Some(tokio::time::timeout(budget, a.verify_arc(self.params(m))).await)
        };
        let iprev = async {
            let ip = req.client_ip?;
            Some(tokio::time::timeout(budget, a.verify_iprev(self.params(ip))).await)
        };
        let dmarc_records = join_all(from_domains.iter().map(|d| self.prefetch_dmarc(d, budget)));
        let (spf_mail, spf_helo, key_failed, arc, iprev, dmarc_ok) =
            tokio::join!(spf_mail, spf_helo, dkim_keys, arc, iprev, dmarc_records);

        // Signatures whose key did not come are temperror without a second wait; the
        // others are verified from the cache, one message view per signature when the
        // body was cut (see `truncated_view`).
        let mut dkim: Vec<DkimOutput<'_>> = Vec::new();
        let mut views: Vec<AuthenticatedMessage<'_>> = Vec::new();
        if let Some(m) = &message {
            let keep: Vec<usize> = order
                .iter()
                .zip(&key_failed)
                .filter(|(_, failed)| !**failed)
                .map(|(&i, _)| i)
                .collect();
            if req.truncated {
                for &i in &keep {
                    views.push(truncated_view(m, i));
                }
            } else {
                let mut v = m.clone();
                v.dkim_headers = keep.iter().map(|&i| m.dkim_headers[i].clone()).collect();
                views.push(v);
            }
        }
        for v in &views {
            let remaining = budget.saturating_sub(started.elapsed());
            match tokio::time::timeout(remaining, a.verify_dkim(self.params(v))).await {
                Ok(out) => dkim.extend(out.into_iter().map(|o| {
                    match v.dkim_headers.first() {
                        Some(h) if req.truncated && matches!(o.result(), DkimResult::Pass) => {
                            // The signer signed these headers; the body past the size
                            // limit was never seen, so the signature is no pass either.
                            DkimOutput::temp_err(mail_auth::Error::Dns(DnsError::Resolver(
                                "body cut at the size limit".into(),
                            )))
                            .with_signature(&h.header)
                        }
                        _ => o,
                    }
                })),
                Err(_) => dkim.extend(v.dkim_headers.iter().map(|h| {
                    DkimOutput::temp_err(mail_auth::Error::Dns(DnsError::Resolver(
                        "over budget".into(),
                    )))
                    .with_signature(&h.header)
                })),
            }
        }
        for (sig, failed) in signatures.iter().zip(&key_failed) {
            if *failed {
                dkim.push(
                    DkimOutput::temp_err(mail_auth::Error::Dns(DnsError::Resolver(
                        "key lookup failed".into(),
                    )))
                    .with_signature(sig),
                );
            }
        }

        let timed_out = AuthResult::TempError;
        let spf_mail = match spf_mail {
            Some(Ok(out)) => Some(out),
            Some(Err(_)) => None,
            None => Some(SpfOutput::default()),
        };
        let spf_mail_result = spf_mail.as_ref().map_or(timed_out, |o| spf(o.result()));
        let spf_mail = spf_mail.unwrap_or_default();
        let mut report = AuthReport {
            checked: true,
            spf: if req.client_ip.is_none() {
                AuthResult::None
            } else {
                spf_mail_result
            },
            spf_domain: if spf_mail.domain().is_empty() {
                mail_from_domain.clone()
            } else {
                spf_mail.domain().to_string()
            },
            spf_helo: match spf_helo {
                Some(Ok(o)) => spf(o.result()),
                Some(Err(_)) => timed_out,
                None => AuthResult::None,
            },
            iprev: match iprev {
                Some(Ok(o)) => match o.result {
                    IprevResult::Pass => AuthResult::Pass,
                    IprevResult::Fail(_) => AuthResult::Fail,
                    IprevResult::TempError(_) => AuthResult::TempError,
                    IprevResult::PermError(_) => AuthResult::PermError,
                    IprevResult::None => AuthResult::None,
                },
                Some(Err(_)) => timed_out,
                None => AuthResult::None,
            },
            from_domains: from_domains.clone(),
            ..AuthReport::default()
        };
        report.dns.dkim_unchecked = dkim_unchecked;
        report.dkim_signatures = dkim
            .iter()
            .map(|o| {
                let sig = o.signature();
                DkimSignature {
                    result: dkim_result(o.result()),
                    domain: sig.map(|s| s.d.clone()).unwrap_or_default(),
                    selector: sig.map(|s| s.s.clone()).unwrap_or_default(),
                    b: sig.map(|s| b64_prefix(&s.b, 8)).unwrap_or_default(),
                }
            })
            .collect();
        report.dkim = best(report.dkim_signatures.iter().map(|s| s.result));
        match &arc {
            Some(Ok(arc)) => {
                report.arc = dkim_result(arc.result());
                report.arc_sealers = arc
                    .sets()
                    .iter()
                    .map(|set| set.seal.header.d.to_ascii_lowercase())
                    .collect();
                report.arc_trusted = report.arc == AuthResult::Pass
                    && report.arc_sealers.last().is_some_and(|d| {
                        self.settings
                            .trusted_arc_sealers
                            .iter()
                            .any(|t| t.eq_ignore_ascii_case(d))
                    });
            }
            Some(Err(_)) => report.arc = timed_out,
            None => {}
        }

        // DMARC for every From domain, each reported; the worst speaks for the message.
        report.from_domain = from_lower;
        if let Some(m) = &message {
            for (domain, records_ok) in from_domains.iter().zip(dmarc_ok) {
                let (result, policy) = if !records_ok {
                    (AuthResult::TempError, None)
                } else {
                    // A view of the message with this From domain alone: mail-auth
                    // exempts a message with several From domains from DMARC.
                    let single;
                    let view = if m.from.len() == 1 && domain_of(&m.from[0]) == *domain {
                        m
                    } else {
                        let mut v = m.clone();
                        v.from = vec![format!("postmaster@{domain}")];
                        single = v;
                        &single
                    };
                    let remaining = self.settings.deadline.saturating_sub(started.elapsed());
                    let params = DmarcParameters::new(view, &dkim, &mail_from_domain, &spf_mail);
                    match tokio::time::timeout(remaining, a.verify_dmarc(self.params(params))).await
                    {
                        Err(_) => (AuthResult::TempError, None),
                        Ok(dmarc) => {
                            let policy = dmarc.dmarc_record().map(|_| match dmarc.policy() {
                                Policy::Reject => DmarcPolicy::Reject,
                                Policy::Quarantine => DmarcPolicy::Quarantine,
                                Policy::None | Policy::Unspecified => DmarcPolicy::None,
                            });
                            let mut result = match dmarc.result() {
                                DmarcResult::Pass => AuthResult::Pass,
                                DmarcResult::Fail(_) => AuthResult::Fail,
                                DmarcResult::TempError(_) => AuthResult::TempError,
                                DmarcResult::PermError(_) => AuthResult::PermError,
                                DmarcResult::None => AuthResult::None,
                            };
                            // A failure is only a failure when nothing that could have
                            // passed was left unknown: an aligned DKIM signature that
                            // verified over the headers but met a temporary error (a key
                            // that did not come, a body cut at the size limit), or
                            // aligned SPF that did not answer, makes it temperror.
                            let unknown_dkim = report.dkim_signatures.iter().any(|s| {
                                aligned(&s.domain, domain)
                                    && matches!(s.result, AuthResult::TempError)
                            });
                            let unknown_spf = report.spf == AuthResult::TempError
                                && aligned(&mail_from_domain, domain);
                            if result == AuthResult::Fail && (unknown_dkim || unknown_spf) {
                                result = AuthResult::TempError;
                            }
                            (result, policy)
                        }
                    }
                };
                report.dmarc_domains.push(DmarcDomain {
                    domain: domain.clone(),
                    result,
                    policy,
                });
            }
            if let Some(worst) = worst_dmarc(&report.dmarc_domains) {
                report.dmarc = worst.result;
                report.dmarc_policy = worst.policy;
                report.from_domain = worst.domain.clone();
            }
        }
        report
    }
}

/// The DMARC result that speaks for the message: the worst, and among equals the one
/// with the strictest published policy.
fn worst_dmarc(results: &[DmarcDomain]) -> Option<&DmarcDomain> {
    let strictness = |p: Option<DmarcPolicy>| match p {
        Some(DmarcPolicy::Reject) => 3,
        Some(DmarcPolicy::Quarantine) => 2,
        Some(DmarcPolicy::None) => 1,
        None => 0,
    };
    results
        .iter()
        .rev()
        .max_by_key(|d| (dmarc_rank(d.result), strictness(d.policy)))
}

/// The message as DKIM sees it when its body was cut at the size limit: only signature
/// `index`, and the body hash it claims taken as the body's, so that what can still be
/// checked is: whether the signer signed these headers (a forged signature fails here).
fn truncated_view<'x>(m: &AuthenticatedMessage<'x>, index: usize) -> AuthenticatedMessage<'x> {
    let mut v = m.clone();
    let header = m.dkim_headers[index].clone();
    let sig = &header.header;
    for (cb, ha, l, hash) in &mut v.body_hashes {
        if *cb == sig.cb
            && *ha == mail_auth::common::crypto::HashAlgorithm::from(sig.a)
            && *l == sig.l
        {
            *hash = sig.bh.clone();
        }
    }
    v.dkim_headers = vec![header];
    v
}

/// Whether a lookup error is temporary (no answer, a server failure), not a definite
/// "no such record".
fn temporary(e: Option<mail_auth::Error>) -> bool {
    matches!(
        e,
        Some(mail_auth::Error::Dns(DnsError::Resolver(_))) | Some(mail_auth::Error::Io(_))
    )
}

/// Every result `temperror`, for a message whose checks could not run in time.
fn all_temperror() -> AuthReport {
    AuthReport {
        checked: true,
        spf: AuthResult::TempError,
        spf_helo: AuthResult::TempError,
        dkim: AuthResult::TempError,
        arc: AuthResult::TempError,
        dmarc: AuthResult::TempError,
        iprev: AuthResult::TempError,
        ..AuthReport::default()
    }
}

/// How bad a DMARC result is for the message, worst highest.
fn dmarc_rank(r: AuthResult) -> u8 {
    match r {
        AuthResult::Fail => 5,
        AuthResult::TempError => 4,
        AuthResult::PermError => 3,
        AuthResult::None | AuthResult::Neutral | AuthResult::SoftFail => 2,
        AuthResult::Pass => 1,
    }
}

/// Most distinct From domains judged; more is itself a sign of trouble, reported by the
/// engine, and never costs more lookups.
const MAX_FROM_DOMAINS: usize = 4;

/// The distinct From domains, from the shared parse when the caller gave one.
fn from_domains(req: &AuthRequest<'_>, message: Option<&AuthenticatedMessage<'_>>) -> Vec<String> {
    let addresses: Vec<&str> = if req.from.is_empty() {
        message.map_or_else(Vec::new, |m| m.from.iter().map(String::as_str).collect())
    } else {
        req.from.iter().map(String::as_str).collect()
    };
    let mut domains: Vec<String> = Vec::new();
    for a in addresses {
        let d = domain_of(a);
        if !d.is_empty() && !domains.contains(&d) && domains.len() < MAX_FROM_DOMAINS {
            domains.push(d);
        }
    }
    domains
}

/// Relaxed alignment without a suffix list: one domain equals the other or sits under it.
fn aligned(a: &str, b: &str) -> bool {
    let a = a.trim_end_matches('.').to_ascii_lowercase();
    let b = b.trim_end_matches('.').to_ascii_lowercase();
    !a.is_empty()
        && !b.is_empty()
        && (a == b || a.ends_with(&format!(".{b}")) || b.ends_with(&format!(".{a}")))
}

/// The names DMARC's tree walk (RFC 9989) queries for `domain`, in mail-auth's order:
/// the domain itself, then at most seven labels, then one label fewer each time.
fn dmarc_walk(domain: &str) -> Vec<String> {
    let d = domain.trim_end_matches('.');
    if !d.is_ascii() {
        return Vec::new();
    }
    let labels: Vec<&str> = d.split('.').filter(|l| !l.is_empty()).collect();
    let total = labels.len();
    let mut out = Vec::new();
    if total < 2 {
        return out;
    }
    let mut count = total;
    loop {
        out.push(labels[total - count..].join("."));
        if count == 1 {
            break;
        }
        count = if count >= 8 { 7 } else { count - 1 };
    }
    out
}

fn spf(r: SpfResult) -> AuthResult {
    match r {
        SpfResult::Pass => AuthResult::Pass,
        SpfResult::Fail => AuthResult::Fail,
        SpfResult::SoftFail => AuthResult::SoftFail,
        SpfResult::Neutral => AuthResult::Neutral,
        SpfResult::TempError => AuthResult::TempError,
        SpfResult::PermError => AuthResult::PermError,
        SpfResult::None => AuthResult::None,
    }
}

fn dkim_result(r: &DkimResult) -> AuthResult {
    match r {
        DkimResult::Pass => AuthResult::Pass,
        // mail-auth reports a body that no longer matches its signed hash as neutral;
        // the signature does not verify, which RFC 6376 calls a failure, and an altered
        // body is exactly what a receiver needs to hear about.
        DkimResult::Neutral(mail_auth::Error::Dkim(
            mail_auth::dkim::DkimError::FailedBodyHashMatch,
        )) => AuthResult::Fail,
        DkimResult::Neutral(_) => AuthResult::Neutral,
        DkimResult::Fail(_) => AuthResult::Fail,
        DkimResult::PermError(_) => AuthResult::PermError,
        DkimResult::TempError(_) => AuthResult::TempError,
        DkimResult::None => AuthResult::None,
    }
}

/// The result that speaks best for the message: one passing signature is enough; a
/// temporary failure outranks a definite one, since it may yet pass.
fn best(results: impl Iterator<Item = AuthResult>) -> AuthResult {
    let rank = |r: AuthResult| match r {
        AuthResult::Pass => 6,
        AuthResult::TempError => 5,
        AuthResult::Fail => 4,
        AuthResult::PermError => 3,
        AuthResult::Neutral => 2,
        AuthResult::SoftFail => 1,
        AuthResult::None => 0,
    };
    results.max_by_key(|r| rank(*r)).unwrap_or(AuthResult::None)
}

/// Base64 of `bytes`, first `n` characters (RFC 8601's `header.b`).
fn b64_prefix(bytes: &[u8], n: usize) -> String {
    // Only as many input bytes as the prefix needs: 3 bytes make 4 characters.
    let take = (n.div_ceil(4) * 3).min(bytes.len());
    let mut s = base64::engine::general_purpose::STANDARD.encode(&bytes[..take]);
    s.truncate(n);
    s.trim_end_matches('=').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_prefers_pass_then_temperror() {
        use AuthResult::*;
        assert_eq!(best([Fail, Pass].into_iter()), Pass);
        assert_eq!(best([Fail, TempError].into_iter()), TempError);
        assert_eq!(best(std::iter::empty()), None);
    }

    #[test]
    fn base64_prefix() {
        assert_eq!(b64_prefix(b"hello world", 8), "aGVsbG8g");
        assert_eq!(b64_prefix(b"hi", 8), "aGk");
    }
}
