//! Allow and deny lists by sender and client address, as admins keep them in every filter.
//!
//! An allow entry for a sender counts only when the message proves it is from that
//! sender (DMARC pass for the From domain): a bare From header is what impostors write.
//! Deny entries need no proof, since nobody gains by forging a denied sender.

use std::net::IpAddr;

use palisade_report::{AuthReport, AuthResult};

use crate::verdict::Symbol;

/// An IP network (`192.0.2.0/24`, `2001:db8::/32`, or one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `addr` or `addr/prefix`.
    pub fn parse(s: &str) -> Option<Cidr> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (
                a.trim().parse::<IpAddr>().ok()?,
                Some(p.trim().parse::<u8>().ok()?),
            ),
            None => (s.trim().parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Cidr { addr, prefix })
    }

    /// Whether `ip` is inside.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match (self.addr, ip) {
            (IpAddr::V4(_), IpAddr::V6(v6)) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            _ => ip,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// The lists, from `[policy]`.
#[derive(Debug, Clone, Default)]
pub struct Lists {
    /// `user@domain`, `@domain` or `domain` (subdomains included).
    pub allow_senders: Vec<String>,
    /// Same forms.
    pub deny_senders: Vec<String>,
    /// Client networks whose mail is scanned but let through.
    pub allow_ips: Vec<Cidr>,
    /// Client networks whose mail is held.
    pub deny_ips: Vec<Cidr>,
}

/// Every symbol this module can produce with its default score.
pub const DEFAULTS: &[(&str, f64)] = &[
    ("POLICY_ALLOW_SENDER", -20.0),
    ("POLICY_ALLOW_UNAUTHENTICATED", 0.0),
    ("POLICY_DENY_SENDER", 20.0),
    ("POLICY_ALLOW_IP", -20.0),
    ("POLICY_DENY_IP", 20.0),
];

fn sym(name: &str, detail: String) -> Symbol {
    Symbol::from_table(DEFAULTS, name, "policy", detail)
}

/// Whether `address` matches a list entry.
fn matches(entry: &str, address: &str) -> bool {
    let entry = entry.trim().to_ascii_lowercase();
    let address = address.trim().to_ascii_lowercase();
    if address.is_empty() {
        return false;
    }
    if entry.contains('@') && !entry.starts_with('@') {
        return entry == address;
    }
    let domain = entry.trim_start_matches('@');
    let addr_domain = address
        .rsplit_once('@')
        .map_or(address.as_str(), |(_, d)| d);
    addr_domain == domain || addr_domain.ends_with(&format!(".{domain}"))
}

impl Lists {
    /// Whether there is nothing to check.
    pub fn is_empty(&self) -> bool {
        self.allow_senders.is_empty()
            && self.deny_senders.is_empty()
            && self.allow_ips.is_empty()
            && self.deny_ips.is_empty()
    }

    /// The list symbols for a message.
    pub fn symbols(
        &self,
        from: &str,
        mail_from: &str,
        client_ip: Option<IpAddr>,
        auth: &AuthReport,
    ) -> Vec<Symbol> {
        let mut out = Vec::new();
        if let Some(ip) = client_ip {
            if let Some(n) = self.deny_ips.iter().find(|n| n.contains(ip)) {
                out.push(sym(
                    "POLICY_DENY_IP",
                    format!("client {ip} is in {}/{}", n.addr, n.prefix),
                ));
            } else if let Some(n) = self.allow_ips.iter().find(|n| n.contains(ip)) {
                out.push(sym(
                    "POLICY_ALLOW_IP",
                    format!("client {ip} is in {}/{}", n.addr, n.prefix),
                ));
            }
        }
        if let Some(e) = self
            .deny_senders
            .iter()
            .find(|e| matches(e, from) || matches(e, mail_from))
        {
            out.push(sym(
                "POLICY_DENY_SENDER",
                format!("sender matches deny entry {e}"),
            ));
        } else if let Some(e) = self.allow_senders.iter().find(|e| matches(e, from)) {
            let from_domain = from.rsplit_once('@').map_or("", |(_, d)| d);
            let proven = auth.dmarc == AuthResult::Pass
                && auth.from_domain.eq_ignore_ascii_case(from_domain);
            if proven {
                out.push(sym(
                    "POLICY_ALLOW_SENDER",
                    format!("{from} matches allow entry {e} and passed DMARC"),
                ));
            } else {
                out.push(sym(
                    "POLICY_ALLOW_UNAUTHENTICATED",
                    format!("{from} matches allow entry {e} but is not authenticated (DMARC {}); not honoured", auth.dmarc.as_str()),
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs() {
        let n = Cidr::parse("192.0.2.0/24").unwrap();
        assert!(n.contains("192.0.2.77".parse().unwrap()));
        assert!(n.contains("::ffff:192.0.2.77".parse().unwrap()));
        assert!(!n.contains("192.0.3.1".parse().unwrap()));
        assert!(Cidr::parse("2001:db8::/32")
            .unwrap()
            .contains("2001:db8:1::5".parse().unwrap()));
        assert!(Cidr::parse("0.0.0.0/0")
            .unwrap()
            .contains("8.8.8.8".parse().unwrap()));
        assert_eq!(Cidr::parse("192.0.2.1/33"), None);
        assert_eq!(Cidr::parse("nope"), None);
    }

    #[test]
    fn allow_needs_dmarc_deny_does_not() {
        let lists = Lists {
            allow_senders: vec!["@partner.example".into()],
            deny_senders: vec!["spammer@bad.example".into()],
            ..Lists::default()
        };
        let pass = AuthReport {
            checked: true,
            dmarc: AuthResult::Pass,
            from_domain: "mail.partner.example".into(),
            ..AuthReport::default()
        };
        let names = |from: &str, auth: &AuthReport| -> Vec<String> {
            lists
                .symbols(from, "", None, auth)
                .into_iter()
                .map(|s| s.name)
                .collect()
        };
        assert_eq!(
            names("news@mail.partner.example", &pass),
            ["POLICY_ALLOW_SENDER"]
        );
        assert_eq!(
            names("news@mail.partner.example", &AuthReport::default()),
            ["POLICY_ALLOW_UNAUTHENTICATED"]
        );
        assert_eq!(
            names("Spammer@Bad.example", &AuthReport::default()),
            ["POLICY_DENY_SENDER"]
        );
        assert!(names("someone@else.example", &pass).is_empty());
    }
}
