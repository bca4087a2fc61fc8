//! Frames: slots filled in order within one sentence.
//!
//! Lexicon hits arrive ordered by their first word. For every pattern the matcher keeps,
//! per slot, the partial match (slots 0..=i filled) that ends latest: with only upper
//! bounds on the gaps, a later end is never worse for what follows, so one partial per
//! slot is enough and the whole pass is linear in the number of hits times the slots
//! each class can fill.

use std::collections::VecDeque;

use crate::rules::{ClassHit, RuleSet, Words, COORDINATED_GAP};

/// Completed matches kept per pattern; a message repeating one threat a million times
/// needs only the first few to explain it.
const MAX_PER_PATTERN: usize = 16;

/// One frame (or phrase) that matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameHit {
    /// The rule it fires.
    pub rule: usize,
    /// The pattern that matched.
    pub pattern: usize,
    /// First word.
    pub start: u32,
    /// One past the last word.
    pub end: u32,
    /// The words that filled each slot, as `(start, end)` word ranges.
    pub fills: Vec<(u32, u32)>,
}

#[derive(Debug, Clone, Copy)]
struct Partial {
    start: u32,
    end: u32,
    sentence: u32,
    /// First word of each slot's filler, and how many words it has.
    fill_start: [u32; 8],
    fill_len: [u8; 8],
}

/// Partial matches kept per slot. Alternatives that end at different words (`will` and
/// `will be`) must both be kept: the next slot may start inside the longer one.
const PER_SLOT: usize = 6;

/// Every match of every pattern in one text: `hits` are the text's class hits in order,
/// `words` its words, `text` the normalised text.
pub fn match_frames(
    rules: &RuleSet,
    hits: &[ClassHit],
    words: &Words,
    text: &str,
) -> Vec<FrameHit> {
    let patterns = &rules.patterns;
    if hits.is_empty() {
        return Vec::new();
    }
    let offsets = &rules.slot_offsets;
    let total = rules.slot_total;
    // A pattern can only match if every one of its slots has some hit in this text:
    // the others are skipped outright, which keeps text full of actors and intents
    // but without harms and targets cheap.
    let mut present = vec![false; rules.classes()];
    for h in hits {
        if let Some(p) = present.get_mut(h.class as usize) {
            *p = true;
        }
    }
    let alive: Vec<bool> = patterns
        .iter()
        .map(|p| {
            p.slots
                .iter()
                .all(|alts| alts.iter().any(|&c| present.get(c as usize) == Some(&true)))
        })
        .collect();
    // For every slot of every pattern, the partial matches that end latest, newest last.
    let mut state: Vec<VecDeque<Partial>> =
        std::iter::repeat_with(VecDeque::new).take(total).collect();
    let mut emitted = vec![0usize; patterns.len()];
    let mut out = Vec::new();
    // Words right after a coordinator (`and`, `y`): a verb there is still in the scope of
    // a modal that carries (`I will drive over and burn it down`).
    let mut coordinated = vec![false; words.starts.len() + 1];
    if let Some(coordinator) = rules.coordinator {
        for h in hits.iter().filter(|h| h.class == coordinator) {
            if let Some(c) = coordinated.get_mut(h.end as usize) {
                *c = true;
            }
        }
    }
    for h in hits {
        let Some(&sentence) = words.sentence.get(h.start as usize) else {
            continue;
        };
        let Some(users) = rules.users.get(h.class as usize) else {
            continue;
        };
        for &(p, s) in users {
            let (p, s) = (p as usize, s as usize);
            // A pattern that has matched as often as is kept needs no more work: a
            // message repeating one threat costs no more than saying it a few times.
            if !alive[p] || emitted[p] >= MAX_PER_PATTERN {
                continue;
            }
            let pattern = &patterns[p];
            let base = offsets[p];
            let len = (h.end - h.start).min(255) as u8;
            let candidate = if s == 0 {
                let mut fill_start = [0; 8];
                let mut fill_len = [0; 8];
                fill_start[0] = h.start;
                fill_len[0] = len;
                Some(Partial {
                    start: h.start,
                    end: h.end,
                    sentence,
                    fill_start,
                    fill_len,
                })
            } else {
                // The partial that ends latest while still leaving room for this hit.
                state[base + s - 1]
                    .iter()
                    .rev()
                    .find(|prev| {
                        if prev.sentence != sentence || prev.end > h.start {
                            return false;
                        }
                        let gap = (h.start - prev.end) as usize;
                        // Only a verb with its object is coordinated: the slot after
                        // it must still be to come (`and kill you`, not `gun crimes and
                        // murder cases`), or the verb holds its object (`y matarte`).
                        gap <= pattern.gaps[s - 1]
                            || (pattern.carries[s - 1]
                                && (s + 1 < pattern.slots.len() || pattern.whole_verb[s])
                                && gap <= COORDINATED_GAP
                                && coordinated.get(h.start as usize) == Some(&true))
                    })
                    .map(|prev| {
                        let mut next = *prev;
                        next.end = h.end;
                        next.fill_start[s] = h.start;
                        next.fill_len[s] = len;
                        next
                    })
            };
            let Some(candidate) = candidate else {
                continue;
            };
            let slot = &mut state[base + s];
            if slot.iter().any(|old| {
                old.end == candidate.end && old.start >= candidate.start && old.sentence == sentence
            }) {
                continue;
            }
            if slot.len() >= PER_SLOT {
                slot.pop_front();
            }
            slot.push_back(candidate);
            if s + 1 == pattern.slots.len() && emitted[p] < MAX_PER_PATTERN {
                if cancelled(rules, p, &candidate, words, text)
                    || overridden(&pattern.unless, &candidate, hits)
                {
                    continue;
                }
                emitted[p] += 1;
                out.push(FrameHit {
                    rule: pattern.rule,
                    pattern: p,
                    start: candidate.start,
                    end: candidate.end,
                    fills: (0..pattern.slots.len())
                        .map(|k| {
                            let start = candidate.fill_start[k];
                            (start, start + u32::from(candidate.fill_len[k]))
                        })
                        .collect(),
                });
            }
        }
    }
    out
}

