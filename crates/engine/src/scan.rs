//! Scoring: rule hits in every readable text, weighed by how they are said (directly, or
//! quoted and reported), combined, and added up with the disguise signals.

use std::collections::HashMap;

use crate::extract::{self, Extracted};
use crate::impersonation::Identity;
use crate::normalize::{normalize, Disguise, Normalized};
use crate::rules::{Hit, RuleSet};
use crate::verdict::Symbol;

/// A hit in quotation marks, a reply quote or reported speech scores this share.
pub const REPORTED_FACTOR: f64 = 0.2;

/// Words that, earlier in the same sentence, mark what follows as reported speech:
/// bulletins, news and training material quote threats without making them.
const FRAMING: &[&str] = &[
    "said",
    "says",
    "saying",
    "warned",
    "wrote",
    "writes",
    "reported",
    "reports",
    "claimed",
    "claims",
    "quote",
    "quoted",
    "quoting",
    "headline",
    "example",
    "examples",
    "such as",
    "phrases like",
    "language like",
    "messages like",
    "emails like",
    "if you receive",
    "if you get",
    "told",
    "posted",
    "tweeted",
    "threatened that",
    "dice",
    "dijo",
    "decia",
];

/// Framing after the hit in the same sentence ("… or else," he said).
const FRAMING_AFTER: &[&str] = &[
    "he said",
    "she said",
    "they said",
    "it said",
    "said the",
    "the email said",
    "the message said",
    "dijo",
];

#[derive(Debug, Clone)]
struct Best {
    direct: bool,
    disguised: bool,
    quote: String,
    why: &'static str,
}

/// What the content checks found.
#[derive(Debug, Clone, Default)]
pub struct ContentFindings {
    /// One symbol per rule that fired, plus combinations and disguise signals.
    pub symbols: Vec<Symbol>,
    /// Who the message says it is from.
    pub identity: Identity,
}

/// Symbols the content checks make besides rule hits, with their default scores.
pub const BUILT_IN: &[(&str, f64)] = &[
    ("COMBO_DEMAND_AND_THREAT", 4.0),
    ("COMBO_THREAT_AND_PERSONAL_DATA", 4.0),
    ("COMBO_DISGUISED_THREAT", 3.0),
    ("MIXED_SCRIPT_WORDS", 1.5),
    ("INVISIBLE_CHARS_IN_WORDS", 0.5),
    ("SPACED_OUT_WORDS", 0.5),
    ("HTML_HIDDEN_TEXT", 0.5),
    ("TEXT_LIMIT_REACHED", 0.0),
];

/// Runs every rule over every text of the message.
pub fn content(raw: &[u8], rules: &RuleSet, limits: &extract::Limits) -> ContentFindings {
    let extracted = extract::extract(raw, limits);
    let mut findings = score_texts(&extracted, rules);
    if let Some((name, address)) = &extracted.from {
        findings.identity = Identity {
            display_name: name.clone(),
            address: address.clone(),
            reply_to: extracted.reply_to.clone(),
        };
    }
    findings
}

