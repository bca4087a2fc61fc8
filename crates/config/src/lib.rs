//! Configuration: embedded defaults, a TOML file, and `PALISADE__SECTION__KEY` overrides,
//! validated as a whole so that every mistake is reported at once with its key and origin.
//!
//! Every other part of Palisade reads its own section from [`Config`]. This crate may
//! depend on `palisade-report` and on outside crates only; it must never depend on any
//! other Palisade crate (they all depend on it). Beside the configuration it holds the two
//! things that turn a setting into a file or a socket safely: [`socket`] (Postfix-style
//! addresses, unix sockets bound with their mode and group) and [`files`] (atomic writes of
//! state files).
#![forbid(unsafe_code)]

pub mod clock;
pub mod files;
mod load;
pub mod socket;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The shipped config/palisade.toml: the defaults, byte for byte.
pub const DEFAULTS: &str = include_str!("../../../config/palisade.toml");

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The milter listener and per-connection limits.
    pub milter: MilterConfig,
    /// The HTTP listener for metrics and health.
    pub http: HttpConfig,
    /// DNS resolver settings.
    pub dns: DnsConfig,
    /// Authentication settings.
    pub auth: AuthConfig,
    /// What verdicts lead to.
    pub policy: PolicyConfig,
    /// Rule packs.
    pub rules: RulesConfig,
    /// The organisation being protected.
    pub protect: ProtectConfig,
    /// Score overrides by symbol name.
    #[serde(default)]
    pub scores: std::collections::BTreeMap<String, f64>,
    /// Log output.
    pub logging: LoggingConfig,
    /// The hold queue reviewers work on.
    pub quarantine: QuarantineConfig,
    /// Where Palisade keeps its data.
    pub state: StateConfig,
    /// `[campaign]`
    pub campaign: CampaignConfig,
    /// The review web UI and JSON API.
    pub web: WebConfig,
    /// Digest and recipient notices.
    pub notify: NotifyConfig,
}

/// `[quarantine]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuarantineConfig {
    /// The Postfix configuration directory (`postconf -c`); empty = Postfix's default.
    pub postfix_config: String,
    /// Postfix's sendmail, for partial releases and notifications.
    pub sendmail: String,
    /// The queue helper's socket; empty = run Postfix's tools directly.
    pub helper: String,
    /// What a released message carries of Palisade's warning marks.
    pub release_markers: ReleaseMarkers,
}

/// `[quarantine] release_markers`: what recipients of a released message see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReleaseMarkers {
    /// The subject prefix, the X-Spam-* headers and X-Palisade-Result go; an
    /// X-Palisade-Released header says who released it.
    Remove,
    /// Delivered as held, marks and all, plus the X-Palisade-Released header.
    Keep,
}

/// `[state]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateConfig {
    /// The data directory; empty in the file = chosen at load (see [`StateDirSource`]).
    pub dir: PathBuf,
    /// How `dir` was chosen; not a key of the file.
    #[serde(skip)]
    pub dir_source: StateDirSource,
    /// Where campaign state lives.
    pub backend: StateBackend,
    /// `redis://host:port[/db]` for the Redis backend.
    pub url: String,
    /// The longest a message waits for the campaign store.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

/// How the state directory was chosen. An empty `[state] dir` (the embedded default)
/// serves whoever runs Palisade: systemd's `$STATE_DIRECTORY` for a unit with
/// `StateDirectory=`, else the system's `/var/lib/palisade` when this user may write
/// there (or create it), else the user's own state directory
/// (`$XDG_STATE_HOME/palisade`, by default `~/.local/state/palisade`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StateDirSource {
    /// Set in the configuration.
    #[default]
    Configured,
    /// systemd's `$STATE_DIRECTORY`.
    Systemd,
    /// `/var/lib/palisade`, writable by this user.
    System,
    /// The user's state directory.
    User,
}

