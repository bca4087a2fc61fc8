//! Phrase rules: TOML packs compiled into one Aho-Corasick automaton.
//!
//! A phrase is matched on normalised text (see [`crate::normalize`]), whole words only.
//! `*` in a phrase stands for up to `max_gap` words ("vote for * or else"): the literal
//! pieces between stars are all in the automaton, and a phrase matches where its pieces
//! occur in order with at most that many words between them.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use serde::Deserialize;

use crate::normalize::{normalize, Normalized};

/// Categories a rule may belong to.
pub const CATEGORIES: &[&str] = &[
    "threat",
    "coercion",
    "extortion",
    "doxxing",
    "intimidation",
    "impersonation",
    "context",
];

/// Words a `*` stands for when a rule does not say.
pub const DEFAULT_GAP: usize = 3;

/// Everything that can be wrong with a rule pack.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RuleError {
    /// The file is not valid TOML or not a rule pack.
    #[error("{file}: {message}")]
    Parse {
        /// The pack's file name.
        file: String,
        /// What the TOML parser said.
        message: String,
    },
    /// One rule is wrong.
    #[error("{file}: rule {rule}: {message}")]
    Rule {
        /// The pack's file name.
        file: String,
        /// The rule's name.
        rule: String,
        /// What is wrong.
        message: String,
    },
    /// The automaton could not be built.
    #[error("cannot build the phrase automaton: {0}")]
    Build(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackFile {
    #[serde(rename = "rule", default)]
    rules: Vec<RuleDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDef {
    name: String,
    category: String,
    score: f64,
    description: String,
    phrases: Vec<String>,
    #[serde(default)]
    max_gap: Option<usize>,
    #[serde(default)]
    not_followed_by: Vec<String>,
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Upper-case symbol name.
    pub name: String,
    /// One of [`CATEGORIES`].
    pub category: String,
    /// Score of a direct hit.
    pub score: f64,
    /// What it detects.
    pub description: String,
    /// The pack it came from.
    pub file: String,
}

#[derive(Debug, Clone)]
struct Phrase {
    rule: usize,
    pieces: Vec<usize>,
    gap: usize,
}

/// Words that, right after a match, cancel it ("we will find you *a seat*").
#[derive(Debug, Clone, Default)]
struct Exceptions {
    next_words: Vec<String>,
}

/// One place a rule matched, as offsets into the normalised text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// Index of the rule in [`RuleSet::rules`].
    pub rule: usize,
    /// Start in the normalised text.
    pub start: usize,
    /// End in the normalised text.
    pub end: usize,
}

/// Every rule of every pack, ready to match.
#[derive(Debug, Clone)]
pub struct RuleSet {
    rules: Vec<Rule>,
    exceptions: Vec<Exceptions>,
    phrases: Vec<Phrase>,
    /// Phrases by the piece they start with.
    by_anchor: Vec<Vec<usize>>,
    pieces: usize,
    automaton: Option<AhoCorasick>,
}

/// The packs shipped with Palisade, as `(file name, TOML)`.
pub const DEFAULT_PACKS: &[(&str, &str)] = &[
    (
        "coercion.toml",
        include_str!("../../../config/rules/coercion.toml"),
    ),
    (
        "threats.toml",
        include_str!("../../../config/rules/threats.toml"),
    ),
    (
        "doxxing.toml",
        include_str!("../../../config/rules/doxxing.toml"),
    ),
    (
        "extortion.toml",
        include_str!("../../../config/rules/extortion.toml"),
    ),
    (
        "spanish.toml",
        include_str!("../../../config/rules/spanish.toml"),
    ),
];

impl RuleSet {
    /// The default packs.
    pub fn defaults() -> Result<RuleSet, RuleError> {
        Self::compile(
            DEFAULT_PACKS
                .iter()
                .map(|(f, t)| (f.to_string(), t.to_string())),
        )
    }

    /// Compiles packs given as `(file name, TOML text)`; every rule name must be unique
    /// across them.
    pub fn compile(
        packs: impl IntoIterator<Item = (String, String)>,
    ) -> Result<RuleSet, RuleError> {
        let mut rules = Vec::new();
        let mut exceptions = Vec::new();
        let mut phrases = Vec::new();
        let mut piece_ids: HashMap<String, usize> = HashMap::new();
        let mut piece_texts: Vec<String> = Vec::new();
        let mut names: HashMap<String, String> = HashMap::new();
        for (file, text) in packs {
            let pack: PackFile = toml::from_str(&text).map_err(|e| RuleError::Parse {
                file: file.clone(),
                message: e.to_string(),
            })?;
            for def in pack.rules {
                let bad = |message: String| RuleError::Rule {
                    file: file.clone(),
                    rule: def.name.clone(),
                    message,
                };
                if def.name.is_empty()
                    || !def
                        .name
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
                {
                    return Err(bad("name must be A-Z, 0-9 and _".into()));
                }
                if let Some(other) = names.insert(def.name.clone(), file.clone()) {
                    return Err(bad(format!("name already used in {other}")));
                }
                if !CATEGORIES.contains(&def.category.as_str()) {
                    return Err(bad(format!(
                        "unknown category `{}` (one of {})",
                        def.category,
                        CATEGORIES.join(", ")
                    )));
                }
                if !def.score.is_finite() || def.score.abs() > 100.0 {
                    return Err(bad("score must be a number between -100 and 100".into()));
                }
                if def.phrases.is_empty() {
                    return Err(bad("has no phrases".into()));
                }
                let gap = def.max_gap.unwrap_or(DEFAULT_GAP);
                if gap > 20 {
                    return Err(bad("max_gap is at most 20 words".into()));
                }
                let rule_id = rules.len();
                for phrase in &def.phrases {
                    let parts: Vec<String> = phrase.split('*').map(|p| normalize(p).text).collect();
                    if parts.iter().any(|p| p.is_empty()) {
                        return Err(bad(format!(
                            "phrase `{phrase}`: `*` must stand between words, and every part needs a word"
                        )));
                    }
                    let pieces = parts
                        .into_iter()
                        .map(|p| {
                            let next = piece_texts.len();
                            *piece_ids.entry(p.clone()).or_insert_with(|| {
                                piece_texts.push(p);
                                next
                            })
                        })
                        .collect();
                    phrases.push(Phrase {
                        rule: rule_id,
                        pieces,
                        gap,
                    });
                }
                let mut next_words = Vec::new();
                for w in &def.not_followed_by {
                    let n = normalize(w).text;
                    if n.is_empty() {
                        return Err(bad(format!("not_followed_by entry `{w}` has no word")));
                    }
                    next_words.push(n);
                }
                exceptions.push(Exceptions { next_words });
                rules.push(Rule {
                    name: def.name,
                    category: def.category,
                    score: def.score,
                    description: def.description,
                    file: file.clone(),
                });
            }
        }
        let mut by_anchor = vec![Vec::new(); piece_texts.len()];
        for (i, p) in phrases.iter().enumerate() {
            by_anchor[p.pieces[0]].push(i);
        }
        let automaton = if piece_texts.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .kind(Some(AhoCorasickKind::DFA))
                    .build(&piece_texts)
                    .map_err(|e| RuleError::Build(e.to_string()))?,
            )
        };
        Ok(RuleSet {
            rules,
            exceptions,
            phrases,
            by_anchor,
            pieces: piece_texts.len(),
            automaton,
        })
    }

    /// Sets a rule's score (from `[scores]`); false when no rule has that name.
    pub fn set_score(&mut self, name: &str, score: f64) -> bool {
        match self.rules.iter_mut().find(|r| r.name == name) {
            Some(r) => {
                r.score = score;
                true
            }
            None => false,
        }
    }

    /// The compiled rules.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Every hit in normalised text, in no particular order.
    pub fn find(&self, norm: &Normalized) -> Vec<Hit> {
        let Some(ac) = &self.automaton else {
            return Vec::new();
        };
        let text = norm.text.as_bytes();
        // Occurrences of each piece at word boundaries, in order of start.
        let mut found: Vec<Vec<(usize, usize)>> = vec![Vec::new(); self.pieces];
        let mut any = false;
        for m in ac.find_overlapping_iter(&norm.text) {
            let (s, e) = (m.start(), m.end());
            let starts_word = s == 0 || text[s - 1] == b' ';
            let ends_word = e == text.len() || text[e] == b' ';
            if starts_word && ends_word {
                found[m.pattern().as_usize()].push((s, e));
                any = true;
            }
        }
        if !any {
            return Vec::new();
        }
        let mut hits = Vec::new();
        for (anchor, occurrences) in found.iter().enumerate() {
            if occurrences.is_empty() {
                continue;
            }
            for &phrase_id in &self.by_anchor[anchor] {
                let phrase = &self.phrases[phrase_id];
                for &(start, end) in occurrences {
                    if let Some(end) = chain(text, &found, &phrase.pieces[1..], end, phrase.gap) {
                        if self.exceptions[phrase.rule].cancels(text, end) {
                            continue;
                        }
                        hits.push(Hit {
                            rule: phrase.rule,
                            start,
                            end,
                        });
                        // One hit per phrase start is enough.
                    }
                }
            }
        }
        hits
    }
}

