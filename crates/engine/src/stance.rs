//! Stance: how a matched frame is said. Negated ("we would never hurt you"), quoted,
//! attributed to someone else ("he wrote that …", "según …"), or inside a message that
//! reports and advises (court releases, news, guidance) rather than threatens.
//!
//! Evidence of reporting lowers a hit's weight; a stray quote mark or `>` quoting alone
//! lowers it only a little, so a direct threat that quotes itself, or arrives as a reply,
//! still reaches the tag threshold.

use crate::frames::FrameHit;
use crate::normalize::Normalized;
use crate::rules::{lexicons, ClassHit, RuleSet, Words};

/// How a hit is weighed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weight {
    /// Share of the rule's score it gets.
    pub factor: f64,
    /// Why, when the factor is not 1.
    pub why: &'static str,
}

/// A hit's weight in an ordinary message and in one framed as a report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weights {
    /// In an ordinary message.
    pub plain: Weight,
    /// In a message framed as a report (news, court release, guidance).
    pub framed: Weight,
}

/// Share of the score a threat keeps when words attribute it to someone else.
pub(crate) const REPORTED: f64 = 0.1;
/// Share kept inside a message framed as a report (news, court release, guidance).
pub(crate) const FRAMED: f64 = 0.5;
/// Share kept inside quotation marks with no other sign of reporting.
pub(crate) const QUOTED: f64 = 0.7;
/// Share kept in `>` quoted lines with no other sign of reporting.
pub(crate) const REPLY_QUOTED: f64 = 0.8;

/// Words looked at before a hit (in its sentence) for a reporting verb.
const REPORT_BEFORE: u32 = 15;
/// Words looked at after a hit, or after a quotation's end.
const REPORT_AFTER: u32 = 6;
/// Words looked at before a quotation's start, across sentences ("… specifically: "…").
const REPORT_BEFORE_QUOTE: u32 = 20;

/// Per-text facts the stance of every hit is read from, built in one pass each.
pub struct Context<'a> {
    original: &'a str,
    norm: &'a Normalized,
    words: &'a Words,
    negations: Negations,
    reporting: Vec<bool>,
    /// Closed quotations, as original byte ranges of what is inside them.
    quotes: Vec<(usize, usize)>,
    /// Lines quoted with `>`, as original byte ranges.
    reply_lines: Vec<(usize, usize)>,
}