/// Whether a hit of an `unless` lexicon starts inside the match (`bomb threat checklist`
/// is about bombs, not a bomb). `hits` are ordered by start, so this is a binary search.
fn overridden(unless: &[u32], m: &Partial, hits: &[ClassHit]) -> bool {
    if unless.is_empty() {
        return false;
    }
    let from = hits.partition_point(|h| h.start < m.start);
    hits[from..]
        .iter()
        .take_while(|h| h.start < m.end)
        .take(64)
        .any(|h| unless.contains(&h.class))
}

/// Whether the words right after or before a match cancel it (`we will find you *a
/// seat*`).
fn cancelled(rules: &RuleSet, p: usize, m: &Partial, words: &Words, text: &str) -> bool {
    let pattern = &rules.patterns[p];
    if pattern.sentence_start
        && m.start > 0
        && words.sentence.get(m.start as usize - 1) == Some(&m.sentence)
    {
        return true;
    }
    if pattern.not_followed_by.is_empty() && pattern.not_preceded_by.is_empty() {
        return false;
    }
    let after = words
        .starts
        .get(m.end as usize)
        .map_or("", |&s| text.get(s as usize..).unwrap_or(""));
    let follows = pattern.not_followed_by.iter().any(|w| {
        after.starts_with(w.as_str())
            && after.as_bytes().get(w.len()).is_none_or(|&b| b == b' ')
            && words.sentence.get(m.end as usize) == Some(&m.sentence)
    });
    if follows {
        return true;
    }
    // Like the words after, the words before count only within the sentence.
    let before_end = match m.start.checked_sub(1) {
        Some(w) if words.sentence.get(w as usize) == Some(&m.sentence) => {
            words.ends[w as usize] as usize
        }
        _ => return false,
    };
    let before = text.get(..before_end).unwrap_or("");
    pattern.not_preceded_by.iter().any(|w| {
        before.ends_with(w.as_str())
            && (before.len() == w.len() || before.as_bytes()[before.len() - w.len() - 1] == b' ')
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::normalize;

    const PACK: &str = r#"
[[lexicon]]
name = "actor"
words = ["we", "i"]
[[lexicon]]
name = "intent"
words = ["will", "are going to"]
[[lexicon]]
name = "harm"
words = ["kill", "find", "hurt"]
enclitic = "harm_target"
[[lexicon]]
name = "harm_target"
words = ["get rid of you"]
[[lexicon]]
name = "target"
words = ["you", "your family"]

[[frame]]
name = "DIRECT"
category = "threat"
score = 10.0
description = "actor intent harm target"
slots = ["actor", "intent", "harm", "target"]
max_gap = 2
not_followed_by = ["a", "the"]

[[frame]]
name = "FUSED"
category = "threat"
score = 10.0
description = "actor intent harm+target"
slots = ["actor", "intent", "harm_target"]

[[frame]]
name = "ORDER"
category = "threat"
score = 6.0
description = "an order opening its sentence"
slots = ["harm", "target"]
max_gap = 0
sentence_start = true

[[rule]]
name = "OR_ELSE"
category = "coercion"
score = 3.0
description = "vote or else"
phrases = ["vote for * or else"]
"#;

    fn names(text: &str) -> Vec<String> {
        let rs = RuleSet::compile([("t.toml".to_string(), PACK.to_string())]).unwrap();
        let norm = normalize(text);
        let words = Words::of(&norm);
        let hits = rs.class_hits(&norm, &words);
        let mut v: Vec<String> = match_frames(&rs, &hits, &words, &norm.text)
            .iter()
            .map(|h| rs.rules()[h.rule].name.clone())
            .collect();
        v.sort();
        v.dedup();
        v
    }

    #[test]
    fn slots_in_order_within_a_gap_and_a_sentence() {
        assert_eq!(names("We will kill you."), ["DIRECT"]);
        assert_eq!(names("we are going to really hurt your family"), ["DIRECT"]);
        assert_eq!(names("i will, believe me, find you"), ["DIRECT"]);
        // Too far apart, out of order, or across a sentence end.
        assert!(names("we will one day in the future surely kill you").is_empty());
        assert!(names("you will kill we").is_empty());
        assert!(!names("we will. kill you").contains(&"DIRECT".to_string()));
        // An exception right after the match.
        assert!(names("we will find you a seat").is_empty());
        assert_eq!(names("vote for Smith or else"), ["OR_ELSE"]);
        // An order must open its sentence.
        assert_eq!(names("Hello. Kill you now."), ["ORDER"]);
        assert!(!names("they kill you").contains(&"ORDER".to_string()));
    }

    #[test]
    fn an_enclitic_form_fills_its_own_lexicon() {
        // `killte` is `kill` with `te` attached: harm and target in one word.
        assert_eq!(names("we will killte"), ["FUSED"]);
        assert_eq!(names("we will get rid of you"), ["FUSED"]);
        assert!(names("we will kill").is_empty());
    }

    #[test]
    fn many_hits_stay_linear_and_bounded() {
        let text = "we will kill you ".repeat(20_000);
        let rs = RuleSet::compile([("t.toml".to_string(), PACK.to_string())]).unwrap();
        let norm = normalize(&text);
        let words = Words::of(&norm);
        let hits = rs.class_hits(&norm, &words);
        let m = match_frames(&rs, &hits, &words, &norm.text);
        assert_eq!(m.len(), MAX_PER_PATTERN);
    }
}
