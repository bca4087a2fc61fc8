//! Running the checks against DNS, concurrently, with a cache and a deadline.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::dmarc::Policy;
use mail_auth::hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{
    AuthenticatedMessage, DkimResult, DmarcResult, IprevResult, MessageAuthenticator, Parameters,
    RecordSet, SpfResult, Txt, MX,
};

use crate::cache::TtlCache;
use crate::{AuthReport, AuthResult, DkimSignature, DmarcPolicy};

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
        let inner = MessageAuthenticator::new(config, opts)
            .map_err(|e| AuthError::Resolver(e.to_string()))?;
        let n = settings.cache_entries;
        Ok(Authenticator {
            inner,
            caches: Arc::new(Caches {
                txt: TtlCache::new(n),
                mx: TtlCache::new(n),
                ipv4: TtlCache::new(n),
                ipv6: TtlCache::new(n),
                ptr: TtlCache::new(n),
            }),
            settings: Arc::new(settings),
        })
    }

    /// Lookups answered from Palisade's cache, and lookups sent to the resolver, since
    /// start (cumulative, for metrics).
    pub fn dns_counts(&self) -> (u64, u64) {
        self.caches.counts()
    }

    /// Runs every check for one message; never fails (problems become `temperror` or
    /// `permerror` in the report). Checks run concurrently; DMARC follows SPF and DKIM.
    pub async fn authenticate(&self, req: AuthRequest<'_>) -> AuthReport {
        let start = Instant::now();
        let mut report = match tokio::time::timeout(self.settings.deadline, self.run(req)).await {
            Ok(report) => report,
            Err(_) => AuthReport {
                checked: true,
                spf: AuthResult::TempError,
                spf_helo: AuthResult::TempError,
                dkim: AuthResult::TempError,
                arc: AuthResult::TempError,
                dmarc: AuthResult::TempError,
                iprev: AuthResult::TempError,
                ..AuthReport::default()
            },
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
        report.dns.elapsed = start.elapsed();
        report
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

    async fn run(&self, req: AuthRequest<'_>) -> AuthReport {
        let a = &self.inner;
        let host = self.settings.host_domain.as_str();
        let helo_is_domain = req.helo.contains('.')
            && !req.helo.starts_with('[')
            && req.helo.parse::<IpAddr>().is_err();
        let message = AuthenticatedMessage::parse(req.raw);
        let spf_mail = async {
            match req.client_ip {
                Some(ip) => Some(
                    a.verify_spf(self.params(SpfParameters::verify_mail_from(
                        ip,
                        req.helo,
                        host,
                        req.mail_from,
                    )))
                    .await,
                ),
                None => None,
            }
        };
        let spf_helo = async {
            match req.client_ip {
                Some(ip) if helo_is_domain => Some(
                    a.verify_spf(self.params(SpfParameters::verify_ehlo(ip, req.helo, host)))
                        .await,
                ),
                _ => None,
            }
        };
        let dkim = async {
            match &message {
                Some(m) => a.verify_dkim(self.params(m)).await,
                None => Vec::new(),
            }
        };
        let arc = async {
            match &message {
                Some(m) => Some(a.verify_arc(self.params(m)).await),
                None => None,
            }
        };
        let iprev = async {
            match req.client_ip {
                Some(ip) => Some(a.verify_iprev(self.params(ip)).await),
                None => None,
            }
        };
        let (spf_mail, spf_helo, dkim, arc, iprev) =
            tokio::join!(spf_mail, spf_helo, dkim, arc, iprev);

        let spf_mail = spf_mail.unwrap_or_default();
        let mut report = AuthReport {
            checked: true,
            spf: spf(spf_mail.result()),
            spf_domain: spf_mail.domain().to_string(),
            spf_helo: spf_helo.map_or(AuthResult::None, |o| spf(o.result())),
            iprev: match iprev.map(|o| o.result) {
                Some(IprevResult::Pass) => AuthResult::Pass,
                Some(IprevResult::Fail(_)) => AuthResult::Fail,
                Some(IprevResult::TempError(_)) => AuthResult::TempError,
                Some(IprevResult::PermError(_)) => AuthResult::PermError,
                Some(IprevResult::None) | None => AuthResult::None,
            },
            ..AuthReport::default()
        };
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
        if let Some(arc) = &arc {
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
        if let Some(m) = &message {
            report.from_domain = m
                .from()
                .rsplit_once('@')
                .map(|(_, d)| d.to_ascii_lowercase())
                .unwrap_or_default();
            if !report.from_domain.is_empty() {
                let mail_from_domain = spf_mail.domain().to_string();
                let dmarc = a
                    .verify_dmarc(self.params(DmarcParameters::new(
                        m,
                        &dkim,
                        &mail_from_domain,
                        &spf_mail,
                    )))
                    .await;
                report.dmarc = match dmarc.result() {
                    DmarcResult::Pass => AuthResult::Pass,
                    DmarcResult::Fail(_) => AuthResult::Fail,
                    DmarcResult::TempError(_) => AuthResult::TempError,
                    DmarcResult::PermError(_) => AuthResult::PermError,
                    DmarcResult::None => AuthResult::None,
                };
                if dmarc.dmarc_record().is_some() {
                    report.dmarc_policy = match dmarc.policy() {
                        Policy::Reject => Some(DmarcPolicy::Reject),
                        Policy::Quarantine => Some(DmarcPolicy::Quarantine),
                        Policy::None | Policy::Unspecified => Some(DmarcPolicy::None),
                    };
                }
            }
        }
        report
    }
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
    let mut s = crate::base64(&bytes[..take]);
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
        assert_eq!(crate::base64(b"hi"), "aGk=");
        assert_eq!(crate::base64(b"hello"), "aGVsbG8=");
    }
}