impl<'a> Context<'a> {
    /// Reads the text once for quotations, reply quotes and the stance lexicons.
    pub fn new(
        original: &'a str,
        norm: &'a Normalized,
        words: &'a Words,
        hits: &[ClassHit],
        rules: &RuleSet,
    ) -> Context<'a> {
        let negations = Negations::new(hits, rules, words.len());
        Context::with_negations(original, norm, words, hits, rules, negations)
    }

    /// Like [`Context::new`], with the text's negations already read.
    pub(crate) fn with_negations(
        original: &'a str,
        norm: &'a Normalized,
        words: &'a Words,
        hits: &[ClassHit],
        rules: &RuleSet,
        negations: Negations,
    ) -> Context<'a> {
        let id = |name| rules.lexicon_id(name);
        let [own, mut reporting] = mark_words(
            hits,
            words.len(),
            [id(lexicons::SELF_REPORT), id(lexicons::REPORTING)],
        );
        for (rep, own) in reporting.iter_mut().zip(&own) {
            *rep &= !own;
        }
        Context {
            original,
            norm,
            words,
            negations,
            reporting,
            quotes: quotations(original),
            reply_lines: reply_lines(original),
        }
    }

    /// The weight of a hit, read once: as said in an ordinary message, and as said in a
    /// message framed as a report (which of the two applies is known only once every
    /// text has been read). `None` when the hit is negated.
    pub fn weigh(&self, hit: &FrameHit, negatable: bool) -> Option<Weights> {
        if negatable && self.negated(hit) {
            return None;
        }
        let (a, b) = self.original_span(hit);
        let quote = self.enclosing_quote(a, b);
        if self.attributed(hit, quote) {
            let w = Weight {
                factor: REPORTED,
                why: "attributed to someone else",
            };
            return Some(Weights {
                plain: w,
                framed: w,
            });
        }
        let quoted = quote.is_some();
        let reply = self.in_reply_quote(a);
        let framed = if quoted || reply {
            Weight {
                factor: REPORTED,
                why: "quoted in a report",
            }
        } else {
            Weight {
                factor: FRAMED,
                why: "in a message framed as a report",
            }
        };
        let plain = if quoted {
            Weight {
                factor: QUOTED,
                why: "in quotation marks",
            }
        } else if reply {
            Weight {
                factor: REPLY_QUOTED,
                why: "in a quoted reply",
            }
        } else {
            Weight {
                factor: 1.0,
                why: "",
            }
        };
        Some(Weights { plain, framed })
    }

    /// A negation inside the match, or right before it, that does not belong to a
    /// condition ("if you don't resign" is the threat's condition, not its denial).
    fn negated(&self, hit: &FrameHit) -> bool {
        let sentence = self.words.sentence.get(hit.start as usize).copied();
        let subject_from = hit.start.saturating_sub(3);
        if (subject_from..hit.end).any(|w| {
            self.negations
                .subject
                .get(w as usize)
                .copied()
                .unwrap_or(false)
                && self.words.sentence.get(w as usize).copied() == sentence
        }) {
            return true;
        }
        (hit.start.saturating_sub(1)..hit.end)
            .any(|w| self.negations.denies(self.words, w as usize, sentence))
    }

    fn attributed(&self, hit: &FrameHit, quote: Option<(usize, usize)>) -> bool {
        let sentence = self.words.sentence.get(hit.start as usize).copied();
        let same = |w: u32| self.words.sentence.get(w as usize).copied() == sentence;
        let before = hit.start.saturating_sub(REPORT_BEFORE)..hit.start;
        if before
            .filter(|&w| same(w))
            .any(|w| self.reporting[w as usize])
        {
            return true;
        }
        let after = hit.end..(hit.end + REPORT_AFTER).min(self.words.len() as u32);
        if after
            .filter(|&w| same(w))
            .any(|w| self.reporting[w as usize])
        {
            return true;
        }
        // "… the letter stated:" and the words on the next lines.
        if let Some(first) = self.sentence_start(hit.start) {
            if self.after_colon(first) {
                let before = first.saturating_sub(REPORT_BEFORE)..first;
                if before.into_iter().any(|w| self.reporting[w as usize]) {
                    return true;
                }
            }
        }
        if let Some((open, close)) = quote {
            let first = self.word_at_original(open);
            let last = self.word_at_original(close);
            let before = first.saturating_sub(REPORT_BEFORE_QUOTE)..first;
            let after = last..(last + REPORT_AFTER).min(self.words.len() as u32);
            if before.chain(after).any(|w| self.reporting[w as usize]) {
                return true;
            }
        }
        false
    }

    /// The first word of the sentence `w` is in, if that is at most 40 words back.
    fn sentence_start(&self, w: u32) -> Option<u32> {
        let sentence = self.words.sentence.get(w as usize)?;
        let mut s = w;
        while s > 0 && self.words.sentence.get(s as usize - 1) == Some(sentence) {
            if w - s >= 40 {
                return None;
            }
            s -= 1;
        }
        Some(s)
    }

    /// Whether the original text right before word `w` (white space and `>` skipped) is a
    /// colon.
    fn after_colon(&self, w: u32) -> bool {
        let Some(&start) = self.words.starts.get(w as usize) else {
            return false;
        };
        let at = self.norm.original_offset(start as usize);
        let Some(before) = self.original.get(..at) else {
            return false;
        };
        before
            .trim_end_matches(|c: char| c.is_whitespace() || c == '>' || c == '"' || c == '“')
            .ends_with(':')
    }

    fn original_span(&self, hit: &FrameHit) -> (usize, usize) {
        let a = self
            .words
            .starts
            .get(hit.start as usize)
            .map_or(0, |&s| self.norm.original_offset(s as usize));
        let b = hit
            .end
            .checked_sub(1)
            .and_then(|w| self.words.ends.get(w as usize))
            .map_or(a, |&e| {
                self.norm
                    .original_offset((e as usize).saturating_sub(1))
                    .saturating_add(1)
            });
        (a, b.max(a))
    }

    /// The first word at or after an original byte offset.
    fn word_at_original(&self, at: usize) -> u32 {
        let byte = self.norm.map.partition_point(|&m| (m as usize) < at);
        self.words.starts.partition_point(|&s| (s as usize) < byte) as u32
    }

    fn enclosing_quote(&self, a: usize, b: usize) -> Option<(usize, usize)> {
        let i = self.quotes.partition_point(|&(open, _)| open <= a);
        let &(open, close) = self.quotes.get(i.checked_sub(1)?)?;
        (b <= close + 1).then_some((open, close))
    }

    fn in_reply_quote(&self, a: usize) -> bool {
        let i = self.reply_lines.partition_point(|&(s, _)| s <= a);
        i.checked_sub(1)
            .and_then(|i| self.reply_lines.get(i))
            .is_some_and(|&(_, e)| a < e)
    }
}

