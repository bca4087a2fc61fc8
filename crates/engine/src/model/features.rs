//! The features of one stretch of words: words, lexicon classes, token pairs and
//! triples, class pairs, the question mark, length and context, each hashed into the
//! model's weights (see the module above for what each means).

use crate::normalize::Normalized;
use crate::rules::{ClassHit, RuleSet, Words};
use xxhash_rust::xxh3::xxh3_64;

/// How far apart (in words) two classes may be and still make a pair feature.
pub const PAIR_GAP: u32 = 8;

/// Class hits of one chunk that take part in pair features.
const PAIR_HITS: usize = 12;

/// One text as the model reads it: the text as written, its normal form, its words and
/// their class hits, with the rules that found them.
#[derive(Clone, Copy)]
pub struct TextView<'a> {
    /// The rules whose lexicons made the hits.
    pub rules: &'a RuleSet,
    /// The text as written (for quoting it).
    pub original: &'a str,
    /// Its normal form.
    pub norm: &'a Normalized,
    /// Its words.
    pub words: &'a Words,
    /// Its class hits, ordered by start.
    pub hits: &'a [ClassHit],
}

/// A text as the rules read it, owned: its normal form, words and class hits.
pub struct Analysed {
    /// The normal form.
    pub norm: Normalized,
    /// Its words.
    pub words: Words,
    /// Its class hits.
    pub hits: Vec<ClassHit>,
}

impl Analysed {
    /// Normalises `text` with the rules' vocabulary and finds its words and class hits.
    pub fn of(rules: &RuleSet, text: &str) -> Analysed {
        let norm = crate::normalize::normalize_with(text, rules.vocabulary());
        let words = Words::of(&norm);
        let hits = rules.class_hits(&norm, &words);
        Analysed { norm, words, hits }
    }

    /// The view the model reads, of `original` (the text this was made of).
    pub fn view<'a>(&'a self, rules: &'a RuleSet, original: &'a str) -> TextView<'a> {
        TextView {
            rules,
            original,
            norm: &self.norm,
            words: &self.words,
            hits: &self.hits,
        }
    }
}

/// Where features go: hashes only (scoring, training) or with names (explanations).
pub trait Sink {
    /// One feature: its hash, and a way to name it.
    fn add(&mut self, hash: u64, name: impl FnOnce() -> String);
}

/// Collects feature indices.
pub struct Hashes<'a> {
    /// Bits of the index.
    pub bits: u32,
    /// The indices.
    pub out: &'a mut Vec<u32>,
}

impl Sink for Hashes<'_> {
    fn add(&mut self, hash: u64, _name: impl FnOnce() -> String) {
        self.out.push(index(hash, self.bits));
    }
}

pub(super) struct Named {
    pub(super) bits: u32,
    pub(super) out: Vec<(String, u32)>,
}

impl Sink for Named {
    fn add(&mut self, hash: u64, name: impl FnOnce() -> String) {
        self.out.push((name(), index(hash, self.bits)));
    }
}

pub(super) fn index(hash: u64, bits: u32) -> u32 {
    (hash >> (64 - bits)) as u32
}

pub(super) fn mix(a: u64, b: u64) -> u64 {
    (a ^ b.rotate_left(23))
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .rotate_left(31)
        ^ a.rotate_right(7)
}

/// One token of the abstracted sentence: a lexicon class where an entry starts, the word
/// otherwise.
#[derive(Clone, Copy)]
struct Token<'a> {
    hash: u64,
    name: &'a str,
    class: bool,
}

pub(super) const KIND_WORD: u64 = 0x01;
/// The rules' class-name hash seed: a class hash and its feature kind are one number,
/// and the shipped model was trained on it (0x02).
pub(super) const KIND_CLASS: u64 = crate::rules::CLASS_HASH_SEED;
pub(super) const KIND_BIGRAM: u64 = 0x03;
pub(super) const KIND_TRIGRAM: u64 = 0x04;
pub(super) const KIND_PAIR: u64 = 0x05;
pub(super) const KIND_QUESTION: u64 = 0x06;
pub(super) const KIND_LENGTH: u64 = 0x07;
pub(super) const KIND_FIRST: u64 = 0x08;
pub(super) const KIND_CONTEXT: u64 = 0x09;
pub(super) const KIND_QUOTED: u64 = 0x0a;
pub(super) const KIND_CLASS_SEQ: u64 = 0x0b;

