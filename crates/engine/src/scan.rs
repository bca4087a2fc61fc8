//! The content pipeline, one way through: extract -> normalize (with offset map) ->
//! words and sentences -> lexicon hits (one automaton) -> frames -> stance -> symbols.
//!
//! Each stage lives in its own module; this one only passes text along and turns what
//! the stages found into scored, explained symbols.

use std::collections::{HashMap, HashSet};

use crate::extract::{self, Extracted};
use crate::frames::{match_frames, FrameHit};
use crate::impersonation::{FromHeader, Identity};
use crate::model::{self, Model, TextView};
use crate::normalize::{normalize_with, Disguise, Normalized};
use crate::rules::{lexicons, Rule, RuleKind, RuleSet, Words};
use crate::stance::{Context, Negations, Weights, REPORTED};
use crate::verdict::Symbol;
use crate::wallet;

/// A hit reported as someone else's words scores this share (see [`crate::stance`]).
pub const REPORTED_FACTOR: f64 = REPORTED;

/// Distinct report-frame phrases (court, news, guidance wording) that mark a whole
/// message as a report rather than a threat.
const REPORT_FRAME_MIN: usize = 2;

/// A symbol takes part in combinations from this score on.
const COMBO_MIN: f64 = 3.0;

/// A threat or menace counts as such for the combinations from this score on.
const THREAT_MIN: f64 = 5.0;

/// Categories whose overlapping matches count once.
const MENACE: &[&str] = &["threat", "intimidation", "doxxing"];

/// Categories whose hits make a message threatening, for the combinations.
const THREATENING: &[&str] = &["threat", "intimidation"];

#[derive(Debug, Clone)]
struct Best {
    /// Which text, and the words of the match in it.
    span: (usize, u32, u32),
    /// Other direct matches of the same rule elsewhere in the message.
    more: u32,
    weights: Weights,
    disguised: bool,
    detail: String,
}

/// What the content checks found.
#[derive(Debug, Clone, Default)]
pub(crate) struct ContentFindings {
    /// One symbol per rule that fired, plus combinations and disguise signals.
    pub symbols: Vec<Symbol>,
    /// Who the message says it is from.
    pub identity: Identity,
    /// The campaign fingerprint, when one was asked for and the text is long enough.
    pub fingerprint: Option<crate::campaign::Fingerprint>,
    /// Whether the message reads as a report about threats (news, a ruling, guidance):
    /// its threat symbols then score a share of their worth.
    pub reported: bool,
}

/// Symbols the content checks make besides rule hits, with their default scores.
pub(crate) const BUILT_IN: &[(&str, f64)] = &[
    ("COMBO_DEMAND_AND_THREAT", 4.0),
    ("COMBO_THREAT_AND_PERSONAL_DATA", 4.0),
    ("COMBO_DISGUISED_THREAT", 3.0),
    ("COMBO_HOSTILE_THREAT", 2.0),
    (model::SYMBOL, model::TAG_SCORE),
    ("CRYPTO_WALLET", 2.0),
    ("MIXED_SCRIPT_WORDS", 1.5),
    ("INVISIBLE_CHARS_IN_WORDS", 0.5),
    ("SPACED_OUT_WORDS", 0.5),
    ("STRETCHED_WORDS", 0.0),
    ("HTML_HIDDEN_TEXT", 0.5),
    ("TEXT_LIMIT_REACHED", 1.0),
    ("SCAN_BUDGET_EXHAUSTED", 1.0),
];

fn built_in(name: &str) -> f64 {
    BUILT_IN
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(0.0, |(_, s)| *s)
}

/// Runs every rule over every text of the message.
/// `from` is the message's From header when the caller parsed it already (the daemon
/// does, for authentication); otherwise it is read here.
pub fn content(
    raw: &[u8],
    rules: &RuleSet,
    limits: &extract::Limits,
    from: Option<&FromHeader>,
    campaign_recipients: Option<&[String]>,
    model: Option<&Model>,
) -> ContentFindings {
    let extracted = extract::extract(raw, limits);
    // The fingerprint reads the texts as normalised for matching: one normalisation
    // serves both.
    let personal = campaign_recipients.map(|recipients| {
        crate::campaign::personal_words(recipients, &extracted.recipient_names.join(", "))
    });
    let mut shingler = personal.as_deref().map(crate::campaign::Shingler::new);
    let mut findings = score_texts(&extracted, rules, limits.max_work, shingler.as_mut(), model);
    findings.fingerprint = shingler.and_then(crate::campaign::Shingler::finish);
    let from = match from {
        Some(f) => f.clone(),
        None => FromHeader::parse(raw),
    };
    let (display_name, address) = from.mailboxes.first().cloned().unwrap_or_default();
    findings.identity = Identity {
        display_name,
        address,
        reply_to: extracted.reply_to.clone(),
        from,
    };
    findings
}