impl std::fmt::Display for StateDirSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StateDirSource::Configured => "set by [state] dir",
            StateDirSource::Systemd => "systemd's $STATE_DIRECTORY",
            StateDirSource::System => "the system's state directory",
            StateDirSource::User => {
                "this user's state directory ($XDG_STATE_HOME or ~/.local/state)"
            }
        })
    }
}

/// The system-wide state directory an empty `[state] dir` prefers.
pub(crate) const SYSTEM_STATE_DIR: &str = "/var/lib/palisade";

/// The state directory for an empty `[state] dir`, from the environment `env` (name,
/// value pairs), `writable`, which says whether this process may create entries in a
/// directory, and `passwd_home`, the user's home from the password database (for a
/// process without `HOME`). `None` when no rule applies (no systemd, no writable
/// system directory, no absolute `XDG_STATE_HOME` or home).
pub fn default_state_dir(
    env: &[(String, String)],
    writable: impl Fn(&Path) -> bool,
    passwd_home: impl FnOnce() -> Option<PathBuf>,
) -> Option<(PathBuf, StateDirSource)> {
    let var = |name: &str| {
        env.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    // systemd sets a colon-separated list when a unit names several directories.
    if let Some(dir) =
        var("STATE_DIRECTORY").and_then(|v| v.split(':').find(|d| d.starts_with('/')))
    {
        return Some((PathBuf::from(dir), StateDirSource::Systemd));
    }
    let system = Path::new(SYSTEM_STATE_DIR);
    let usable = if system.is_dir() {
        writable(system)
    } else {
        !system.exists() && system.parent().is_some_and(&writable)
    };
    if usable {
        return Some((system.to_path_buf(), StateDirSource::System));
    }
    let absolute = |v: &&str| v.starts_with('/');
    let base = var("XDG_STATE_HOME")
        .filter(absolute)
        .map(PathBuf::from)
        .or_else(|| {
            var("HOME")
                .filter(absolute)
                .map(PathBuf::from)
                .or_else(|| passwd_home().filter(|h| h.is_absolute()))
                .map(|h| h.join(".local/state"))
        })?;
    Some((base.join("palisade"), StateDirSource::User))
}

/// Whether this process may create and remove entries in `dir` (its effective ids).
pub(crate) fn dir_writable(dir: &Path) -> bool {
    use nix::unistd::AccessFlags;
    nix::unistd::faccessat(
        nix::fcntl::AT_FDCWD,
        dir,
        AccessFlags::W_OK | AccessFlags::X_OK,
        nix::fcntl::AtFlags::AT_EACCESS,
    )
    .is_ok()
}

/// `[state] backend`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StateBackend {
    /// In this process, saved to the state directory.
    Memory,
    /// Redis or Valkey, shared by a fleet.
    Redis,
}

/// `[campaign]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignConfig {
    /// Whether campaigns are fingerprinted and counted at all.
    pub enabled: bool,
    /// How long campaigns, recipients, senders and copies are remembered.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// Distinct recipients from which a threatening campaign adds CAMPAIGN_THREAT.
    pub min_recipients: u64,
    /// Whether queued copies of a threatening campaign are held afterwards.
    pub hold_queued: bool,
    /// How often queued copies of threatening campaigns are looked for.
    #[serde(with = "humantime_serde")]
    pub sweep_interval: Duration,
    /// The key file; empty = `campaign.key` in the state directory.
    pub key_file: String,
    /// Campaigns kept in memory at most.
    pub max_campaigns: usize,
    /// Distinct recipients (senders, client addresses) counted per campaign at most.
    pub max_recipients: usize,
    /// Copies remembered per campaign at most.
    pub max_copies: usize,
    /// How often the memory store is saved.
    #[serde(with = "humantime_serde")]
    pub save_interval: Duration,
    /// This host's name in campaign records; empty = the system's host name.
    pub host: String,
}

impl Config {
    /// The campaign key file.
    pub fn campaign_key_file(&self) -> PathBuf {
        if self.campaign.key_file.is_empty() {
            self.state.dir.join("campaign.key")
        } else {
            PathBuf::from(&self.campaign.key_file)
        }
    }

