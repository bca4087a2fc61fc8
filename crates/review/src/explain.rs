//! Why a message was held, in words a clerk can act on: what the message does (threatens,
//! coerces, demands), which words showed it, what the authentication checks found, and
//! which name or domain it imitates. Built from the verdict recorded when the message was
//! held, or, for messages held before recording was on, from its X-Palisade-Result and
//! Authentication-Results headers.

use serde::Serialize;
use serde_json::Value;

use palisade_engine::RuleSet;

/// The explanation of one held message.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// One sentence: why it was held.
    pub summary: String,
    /// What fired, strongest first.
    pub findings: Vec<Finding>,
    /// What the authentication checks found, one sentence each.
    pub auth: Vec<String>,
    /// Whether the verdict was a threat (threat, coercion, extortion, doxxing or
    /// intimidation): a release then needs a second person under dual control.
    pub threat: bool,
    /// Whether the full verdict was recorded (otherwise the headers were read).
    pub recorded: bool,
}

/// One reason, in plain words.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// Plain-language heading of its family (`Threatens violence or harm`).
    pub kind: String,
    /// What this rule or check looks for.
    pub what: String,
    /// The evidence: the matched words, the lookalike and what it imitates.
    pub evidence: String,
    /// Symbol name, for the technical reader.
    pub symbol: String,
    /// Its score.
    pub score: f64,
    /// Its category.
    pub category: String,
    /// What it found, in words for a clerk (no rule names, in English whatever the
    /// message's language).
    pub plain: String,
    /// The sender's words that showed it, as written (empty when there are none).
    pub words: String,
}

/// How dangerous a held message looks at a glance: a band with a name (text, never colour
/// alone) and a CSS class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct Band {
    /// The band's name.
    pub label: &'static str,
    /// Its class in the stylesheet (`danger`, `warn`, `info`).
    pub class: &'static str,
}

/// The band of a set of findings: the gravest kind among them.
pub fn band(findings: &[Finding]) -> Band {
    let has = |c: &str| findings.iter().any(|f| f.category == c);
    let (label, class) = if has("threat") {
        ("Threat of violence", "danger")
    } else if has("coercion") {
        ("Coercion", "danger")
    } else if has("extortion") {
        ("Extortion", "danger")
    } else if has("doxxing") {
        ("Personal details as a threat", "danger")
    } else if has("intimidation") {
        ("Intimidation", "warn")
    } else if has("impersonation") {
        ("Impersonation", "warn")
    } else if has("hostility") {
        ("Abusive language", "warn")
    } else {
        ("Suspicious", "info")
    };
    Band { label, class }
}

/// The reason to show first: the strongest finding about what the message says (a
/// threat, a demand), else the strongest of all. Findings are sorted strongest first.
pub fn top(findings: &[Finding]) -> Option<&Finding> {
    findings
        .iter()
        .find(|f| {
            THREAT_CATEGORIES.contains(&f.category.as_str())
                || f.category == "hostility"
                || (f.category == "combination" && f.score > 0.0)
        })
        .or_else(|| findings.first())
}

/// The sender's words in a finding's detail, for a clerk. Rules write their evidence as
/// `slot "words" + slot "words"`; the model as `…: "sentence"; weighed most: …`. The
/// slot names and weights are for the administrator; the quoted words are what the
/// clerk needs. Other details are prose already and stay as they are; campaign details
/// (hashes) give no words.
pub(crate) fn plain_words(symbol: &str, detail: &str) -> String {
    if symbol.starts_with("CAMPAIGN_") {
        return String::new();
    }
    let quoted = quoted_parts(detail);
    if symbol == "THREAT_MODEL" {
        return quoted
            .first()
            .map(|q| format!("\u{201c}{q}\u{201d}"))
            .unwrap_or_default();
    }
    // Slot evidence: `name "words"`, parts joined by ` + `.
    let slotted = detail.contains("\" + ")
        || detail.split_once(" \"").is_some_and(|(head, _)| {
            !head.is_empty() && head.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        });
    if slotted && !quoted.is_empty() {
        return format!("\u{201c}{}\u{201d}", quoted.join(" \u{2026} "));
    }
    detail.to_string()
}

