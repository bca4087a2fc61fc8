//! Rule packs: lexicons, frames, structures and phrase rules, compiled into one
//! Aho-Corasick automaton.
//!
//! A pack is a TOML file with four kinds of entries:
//! - `[[lexicon]]`: a named list of words and word sequences that can fill a slot
//!   (actors, intents, harms, targets, conditions, negations, reporting verbs …). Packs
//!   that name the same lexicon add to it, so an office can extend a shipped lexicon
//!   from its own file. `enclitic = "harm_target_es"` puts each Spanish infinitive with
//!   an object pronoun attached (`matar` -> `matarte`, `matarla`) into that lexicon, and
//!   `future = "harm_future_es"` its synthetic future (`matare`, `mataremos`), and
//!   `present = "harm_present_es"` the speaker's present (`te mato`, `te quemamos`).
//! - `[[frame]]`: a symbol that fires when its slots are filled in order within one
//!   sentence, at most `max_gap` words apart: `slots = ["actor", "intent", "harm",
//!   "target"]`. A slot may offer alternatives: `"harm|harm_lethal"`.
//! - `[[structure]]`: a symbol that fires when enough of its lexicons occur anywhere in the
//!   message (the steps of an extortion letter: claim, payment, deadline, consequence).
//! - `[[rule]]`: fixed phrases, where a wording itself is the signal. `*` stands for up
//!   to `max_gap` words. A phrase is a frame whose slots are its literal pieces.
//!
//! Every entry is matched on normalised text (see [`crate::normalize`]), whole words only.

use aho_corasick::AhoCorasick;

use crate::normalize::{Normalized, Vocabulary};

/// Categories a frame, structure or rule may belong to.
pub(crate) const CATEGORIES: &[&str] = &[
    "threat",
    "coercion",
    "extortion",
    "doxxing",
    "intimidation",
    "impersonation",
    "hostility",
    "context",
];

/// Words a `*` or a frame's slot gap stands for when a rule does not say.
pub(crate) const DEFAULT_GAP: usize = 3;

/// Lexicons the engine itself reads, besides those frames name.
pub mod lexicons {
    /// Words that negate what follows (`not`, `never`, `nadie`).
    pub(crate) const NEGATION: &str = "negation";
    /// Words that open a condition (`if`, `unless`, `si`): a negation after one belongs
    /// to the condition, not to the threat.
    pub(crate) const CONDITION: &str = "condition";
    /// Verbs and phrases that attribute words to someone (`said`, `wrote`, `según`).
    pub(crate) const REPORTING: &str = "reporting";
    /// Phrases that mark a whole message as news, a court release or guidance
    /// (`pleaded guilty`, `according to court documents`, `if you receive a threat`).
    pub(crate) const REPORT_FRAME: &str = "report_frame";
    /// Negated subjects that deny a claim a few words on (`no worker deserves to die`,
    /// `ningún trabajador merece morir`).
    pub(crate) const NEGATION_SUBJECT: &str = "negation_subject";
    /// The writer repeating their own words (`I said`, `I told you`): a reporting verb
    /// inside one of these attributes nothing to anyone else.
    pub(crate) const SELF_REPORT: &str = "self_report";
    /// Negations that strengthen rather than deny (`not hesitate`, `never forget`).
    pub(crate) const NEGATION_EXEMPT: &str = "negation_exempt";
    /// The payment step of an extortion letter; a wallet address found by its format
    /// fills it too.
    pub(crate) const PAYMENT: &str = "ext_payment";
    /// The deadline step; any number of minutes, hours or days ("within 50 hours") fills it
    /// too.
    pub(crate) const DEADLINE: &str = "ext_deadline";
    /// The consequence step; right after a negation (`never share it with`) it is advice,
    /// not a consequence, and fills nothing.
    pub(crate) const CONSEQUENCE: &str = "ext_consequence";
    /// Words that join a verb to the one before it (`and`, `and then`, `y`): the scope of
    /// a lexicon marked `carries` goes on past them.
    pub(crate) const COORDINATOR: &str = "coordinator";
}