    /// Where the memory store is saved.
    pub fn campaign_store_file(&self) -> PathBuf {
        self.state.dir.join("campaigns.json")
    }
}

/// `[web]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    /// `host:port` of the review UI and API; empty = off.
    pub listen: String,
    /// SQLite file for users, sessions, the audit log and verdicts; empty = in `[state] dir`.
    pub database: String,
    /// PEM certificate chain; with `tls_key`, the UI is served over TLS.
    pub tls_cert: String,
    /// PEM private key.
    pub tls_key: String,
    /// How long a sign-in lasts.
    #[serde(with = "humantime_serde")]
    pub session_ttl: Duration,
    /// Releasing a threat needs two different reviewers.
    pub dual_control: bool,
    /// Failed sign-ins per user name and per client address within `login_window`.
    pub login_attempts: u32,
    /// The window failed sign-ins are counted over (and the lock-out lasts).
    #[serde(with = "humantime_serde")]
    pub login_window: Duration,
}

/// `[notify]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// Reviewers' addresses for the digest; empty = no digest.
    pub digest_to: Vec<String>,
    /// At most one digest per this interval.
    #[serde(with = "humantime_serde")]
    pub digest_interval: Duration,
    /// Tell each recipient that a message to them is held.
    pub recipients: bool,
    /// How often the hold queue is checked for new messages.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// The From of notifications; empty = palisade@ this host.
    pub from: String,
    /// The organisation's reporting address, the From of abuse reports (ARF) in
    /// evidence bundles; empty = `from`.
    pub report_from: String,
    /// The UI's address as reviewers reach it, for links in the digest; empty = none.
    pub web_url: String,
}

impl WebConfig {
    /// Whether the UI is served over TLS.
    pub fn tls(&self) -> bool {
        !self.tls_cert.is_empty() && !self.tls_key.is_empty()
    }
}

/// `[milter]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MilterConfig {
    /// Socket in Postfix syntax.
    pub listen: String,
    /// Octal permissions of a unix socket.
    pub socket_mode: String,
    /// Group that owns a unix socket (name or number); empty keeps the process's.
    pub socket_group: String,
    /// Connections served at once.
    pub max_connections: usize,
    /// What an internal failure does to the message.
    pub on_error: OnError,
    /// Close connections silent for this long.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Time messages in flight get at shutdown.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// Bytes of a message kept for scanning.
    pub max_message_size: usize,
    /// Time a new connection has to complete option negotiation.
    #[serde(with = "humantime_serde")]
    pub negotiate_timeout: Duration,
    /// Connections one client address may hold at once (TCP only; 0 = no limit).
    pub max_connections_per_client: usize,
    /// Header fields kept per message; past it, the message is scored as truncated.
    pub max_headers: usize,
    /// Messages scanned (content) at once; 0 means one per CPU.
    pub scan_concurrency: usize,
}

/// `[milter] on_error`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// Answer 451: the sender retries later.
    Tempfail,
    /// Deliver with a header saying the message was not scanned.
    Accept,
}

/// `[http]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// `host:port` for /metrics, /healthz and /readyz.
    pub listen: String,
}

/// `[dns]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsConfig {
    /// `ip:port` resolvers; empty means /etc/resolv.conf.
    pub nameservers: Vec<String>,
    /// Per-query timeout.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Tries per query.
    pub attempts: usize,
    /// Cached answers per record type.
    pub cache_entries: usize,
}

/// `[auth]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Whether authentication runs.
    pub enabled: bool,
    /// The authserv-id; empty means this host's name.
    pub authserv_id: String,
    /// Deadline for all checks of one message.
    #[serde(with = "humantime_serde")]
    pub deadline: Duration,
    /// ARC sealers whose valid chain overrides a DMARC failure.
    pub trusted_arc_sealers: Vec<String>,
    /// DKIM signatures verified per message at most (those of the From domain first).
    pub max_dkim_signatures: usize,
}

