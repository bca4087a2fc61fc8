//! Loading: the embedded defaults, then the file, then `PALISADE__…` overrides, each key
//! checked against the schema and every problem reported with its key and origin.

use std::collections::BTreeMap;
use std::time::Duration;

use config::{Environment, File, FileFormat, Map, Value};
use ipnet::IpNet;

use crate::socket::SocketSpec;
use crate::{
    default_state_dir, dir_writable, Config, ConfigError, ConfigIssue, Sources, StateBackend,
    DEFAULTS, SYSTEM_STATE_DIR,
};

const LIST_KEYS: [&str; 11] = [
    "dns.nameservers",
    "auth.trusted_arc_sealers",
    "policy.trusted_networks",
    "policy.allow_senders",
    "policy.deny_senders",
    "policy.allow_ips",
    "policy.deny_ips",
    "rules.paths",
    "protect.domains",
    "protect.names",
    "protect.watch_domains",
];

impl Config {
    /// Loads and validates: defaults, then the file, then the environment.
    pub fn load(sources: &Sources) -> Result<Config, ConfigError> {
        let mut issues = Vec::new();
        let defaults = match parse_table(
            config::Config::builder().add_source(File::from_str(DEFAULTS, FileFormat::Toml)),
        ) {
            Ok(t) => t,
            Err(e) => {
                return Err(ConfigError {
                    issues: vec![ConfigIssue {
                        key: "(defaults)".into(),
                        message: e.to_string(),
                        origin: "embedded defaults".into(),
                    }],
                })
            }
        };
        let mut builder =
            config::Config::builder().add_source(File::from_str(DEFAULTS, FileFormat::Toml));
        if let Some(path) = &sources.file {
            // Read it ourselves so a missing or unreadable file gets a plain message.
            match std::fs::read_to_string(path) {
                Ok(_) => {
                    builder = builder.add_source(
                        File::from(path.as_path())
                            .format(FileFormat::Toml)
                            .required(true),
                    )
                }
                Err(e) => issues.push(ConfigIssue {
                    key: path.display().to_string(),
                    message: format!("cannot read: {e}"),
                    origin: "--config".into(),
                }),
            }
        }
        let mut env = Environment::with_prefix("PALISADE")
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true)
            .list_separator(",")
            .source(Some(
                sources
                    .env
                    .iter()
                    .filter(|(k, _)| k.starts_with("PALISADE__"))
                    .cloned()
                    .collect(),
            ));
        for key in LIST_KEYS {
            env = env.with_list_parse_key(key);
        }
        builder = builder.add_source(env);
        let merged = match parse_table(builder) {
            Ok(t) => t,
            Err(e) => {
                issues.push(ConfigIssue {
                    key: sources
                        .file
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(|| "(environment)".into()),
                    message: e.to_string(),
                    origin: "parse error".into(),
                });
                return Err(ConfigError { issues });
            }
        };
        if !issues.is_empty() {
            return Err(ConfigError { issues });
        }
        check_keys(&defaults, &merged, sources, &mut issues);
        if !issues.is_empty() {
            issues.sort_by(|a, b| a.key.cmp(&b.key));
            return Err(ConfigError { issues });
        }
        let mut config = match Value::from(merged.clone()).try_deserialize::<Config>() {
            Ok(c) => c,
            Err(e) => {
                issues.push(ConfigIssue {
                    key: "(config)".into(),
                    message: e.to_string(),
                    origin: "merged configuration".into(),
                });
                return Err(ConfigError { issues });
            }
        };
        config.tidy_lists();
        if config.state.dir.as_os_str().is_empty() {
            let passwd_home = || {
                nix::unistd::User::from_uid(nix::unistd::geteuid())
                    .ok()
                    .flatten()
                    .map(|u| u.dir)
            };
            match default_state_dir(&sources.env, dir_writable, passwd_home) {
                Some((dir, source)) => {
                    config.state.dir = dir;
                    config.state.dir_source = source;
                }
                None => issues.push(ConfigIssue {
                    key: "state.dir".into(),
                    message: format!(
                        "is empty and no state directory applies: {SYSTEM_STATE_DIR} is not \
                         writable, neither STATE_DIRECTORY, XDG_STATE_HOME nor HOME is set \
                         and this user has no home; set [state] dir"
                    ),
                    origin: origin_of(&merged, "state.dir", sources),
                }),
            }
        }
        config.validate(&merged, sources, &mut issues);
        if issues.is_empty() {
            Ok(config)
        } else {
            issues.sort_by(|a, b| a.key.cmp(&b.key));
            Err(ConfigError { issues })
        }
    }

    /// Lists set from the environment arrive as comma-separated text: items are trimmed,
    /// and an empty variable means an empty list.
    fn tidy_lists(&mut self) {
        for list in [
            &mut self.dns.nameservers,
            &mut self.auth.trusted_arc_sealers,
            &mut self.policy.trusted_networks,
            &mut self.policy.allow_senders,
            &mut self.policy.deny_senders,
            &mut self.policy.allow_ips,
            &mut self.policy.deny_ips,
            &mut self.rules.paths,
            &mut self.protect.domains,
            &mut self.protect.names,
            &mut self.protect.watch_domains,
        ] {
            for item in list.iter_mut() {
                *item = item.trim().to_string();
            }
            list.retain(|item| !item.is_empty());
        }
    }

    fn validate(
        &self,
        merged: &Map<String, Value>,
        sources: &Sources,
        issues: &mut Vec<ConfigIssue>,
    ) {
        let mut bad = |key: &str, message: String| {
            issues.push(ConfigIssue {
                key: key.into(),
                message,
                origin: origin_of(merged, key, sources),
            })
        };
        if let Err(e) = self.milter.listen.parse::<SocketSpec>() {
            bad("milter.listen", e);
        }
        if !self.milter.socket_group.is_empty() && self.socket_gid().is_none() {
            bad(
                "milter.socket_group",
                format!("no group `{}` on this system", self.milter.socket_group),
            );
        }
        if self.socket_mode().is_none() {
            bad(
                "milter.socket_mode",
                format!(
                    "`{}` is not an octal mode such as 0660",
                    self.milter.socket_mode
                ),
            );
        }
        if self.milter.max_connections == 0 || self.milter.max_connections > 1_000_000 {
            bad(
                "milter.max_connections",
                "must be between 1 and 1000000".into(),
            );
        }
        if self.milter.max_message_size < 1024 {
            bad(
                "milter.max_message_size",
                "must be at least 1024 bytes".into(),
            );
        }
        if self.milter.idle_timeout.is_zero() {
            bad("milter.idle_timeout", "must be longer than 0s".into());
        }
        if self.milter.negotiate_timeout.is_zero() {
            bad("milter.negotiate_timeout", "must be longer than 0s".into());
        }
        if self.milter.max_headers < 16 || self.milter.max_headers > 100_000 {
            bad("milter.max_headers", "must be between 16 and 100000".into());
        }
        if self.milter.scan_concurrency > 1024 {
            bad(
                "milter.scan_concurrency",
                "must be between 0 (one per CPU) and 1024".into(),
            );
        }
        if self.http.listen.parse::<std::net::SocketAddr>().is_err() {
            bad(
                "http.listen",
                format!("`{}` is not an address:port", self.http.listen),
            );
        }
        for ns in &self.dns.nameservers {
            if ns.parse::<std::net::SocketAddr>().is_err() {
                bad("dns.nameservers", format!("`{ns}` is not an ip:port"));
            }
        }
        if self.dns.timeout.is_zero() {
            bad("dns.timeout", "must be longer than 0s".into());
        }
        if self.dns.attempts == 0 || self.dns.attempts > 10 {
            bad("dns.attempts", "must be between 1 and 10".into());
        }
        if self.auth.deadline.is_zero() {
            bad("auth.deadline", "must be longer than 0s".into());
        }
        if self.auth.max_dkim_signatures == 0 || self.auth.max_dkim_signatures > 100 {
            bad(
                "auth.max_dkim_signatures",
                "must be between 1 and 100".into(),
            );
        }
        for (name, score) in &self.scores {
            if !score.is_finite() || score.abs() > 100.0 {
                bad(
                    &format!("scores.{name}"),
                    "must be a number between -100 and 100".into(),
                );
            }
        }
        let p = &self.policy;
        for (key, v) in [
            ("policy.tag", p.tag),
            ("policy.quarantine", p.quarantine),
            ("policy.reject", p.reject),
        ] {
            if !v.is_finite() || v < 0.0 {
                bad(key, format!("{v} must be a score of 0 (off) or more"));
            }
        }
        let active: Vec<(&str, f64)> = [
            ("tag", p.tag),
            ("quarantine", p.quarantine),
            ("reject", p.reject),
        ]
        .into_iter()
        .filter(|(_, v)| *v > 0.0)
        .collect();
        for pair in active.windows(2) {
            if pair[0].1 >= pair[1].1 {
                bad(
                    &format!("policy.{}", pair[1].0),
                    format!(
                        "{} must be above {} ({}) so that thresholds rise tag < quarantine < reject",
                        pair[1].1, pair[0].0, pair[0].1
                    ),
                );
            }
        }
        for net in &p.trusted_networks {
            if parse_net(net).is_none() {
                bad(
                    "policy.trusted_networks",
                    format!("`{net}` is not an IP address or CIDR network"),
                );
            }
        }
        if p.subject_prefix.contains(['\r', '\n']) {
            bad("policy.subject_prefix", "must be one line".into());
        }
        if p.external_subject_prefix.contains(['\r', '\n']) {
            bad("policy.external_subject_prefix", "must be one line".into());
        }
        for (key, list) in [
            ("policy.allow_ips", &p.allow_ips),
            ("policy.deny_ips", &p.deny_ips),
        ] {
            for net in list {
                if parse_net(net).is_none() {
                    bad(key, format!("`{net}` is not an IP address or CIDR network"));
                }
            }
        }
        for (key, list) in [
            ("policy.allow_senders", &p.allow_senders),
            ("policy.deny_senders", &p.deny_senders),
        ] {
            for entry in list {
                let domain = entry.rsplit_once('@').map_or(entry.as_str(), |(_, d)| d);
                if domain.is_empty()
                    || domain.contains(char::is_whitespace)
                    || !domain.contains('.')
                {
                    bad(
                        key,
                        format!("`{entry}` is not user@domain, @domain or domain"),
                    );
                }
            }
        }
        if (p.external_header || !p.external_subject_prefix.is_empty())
            && self.protect.domains.is_empty()
        {
            bad(
                "policy.external_header",
                "external-sender marking needs [protect] domains to know what is external".into(),
            );
        }
        for (domain, o) in &p.recipient_domains {
            let key = format!("policy.recipient_domains.{domain}");
            let t = (
                o.tag.unwrap_or(p.tag),
                o.quarantine.unwrap_or(p.quarantine),
                o.reject.unwrap_or(p.reject),
            );
            for v in [t.0, t.1, t.2] {
                if !v.is_finite() || v < 0.0 {
                    bad(&key, format!("{v} must be a score of 0 (off) or more"));
                }
            }
            let active: Vec<f64> = [t.0, t.1, t.2].into_iter().filter(|v| *v > 0.0).collect();
            if active.windows(2).any(|w| w[0] >= w[1]) {
                bad(
                    &key,
                    "thresholds in use must rise: tag < quarantine < reject".into(),
                );
            }
        }
        if !self.web.listen.is_empty() {
            match self.web.listen.parse::<std::net::SocketAddr>() {
                Err(_) => bad(
                    "web.listen",
                    format!("`{}` is not an address:port", self.web.listen),
                ),
                Ok(a) if !a.ip().is_loopback() && !self.web.tls() => bad(
                    "web.listen",
                    format!("{a} is not a loopback address: set web.tls_cert and web.tls_key to serve it over TLS"),
                ),
                Ok(a) if a.port() != 0 && self.http.listen.parse::<std::net::SocketAddr>().ok() == Some(a) => bad(
                    "web.listen",
                    "must differ from http.listen (metrics stay on their own listener)".into(),
                ),
                Ok(_) => {}
            }
        }
        if self.web.tls_cert.is_empty() != self.web.tls_key.is_empty() {
            bad(
                "web.tls_cert",
                "set both web.tls_cert and web.tls_key, or neither".into(),
            );
        }
        for (key, path) in [
            ("web.tls_cert", &self.web.tls_cert),
            ("web.tls_key", &self.web.tls_key),
        ] {
            if !path.is_empty() && std::fs::metadata(path).is_err() {
                bad(key, format!("cannot read {path}"));
            }
        }
        if self.state.backend == StateBackend::Redis {
            if self.state.url.is_empty() {
                bad(
                    "state.url",
                    "backend = \"redis\" needs a url (redis://host:port)".into(),
                );
            } else if let Err(e) = redis::Client::open(self.state.url.as_str()) {
                bad(
                    "state.url",
                    format!("`{}`: {e}", crate::redact_url(&self.state.url)),
                );
            }
        }
        if self.state.timeout.is_zero() || self.state.timeout > Duration::from_secs(10) {
            bad(
                "state.timeout",
                "must be longer than 0s and at most 10s (mail waits on it)".into(),
            );
        }
        let c = &self.campaign;
        if c.host.len() > 255
            || c.host
                .chars()
                .any(|ch| ch.is_whitespace() || ch.is_control())
        {
            bad(
                "campaign.host",
                "must be a host name (no spaces, at most 255 characters)".into(),
            );
        }
        if c.window < Duration::from_secs(60) {
            bad("campaign.window", "must be at least 1m".into());
        }
        if c.min_recipients < 2 {
            bad(
                "campaign.min_recipients",
                "must be at least 2 (one recipient is no campaign)".into(),
            );
        }
        for (key, v) in [
            ("campaign.max_campaigns", c.max_campaigns),
            ("campaign.max_recipients", c.max_recipients),
            ("campaign.max_copies", c.max_copies),
        ] {
            if v == 0 {
                bad(key, "must be at least 1".into());
            }
        }
        for (key, v) in [
            ("campaign.sweep_interval", c.sweep_interval),
            ("campaign.save_interval", c.save_interval),
        ] {
            if v.is_zero() {
                bad(key, "must be longer than 0s".into());
            }
        }
        if self.web.session_ttl.is_zero() {
            bad("web.session_ttl", "must be longer than 0s".into());
        }
        if self.web.login_attempts == 0 {
            bad("web.login_attempts", "must be at least 1".into());
        }
        for a in &self.notify.digest_to {
            if !a.contains('@') || a.chars().any(|c| c.is_whitespace() || c.is_control()) {
                bad("notify.digest_to", format!("`{a}` is not a mail address"));
            }
        }
        if self.notify.interval.is_zero() {
            bad("notify.interval", "must be longer than 0s".into());
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.logging.level) {
            bad(
                "logging.level",
                format!("`{}` is not a level or filter: {e}", self.logging.level),
            );
        }
    }

    /// The group id `milter.socket_group` names (by name or number); `None` when empty
    /// or unknown.
    pub fn socket_gid(&self) -> Option<u32> {
        let g = self.milter.socket_group.trim();
        if g.is_empty() {
            return None;
        }
        if let Ok(n) = g.parse::<u32>() {
            return Some(n);
        }
        nix::unistd::Group::from_name(g)
            .ok()
            .flatten()
            .map(|group| group.gid.as_raw())
    }

    /// The unix socket's permissions, parsed from `milter.socket_mode`.
    pub fn socket_mode(&self) -> Option<u32> {
        let m = self.milter.socket_mode.trim_start_matches("0o");
        u32::from_str_radix(m, 8).ok().filter(|m| *m <= 0o777)
    }

    /// The milter socket (validated at load).
    pub fn listen(&self) -> SocketSpec {
        self.milter.listen.parse().unwrap_or(SocketSpec::Inet {
            host: "127.0.0.1".into(),
            port: 8895,
        })
    }

    /// The allowed client networks (validated at load).
    pub fn allow_ips(&self) -> Vec<IpNet> {
        self.policy
            .allow_ips
            .iter()
            .filter_map(|n| parse_net(n))
            .collect()
    }

    /// The denied client networks (validated at load).
    pub fn deny_ips(&self) -> Vec<IpNet> {
        self.policy
            .deny_ips
            .iter()
            .filter_map(|n| parse_net(n))
            .collect()
    }

    /// The trusted networks (validated at load).
    pub fn trusted_networks(&self) -> Vec<IpNet> {
        self.policy
            .trusted_networks
            .iter()
            .filter_map(|n| parse_net(n))
            .collect()
    }

    /// The configuration as TOML, as `palisade config show` prints it.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }
}