/// The double-quoted parts of a text, in order (`\"` inside one is a quote).
fn quoted_parts(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (&mut cur, c) {
            (None, '"') => cur = Some(String::new()),
            (Some(q), '\\') => {
                if let Some(n) = chars.next() {
                    q.push(n);
                }
            }
            (Some(_), '"') => {
                if let Some(q) = cur.take() {
                    out.push(q);
                }
            }
            (Some(q), c) => q.push(c),
            (None, _) => {}
        }
    }
    out
}

/// What a finding is, in a clerk's words: the built-in checks say it themselves; a
/// rule's own description is written for whoever tunes the rules, so the clerk reads
/// the plain heading of its family.
fn plain_text(name: &str, category: &str) -> String {
    built_in(name).map_or_else(|| kind(category).to_string(), str::to_string)
}

/// Categories that make a verdict a threat.
pub const THREAT_CATEGORIES: &[&str] =
    &["threat", "coercion", "extortion", "doxxing", "intimidation"];

fn kind(category: &str) -> &'static str {
    match category {
        "threat" => "Threatens violence or harm",
        "coercion" => "Tries to force a decision (such as a vote) with a threat",
        "extortion" => "Demands money or something else under a threat",
        "doxxing" => "Uses personal details (address, family, party) as a threat",
        "intimidation" => "Intimidating language",
        "impersonation" => "Pretends to come from someone else",
        "auth" => "Sender verification",
        "policy" => "Local policy",
        "evasion" | "obfuscation" => "Written to slip past filters",
        "combination" => "Several warning signs together",
        "hostility" => "Hostile, abusive language",
        _ => "Other signs",
    }
}

/// Plain words for the built-in checks (rules carry their own description).
fn built_in(name: &str) -> Option<&'static str> {
    Some(match name {
        "COMBO_DEMAND_AND_THREAT" => "A demand made together with a threat",
        "COMBO_THREAT_AND_PERSONAL_DATA" => "A threat together with the reader's personal details",
        "COMBO_DISGUISED_THREAT" => "A threat written so that filters would miss it",
        "COMBO_HOSTILE_THREAT" => "A threat in hostile, abusive language",
        "CRYPTO_WALLET" => "Asks for payment to a cryptocurrency wallet",
        "MIXED_SCRIPT_WORDS" => "Words that mix alphabets to disguise themselves",
        "INVISIBLE_CHARS_IN_WORDS" => "Invisible characters hidden inside words",
        "SPACED_OUT_WORDS" => "Words spelled out letter by letter to slip past filters",
        "STRETCHED_WORDS" => "Words with stretched letters",
        "HTML_HIDDEN_TEXT" => "Text hidden from the reader in the HTML",
        "TEXT_LIMIT_REACHED" => "The message was too long to read to the end",
        "SCAN_BUDGET_EXHAUSTED" => "The message was too complex to read to the end",
        "PROTECTED_DOMAIN_SPOOF" => {
            "Claims to come from one of our own domains, and the check proving that failed"
        }
        "PROTECTED_DOMAIN_UNAUTHENTICATED" => {
            "Claims to come from one of our own domains without proof"
        }
        "PROTECTED_DOMAIN_UNVERIFIED" => {
            "Claims to come from one of our own domains; the proof could not be checked"
        }
        "LOOKALIKE_DOMAIN" => "The sender's domain imitates another one",
        "REPLY_TO_LOOKALIKE_DOMAIN" => "Replies would go to a domain that imitates another one",
        "DISPLAY_NAME_PROTECTED" => {
            "The sender's name imitates a person or organisation we protect"
        }
        "DISPLAY_NAME_OTHER_ADDRESS" => {
            "The sender's name shows an address other than the real one"
        }
        "REPLY_TO_OTHER_DOMAIN" => "Replies would go somewhere other than the sender's domain",
        "MULTIPLE_FROM" => "The message names more than one sender",
        "FROM_WITHOUT_DOMAIN" => "The sender's address has no domain",
        "DMARC_POLICY_REJECT" => {
            "The sender's domain says mail like this is forged, and asks for it to be refused"
        }
        "DMARC_POLICY_QUARANTINE" => "The sender's domain says mail like this is forged",
        "DMARC_POLICY_SOFTFAIL" => "The sender's address could not be verified",
        "R_SPF_FAIL" => "The sending server is not allowed to send for the sender's domain",
        "R_SPF_SOFTFAIL" => {
            "The sending server is probably not allowed to send for the sender's domain"
        }
        "R_DKIM_REJECT" => "The message's digital signature is broken: forged or altered",
        "ARC_REJECT" | "ARC_INVALID" => "The forwarding record (ARC) is broken",
        "POLICY_DENY_SENDER" => "The sender is on this site's block list",
        "POLICY_DENY_IP" => "The sending server is on this site's block list",
        _ => return None,
    })
}