impl Exceptions {
    fn cancels(&self, text: &[u8], end: usize) -> bool {
        let Some(rest) = text.get(end + 1..) else {
            return false;
        };
        self.next_words.iter().any(|w| {
            rest.starts_with(w.as_bytes()) && (rest.len() == w.len() || rest[w.len()] == b' ')
        })
    }
}

/// Follows the remaining pieces from `end`, each within `gap` words of the last; returns
/// where the last one ends.
fn chain(
    text: &[u8],
    found: &[Vec<(usize, usize)>],
    rest: &[usize],
    mut end: usize,
    gap: usize,
) -> Option<usize> {
    for &piece in rest {
        let occ = &found[piece];
        let first = occ.partition_point(|&(s, _)| s <= end);
        // The nearest later occurrence is the only candidate: any other is farther.
        let &(s, e) = occ.get(first)?;
        // Words strictly between the pieces are the spaces between them less one; stop
        // counting once past the gap, so a far-away piece costs no more than a near one.
        let mut spaces = 0;
        for &b in &text[end..s] {
            if b == b' ' {
                spaces += 1;
                if spaces > gap + 1 {
                    return None;
                }
            }
        }
        end = e;
    }
    Some(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(toml: &str) -> RuleSet {
        RuleSet::compile([("test.toml".to_string(), toml.to_string())]).unwrap()
    }

    fn names(rs: &RuleSet, text: &str) -> Vec<String> {
        let mut v: Vec<String> = rs
            .find(&normalize(text))
            .iter()
            .map(|h| rs.rules()[h.rule].name.clone())
            .collect();
        v.sort();
        v.dedup();
        v
    }

    const PACK: &str = r#"
[[rule]]
name = "VOTE_OR_ELSE"
category = "coercion"
score = 6.0
description = "vote demand with a threat"
phrases = ["vote for * or else", "you will vote for * or we will"]

[[rule]]
name = "FIND_YOU"
category = "threat"
score = 5.0
description = "finding someone"
phrases = ["we will find you"]
max_gap = 1
not_followed_by = ["a", "the right"]
"#;

    #[test]
    fn wildcards_and_word_boundaries() {
        let rs = set(PACK);
        assert_eq!(names(&rs, "Vote for Trump or else!"), ["VOTE_OR_ELSE"]);
        assert_eq!(names(&rs, "vote for him, her or else"), ["VOTE_OR_ELSE"]);
        assert_eq!(names(&rs, "vote for or else"), ["VOTE_OR_ELSE"]);
        assert!(names(
            &rs,
            "vote for Rivera, but we need $10 before midnight or else"
        )
        .is_empty());
        assert!(names(&rs, "devote for me or elsewhere").is_empty());
        assert_eq!(names(&rs, "W3 w1ll f\u{0456}nd y0u"), ["FIND_YOU"]);
        assert!(names(&rs, "we will find you a seat").is_empty());
        assert!(names(&rs, "we will find you the right form").is_empty());
        assert_eq!(names(&rs, "we will find you the"), ["FIND_YOU"]);
        assert_eq!(names(&rs, "we will find you and"), ["FIND_YOU"]);
        assert_eq!(
            names(&rs, "You will vote for X on Tuesday or we will come"),
            ["VOTE_OR_ELSE"]
        );
    }

    #[test]
    fn errors_name_file_and_rule() {
        let bad = RuleSet::compile([(
            "mine.toml".to_string(),
            "[[rule]]\nname = \"X\"\ncategory = \"nope\"\nscore = 1.0\ndescription = \"d\"\nphrases = [\"a\"]\n".to_string(),
        )])
        .unwrap_err();
        assert_eq!(
            bad.to_string(),
            "mine.toml: rule X: unknown category `nope` (one of threat, coercion, extortion, doxxing, intimidation, impersonation, context)"
        );
        let bad = RuleSet::compile([(
            "m.toml".to_string(),
            "[[rule]]\nname = \"Y\"\ncategory = \"threat\"\nscore = 1.0\ndescription = \"d\"\nphrases = [\"* or else\"]\n".to_string(),
        )])
        .unwrap_err();
        assert!(bad
            .to_string()
            .starts_with("m.toml: rule Y: phrase `* or else`"));
        let dup = RuleSet::compile([
            ("a.toml".to_string(), PACK.to_string()),
            ("b.toml".to_string(), PACK.to_string()),
        ])
        .unwrap_err();
        assert!(dup.to_string().contains("already used in a.toml"), "{dup}");
        assert!(matches!(
            RuleSet::compile([("c.toml".to_string(), "rule = 5".to_string())]),
            Err(RuleError::Parse { .. })
        ));
    }

    #[test]
    fn default_packs_compile() {
        let rs = RuleSet::defaults().unwrap();
        assert!(rs.rules().len() >= 20);
    }
}
