//! Impersonation: mail that claims to be the organisation, or someone it trusts, without
//! being so. Spoofs of protected domains (DMARC failing), lookalike domains (one letter
//! off, look-alike letters, punycode, added words and hyphens, another TLD), and display
//! names that carry a protected name or someone else's address.

pub(crate) use palisade_report::domain_of;
use palisade_report::{AuthReport, AuthResult};

use crate::normalize::normalize;
use crate::verdict::Symbol;

/// What to protect, from `[protect]`.
#[derive(Debug, Clone, Default)]
pub struct Protection {
    /// The organisation's own domains.
    pub domains: Vec<String>,
    /// Names impostors put in display names (people, offices).
    pub names: Vec<String>,
    /// Other domains whose lookalikes are suspicious (election authorities, partners).
    pub watch_domains: Vec<String>,
}

/// Every symbol this module can produce with its default score.
pub const DEFAULTS: &[(&str, f64)] = &[
    ("PROTECTED_DOMAIN_SPOOF", 8.0),
    ("PROTECTED_DOMAIN_UNAUTHENTICATED", 3.0),
    ("LOOKALIKE_DOMAIN", 6.0),
    ("REPLY_TO_LOOKALIKE_DOMAIN", 4.0),
    ("DISPLAY_NAME_PROTECTED", 5.0),
    ("DISPLAY_NAME_OTHER_ADDRESS", 3.0),
    ("REPLY_TO_OTHER_DOMAIN", 2.0),
    ("PROTECTED_DOMAIN_UNVERIFIED", 4.0),
    ("MULTIPLE_FROM", 3.0),
    ("FROM_WITHOUT_DOMAIN", 2.0),
];

fn sym(name: &str, detail: String) -> Symbol {
    Symbol::from_table(DEFAULTS, name, "impersonation", detail)
}

/// The parts of a message impersonation is judged on.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    /// From display name (of the first mailbox).
    pub display_name: String,
    /// From address (of the first mailbox).
    pub address: String,
    /// Reply-To address, if any.
    pub reply_to: Option<String>,
    /// Every From field and mailbox.
    pub from: FromHeader,
}

/// Mailboxes kept from From fields at most.
const MAX_FROM_MAILBOXES: usize = 64;

/// The From header as the message states it: every From field and every mailbox in
/// them. Authentication and the engine read this one parse, so that they judge the same
/// sender (RFC 5322 allows exactly one From field; a second one is how a spoof hides).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FromHeader {
    /// From fields in the header.
    pub fields: usize,
    /// Every mailbox, in order: display name and address (empty when unparsable).
    pub mailboxes: Vec<(String, String)>,
}

impl FromHeader {
    /// Reads the From fields of a message's header (the body is not parsed).
    pub fn parse(raw: &[u8]) -> FromHeader {
        let mut out = FromHeader::default();
        // A third-party parser's panic must not cost the message (see extract).
        let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            mail_parser::MessageParser::new().parse_headers(raw)
        }))
        .unwrap_or(None);
        let Some(message) = parsed else {
            return out;
        };
        for header in message.headers() {
            if header.name != mail_parser::HeaderName::From {
                continue;
            }
            out.fields += 1;
            let addrs: Vec<&mail_parser::Addr<'_>> = match &header.value {
                mail_parser::HeaderValue::Address(mail_parser::Address::List(list)) => {
                    list.iter().collect()
                }
                mail_parser::HeaderValue::Address(mail_parser::Address::Group(groups)) => {
                    groups.iter().flat_map(|g| g.addresses.iter()).collect()
                }
                _ => Vec::new(),
            };
            if addrs.is_empty() && out.mailboxes.len() < MAX_FROM_MAILBOXES {
                out.mailboxes.push((String::new(), String::new()));
            }
            for a in addrs {
                if out.mailboxes.len() >= MAX_FROM_MAILBOXES {
                    break;
                }
                out.mailboxes.push((
                    a.name().unwrap_or_default().to_string(),
                    a.address().unwrap_or_default().to_string(),
                ));
            }
        }
        out
    }

    /// Every From address, in order.
    pub fn addresses(&self) -> Vec<String> {
        self.mailboxes.iter().map(|(_, a)| a.clone()).collect()
    }

    /// The distinct From domains, lowercased, in order.
    pub fn domains(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (_, a) in &self.mailboxes {
            let d = domain_of(a);
            if !d.is_empty() && !out.contains(&d) {
                out.push(d);
            }
        }
        out
    }
}