/// Words at most between a modal that `carries` and a verb coordinated with it.
pub(crate) const COORDINATED_GAP: usize = 12;

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
    /// One entry is wrong.
    #[error("{file}: rule {rule}: {message}")]
    Rule {
        /// The pack's file name.
        file: String,
        /// The entry's name.
        rule: String,
        /// What is wrong.
        message: String,
    },
    /// The automaton could not be built.
    #[error("cannot build the phrase automaton: {0}")]
    Build(String),
}

mod compile;
mod forms;
mod schema;
use schema::Head;

/// What kind of entry a symbol comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    /// Slots filled in order within a sentence.
    Frame,
    /// Lexicons co-occurring anywhere in the message.
    Structure,
    /// Fixed phrases.
    Phrase,
}

/// A compiled frame, structure or phrase rule: one symbol.
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
    /// Its kind.
    pub kind: RuleKind,
    /// For frames and structures, the slot names (lexicons, `|` between alternatives).
    pub slots: Vec<String>,
}

impl Rule {
    fn new(head: Head, file: &str, kind: RuleKind, slots: Vec<String>) -> Rule {
        Rule {
            name: head.name,
            category: head.category,
            score: head.score,
            description: head.description,
            file: file.to_string(),
            kind,
            slots,
        }
    }
}

/// A lexicon's name and what it is for.
#[derive(Debug, Clone)]
pub struct Lexicon {
    /// Its name.
    pub name: String,
    /// What it holds.
    pub description: String,
    /// How many entries it has (inflected forms included).
    pub entries: usize,
    /// Whether its scope carries over coordinated verbs.
    pub carries: bool,
    /// Whether its entries are verbs with their object inside.
    pub whole_verb: bool,
}

/// A sequence of slots that makes one frame or one phrase match.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    /// The rule it fires.
    pub rule: usize,
    /// Each slot: the classes that fill it.
    pub slots: Vec<Vec<u32>>,
    /// Words at most between each slot and the next.
    pub gaps: Vec<usize>,
    /// Words that cancel a match when they come right after it.
    pub not_followed_by: Vec<String>,
    /// Words that cancel a match when they come right before it.
    pub not_preceded_by: Vec<String>,
    /// Whether a negation inside the match cancels it.
    pub negatable: bool,
    /// Lexicons whose hits inside the match cancel it (`bomb threat` is no bomb).
    pub unless: Vec<u32>,
    /// Whether the match must open its sentence (an order: "Kill them all.").
    pub sentence_start: bool,
    /// Per slot, whether one of its classes carries over coordinated verbs: the next
    /// slot may then start up to [`COORDINATED_GAP`] words on, right after a coordinator.
    pub carries: Vec<bool>,
    /// Per slot, whether all of its classes are verbs with their object inside.
    pub whole_verb: Vec<bool>,
}

/// A document-level co-occurrence rule, compiled.
#[derive(Debug, Clone)]
pub(crate) struct Structure {
    pub rule: usize,
    pub slots: Vec<u32>,
    pub required: Vec<u32>,
    /// Empty, or lexicons of which at least one must be found.
    pub any_of: Vec<u32>,
    pub min_slots: usize,
}

/// One occurrence of a class (a lexicon or a phrase piece), in words of the normalised
/// text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassHit {
    /// The class.
    pub class: u32,
    /// First word.
    pub start: u32,
    /// One past the last word.
    pub end: u32,
}

/// The normalised text cut into words, with the sentence of each.
#[derive(Debug, Clone, Default)]
pub struct Words {
    /// Byte offset in the normalised text where each word starts.
    pub starts: Vec<u32>,
    /// Byte offset where each word ends.
    pub ends: Vec<u32>,
    /// The sentence each word belongs to.
    pub sentence: Vec<u32>,
}

impl Words {
    /// Cuts normalised text into words.
    pub fn of(norm: &Normalized) -> Words {
        let mut w = Words::default();
        let text = norm.text.as_bytes();
        let mut sentence = 0u32;
        let mut next_sentence = 0usize;
        let mut i = 0;
        while i < text.len() {
            let start = i;
            while i < text.len() && text[i] != b' ' {
                i += 1;
            }
            while next_sentence < norm.sentence_starts.len()
                && norm.sentence_starts[next_sentence] as usize <= start
            {
                next_sentence += 1;
                sentence = next_sentence as u32;
            }
            w.starts.push(start as u32);
            w.ends.push(i as u32);
            w.sentence.push(sentence);
            i += 1;
        }
        w
    }