fn auth_sentence(method: &str, result: &str, domain: &str) -> Option<String> {
    let d = if domain.is_empty() {
        "the sender's domain"
    } else {
        domain
    };
    let s = match (method, result) {
        (_, "none") | (_, "") => match method {
            "spf" => format!("{d} does not say which servers may send its mail (no SPF)."),
            "dkim" => "The message carries no digital signature (no DKIM).".to_string(),
            "dmarc" => format!("{d} publishes no DMARC policy, so its From address cannot be verified."),
            _ => return None,
        },
        ("spf", "pass") => format!("The sending server is allowed to send mail for {d} (SPF passed)."),
        ("spf", "fail") => format!("The sending server is NOT allowed to send mail for {d} (SPF failed)."),
        ("spf", "softfail") => format!("The sending server is probably not allowed to send mail for {d} (SPF soft fail)."),
        ("spf", "neutral") => format!("{d} neither allows nor forbids the sending server (SPF neutral)."),
        ("dkim", "pass") => "The message's digital signature is valid (DKIM passed).".to_string(),
        ("dkim", "fail") => "The message's digital signature does not verify: forged or altered on the way (DKIM failed).".to_string(),
        ("dmarc", "pass") => format!("The From address at {d} is verified (DMARC passed)."),
        ("dmarc", "fail") => format!("The From address at {d} is NOT verified: the domain's owner says such mail is forged (DMARC failed)."),
        ("arc", "pass") => "A forwarding service vouches for the message's earlier checks (ARC passed).".to_string(),
        ("arc", "fail") => "The forwarding record is broken (ARC failed).".to_string(),
        (m, "temperror") => format!("{} could not be checked: DNS did not answer in time.", m.to_uppercase()),
        (m, "permerror") => format!("{} could not be checked: {d} publishes a broken record.", m.to_uppercase()),
        (m, r) => format!("{}: {r}.", m.to_uppercase()),
    };
    Some(s)
}

/// The value of `key=` in an Authentication-Results header (up to space or `;`).
fn ar_value<'a>(ar: &'a str, key: &str) -> Option<&'a str> {
    let lower = ar.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find(key) {
        let at = from + i;
        let before = lower[..at].chars().next_back();
        if before.is_none_or(|c| c == ';' || c.is_whitespace())
            && lower[at + key.len()..].starts_with('=')
        {
            let rest = &ar[at + key.len() + 1..];
            let end = rest
                .find(|c: char| c.is_whitespace() || c == ';')
                .unwrap_or(rest.len());
            return Some(&rest[..end]);
        }
        from = at + key.len();
    }
    None
}