/// The registrable domain (the public suffix plus one label), lowercased, punycode
/// decoded to Unicode.
pub(crate) fn registrable(domain: &str) -> String {
    let d = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let (unicode, _) = idna::domain_to_unicode(&d);
    let ascii = idna::domain_to_ascii(&unicode).unwrap_or_else(|_| d.clone());
    let reg = psl::domain_str(&ascii)
        .unwrap_or(ascii.as_str())
        .to_string();
    idna::domain_to_unicode(&reg).0
}

/// Splits a registrable domain into its first label and its suffix.
fn split(reg: &str) -> (&str, &str) {
    reg.split_once('.').unwrap_or((reg, ""))
}

/// What a domain looks like to a reader: look-alike letters, digits for letters and
/// common letter pairs folded, hyphens and dots dropped.
fn skeleton(s: &str) -> String {
    let folded: String = normalize(s).text.chars().filter(|c| *c != ' ').collect();
    let mut out = String::with_capacity(folded.len());
    for c in folded.chars() {
        out.push(match c {
            '0' => 'o',
            '1' | 'i' => 'l',
            '3' => 'e',
            '5' => 's',
            '4' => 'a',
            '7' => 't',
            c => c,
        });
    }
    out.replace("rn", "m").replace("vv", "w").replace("cl", "d")
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > 2 {
        return 3;
    }
    // Optimal string alignment: insertions, deletions, substitutions, transpositions.
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

/// A domain taken apart once for lookalike comparisons: the protected and watched
/// domains once per configuration (the engine keeps them), a sender's domain once per
/// message, however many domains it is compared with.
#[derive(Debug, Clone)]
pub struct Target {
    /// The domain as configured or seen.
    name: String,
    /// Its registrable part (public suffix list), Unicode.
    reg: String,
    /// Where the first label of `reg` ends.
    label_end: usize,
    /// The skeleton of that first label.
    skel: String,
    /// The skeleton of the registrable domain without its dot.
    whole: String,
    /// The skeleton of the name as given (subdomains and all).
    full: String,
}

impl Target {
    /// Takes `domain` apart.
    pub fn of(domain: &str) -> Target {
        let reg = registrable(domain);
        let (label, suffix) = split(&reg);
        let label_end = label.len();
        let skel = skeleton(label);
        let whole = skeleton(&format!("{label}{suffix}"));
        Target {
            name: domain.to_string(),
            full: skeleton(domain),
            reg,
            label_end,
            skel,
            whole,
        }
    }

    /// The domain as configured or seen.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn label(&self) -> &str {
        &self.reg[..self.label_end]
    }

    fn suffix(&self) -> &str {
        self.reg.get(self.label_end + 1..).unwrap_or("")
    }
}

/// Why `candidate` looks like `protected`, if it does (and is not the same domain).
pub fn lookalike(candidate: &str, protected: &str) -> Option<&'static str> {
    looks_like(&Target::of(candidate), &Target::of(protected))
}