/// `[policy]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Tag threshold.
    pub tag: f64,
    /// Quarantine threshold.
    pub quarantine: f64,
    /// Reject threshold (0 = off).
    pub reject: f64,
    /// Networks whose mail is not scanned.
    pub trusted_networks: Vec<String>,
    /// Whether SASL-authenticated mail is left unscanned.
    pub skip_authenticated: bool,
    /// Enforce verdicts or only report them.
    pub mode: Mode,
    /// Subject prefix for tagged mail.
    pub subject_prefix: String,
    /// Senders let through when DMARC proves them.
    pub allow_senders: Vec<String>,
    /// Senders held.
    pub deny_senders: Vec<String>,
    /// Client networks let through.
    pub allow_ips: Vec<String>,
    /// Client networks held.
    pub deny_ips: Vec<String>,
    /// Add X-Palisade-External to mail from outside the protected domains.
    pub external_header: bool,
    /// Subject prefix for mail from outside the protected domains; empty = off.
    pub external_subject_prefix: String,
    /// Thresholds per recipient domain.
    #[serde(default)]
    pub recipient_domains: BTreeMap<String, RecipientPolicy>,
}

/// `[policy.recipient_domains."domain"]`: thresholds for mail to that domain.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipientPolicy {
    /// Tag threshold (default: the global one).
    pub tag: Option<f64>,
    /// Quarantine threshold.
    pub quarantine: Option<f64>,
    /// Reject threshold.
    pub reject: Option<f64>,
}

/// `[policy] mode`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Hold and reject as verdicts say.
    Enforce,
    /// Headers, logs and metrics only.
    Shadow,
}

/// `[rules]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesConfig {
    /// Whether the packs built into the binary are compiled. The Debian package turns
    /// this off and names its copies of them in /etc/palisade/rules instead.
    pub builtin: bool,
    /// Globs of rule packs read from files (extra packs, or copies of the built-in ones).
    pub paths: Vec<String>,
}

/// `[protect]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtectConfig {
    /// The organisation's own domains.
    pub domains: Vec<String>,
    /// Names that impostors use.
    pub names: Vec<String>,
    /// Other domains whose lookalikes are suspicious.
    pub watch_domains: Vec<String>,
}

/// `[logging]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggingConfig {
    /// Output format.
    pub format: LogFormat,
    /// Level or tracing filter.
    pub level: String,
}

/// `[logging] format`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// One problem found in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// `section.key`, or a file name for problems with a whole file.
    pub key: String,
    /// What is wrong.
    pub message: String,
    /// Where the value came from: a file, the environment, or the defaults.
    pub origin: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} ({})", self.key, self.message, self.origin)
    }
}

/// Every problem found, reported together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The problems, in key order.
    pub issues: Vec<ConfigIssue>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.issues.len();
        write!(
            f,
            "{n} configuration error{}:",
            if n == 1 { "" } else { "s" }
        )?;
        for issue in &self.issues {
            write!(f, "\n  {issue}")?;
        }
        Ok(())
    }
}

/// Where a configuration comes from.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// A TOML file layered over the defaults.
    pub file: Option<PathBuf>,
    /// Environment variables (`PALISADE__SECTION__KEY`) as name/value pairs; normally
    /// `std::env::vars()`, given explicitly so tests need not touch the process's own.
    pub env: Vec<(String, String)>,
}

impl Sources {
    /// The file named by `--config` or `PALISADE_CONFIG`, and the process environment.
    pub fn from_process(file: Option<PathBuf>) -> Sources {
        let file = file.or_else(|| std::env::var_os("PALISADE_CONFIG").map(PathBuf::from));
        Sources {
            file,
            env: std::env::vars().collect(),
        }
    }
}

/// A Redis URL with any password replaced, for logs and errors.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme + 3 => {
            format!("{}://***@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// This host's name, for the authserv-id when none is configured.
pub fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}