/// Explains a held message: from its recorded verdict when there is one, else from
/// the symbols of its X-Palisade-Result (`NAME(score)`) and its Authentication-Results.
pub fn explain(
    recorded: Option<&Value>,
    header_symbols: &[String],
    auth_results: Option<&str>,
    rules: &RuleSet,
) -> Explanation {
    let mut findings = Vec::new();
    let mut auth = Vec::new();
    let describe = |name: &str, category: &str| -> (String, String) {
        match rules.rules().iter().find(|r| r.name == name) {
            Some(r) => (r.description.clone(), r.category.clone()),
            None => (
                built_in(name)
                    .map_or_else(|| name.replace('_', " ").to_lowercase(), str::to_string),
                category.to_string(),
            ),
        }
    };
    if let Some(rec) = recorded {
        for s in rec["verdict"]["symbols"].as_array().into_iter().flatten() {
            let name = s["name"].as_str().unwrap_or_default();
            let score = s["score"].as_f64().unwrap_or(0.0);
            if score <= 0.0 {
                continue;
            }
            let (what, category) = describe(name, s["category"].as_str().unwrap_or_default());
            let detail = s["detail"].as_str().unwrap_or_default();
            findings.push(Finding {
                kind: kind(&category).into(),
                plain: plain_text(name, &category),
                words: plain_words(name, detail),
                what,
                evidence: detail.to_string(),
                symbol: name.into(),
                score,
                category,
            });
        }
        let a = &rec["auth"];
        if a["checked"].as_bool().unwrap_or(false) {
            let spf_domain = a["spf_domain"].as_str().unwrap_or_default();
            let from_domain = a["from_domain"].as_str().unwrap_or_default();
            for (m, d) in [
                ("spf", spf_domain),
                ("dkim", ""),
                ("dmarc", from_domain),
                ("arc", ""),
            ] {
                if let Some(s) = auth_sentence(m, a[m].as_str().unwrap_or_default(), d) {
                    auth.push(s);
                }
            }
        } else {
            auth.push("Sender verification did not run for this message.".into());
        }
    } else {
        for s in header_symbols {
            let (name, score) = match s.split_once('(') {
                Some((n, rest)) => (
                    n.trim(),
                    rest.trim_end_matches(')').parse::<f64>().unwrap_or(0.0),
                ),
                None => (s.trim(), 0.0),
            };
            if name.is_empty() || score <= 0.0 {
                continue;
            }
            let (what, category) = describe(name, category_of_builtin(name));
            findings.push(Finding {
                kind: kind(&category).into(),
                plain: plain_text(name, &category),
                words: String::new(),
                what,
                evidence: String::new(),
                symbol: name.into(),
                score,
                category,
            });
        }
        if let Some(ar) = auth_results {
            let mailfrom = ar_value(ar, "smtp.mailfrom").map(|v| v.rsplit('@').next().unwrap_or(v));
            let from = ar_value(ar, "header.from").unwrap_or_default();
            for (m, d) in [
                ("spf", mailfrom.unwrap_or_default()),
                ("dkim", ""),
                ("dmarc", from),
                ("arc", ""),
            ] {
                if let Some(v) = ar_value(ar, m) {
                    if let Some(s) = auth_sentence(m, &v.to_ascii_lowercase(), d) {
                        auth.push(s);
                    }
                }
            }
        }
    }
    findings.sort_by(|a, b| b.score.total_cmp(&a.score));
    let threat = findings
        .iter()
        .any(|f| THREAT_CATEGORIES.contains(&f.category.as_str()));
    // The summary names what the message does; supporting signs (combinations, sender
    // checks, odd writing) stay in the list below it unless they are all there is.
    let mut kinds: Vec<&str> = Vec::new();
    for main in [true, false] {
        for f in &findings {
            let k = kind(&f.category);
            let is_main = THREAT_CATEGORIES.contains(&f.category.as_str())
                || f.category == "impersonation"
                || f.category == "policy";
            if is_main == main && !kinds.contains(&k) && f.category != "info" {
                kinds.push(k);
            }
        }
        if !kinds.is_empty() {
            break;
        }
    }
    let summary = match kinds.as_slice() {
        [] => "Held because its score reached the quarantine threshold.".to_string(),
        [one] => format!("Held because: {}.", one.to_lowercase()),
        many => format!(
            "Held because: {}.",
            many.iter()
                .map(|k| k.to_lowercase())
                .collect::<Vec<_>>()
                .join("; ")
        ),
    };
    Explanation {
        summary,
        findings,
        auth,
        threat,
        recorded: recorded.is_some(),
    }
}