/// [`lookalike`] on domains already taken apart.
pub(crate) fn looks_like(cand: &Target, prot: &Target) -> Option<&'static str> {
    if cand.reg.is_empty() || prot.reg.is_empty() || cand.reg == prot.reg {
        return None;
    }
    let (cs, ps) = (&cand.skel, &prot.skel);
    if ps.is_empty() {
        return None;
    }
    if cand.label() == prot.label() && cand.suffix() != prot.suffix() {
        return (prot.label().chars().count() >= 5).then_some("same name under another TLD");
    }
    if cs == ps {
        return Some("look-alike letters");
    }
    // "county-elections-gov.com" for "countyelections.gov": the whole protected domain,
    // punctuation dropped, inside the candidate's name.
    if prot.whole.chars().count() >= 6 && cand.full.contains(&prot.whole) {
        return Some("the protected domain with words added");
    }
    if ps.chars().count() >= 6 && cs.contains(ps.as_str()) {
        return Some("the protected name with words added");
    }
    let limit = if ps.chars().count() >= 9 { 2 } else { 1 };
    if ps.chars().count() >= 5 && edit_distance(cs, ps) <= limit {
        return Some("a letter or two off");
    }
    None
}

/// The protected then the watched domains, taken apart, in that order (the engine
/// builds this once per configuration).
pub fn targets(protection: &Protection) -> Vec<Target> {
    protection
        .domains
        .iter()
        .chain(&protection.watch_domains)
        .map(|d| Target::of(d))
        .collect()
}

pub(crate) fn is_protected(domain: &str, protection: &Protection) -> bool {
    let reg = registrable(domain);
    protection
        .domains
        .iter()
        .any(|p| registrable(p) == reg || domain.eq_ignore_ascii_case(p))
}

/// Words in a display name, normalised, to compare with protected names.
fn words(s: &str) -> String {
    format!(" {} ", normalize(s).text)
}