/// The features of words `start..end` of one text.
pub fn chunk_features(text: TextView, context: &[u32], start: u32, end: u32, sink: &mut impl Sink) {
    let TextView {
        rules,
        original,
        norm,
        words,
        hits,
    } = text;
    let word = |i: u32| -> &str {
        let (Some(&s), Some(&e)) = (words.starts.get(i as usize), words.ends.get(i as usize))
        else {
            return "";
        };
        norm.text.get(s as usize..e as usize).unwrap_or("")
    };
    // Class hits inside the chunk, ordered by start (then end, as class_hits gives them).
    let first = hits.partition_point(|h| h.start < start);
    let mut inside: Vec<&ClassHit> = hits[first..]
        .iter()
        .take_while(|h| h.start < end)
        .filter(|h| h.end <= end && !rules.model_skips(h.class))
        .collect();
    // Class ids follow the order the packs were loaded in; names do not. Ties are broken
    // by name, so the same packs loaded from files read exactly as the built-in ones.
    inside.sort_by(|a, b| {
        (a.start, a.end)
            .cmp(&(b.start, b.end))
            .then_with(|| rules.class_name(a.class).cmp(rules.class_name(b.class)))
    });
    let class_hash = |c: u32| rules.class_hash(c);
    for i in start..end {
        let w = word(i);
        sink.add(mix(KIND_WORD, xxh3_64(w.as_bytes())), || format!("\"{w}\""));
    }
    for h in &inside {
        let name = rules.class_name(h.class);
        sink.add(mix(KIND_CLASS, class_hash(h.class)), || name.to_string());
    }
    // The abstracted sequence: the longest class starting at a word stands for its words.
    let mut tokens: Vec<Token<'_>> = Vec::with_capacity((end - start) as usize);
    let mut k = 0usize;
    let mut i = start;
    while i < end {
        while k < inside.len() && inside[k].start < i {
            k += 1;
        }
        // The longest entry starting here; among equals, the last by name.
        let longest = inside[k..].iter().take_while(|h| h.start == i).last();
        match longest {
            Some(h) => {
                tokens.push(Token {
                    hash: class_hash(h.class),
                    name: rules.class_name(h.class),
                    class: true,
                });
                i = h.end.max(i + 1);
            }
            None => {
                let w = word(i);
                tokens.push(Token {
                    hash: xxh3_64(w.as_bytes()),
                    name: w,
                    class: false,
                });
                i += 1;
            }
        }
    }
    let show = |t: &Token<'_>| {
        if t.class {
            t.name.to_string()
        } else {
            format!("\"{}\"", t.name)
        }
    };
    for pair in tokens.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if !a.class && !b.class {
            continue;
        }
        sink.add(mix(mix(KIND_BIGRAM, a.hash), b.hash), || {
            format!("{} {}", show(a), show(b))
        });
    }
    for triple in tokens.windows(3) {
        let (a, b, c) = (&triple[0], &triple[1], &triple[2]);
        if u8::from(a.class) + u8::from(b.class) + u8::from(c.class) < 2 {
            continue;
        }
        sink.add(mix(mix(mix(KIND_TRIGRAM, a.hash), b.hash), c.hash), || {
            format!("{} {} {}", show(a), show(b), show(c))
        });
    }
    // The classes alone, in order, with the words between them left out: "intent …
    // harm_body … target_you" however many words stand between.
    let classes: Vec<&Token<'_>> = tokens.iter().filter(|t| t.class).collect();
    for triple in classes.windows(3) {
        let (a, b, c) = (triple[0], triple[1], triple[2]);
        sink.add(
            mix(mix(mix(KIND_CLASS_SEQ, a.hash), b.hash), c.hash),
            || format!("{} … {} … {}", a.name, b.name, c.name),
        );
    }
    let paired = &inside[..inside.len().min(PAIR_HITS)];
    for (n, a) in paired.iter().enumerate() {
        for b in &paired[n + 1..] {
            if b.start < a.end || b.start - a.end > PAIR_GAP || a.class == b.class {
                continue;
            }
            sink.add(
                mix(mix(KIND_PAIR, class_hash(a.class)), class_hash(b.class)),
                || {
                    format!(
                        "{} … {}",
                        rules.class_name(a.class),
                        rules.class_name(b.class)
                    )
                },
            );
        }
    }
    if let Some(t) = tokens.first() {
        sink.add(mix(KIND_FIRST, t.hash), || {
            format!("starts with {}", show(t))
        });
    }
    for &c in context {
        let name = rules.class_name(c);
        sink.add(mix(KIND_CONTEXT, class_hash(c)), || {
            format!("the text has {name}")
        });
    }
    if quoted(original, norm, words, start, end) {
        sink.add(mix(KIND_QUOTED, 1), || "in quotation marks".to_string());
    }
    if ends_with_question(original, norm, words, end) {
        sink.add(mix(KIND_QUESTION, 1), || "a question".to_string());
    }
    let len = (end - start).max(1);
    let bucket = u64::from(32 - len.leading_zeros());
    sink.add(mix(KIND_LENGTH, bucket), || format!("{len} words"));
}

/// Whether the chunk's original text holds a quotation mark (or opens or closes right
/// after or before one): someone's words quoted, as reports and warnings quote threats.
/// An apostrophe counts only where it opens a quotation (after a space), not inside
/// "don't". Chunks do not overlap, so over a text this reads each character once.
fn quoted(original: &str, norm: &Normalized, words: &Words, start: u32, end: u32) -> bool {
    const MARKS: &[char] = &['"', '“', '”', '«', '»', '„', '‘'];
    let from = words
        .starts
        .get(start as usize)
        .map_or(0, |&s| norm.original_offset(s as usize));
    let to = end
        .checked_sub(1)
        .and_then(|w| words.ends.get(w as usize))
        .map_or(0, |&e| norm.original_offset((e as usize).saturating_sub(1)));
    // A few characters either side: the mark that opens or closes the chunk.
    let mut lo = from.saturating_sub(3).min(original.len());
    while !original.is_char_boundary(lo) {
        lo -= 1;
    }
    let mut hi = to.saturating_add(5).min(original.len());
    while !original.is_char_boundary(hi) {
        hi += 1;
    }
    let Some(span) = original.get(lo..hi) else {
        return false;
    };
    let mut previous = ' ';
    for c in span.chars() {
        if MARKS.contains(&c) || (c == '\'' && !previous.is_alphanumeric()) {
            return true;
        }
        previous = c;
    }
    false
}

/// Whether the original text after the chunk's last word has a `?` before the next word.
fn ends_with_question(original: &str, norm: &Normalized, words: &Words, end: u32) -> bool {
    let Some(&last_end) = end.checked_sub(1).and_then(|w| words.ends.get(w as usize)) else {
        return false;
    };
    // The last byte of the last word maps to the start of its last character.
    let at = norm.original_offset((last_end as usize).saturating_sub(1));
    let Some(rest) = original.get(at..) else {
        return false;
    };
    rest.chars()
        .skip(1)
        .take(8)
        .take_while(|c| !c.is_alphanumeric())
        .any(|c| c == '?')
}