/// For each of `classes`, which of the text's `n` words its hits cover. A hit counts for
/// the first of `classes` it belongs to.
fn mark_words<const K: usize>(
    hits: &[ClassHit],
    n: usize,
    classes: [Option<u32>; K],
) -> [Vec<bool>; K] {
    let mut marks: [Vec<bool>; K] = std::array::from_fn(|_| vec![false; n]);
    for h in hits {
        let Some(k) = classes.iter().position(|&c| c == Some(h.class)) else {
            continue;
        };
        for w in h.start..h.end.min(n as u32) {
            marks[k][w as usize] = true;
        }
    }
    marks
}

/// A text's negations, read once: negation words (less exempt ones such as "not
/// hesitate" or "si no"), the conditions they may belong to ("if you don't, …") and
/// negated subjects (`nobody`, `ningún`). Frames ask it through [`Context`]; the
/// extortion structure asks it whether a consequence is negated.
pub(crate) struct Negations {
    negation: Vec<bool>,
    /// Negated subjects, which deny a few words further on.
    subject: Vec<bool>,
    condition: Vec<bool>,
}

impl Negations {
    /// Marks the `n` words of a text from its hits, in one pass.
    pub fn new(hits: &[ClassHit], rules: &RuleSet, n: usize) -> Negations {
        let id = |name| rules.lexicon_id(name);
        let [subject, mut negation, condition, exempt] = mark_words(
            hits,
            n,
            [
                id(lexicons::NEGATION_SUBJECT),
                id(lexicons::NEGATION),
                id(lexicons::CONDITION),
                id(lexicons::NEGATION_EXEMPT),
            ],
        );
        for (neg, ex) in negation.iter_mut().zip(&exempt) {
            *neg &= !ex;
        }
        Negations {
            negation,
            subject,
            condition,
        }
    }

    /// Whether word `w` is a negation in `sentence` that denies what follows it, rather
    /// than belonging to a condition in the three words before it.
    fn denies(&self, words: &Words, w: usize, sentence: Option<u32>) -> bool {
        self.negation.get(w).copied().unwrap_or(false)
            && words.sentence.get(w).copied() == sentence
            && !self.condition[w.saturating_sub(3)..w].iter().any(|&c| c)
    }

    /// Whether a hit starting at word `start` is denied by the word right before it
    /// ("never share it with anyone").
    pub(crate) fn denies_start(&self, words: &Words, start: u32) -> bool {
        let sentence = words.sentence.get(start as usize).copied();
        start
            .checked_sub(1)
            .is_some_and(|w| self.denies(words, w as usize, sentence))
    }
}