/// Impersonation symbols for a message; `targets` is [`targets`]`(protection)`.
pub fn symbols(
    id: &Identity,
    auth: &AuthReport,
    protection: &Protection,
    targets: &[Target],
) -> Vec<Symbol> {
    let mut out = Vec::new();
    let domains = id.from.domains();
    if id.from.fields > 1 || domains.len() > 1 {
        out.push(sym(
            "MULTIPLE_FROM",
            format!(
                "{} From fields, {} mailboxes ({})",
                id.from.fields,
                id.from.mailboxes.len(),
                domains.join(", ")
            ),
        ));
    }
    if id
        .from
        .mailboxes
        .iter()
        .any(|(_, a)| domain_of(a).is_empty())
    {
        let shown = id
            .from
            .mailboxes
            .iter()
            .find(|(_, a)| domain_of(a).is_empty())
            .map(|(n, a)| if a.is_empty() { n.clone() } else { a.clone() })
            .unwrap_or_default();
        out.push(sym(
            "FROM_WITHOUT_DOMAIN",
            format!("From \"{shown}\" names no domain"),
        ));
    }
    // Every From domain is judged; a second From never hides a spoof of the first.
    let judged: Vec<String> = if domains.is_empty() {
        let d = domain_of(&id.address);
        if d.is_empty() {
            Vec::new()
        } else {
            vec![d]
        }
    } else {
        domains
    };
    let Some(first) = judged.first().cloned() else {
        return out;
    };
    let several = judged.len() > 1;
    let mut lookalike_done = false;
    for from_domain in &judged {
        let own = is_protected(from_domain, protection);
        if own && auth.checked && !auth.arc_trusted {
            // Each From domain has its own DMARC result; a protected domain that was
            // not judged (past the four authentication reads) is unverified.
            let result = match auth.dmarc_domains.iter().find(|d| d.domain == *from_domain) {
                Some(d) => d.result,
                None if auth.dmarc_domains.is_empty() && !several => auth.dmarc,
                None => AuthResult::TempError,
            };
            match result {
                AuthResult::Fail => out.push(sym(
                    "PROTECTED_DOMAIN_SPOOF",
                    format!("From {from_domain}, one of ours, failed DMARC"),
                )),
                AuthResult::None | AuthResult::PermError => out.push(sym(
                    "PROTECTED_DOMAIN_UNAUTHENTICATED",
                    format!("From {from_domain}, one of ours, without DMARC to prove it"),
                )),
                AuthResult::TempError => out.push(sym(
                    "PROTECTED_DOMAIN_UNVERIFIED",
                    format!(
                        "From {from_domain}, one of ours, could not be verified (DNS temperror)"
                    ),
                )),
                _ => {}
            }
        }
        if !own && !lookalike_done && !targets.is_empty() {
            let cand = Target::of(from_domain);
            if let Some((p, why)) = targets
                .iter()
                .find_map(|p| looks_like(&cand, p).map(|why| (p.name(), why)))
            {
                out.push(sym(
                    "LOOKALIKE_DOMAIN",
                    format!("From {from_domain} looks like {p}: {why}"),
                ));
                lookalike_done = true;
            }
        }
    }
    // Symbols are one per name: a second spoofed domain adds nothing to the first.
    let mut seen = std::collections::HashSet::new();
    out.retain(|s| seen.insert(s.name.clone()));
    let from_domain = first;
    let from_reg = registrable(&from_domain);
    let own = is_protected(&from_domain, protection);
    let mut reply_domain = None;
    if let Some(reply) = &id.reply_to {
        let rd = domain_of(reply);
        if !rd.is_empty() && registrable(&rd) != from_reg {
            let cand = Target::of(&rd);
            if let Some((p, why)) = targets
                .iter()
                .find_map(|p| looks_like(&cand, p).map(|why| (p.name(), why)))
            {
                out.push(sym(
                    "REPLY_TO_LOOKALIKE_DOMAIN",
                    format!("Reply-To {rd} looks like {p}: {why}"),
                ));
            }
            reply_domain = Some(rd);
        }
    }
    let name = id.display_name.trim();
    if !name.is_empty() {
        let name_words = words(name);
        let authenticated_own = own && (auth.dmarc == AuthResult::Pass || !auth.checked);
        if !authenticated_own {
            if let Some(p) = protection.names.iter().find(|p| {
                let pw = words(p);
                pw.trim().len() >= 3 && name_words.contains(&pw)
            }) {
                out.push(sym(
                    "DISPLAY_NAME_PROTECTED",
                    format!("display name \"{name}\" uses the protected name \"{p}\" from {from_domain}"),
                ));
            }
        }
        if let Some(other) = address_in_name(name) {
            if registrable(&other) != from_reg {
                out.push(sym(
                    "DISPLAY_NAME_OTHER_ADDRESS",
                    format!("display name shows {other} but mail is from {from_domain}"),
                ));
            }
        }
    }
    if let Some(rd) = reply_domain {
        // Lists rewrite From and set Reply-To all day; only a Reply-To elsewhere on mail
        // already impersonating someone adds to the case.
        const STRONG: [&str; 4] = [
            "PROTECTED_DOMAIN_SPOOF",
            "LOOKALIKE_DOMAIN",
            "REPLY_TO_LOOKALIKE_DOMAIN",
            "DISPLAY_NAME_PROTECTED",
        ];
        if out.iter().any(|s| STRONG.contains(&s.name.as_str())) {
            out.push(sym(
                "REPLY_TO_OTHER_DOMAIN",
                format!("replies go to {rd}, not {from_domain}"),
            ));
        }
    }
    out
}