/// What one pass over all texts collected.
#[derive(Default)]
struct Collected {
    best: HashMap<usize, Best>,
    disguise: Disguise,
    /// Lexicons seen anywhere (indexed by class), with the words first seen, for
    /// structures.
    present: Vec<Option<String>>,
    /// Distinct report-frame phrases seen.
    report_frames: HashSet<String>,
    wallets: Vec<wallet::Wallet>,
    /// Whether the work budget ran out before every text was scanned.
    budget_exhausted: bool,
    /// The model's most threatening sentence so far.
    reading: Option<model::Reading>,
    /// Its explanation, written while its text's words and hits were at hand (only for a
    /// reading that may show: reading the text a second time would double the work).
    reading_detail: Option<String>,
}

fn score_texts(
    extracted: &Extracted,
    rules: &RuleSet,
    max_work: usize,
    mut shingler: Option<&mut crate::campaign::Shingler<'_>>,
    model: Option<&Model>,
) -> ContentFindings {
    let mut c = Collected::default();
    let mut work = 0usize;
    let report_frame = rules.lexicon_id(lexicons::REPORT_FRAME);
    let deadline = rules.lexicon_id(lexicons::DEADLINE);
    let consequence = rules.lexicon_id(lexicons::CONSEQUENCE);
    let extortion_steps: Vec<u32> = rules
        .structures
        .iter()
        .flat_map(|s| s.slots.iter().copied())
        .collect();
    for (index, text) in extracted.texts.iter().enumerate() {
        if work > max_work {
            c.budget_exhausted = true;
            break;
        }
        let norm = normalize_with(&text.text, rules.vocabulary());
        add_disguise(&mut c.disguise, &norm.disguise);
        let words = Words::of(&norm);
        if let Some(s) = shingler.as_deref_mut() {
            s.feed_words(&norm.text, &words);
        }
        let hits = rules.class_hits(&norm, &words);
        if c.present.len() < rules.classes() {
            c.present.resize(rules.classes(), None);
        }
        let frames = match_frames(rules, &hits, &words, &norm.text);
        let view = TextView {
            rules,
            original: &text.text,
            norm: &norm,
            words: &words,
            hits: &hits,
        };
        let text_reading = model.and_then(|m| m.read_text(view));
        if model.is_some() {
            work += words.len() / model::CHUNK;
        }
        // How the frames in the model's sentence are said (attributed, negated, asked):
        // the strongest of them carries over to the model's reading of that sentence.
        let mut chunk_stance: Option<f64> = None;
        // Read once for the frames' stance and for the consequence step: a consequence
        // right after a negation is advice ("never share it with anyone").
        let negations = (!frames.is_empty() || hits.iter().any(|h| Some(h.class) == consequence))
            .then(|| Negations::new(&hits, rules, words.len()));
        for h in &hits {
            let negated = Some(h.class) == consequence
                && negations
                    .as_ref()
                    .is_some_and(|n| n.denies_start(&words, h.start));
            if let Some(slot @ None) = c.present.get_mut(h.class as usize).filter(|_| !negated) {
                *slot = Some(quote(span_text(&norm, &words, h.start, h.end)));
            }
            if Some(h.class) == report_frame && c.report_frames.len() < 64 {
                c.report_frames
                    .insert(span_text(&norm, &words, h.start, h.end).to_string());
            }
        }
        if let Some(d) = deadline {
            if c.present.get(d as usize).is_some_and(Option::is_none) {
                if let Some(found) = time_limit(&norm, &words) {
                    c.present[d as usize] = Some(found);
                }
            }
        }
        // Payment addresses matter only in a message that reads like extortion (a claim,
        // a deadline, a consequence or secrecy, in whatever disguise): ordinary mail is
        // not searched for them.
        if c.wallets.len() < 8 && hits.iter().any(|h| extortion_steps.contains(&h.class)) {
            c.wallets.extend(wallet::find(&text.text));
        }
        work += hits.len() + frames.len();
        let Some(negations) = negations.filter(|_| !frames.is_empty()) else {
            keep_reading(&mut c, model, text_reading, index, None, view);
            continue;
        };
        let ctx = Context::with_negations(&text.text, &norm, &words, &hits, rules, negations);
        for hit in &frames {
            let rule = &rules.rules()[hit.rule];
            let negatable = rules.patterns[hit.pattern].negatable;
            let Some(weights) = ctx.weigh(hit, negatable) else {
                continue;
            };
            if let Some((_, (s, e))) = text_reading {
                if hit.start >= s && hit.start < e {
                    let f = weights.plain.factor;
                    chunk_stance = Some(chunk_stance.map_or(f, |x| x.max(f)));
                }
            }
            let candidate = Best {
                more: 0,
                span: (index, hit.start, hit.end),
                weights,
                disguised: norm.disguised_within(
                    words.starts[hit.start as usize] as usize,
                    words.ends[(hit.end - 1) as usize] as usize,
                ),
                detail: explain(rule, rules, hit, &text.text, &norm, &words),
            };
            let factor = |b: &Best| b.weights.plain.factor;
            match c.best.get_mut(&hit.rule) {
                Some(old) => {
                    let distinct =
                        old.span.0 != index || hit.start >= old.span.2 || hit.end <= old.span.1;
                    let more = old.more + u32::from(distinct && factor(&candidate) >= 1.0);
                    if factor(&candidate) > factor(old) {
                        *old = candidate;
                    }
                    old.more = more;
                }
                None => {
                    c.best.insert(hit.rule, candidate);
                }
            }
        }
        keep_reading(&mut c, model, text_reading, index, chunk_stance, view);
    }
    let reading = model.zip(c.reading.clone());
    let model_score = reading
        .as_ref()
        .map(|(m, r)| (m.score(r.probability), r.stance));
    let detail = c.reading_detail.take();
    let mut findings = symbols(extracted, rules, c, model_score);
    if let Some((m, reading)) = reading {
        if let Some(s) = findings
            .symbols
            .iter_mut()
            .find(|s| s.name == model::SYMBOL)
        {
            let explained = match detail {
                Some(d) => d,
                None => explain_reading(extracted, rules, m, &reading),
            };
            s.detail = format!("{}{}", explained, std::mem::take(&mut s.detail));
        }
    }
    findings
}