fn score_texts(extracted: &Extracted, rules: &RuleSet) -> ContentFindings {
    let mut best: HashMap<usize, Best> = HashMap::new();
    let mut disguise = Disguise::default();
    for text in &extracted.texts {
        let norm = normalize(&text.text);
        let d = norm.disguise;
        disguise.invisible_in_words += d.invisible_in_words;
        disguise.mixed_script_words += d.mixed_script_words;
        disguise.leet_words += d.leet_words;
        disguise.spaced_words += d.spaced_words;
        for hit in rules.find(&norm) {
            let why = reported(&text.text, &norm, &hit);
            let candidate = Best {
                direct: why.is_none(),
                disguised: norm.disguised_within(hit.start, hit.end),
                quote: quote(norm.original(&text.text, hit.start, hit.end)),
                why: why.unwrap_or(""),
            };
            match best.get(&hit.rule) {
                Some(b) if b.direct || !candidate.direct => {}
                _ => {
                    best.insert(hit.rule, candidate);
                }
            }
        }
    }
    let mut symbols = Vec::new();
    let mut direct_categories: Vec<&str> = Vec::new();
    let mut disguised_hit = false;
    let mut ordered: Vec<(&usize, &Best)> = best.iter().collect();
    ordered.sort_by_key(|(rule, _)| **rule);
    for (&rule_id, b) in ordered {
        let rule = &rules.rules()[rule_id];
        let (score, detail) = if b.direct {
            direct_categories.push(rule.category.as_str());
            disguised_hit |= b.disguised;
            (rule.score, format!("\"{}\"", b.quote))
        } else {
            (
                rule.score * REPORTED_FACTOR,
                format!("\"{}\" ({}, scored as reported)", b.quote, b.why),
            )
        };
        symbols.push(Symbol {
            name: rule.name.clone(),
            score,
            category: rule.category.clone(),
            detail,
        });
    }
    let has = |c: &[&str]| direct_categories.iter().any(|d| c.contains(d));
    let threat = has(&["threat", "intimidation"]);
    let demand = has(&["coercion", "extortion"]);
    let personal = has(&["doxxing"]);
    if demand && threat {
        symbols.push(combo(
            "COMBO_DEMAND_AND_THREAT",
            4.0,
            "a demand backed by a threat of harm",
        ));
    }
    if personal && (threat || demand) {
        symbols.push(combo(
            "COMBO_THREAT_AND_PERSONAL_DATA",
            4.0,
            "a threat or demand from someone claiming the reader's personal data",
        ));
    }
    if disguised_hit && (threat || demand || personal) {
        symbols.push(combo(
            "COMBO_DISGUISED_THREAT",
            3.0,
            "threatening words written to slip past filters",
        ));
    }
    if disguise.mixed_script_words > 0 {
        symbols.push(signal(
            "MIXED_SCRIPT_WORDS",
            1.5,
            format!(
                "{} word(s) mix Latin letters with look-alikes from other scripts",
                disguise.mixed_script_words
            ),
        ));
    }
    if disguise.invisible_in_words > 0 {
        symbols.push(signal(
            "INVISIBLE_CHARS_IN_WORDS",
            0.5,
            format!(
                "{} invisible character(s) inside words",
                disguise.invisible_in_words
            ),
        ));
    }
    if disguise.spaced_words > 0 {
        symbols.push(signal(
            "SPACED_OUT_WORDS",
            0.5,
            format!(
                "{} word(s) spelled with spaced letters",
                disguise.spaced_words
            ),
        ));
    }
    if extracted.hidden_chars >= 20 {
        symbols.push(signal(
            "HTML_HIDDEN_TEXT",
            0.5,
            format!(
                "{} characters of HTML text hidden from the reader",
                extracted.hidden_chars
            ),
        ));
    }
    if extracted.limited {
        symbols.push(Symbol {
            name: "TEXT_LIMIT_REACHED".into(),
            score: 0.0,
            category: "info".into(),
            detail: "the message has more text or parts than are read".into(),
        });
    }
    ContentFindings {
        symbols,
        identity: Identity::default(),
    }
}

fn combo(name: &str, score: f64, detail: &str) -> Symbol {
    Symbol {
        name: name.into(),
        score,
        category: "combination".into(),
        detail: detail.into(),
    }
}

fn signal(name: &str, score: f64, detail: String) -> Symbol {
    Symbol {
        name: name.into(),
        score,
        category: "obfuscation".into(),
        detail,
    }
}

/// The matched words for a symbol's detail: one line, at most 100 characters, no quotes
/// or controls that could confuse a header or a log.
fn quote(s: &str) -> String {
    let mut out = String::new();
    let mut last_space = false;
    for c in s.chars() {
        let c = if c.is_whitespace() || c.is_control() || c == '"' {
            ' '
        } else {
            c
        };
        if c == ' ' && last_space {
            continue;
        }
        last_space = c == ' ';
        out.push(c);
        if out.len() >= 100 {
            out.push('…');
            break;
        }
    }
    out.trim().to_string()
}

/// Why a hit reads as reported rather than said, if it does.
fn reported(original: &str, norm: &Normalized, hit: &Hit) -> Option<&'static str> {
    let start = *norm.map.get(hit.start)? as usize;
    let line_start = original[..start].rfind('\n').map_or(0, |p| p + 1);
    if original[line_start..start].trim_start().starts_with('>') {
        return Some("reply quote");
    }
    if inside_quotes(original, start) {
        return Some("in quotation marks");
    }
    // Framing words earlier in the same sentence (at most ~20 words back).
    let sentence = norm
        .sentence_starts
        .partition_point(|&s| (s as usize) <= hit.start)
        .checked_sub(1)
        .map_or(0, |i| norm.sentence_starts[i] as usize);
    let mut from = sentence.max(hit.start.saturating_sub(160));
    while !norm.text.is_char_boundary(from) {
        from += 1;
    }
    let before = &norm.text[from..hit.start];
    if FRAMING.iter().any(|f| has_words(before, f)) {
        return Some("framed as reported speech");
    }
    let next_sentence = norm
        .sentence_starts
        .iter()
        .find(|&&s| s as usize > hit.end)
        .map_or(norm.text.len(), |&s| s as usize);
    let mut to = next_sentence.min(hit.end + 40);
    while !norm.text.is_char_boundary(to) {
        to -= 1;
    }
    let after = &norm.text[hit.end..to];
    if FRAMING_AFTER.iter().any(|f| has_words(after, f)) {
        return Some("framed as reported speech");
    }
    None
}