/// A domain shown in a display name ("billing@bank.example" or "bank.example"), if any.
fn address_in_name(name: &str) -> Option<String> {
    for token in name.split(|c: char| {
        c.is_whitespace() || matches!(c, '(' | ')' | '<' | '>' | '"' | '\'' | ',' | '[' | ']')
    }) {
        let token = token.trim_matches(|c: char| c == '.' || c == ':');
        let domain = token.rsplit_once('@').map_or(token, |(_, d)| d);
        let labels: Vec<&str> = domain.split('.').collect();
        let looks_like_domain = labels.len() >= 2
            && labels
                .iter()
                .all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'))
            && labels
                .last()
                .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_alphabetic()));
        // Only a suffix the Public Suffix List knows makes a domain: "D.McMann" is a name.
        let known =
            psl::suffix(domain.to_ascii_lowercase().as_bytes()).is_some_and(|s| s.is_known());
        if looks_like_domain && known {
            return Some(domain.to_ascii_lowercase());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookalikes() {
        let p = "countyelections.gov";
        assert_eq!(lookalike("countyelections.gov", p), None);
        assert_eq!(lookalike("mail.countyelections.gov", p), None);
        assert!(lookalike("countyelections.com", p).is_some());
        assert!(lookalike("county-elections-gov.com", p).is_some());
        assert!(lookalike("countyelectoins.gov", p).is_some());
        assert!(lookalike("c0untyelections.gov", p).is_some());
        assert!(lookalike("сountyelections.gov", p).is_some(), "Cyrillic с");
        assert!(lookalike("countyelections-secure.net", p).is_some());
        assert_eq!(lookalike("cityelections.gov", p), None);
        assert_eq!(lookalike("example.org", p), None);
        // Short names only match whole-domain additions, not one-letter differences.
        assert!(lookalike("eac-gov.com", "eac.gov").is_some());
        assert_eq!(lookalike("ebc.com", "eac.gov"), None);
        assert_eq!(lookalike("eac.com", "eac.gov"), None);
    }

    #[test]
    fn punycode_is_decoded() {
        let puny = idna::domain_to_ascii("сountyelections.gov").unwrap();
        assert!(puny.starts_with("xn--"));
        assert!(lookalike(&puny, "countyelections.gov").is_some());
    }

    fn auth(dmarc: AuthResult) -> AuthReport {
        AuthReport {
            checked: true,
            dmarc,
            ..AuthReport::default()
        }
    }

    #[test]
    fn spoofs_and_display_names() {
        let protection = Protection {
            domains: vec!["countyelections.gov".into()],
            names: vec!["Jane Smith".into(), "County Clerk".into()],
            watch_domains: vec!["eac.gov".into()],
        };
        let id = |name: &str, addr: &str| Identity {
            display_name: name.into(),
            address: addr.into(),
            reply_to: None,
            from: FromHeader {
                fields: 1,
                mailboxes: vec![(name.into(), addr.into())],
            },
        };
        let names = |id: &Identity, a: &AuthReport| -> Vec<String> {
            symbols(id, a, &protection, &targets(&protection))
                .into_iter()
                .map(|s| s.name)
                .collect()
        };
        assert_eq!(
            names(
                &id("Clerk", "clerk@countyelections.gov"),
                &auth(AuthResult::Fail)
            ),
            ["PROTECTED_DOMAIN_SPOOF"]
        );
        assert!(names(
            &id("Jane Smith", "jane@countyelections.gov"),
            &auth(AuthResult::Pass)
        )
        .is_empty());
        assert_eq!(
            names(
                &id("Jane Smith", "jane.smith@freemail.example"),
                &auth(AuthResult::None)
            ),
            ["DISPLAY_NAME_PROTECTED"]
        );
        assert_eq!(
            names(
                &id("clerk@countyelections.gov", "x@freemail.example"),
                &auth(AuthResult::None)
            ),
            ["DISPLAY_NAME_OTHER_ADDRESS"]
        );
        let mut with_reply = id("Elections", "alerts@county-elections-gov.com");
        with_reply.reply_to = Some("reply@freemail.example".into());
        assert_eq!(
            names(&with_reply, &auth(AuthResult::Pass)),
            ["LOOKALIKE_DOMAIN", "REPLY_TO_OTHER_DOMAIN"]
        );
        // Unrelated mail with a different Reply-To is not flagged.
        let mut plain = id("Newsletter", "news@shop.example");
        plain.reply_to = Some("help@support.example".into());
        assert!(names(&plain, &auth(AuthResult::Pass)).is_empty());
    }

    fn names_of(raw: &[u8], auth: &AuthReport) -> Vec<String> {
        let protection = Protection {
            domains: vec!["countyelections.gov".into()],
            ..Protection::default()
        };
        let from = FromHeader::parse(raw);
        let (display_name, address) = from.mailboxes.first().cloned().unwrap_or_default();
        let id = Identity {
            display_name,
            address,
            reply_to: None,
            from,
        };
        symbols(&id, auth, &protection, &targets(&protection))
            .into_iter()
            .map(|s| s.name)
            .collect()
    }

    #[test]
    fn a_second_from_never_hides_a_spoof() {
        // Authentication judged every From domain; the worst (the spoof) is reported.
        let spoofed = AuthReport {
            checked: true,
            dmarc: AuthResult::Fail,
            from_domain: "countyelections.gov".into(),
            from_domains: vec!["countyelections.gov".into(), "evil.test".into()],
            dmarc_domains: vec![
                palisade_report::DmarcDomain {
                    domain: "evil.test".into(),
                    result: AuthResult::Fail,
                    policy: None,
                },
                palisade_report::DmarcDomain {
                    domain: "countyelections.gov".into(),
                    result: AuthResult::Fail,
                    policy: None,
                },
            ],
            ..AuthReport::default()
        };
        for raw in [
            &b"From: Clerk <clerk@countyelections.gov>\r\nFrom: x@evil.test\r\n\r\nhi\r\n"[..],
            &b"From: x@evil.test\r\nFrom: Clerk <clerk@countyelections.gov>\r\n\r\nhi\r\n"[..],
            &b"From: x@evil.test, Clerk <clerk@countyelections.gov>\r\n\r\nhi\r\n"[..],
        ] {
            let names = names_of(raw, &spoofed);
            assert!(names.contains(&"MULTIPLE_FROM".to_string()), "{names:?}");
            assert!(
                names.contains(&"PROTECTED_DOMAIN_SPOOF".to_string()),
                "{names:?}"
            );
        }
        // A protected domain that authentication did not judge (a fifth From domain)
        // is unverified, not unauthenticated.
        let unjudged = AuthReport {
            checked: true,
            dmarc: AuthResult::None,
            dmarc_domains: vec![palisade_report::DmarcDomain {
                domain: "evil.test".into(),
                result: AuthResult::None,
                policy: None,
            }],
            ..AuthReport::default()
        };
        let names = names_of(
            b"From: x@evil.test\r\nFrom: clerk@countyelections.gov\r\n\r\nhi\r\n",
            &unjudged,
        );
        assert!(
            names.contains(&"PROTECTED_DOMAIN_UNVERIFIED".to_string()),
            "{names:?}"
        );
        let parsed = FromHeader::parse(b"From: a@x.test\r\nFrom: b@y.test\r\n\r\n");
        assert_eq!(parsed.fields, 2);
        assert_eq!(parsed.domains(), ["x.test", "y.test"]);
    }

    #[test]
    fn a_from_without_domain_and_an_unverifiable_own_domain_are_named() {
        let none = AuthReport {
            checked: true,
            ..AuthReport::default()
        };
        assert_eq!(
            names_of(b"From: clerk\r\n\r\nhi\r\n", &none),
            ["FROM_WITHOUT_DOMAIN"]
        );
        assert_eq!(
            names_of(b"From: Clerk <>\r\n\r\nhi\r\n", &none),
            ["FROM_WITHOUT_DOMAIN"]
        );
        let temp = AuthReport {
            checked: true,
            dmarc: AuthResult::TempError,
            from_domain: "countyelections.gov".into(),
            ..AuthReport::default()
        };
        assert_eq!(
            names_of(b"From: clerk@countyelections.gov\r\n\r\nhi\r\n", &temp),
            ["PROTECTED_DOMAIN_UNVERIFIED"]
        );
    }
}