    /// How many words.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }
}

/// Every lexicon, frame, structure and rule of every pack, ready to match.
#[derive(Debug, Clone)]
pub struct RuleSet {
    rules: Vec<Rule>,
    pub(crate) patterns: Vec<Pattern>,
    pub(crate) structures: Vec<Structure>,
    /// Per automaton pattern, the classes it belongs to.
    entry_classes: Vec<Vec<u32>>,
    /// Class names: lexicon names, then `"phrase"` for each literal piece.
    class_names: Vec<String>,
    /// Per class, the hash of its name as the model reads it (computed once here, not
    /// for every hit of every message).
    class_hashes: Vec<u64>,
    lexicons: Vec<Lexicon>,
    /// Per class, the (pattern, slot) pairs it can fill.
    pub(crate) users: Vec<Vec<(u32, u16)>>,
    /// Where each pattern's slots start in a flat list of all slots, and how many.
    pub(crate) slot_offsets: Vec<usize>,
    pub(crate) slot_total: usize,
    /// The `coordinator` lexicon, if a pack defines one.
    pub(crate) coordinator: Option<u32>,
    automaton: Option<AhoCorasick>,
    vocabulary: Vocabulary,
}

/// The packs shipped with Palisade, as `(file name, TOML)`.
pub const DEFAULT_PACKS: &[(&str, &str)] = &[
    (
        "lexicon-en.toml",
        include_str!("../../../../config/rules/lexicon-en.toml"),
    ),
    (
        "lexicon-es.toml",
        include_str!("../../../../config/rules/lexicon-es.toml"),
    ),
    (
        "threats.toml",
        include_str!("../../../../config/rules/threats.toml"),
    ),
    (
        "coercion.toml",
        include_str!("../../../../config/rules/coercion.toml"),
    ),
    (
        "extortion.toml",
        include_str!("../../../../config/rules/extortion.toml"),
    ),
    (
        "spanish.toml",
        include_str!("../../../../config/rules/spanish.toml"),
    ),
];

impl RuleSet {
    /// Sets a rule's score (from `[scores]`); false when no rule has that name.
    pub(crate) fn set_score(&mut self, name: &str, score: f64) -> bool {
        match self.rules.iter_mut().find(|r| r.name == name) {
            Some(r) => {
                r.score = score;
                true
            }
            None => false,
        }
    }

    /// The compiled rules (frames, structures and phrase rules).
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The lexicons.
    pub fn lexicons(&self) -> &[Lexicon] {
        &self.lexicons
    }

    /// Every word of every lexicon and phrase: the normaliser's vocabulary.
    pub fn vocabulary(&self) -> &Vocabulary {
        &self.vocabulary
    }

    /// How many classes (lexicons and phrase pieces) there are.
    pub(crate) fn classes(&self) -> usize {
        self.class_names.len()
    }

    /// The class id of a lexicon, if there is one by that name.
    pub(crate) fn lexicon_id(&self, name: &str) -> Option<u32> {
        self.class_names
            .iter()
            .position(|n| n == name)
            .map(|i| i as u32)
    }

    /// The model's hash of a class's name.
    pub(crate) fn class_hash(&self, class: u32) -> u64 {
        self.class_hashes.get(class as usize).copied().unwrap_or(0)
    }

    /// Whether the model leaves a class out of its reading: literal pieces of phrase
    /// rules, and the `coordinator` words that only serve the frames' grammar (the
    /// model reads `and` as the word it is).
    pub(crate) fn model_skips(&self, class: u32) -> bool {
        Some(class) == self.coordinator
            || self
                .class_names
                .get(class as usize)
                .is_none_or(|n| n == "phrase")
    }

    /// The name of a class (a lexicon's name, or `phrase`).
    pub fn class_name(&self, class: u32) -> &str {
        self.class_names
            .get(class as usize)
            .map_or("", String::as_str)
    }