/// The sentence that drove the model and the features that weighed most in it, reading
/// its text again (only when the explanation was not written during the scan).
fn explain_reading(
    extracted: &Extracted,
    rules: &RuleSet,
    m: &Model,
    reading: &model::Reading,
) -> String {
    let Some(text) = extracted.texts.get(reading.text) else {
        return String::new();
    };
    let analysed = model::Analysed::of(rules, &text.text);
    let view = analysed.view(rules, &text.text);
    explain_words(m, reading.probability, reading.words, view)
}

/// The explanation of a reading of words `chunk` of one text.
fn explain_words(m: &Model, probability: f32, chunk: (u32, u32), text: TextView) -> String {
    let (s, e) = chunk;
    let sentence = match (
        text.words.starts.get(s as usize),
        e.checked_sub(1)
            .and_then(|w| text.words.ends.get(w as usize)),
    ) {
        (Some(&a), Some(&b)) => quote(text.norm.original(text.original, a as usize, b as usize)),
        _ => String::new(),
    };
    let top = m.explain(text, chunk, 4);
    let names: Vec<String> = top.into_iter().map(|(n, _)| n).collect();
    format!(
        "{:.0}% likely a threat: \"{}\"; weighed most: {}",
        f64::from(probability) * 100.0,
        sentence,
        names.join(", ")
    )
}

/// Keeps a text's model reading when it is the most threatening so far.
fn keep_reading(
    c: &mut Collected,
    model: Option<&Model>,
    reading: Option<(f32, (u32, u32))>,
    text: usize,
    stance: Option<f64>,
    view: TextView,
) {
    let (Some(m), Some((p, chunk))) = (model, reading) else {
        return;
    };
    if c.reading.as_ref().is_none_or(|r| p > r.probability) {
        c.reading = Some(model::Reading {
            probability: p,
            text,
            words: chunk,
            stance: stance.unwrap_or(1.0),
        });
        // Written now, while this text's words and hits are at hand, if it may show at
        // all (stance and the report factor only lower the score).
        c.reading_detail =
            (m.score(p) >= model::MIN_SCORE).then(|| explain_words(m, p, chunk, view));
    }
}