fn parse_net(s: &str) -> Option<IpNet> {
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<std::net::IpAddr>().ok().map(IpNet::from))
}

fn parse_table(
    builder: config::ConfigBuilder<config::builder::DefaultState>,
) -> Result<Map<String, Value>, config::ConfigError> {
    builder.build()?.cache.into_table()
}

/// Keys that are valid but absent from the defaults (empty tables).
const OPTIONAL_KEYS: &[&str] = &["policy.recipient_domains"];

/// Reports unknown sections and keys, and values of the wrong type, each on its own: a
/// value is checked by laying it alone over the defaults of its section.
fn check_keys(
    defaults: &Map<String, Value>,
    merged: &Map<String, Value>,
    sources: &Sources,
    issues: &mut Vec<ConfigIssue>,
) {
    let origin = |v: &Value| describe_origin(v.origin(), sources);
    let sorted: BTreeMap<_, _> = merged.iter().collect();
    for (section, value) in sorted {
        if section == "scores" {
            // Free-form: symbol names, checked against the rules once they are compiled.
            let table = value.clone().into_table().unwrap_or_default();
            for (key, v) in &table {
                if v.clone().into_float().is_err() {
                    issues.push(ConfigIssue {
                        key: format!("scores.{key}"),
                        message: "must be a number".into(),
                        origin: origin(v),
                    });
                }
            }
            continue;
        }
        let Some(default_section) = defaults.get(section) else {
            // A table has no origin of its own; its first key tells where it came from.
            let from = value
                .clone()
                .into_table()
                .ok()
                .and_then(|t| t.values().find_map(|v| v.origin().map(|_| origin(v))))
                .unwrap_or_else(|| origin(value));
            issues.push(ConfigIssue {
                key: section.clone(),
                message: "unknown section".into(),
                origin: from,
            });
            continue;
        };
        let (Ok(table), Ok(default_table)) = (
            value.clone().into_table(),
            default_section.clone().into_table(),
        ) else {
            issues.push(ConfigIssue {
                key: section.clone(),
                message: "must be a table".into(),
                origin: origin(value),
            });
            continue;
        };
        let keys: BTreeMap<_, _> = table.iter().collect();
        for (key, v) in keys {
            let full = format!("{section}.{key}");
            let origin = origin(v);
            let optional = OPTIONAL_KEYS.contains(&full.as_str());
            if !default_table.contains_key(key) && !optional {
                issues.push(ConfigIssue {
                    key: full,
                    message: "unknown key".into(),
                    origin,
                });
                continue;
            }
            let mut probe = defaults.clone();
            let mut probe_section = default_table.clone();
            probe_section.insert(key.clone(), v.clone());
            probe.insert(section.clone(), Value::from(probe_section));
            if let Err(e) = Value::from(probe).try_deserialize::<Config>() {
                issues.push(ConfigIssue {
                    key: full,
                    message: clean_serde_message(&e.to_string()),
                    origin,
                });
            }
        }
    }
}

/// Where a value came from, for messages: the config crate records a file's path
/// relative to the working directory, so the path the user gave is shown instead.
fn describe_origin(origin: Option<&str>, sources: &Sources) -> String {
    match origin {
        None => "defaults".into(),
        Some("the environment") => "environment".into(),
        Some(other) => sources
            .file
            .as_ref()
            .map(|f| f.display().to_string())
            .unwrap_or_else(|| other.to_string()),
    }
}

fn origin_of(merged: &Map<String, Value>, key: &str, sources: &Sources) -> String {
    let (section, name) = key.split_once('.').unwrap_or((key, ""));
    merged
        .get(section)
        .and_then(|s| s.clone().into_table().ok())
        .and_then(|t| t.get(name).map(|v| describe_origin(v.origin(), sources)))
        .unwrap_or_else(|| "defaults".into())
}

fn clean_serde_message(m: &str) -> String {
    // The config crate appends " for key `x.y`"; the key is already shown.
    match m.find(" for key `") {
        Some(i) => m[..i].to_string(),
        None => m.to_string(),
    }
}