fn has_words(hay: &str, words: &str) -> bool {
    hay.match_indices(words).any(|(i, _)| {
        let before = i == 0 || hay.as_bytes()[i - 1] == b' ';
        let end = i + words.len();
        let after = end == hay.len() || hay.as_bytes()[end] == b' ';
        before && after
    })
}

/// Whether `at` lies inside a quotation in its paragraph (looking back at most 2,000
/// bytes). Double quotes toggle; single quotes count only where they open or close a
/// quotation rather than sit inside a word (don't, voters').
fn inside_quotes(original: &str, at: usize) -> bool {
    let mut from = at.saturating_sub(2000);
    while !original.is_char_boundary(from) {
        from += 1;
    }
    let window = &original[from..at];
    let para = window
        .rfind("\n\n")
        .or_else(|| window.rfind("\n\r\n"))
        .map_or(0, |p| p + 2);
    let text = &window[para..];
    let mut double = false;
    let mut single = false;
    let mut prev: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric());
        match c {
            '"' => double = !double,
            '“' | '«' | '„' => double = true,
            '”' | '»' => double = false,
            '\'' | '‘' | '’' => {
                if !word(prev) && (word(next) || next.is_none()) {
                    single = true;
                } else if !word(next) && single {
                    single = false;
                }
            }
            _ => {}
        }
        prev = Some(c);
    }
    // A quotation that ends right at the hit (`'we know where you live'`) opened before it.
    double || single
}

#[cfg(test)]
mod tests {
    use super::*;

    fn symbols(text: &str) -> Vec<(String, f64)> {
        let rules = RuleSet::defaults().unwrap();
        let raw = format!("Subject: test\r\n\r\n{text}\r\n");
        content(raw.as_bytes(), &rules, &extract::Limits::default())
            .symbols
            .into_iter()
            .map(|s| (s.name, s.score))
            .collect()
    }

    #[test]
    fn direct_threats_combine() {
        let s = symbols("You will vote for Trump on Election Day or we will come after you.");
        let names: Vec<&str> = s.iter().map(|(n, _)| n.as_str()).collect();
        assert!(names.contains(&"VOTE_OR_ELSE"), "{s:?}");
        assert!(names.contains(&"THREAT_COME_AFTER"), "{s:?}");
        assert!(names.contains(&"COMBO_DEMAND_AND_THREAT"), "{s:?}");
    }

    #[test]
    fn quoted_and_reported_threats_score_little() {
        for text in [
            "If anyone emails you saying 'we know where you live', do not reply.",
            "The message read: \"we will come after you\". Forward it to security.",
            "> we will come after you\n\nI got this today, what should I do?",
            "Voters in Florida received emails that said we will come after you.",
        ] {
            let s = symbols(text);
            assert!(!s.is_empty(), "{text}");
            let total: f64 = s.iter().map(|(_, v)| v).sum();
            assert!(total < 2.0, "{text}: {s:?}");
        }
    }

    #[test]
    fn disguised_threat_gets_the_combination() {
        let s = symbols("W3 w\u{200B}ill f\u{0456}nd y0u.");
        let names: Vec<&str> = s.iter().map(|(n, _)| n.as_str()).collect();
        assert!(names.contains(&"THREAT_FIND_YOU"), "{s:?}");
        assert!(names.contains(&"COMBO_DISGUISED_THREAT"), "{s:?}");
        assert!(names.contains(&"MIXED_SCRIPT_WORDS"), "{s:?}");
    }

    #[test]
    fn apostrophes_are_not_quotes() {
        assert!(!inside_quotes("Don't worry, we will find you", 16));
        assert!(inside_quotes("He wrote 'we will find you", 10));
        assert!(!inside_quotes("the voters' choice: we will find you", 20));
    }
}