/// A number of hours or days ("50 hours", "2 dias"): an extortion deadline, whatever
/// the number.
fn time_limit(norm: &Normalized, words: &Words) -> Option<String> {
    let word = |i: usize| {
        let (s, e) = (*words.starts.get(i)? as usize, *words.ends.get(i)? as usize);
        norm.text.get(s..e)
    };
    (0..words.len().saturating_sub(1)).find_map(|i| {
        let n = word(i)?;
        let unit = word(i + 1)?;
        (n.len() <= 3
            && n.bytes().all(|b| b.is_ascii_digit())
            && matches!(
                unit,
                "hours" | "hour" | "hrs" | "days" | "horas" | "dias" | "minutes" | "minutos"
            ))
        .then(|| format!("{n} {unit}"))
    })
}

fn add_disguise(total: &mut Disguise, d: &Disguise) {
    total.invisible_in_words += d.invisible_in_words;
    total.mixed_script_words += d.mixed_script_words;
    total.leet_words += d.leet_words;
    total.spaced_words += d.spaced_words;
    total.stretched_words += d.stretched_words;
}

fn span_text<'a>(norm: &'a Normalized, words: &Words, start: u32, end: u32) -> &'a str {
    let (Some(&s), Some(&e)) = (
        words.starts.get(start as usize),
        end.checked_sub(1).and_then(|w| words.ends.get(w as usize)),
    ) else {
        return "";
    };
    norm.text.get(s as usize..e as usize).unwrap_or("")
}

/// Which words filled which slot: `actor "we" · intent "will" · harm "kill" · target
/// "you"`, quoting the original text.
fn explain(
    rule: &Rule,
    rules: &RuleSet,
    hit: &FrameHit,
    original: &str,
    norm: &Normalized,
    words: &Words,
) -> String {
    let original_of = |start: u32, end: u32| -> String {
        let (Some(&s), Some(&e)) = (
            words.starts.get(start as usize),
            end.checked_sub(1).and_then(|w| words.ends.get(w as usize)),
        ) else {
            return String::new();
        };
        quote(norm.original(original, s as usize, e as usize))
    };
    match rule.kind {
        RuleKind::Frame => {
            let pattern = &rules.patterns[hit.pattern];
            let mut parts = Vec::new();
            for (slot, &(s, e)) in pattern.slots.iter().zip(&hit.fills) {
                let names: Vec<&str> = slot.iter().map(|&c| rules.class_name(c)).collect();
                parts.push(format!("{} \"{}\"", names.join("|"), original_of(s, e)));
            }
            parts.join(" + ")
        }
        _ => format!("\"{}\"", original_of(hit.start, hit.end)),
    }
}