    /// Every occurrence of every class in normalised text, whole words only, ordered by
    /// first word and then by last. One pass of the automaton.
    pub fn class_hits(&self, norm: &Normalized, words: &Words) -> Vec<ClassHit> {
        let Some(ac) = &self.automaton else {
            return Vec::new();
        };
        let text = norm.text.as_bytes();
        let mut padded = String::with_capacity(norm.text.len() + 2);
        padded.push(' ');
        padded.push_str(&norm.text);
        padded.push(' ');
        let mut hits = Vec::new();
        // Matches come in order of their end, so the word each ends in is found by walking
        // forward, and the word it starts in by counting its spaces back.
        let mut end_word = 0usize;
        for m in ac.find_overlapping_iter(&padded) {
            // " entry " at [start, end) of the padded text is the entry at
            // [start, end - 2) of the text.
            let (s, e) = (m.start(), m.end() - 2);
            while end_word < words.ends.len() && (words.ends[end_word] as usize) < e {
                end_word += 1;
            }
            if words.ends.get(end_word) != Some(&(e as u32)) {
                continue;
            }
            let spaces = text[s..e].iter().filter(|&&b| b == b' ').count();
            let (Some(ws), we) = (end_word.checked_sub(spaces), end_word + 1) else {
                continue;
            };
            let (ws, we) = (ws as u32, we as u32);
            let entry = m.pattern().as_usize();
            for &class in &self.entry_classes[entry] {
                hits.push(ClassHit {
                    class,
                    start: ws,
                    end: we,
                });
            }
        }
        // Matches come ordered by where they end; entries are a few words long, so this
        // is nearly sorted already, which the stable sort's run detection makes cheap.
        hits.sort_by_key(|h| (h.start, h.end, h.class));
        hits
    }
}

/// The seed of a class name's hash: the model's feature kind for classes.
pub(crate) const CLASS_HASH_SEED: u64 = 0x02;

/// The hash of a class's name as the model's features read it; [`RuleSet`] keeps one
/// per class.
pub(crate) fn class_name_hash(name: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(name.as_bytes(), CLASS_HASH_SEED)
}

#[cfg(test)]
mod tests {
    use super::forms::{gerund, third_person};
    use super::*;
    use crate::normalize::normalize;