fn category_of_builtin(name: &str) -> &'static str {
    use palisade_engine::{auth_symbols, impersonation, lists};
    if impersonation::DEFAULTS.iter().any(|(n, _)| *n == name) {
        "impersonation"
    } else if auth_symbols::DEFAULTS.iter().any(|(n, _)| *n == name) {
        "auth"
    } else if lists::DEFAULTS.iter().any(|(n, _)| *n == name) {
        "policy"
    } else if name.starts_with("COMBO_") || name == "CRYPTO_WALLET" || name == "THREAT_MODEL" {
        // The model reads threat, coercion and extortion alike.
        "threat"
    } else {
        "info"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> RuleSet {
        palisade_engine::Engine::with_default_rules(palisade_engine::Thresholds {
            tag: 5.0,
            quarantine: 10.0,
            reject: 0.0,
        })
        .expect("default rules")
        .rules()
        .clone()
    }

    #[test]
    fn recorded_verdict_reads_as_plain_words() {
        let rec = serde_json::json!({
            "verdict": {"symbols": [
                {"name": "LOOKALIKE_DOMAIN", "score": 6.0, "category": "impersonation",
                 "detail": "From c1ty-of-springfield.gov looks like city-of-springfield.gov: 1 -> i"},
                {"name": "COMBO_DEMAND_AND_THREAT", "score": 4.0, "category": "threat", "detail": "vote … or we will come after you"},
                {"name": "R_SPF_ALLOW", "score": -0.2, "category": "auth", "detail": ""}
            ]},
            "auth": {"checked": true, "spf": "fail", "spf_domain": "c1ty.example", "dkim": "none",
                     "dmarc": "fail", "from_domain": "c1ty.example", "arc": "none"}
        });
        let e = explain(Some(&rec), &[], None, &rules());
        assert!(e.threat && e.recorded);
        assert_eq!(e.findings.len(), 2, "negative scores are not reasons");
        assert_eq!(
            e.findings[0].what,
            "The sender's domain imitates another one"
        );
        assert!(e.findings[0]
            .evidence
            .contains("looks like city-of-springfield.gov"));
        assert!(
            e.summary.contains("pretends to come from someone else"),
            "{}",
            e.summary
        );
        assert!(e
            .auth
            .iter()
            .any(|s| s.contains("NOT allowed to send mail for c1ty.example")));
        assert!(e.auth.iter().any(|s| s.contains("DMARC failed")));
    }

    #[test]
    fn clerks_read_words_not_slot_names() {
        assert_eq!(
            plain_words(
                "THREAT_PURSUIT",
                r#"actor "we" + intent "will" + harm_pursuit "come after" + target_you "you""#
            ),
            "\u{201c}we \u{2026} will \u{2026} come after \u{2026} you\u{201d}"
        );
        assert_eq!(
            plain_words("ES_TUMBA", r#"tumba_es "tu tumba""#),
            "\u{201c}tu tumba\u{201d}"
        );
        assert_eq!(
            plain_words(
                "THREAT_MODEL",
                r#"97% likely a threat: "ya sabes lo que te pasa"; weighed most: demand_es, "pasa""#
            ),
            "\u{201c}ya sabes lo que te pasa\u{201d}"
        );
        assert_eq!(
            plain_words(
                "COMBO_DEMAND_AND_THREAT",
                "a demand backed by a threat of harm"
            ),
            "a demand backed by a threat of harm"
        );
        assert_eq!(plain_words("CAMPAIGN_THREAT", "campaign 3fa9c2"), "");
        // A Spanish finding reads in English, quoting the sender's words as written.
        let rec = serde_json::json!({"verdict": {"symbols": [
            {"name": "ES_AMENAZA_MUERTE", "score": 8.0, "category": "threat",
             "detail": r#"target_es "te" + intent_es "voy a" + harm_es "matar""#}]}});
        let e = explain(Some(&rec), &[], None, &rules());
        assert_eq!(e.findings[0].plain, "Threatens violence or harm");
        assert_eq!(
            e.findings[0].words,
            "\u{201c}te \u{2026} voy a \u{2026} matar\u{201d}"
        );
        assert_eq!(band(&e.findings).label, "Threat of violence");
    }

    #[test]
    fn headers_are_the_fallback() {
        let syms = vec![
            "COMBO_DEMAND_AND_THREAT(4.00)".to_string(),
            "R_SPF_FAIL(1.00)".into(),
        ];
        let ar = "mx.example; spf=fail smtp.mailfrom=a@bad.example; dkim=none; dmarc=fail header.from=gov.example";
        let e = explain(None, &syms, Some(ar), &rules());
        assert!(e.threat && !e.recorded);
        assert_eq!(e.findings[0].symbol, "COMBO_DEMAND_AND_THREAT");
        assert!(e.auth[0].contains("bad.example"), "{:?}", e.auth);
        assert!(e
            .auth
            .iter()
            .any(|s| s.contains("gov.example") && s.contains("NOT verified")));
        assert_eq!(ar_value(ar, "dkim"), Some("none"));
        assert_eq!(ar_value("x; xspf=pass; spf=fail", "spf"), Some("fail"));
    }
}