fn symbols(
    extracted: &Extracted,
    rules: &RuleSet,
    c: Collected,
    model_score: Option<(f64, f64)>,
) -> ContentFindings {
    let framed = c.report_frames.len() >= REPORT_FRAME_MIN;
    let mut symbols = Vec::new();
    let mut direct: Vec<&str> = Vec::new();
    let mut disguised_hit = false;
    let mut threatening = 0;
    // The model's reading, weighed like a rule's: a message framed as a report retells a
    // threat, it does not make one.
    if let Some((score, stance)) = model_score {
        let factor = if framed { REPORTED } else { 1.0 } * stance;
        let score = score * factor;
        if score >= model::MIN_SCORE {
            // Only a reading the model would hold on its own makes the message
            // threatening for the combinations (and keeps its coercion symbols): a
            // tag-level reading adds its score and nothing more.
            if score >= 2.0 * model::TAG_SCORE {
                direct.push("threat");
                threatening += 1;
            }
            symbols.push(Symbol {
                name: model::SYMBOL.into(),
                score,
                category: "threat".into(),
                detail: match (framed, stance < 1.0) {
                    (false, false) => String::new(),
                    (true, false) => format!(
                        " (in a message framed as a report, scored at {}%)",
                        (factor * 100.0).round()
                    ),
                    (_, true) => format!(
                        " (its sentence's threat is attributed, negated or asked{}, scored at {}%)",
                        if framed { ", in a report" } else { "" },
                        (factor * 100.0).round()
                    ),
                },
            });
        }
    }
    let weight_of = |b: &Best| {
        if framed {
            b.weights.framed
        } else {
            b.weights.plain
        }
    };
    // Strongest first, so that where two frames read the same words only the stronger
    // counts: "we will hunt you down" is one threat, not a threat and a pursuit.
    let mut ordered: Vec<(&usize, &Best)> = c.best.iter().collect();
    ordered.sort_by(|(ra, a), (rb, b)| {
        let sa = rules.rules()[**ra].score * weight_of(a).factor;
        let sb = rules.rules()[**rb].score * weight_of(b).factor;
        sb.total_cmp(&sa).then(ra.cmp(rb))
    });
    let mut taken: Vec<(usize, u32, u32)> = Vec::new();
    for (&rule_id, b) in ordered {
        let rule = &rules.rules()[rule_id];
        let weight = weight_of(b);
        // Only menace is deduplicated: a demand and the threat that backs it may share
        // words ("resign or you will be shot") and are two things.
        let menace = MENACE.contains(&rule.category.as_str());
        let (t, s, e) = b.span;
        if menace
            && taken
                .iter()
                .any(|&(tt, ts, te)| tt == t && ts < e && s < te)
        {
            continue;
        }
        if menace {
            taken.push(b.span);
        }
        // Only what is said directly and weighs enough makes a combination: a stray
        // "last warning" in a fundraising mail is not a threat to combine with.
        // Abuse counts whatever its score: it only ever adds to a threat.
        let weighty = rule.score * weight.factor >= COMBO_MIN || rule.category == "hostility";
        if weight.factor >= 0.7 && weighty {
            direct.push(rule.category.as_str());
            disguised_hit |= b.disguised;
            if THREATENING.contains(&rule.category.as_str())
                && rule.score * weight.factor >= THREAT_MIN
            {
                threatening += 1;
            }
        }
        let detail = if weight.factor < 1.0 {
            format!(
                "{} ({}, scored at {}%)",
                b.detail,
                weight.why,
                (weight.factor * 100.0).round()
            )
        } else {
            b.detail.clone()
        };
        // Menace repeated in other words is more menace: each further direct match of
        // a veiled or intimidating rule adds half its score, up to double.
        let repeats = if matches!(rule.category.as_str(), "intimidation" | "doxxing")
            && weight.factor >= 1.0
        {
            f64::from(b.more.min(2)) * 0.5
        } else {
            0.0
        };
        let detail = if repeats > 0.0 {
            format!("{detail} and {} more", b.more)
        } else {
            detail
        };
        symbols.push(Symbol {
            name: rule.name.clone(),
            score: rule.score * (weight.factor + repeats),
            category: rule.category.clone(),
            detail,
        });
    }
    // Structures: enough of their lexicons anywhere in the message.
    let payment = rules.lexicon_id(lexicons::PAYMENT);
    let mut present = c.present;
    if let (Some(p), Some(w)) = (payment, c.wallets.first()) {
        if present.len() <= p as usize {
            present.resize(p as usize + 1, None);
        }
        present[p as usize] = Some(format!("{} address", w.kind));
    }
    let found = |l: u32| present.get(l as usize).and_then(Option::as_deref);
    for s in &rules.structures {
        let filled: Vec<u32> = s
            .slots
            .iter()
            .copied()
            .filter(|&l| found(l).is_some())
            .collect();
        if filled.len() < s.min_slots
            || !s.required.iter().all(|r| filled.contains(r))
            || !(s.any_of.is_empty() || s.any_of.iter().any(|a| filled.contains(a)))
        {
            continue;
        }
        let rule = &rules.rules()[s.rule];
        let names: Vec<String> = filled
            .iter()
            .map(|&l| format!("{} \"{}\"", rules.class_name(l), found(l).unwrap_or("")))
            .collect();
        // A report that retells an extortion letter (news, advisories) has all its
        // steps, in the third person; the letter itself is never framed as a report.
        let factor = if framed { REPORTED } else { 1.0 };
        if factor >= 0.7 {
            direct.push(rule.category.as_str());
        }
        symbols.push(Symbol {
            name: rule.name.clone(),
            score: rule.score * factor,
            category: rule.category.clone(),
            detail: format!(
                "{} of {} steps: {}{}",
                filled.len(),
                s.slots.len(),
                names.join(", "),
                if framed {
                    " (in a message framed as a report)"
                } else {
                    ""
                }
            ),
        });
    }
    if let Some(w) = c.wallets.first() {
        symbols.push(Symbol {
            name: "CRYPTO_WALLET".into(),
            score: built_in("CRYPTO_WALLET"),
            category: "extortion".into(),
            detail: format!(
                "{} payment address {}{}",
                w.kind,
                quote(&w.address),
                if c.wallets.len() > 1 {
                    format!(" and {} more", c.wallets.len() - 1)
                } else {
                    String::new()
                }
            ),
        });
    }
    let has = |cats: &[&str]| direct.iter().any(|d| cats.contains(d));
    let threat = threatening >= 1;
    if !threat {
        // A demand without a threat is pressure, not coercion: campaigns, shops and
        // colleagues make them all day.
        symbols.retain(|s| s.category != "coercion");
    }
    let demand = threat && has(&["coercion"]) || has(&["extortion"]);
    let personal = has(&["doxxing"]);
    let hostile = has(&["hostility"]);
    if demand && threat {
        symbols.push(combo(
            "COMBO_DEMAND_AND_THREAT",
            "a demand backed by a threat of harm",
        ));
    }
    if personal && (threat || demand) {
        symbols.push(combo(
            "COMBO_THREAT_AND_PERSONAL_DATA",
            "a threat or demand from someone claiming the reader's personal data",
        ));
    }
    if hostile && threat {
        symbols.push(combo(
            "COMBO_HOSTILE_THREAT",
            "a threat wrapped in abuse of the reader",
        ));
    }
    if disguised_hit && (threat || demand || personal) {
        symbols.push(combo(
            "COMBO_DISGUISED_THREAT",
            "threatening words written to slip past filters",
        ));
    }
    let d = c.disguise;
    if d.mixed_script_words > 0 {
        symbols.push(signal(
            "MIXED_SCRIPT_WORDS",
            format!(
                "{} word(s) mix Latin letters with look-alikes from other scripts",
                d.mixed_script_words
            ),
        ));
    }
    if d.invisible_in_words > 0 {
        symbols.push(signal(
            "INVISIBLE_CHARS_IN_WORDS",
            format!(
                "{} invisible character(s) inside words",
                d.invisible_in_words
            ),
        ));
    }
    if d.spaced_words > 0 {
        symbols.push(signal(
            "SPACED_OUT_WORDS",
            format!("{} word(s) spelled with spaced letters", d.spaced_words),
        ));
    }
    if d.stretched_words > 0 {
        symbols.push(signal(
            "STRETCHED_WORDS",
            format!(
                "{} word(s) with letters repeated for effect",
                d.stretched_words
            ),
        ));
    }
    if extracted.hidden_chars >= 20 {
        symbols.push(signal(
            "HTML_HIDDEN_TEXT",
            format!(
                "{} characters of HTML text hidden from the reader",
                extracted.hidden_chars
            ),
        ));
    }
    if extracted.limited {
        symbols.push(Symbol {
            name: "TEXT_LIMIT_REACHED".into(),
            score: built_in("TEXT_LIMIT_REACHED"),
            category: "info".into(),
            detail: "the message has more text or parts than are read; the rest was not scanned"
                .into(),
        });
    }
    if c.budget_exhausted {
        symbols.push(Symbol {
            name: "SCAN_BUDGET_EXHAUSTED".into(),
            score: built_in("SCAN_BUDGET_EXHAUSTED"),
            category: "info".into(),
            detail: "the message took more work than one message may; the rest was not scanned"
                .into(),
        });
    }
    ContentFindings {
        symbols,
        identity: Identity::default(),
        fingerprint: None,
        reported: framed,
    }
}

fn combo(name: &str, detail: &str) -> Symbol {
    Symbol {
        name: name.into(),
        score: built_in(name),
        category: "combination".into(),
        detail: detail.into(),
    }
}

fn signal(name: &str, detail: String) -> Symbol {
    Symbol {
        name: name.into(),
        score: built_in(name),
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