/// Closed quotations in the text, paragraph by paragraph, as `(open, close)` byte
/// offsets: `open` is the opening mark, `close` the closing one. A mark never closed in
/// its paragraph quotes nothing. Single quotes count only where they open or close
/// rather than sit inside a word (don't, voters').
fn quotations(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut double: Option<usize> = None;
    let mut single: Option<usize> = None;
    let mut newlines = 0;
    // Whether only white space came since the line began, and whether the open double
    // quote opened a line: a quotation that runs on over paragraphs opens each of them
    // and closes only at its end, so such a mark quotes its whole paragraph.
    let mut line_start = true;
    let mut opened_line = false;
    let bytes = text.as_bytes();
    // A letter or digit, or any non-ASCII character (read as a letter: quotation marks
    // themselves are handled before this is asked).
    let wordy = |b: Option<&u8>| b.is_some_and(|&b| b.is_ascii_alphanumeric() || b >= 0x80);
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        // ASCII bytes other than these change nothing: skip them quickly.
        if b < 0x80 && !matches!(b, b'\n' | b'"' | b'\'') {
            if !b.is_ascii_whitespace() {
                newlines = 0;
                line_start = false;
            }
            i += 1;
            continue;
        }
        let (c, len) = if b < 0x80 {
            (b as char, 1)
        } else {
            match text[i..].chars().next() {
                Some(c) => (c, c.len_utf8()),
                None => break,
            }
        };
        let prev = i.checked_sub(1).and_then(|p| bytes.get(p));
        let next = bytes.get(i + len);
        match c {
            '\n' => {
                newlines += 1;
                line_start = true;
                if newlines >= 2 {
                    if let (Some(open), true) = (double.take(), opened_line) {
                        out.push((open, i));
                    }
                    single = None;
                }
            }
            '"' => match double.take() {
                Some(open) => out.push((open, i)),
                None => {
                    double = Some(i);
                    opened_line = line_start;
                }
            },
            '“' | '«' | '„' => {
                double = Some(i);
                opened_line = line_start;
            }
            '”' | '»' => {
                if let Some(open) = double.take() {
                    out.push((open, i));
                }
            }
            '\'' | '‘' | '’' => {
                if !wordy(prev) && wordy(next) {
                    single = Some(i);
                } else if !wordy(next) {
                    if let Some(open) = single.take() {
                        out.push((open, i));
                    }
                }
            }
            _ => {}
        }
        if c != '\n' && !c.is_whitespace() {
            newlines = 0;
            line_start = false;
        }
        i += len;
    }
    if let (Some(open), true) = (double, opened_line) {
        out.push((open, text.len()));
    }
    out.sort_unstable();
    // Nested quotations: keep the outermost, so lookups by opening offset stay simple.
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(out.len());
    for (o, c) in out {
        match merged.last_mut() {
            Some(last) if o <= last.1 => last.1 = last.1.max(c),
            _ => merged.push((o, c)),
        }
    }
    merged
}

/// Lines that start with `>` (after optional spaces), as byte ranges.
fn reply_lines(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_start().starts_with('>') {
            out.push((start, start + line.len()));
        }
        start += line.len();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotations_are_closed_pairs_within_a_paragraph() {
        let t = "He wrote \"we will find you\" and left.";
        let q = quotations(t);
        assert_eq!(q.len(), 1);
        assert_eq!(&t[q[0].0 + 1..q[0].1], "we will find you");
        // A stray mark quotes nothing; nor does one left open at a paragraph's end.
        assert!(quotations("'cause your days are numbered").is_empty());
        assert!(quotations("Don't worry, we will find you").is_empty());
        assert!(quotations("He said \"we will\n\nfind you\"").is_empty());
        // A quotation that opens a paragraph runs to its end.
        assert_eq!(
            quotations("x\n\n  \"I want you to know we will find you.\n-- a speech\n\nnext").len(),
            1
        );
        assert_eq!(
            quotations("“Do you feel safe? You shouldn’t.” and").len(),
            1
        );
        assert_eq!(quotations("'we know where you live' said").len(), 1);
    }

    #[test]
    fn reply_lines_are_found() {
        let t = "hi\n> we will find you\n>> again\nok";
        let r = reply_lines(t);
        assert_eq!(r.len(), 2);
        assert_eq!(&t[r[0].0..r[0].1], "> we will find you\n");
    }
}

#[cfg(test)]
mod weigh_tests {
    use super::*;
    use crate::frames::match_frames;
    use crate::normalize::normalize_with;

    fn weights(text: &str) -> Vec<(String, Option<Weight>)> {
        let rules = RuleSet::defaults().unwrap();
        let norm = normalize_with(text, rules.vocabulary());
        let words = Words::of(&norm);
        let hits = rules.class_hits(&norm, &words);
        let ctx = Context::new(text, &norm, &words, &hits, &rules);
        match_frames(&rules, &hits, &words, &norm.text)
            .iter()
            .map(|h| {
                let negatable = rules.patterns[h.pattern].negatable;
                (
                    rules.rules()[h.rule].name.clone(),
                    ctx.weigh(h, negatable).map(|w| w.plain),
                )
            })
            .collect()
    }

    #[test]
    fn attribution_before_a_quotation_reports_it() {
        let w = weights("According to court documents, the man made threats, specifically: \u{201C}Do you feel safe? You shouldn\u{2019}t.\u{201D} and more.");
        assert!(!w.is_empty());
        for (name, weight) in w {
            assert_eq!(weight.map(|w| w.factor), Some(REPORTED), "{name}");
        }
    }
}