    #[test]
    fn errors_name_file_and_rule() {
        let bad = RuleSet::compile([(
            "mine.toml".to_string(),
            "[[rule]]\nname = \"X\"\ncategory = \"nope\"\nscore = 1.0\ndescription = \"d\"\nphrases = [\"a\"]\n".to_string(),
        )])
        .unwrap_err();
        assert_eq!(
            bad.to_string(),
            "mine.toml: rule X: unknown category `nope` (one of threat, coercion, extortion, doxxing, intimidation, impersonation, hostility, context)"
        );
        let bad = RuleSet::compile([(
            "m.toml".to_string(),
            "[[rule]]\nname = \"Y\"\ncategory = \"threat\"\nscore = 1.0\ndescription = \"d\"\nphrases = [\"* or else\"]\n".to_string(),
        )])
        .unwrap_err();
        assert!(bad
            .to_string()
            .starts_with("m.toml: rule Y: phrase `* or else`"));
        let frame = "[[frame]]\nname = \"F\"\ncategory = \"threat\"\nscore = 1.0\ndescription = \"d\"\nslots = [\"actor\", \"nothing\"]\n[[lexicon]]\nname = \"actor\"\nwords = [\"we\"]\n";
        let bad = RuleSet::compile([("f.toml".to_string(), frame.to_string())]).unwrap_err();
        assert_eq!(
            bad.to_string(),
            "f.toml: rule F: slot `nothing`: no lexicon named `nothing`"
        );
        let dup = "[[rule]]\nname = \"Z\"\ncategory = \"threat\"\nscore = 1.0\ndescription = \"d\"\nphrases = [\"a b\"]\n";
        let dup = RuleSet::compile([
            ("a.toml".to_string(), dup.to_string()),
            ("b.toml".to_string(), dup.to_string()),
        ])
        .unwrap_err();
        assert!(dup.to_string().contains("already used in a.toml"), "{dup}");
        assert!(matches!(
            RuleSet::compile([("c.toml".to_string(), "rule = 5".to_string())]),
            Err(RuleError::Parse { .. })
        ));
        let bad = RuleSet::compile([(
            "l.toml".to_string(),
            "[[lexicon]]\nname = \"Bad Name\"\nwords = [\"x\"]\n".to_string(),
        )])
        .unwrap_err();
        assert!(bad.to_string().contains("lexicon name"), "{bad}");
        let structure = "[[structure]]\nname = \"S\"\ncategory = \"extortion\"\nscore = 1.0\ndescription = \"d\"\nslots = [\"a\", \"b\"]\nany_of = [\"c\"]\nmin_slots = 1\n[[lexicon]]\nname = \"a\"\nwords = [\"x\"]\n[[lexicon]]\nname = \"b\"\nwords = [\"y\"]\n[[lexicon]]\nname = \"c\"\nwords = [\"z\"]\n";
        let bad = RuleSet::compile([("s.toml".to_string(), structure.to_string())]).unwrap_err();
        assert_eq!(
            bad.to_string(),
            "s.toml: rule S: every any_of lexicon must be one of the slots"
        );
        // A misspelt key is refused, not ignored, in every kind of entry.
        for (kind, body) in [
            ("rule", "phrases = [\"a b\"]\nmax_gapp = 3\n"),
            ("frame", "slots = [\"a\"]\nnot_folowed_by = [\"x\"]\n"),
            (
                "structure",
                "slots = [\"a\"]\nmin_slots = 1\nrequierd = [\"a\"]\n",
            ),
        ] {
            let pack = format!("[[{kind}]]\nname = \"U\"\ncategory = \"threat\"\nscore = 1.0\ndescription = \"d\"\n{body}[[lexicon]]\nname = \"a\"\nwords = [\"x\"]\n");
            let bad = RuleSet::compile([("u.toml".to_string(), pack)]).unwrap_err();
            assert!(
                bad.to_string()
                    .starts_with("u.toml: rule U: unknown field `"),
                "{kind}: {bad}"
            );
        }
    }

    #[test]
    fn lexicons_merge_across_packs_and_enclitics_fill_their_own() {
        let a = "[[lexicon]]\nname = \"harm_es\"\nwords = [\"matar\"]\nenclitic = \"target_es\"\n[[lexicon]]\nname = \"target_es\"\nwords = [\"te\"]\n";
        let b = "[[lexicon]]\nname = \"harm_es\"\nwords = [\"quemar\"]\n";
        let rs = RuleSet::compile([
            ("a.toml".to_string(), a.to_string()),
            ("b.toml".to_string(), b.to_string()),
        ])
        .unwrap();
        let harm = rs.lexicon_id("harm_es").unwrap();
        let target = rs.lexicon_id("target_es").unwrap();
        let norm = normalize("voy a matarte y quemar");
        let words = Words::of(&norm);
        let hits = rs.class_hits(&norm, &words);
        let at2: Vec<u32> = hits
            .iter()
            .filter(|h| h.start == 2)
            .map(|h| h.class)
            .collect();
        assert_eq!(at2, [target], "{hits:?}");
        assert!(hits.iter().any(|h| h.class == harm && h.start == 4));
        assert!(rs.vocabulary().contains("quemar"));
    }

    #[test]
    fn english_inflections() {
        for (v, s, g) in [
            ("kill", "kills", "killing"),
            ("stab", "stabs", "stabbing"),
            ("punch", "punches", "punching"),
            ("strangle", "strangles", "strangling"),
            ("bury", "buries", "burying"),
            ("shoot", "shoots", "shooting"),
            ("die", "dies", "dying"),
        ] {
            assert_eq!(third_person(v), s);
            assert_eq!(gerund(v), g);
        }
    }

    #[test]
    fn default_packs_compile() {
        let rs = RuleSet::defaults().unwrap();
        assert!(rs.rules().len() >= 20);
        for name in [
            lexicons::NEGATION,
            lexicons::CONDITION,
            lexicons::REPORTING,
            lexicons::REPORT_FRAME,
        ] {
            assert!(rs.lexicon_id(name).is_some(), "{name}");
        }
    }
}
