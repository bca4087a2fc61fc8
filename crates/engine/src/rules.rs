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

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use serde::Deserialize;

use crate::normalize::{normalize, Normalized, Vocabulary};

/// Categories a frame, structure or rule may belong to.
pub const CATEGORIES: &[&str] = &[
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
pub const DEFAULT_GAP: usize = 3;

/// Lexicons the engine itself reads, besides those frames name.
pub mod lexicons {
    /// Words that negate what follows (`not`, `never`, `nadie`).
    pub const NEGATION: &str = "negation";
    /// Words that open a condition (`if`, `unless`, `si`): a negation after one belongs
    /// to the condition, not to the threat.
    pub const CONDITION: &str = "condition";
    /// Verbs and phrases that attribute words to someone (`said`, `wrote`, `según`).
    pub const REPORTING: &str = "reporting";
    /// Phrases that mark a whole message as news, a court release or guidance
    /// (`pleaded guilty`, `according to court documents`, `if you receive a threat`).
    pub const REPORT_FRAME: &str = "report_frame";
    /// Negated subjects that deny a claim a few words on (`no worker deserves to die`,
    /// `ningún trabajador merece morir`).
    pub const NEGATION_SUBJECT: &str = "negation_subject";
    /// The writer repeating their own words (`I said`, `I told you`): a reporting verb
    /// inside one of these attributes nothing to anyone else.
    pub const SELF_REPORT: &str = "self_report";
    /// Negations that strengthen rather than deny (`not hesitate`, `never forget`).
    pub const NEGATION_EXEMPT: &str = "negation_exempt";
    /// The payment step of an extortion letter; a wallet address found by its format
    /// fills it too.
    pub const PAYMENT: &str = "ext_payment";
    /// The deadline step; any number of minutes, hours or days ("within 50 hours") fills it
    /// too.
    pub const DEADLINE: &str = "ext_deadline";
    /// The consequence step; right after a negation (`never share it with`) it is advice,
    /// not a consequence, and fills nothing.
    pub const CONSEQUENCE: &str = "ext_consequence";
    /// Words that join a verb to the one before it (`and`, `and then`, `y`): the scope of
    /// a lexicon marked `carries` goes on past them.
    pub const COORDINATOR: &str = "coordinator";
}

/// Words at most between a modal that `carries` and a verb coordinated with it.
pub const COORDINATED_GAP: usize = 12;

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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackFile {
    #[serde(rename = "lexicon", default)]
    lexicons: Vec<LexiconDef>,
    #[serde(rename = "frame", default)]
    frames: Vec<FrameDef>,
    #[serde(rename = "structure", default)]
    structures: Vec<StructureDef>,
    #[serde(rename = "rule", default)]
    rules: Vec<RuleDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LexiconDef {
    name: String,
    #[serde(default)]
    description: String,
    words: Vec<String>,
    #[serde(default)]
    enclitic: Option<String>,
    #[serde(default)]
    future: Option<String>,
    #[serde(default)]
    present: Option<String>,
    #[serde(default)]
    third_person: bool,
    #[serde(default)]
    progressive: Option<String>,
    /// A modal whose scope carries over verbs coordinated with it (`I will drive to your
    /// house and burn it down`): a frame's next slot may then start further on, right
    /// after a `coordinator`.
    #[serde(default)]
    carries: bool,
    /// Its entries are verbs with their object inside (`matarte`): one may be coordinated
    /// even as a frame's last slot.
    #[serde(default)]
    whole_verb: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FrameDef {
    name: String,
    category: String,
    score: f64,
    description: String,
    slots: Vec<String>,
    /// Other slot lists for the same frame, one pattern each, with the same gaps: for
    /// words that only make the meaning together (`take … out`, `gun … down`).
    #[serde(default)]
    variants: Vec<Vec<String>>,
    #[serde(default)]
    max_gap: Option<usize>,
    #[serde(default)]
    gaps: Option<Vec<usize>>,
    #[serde(default)]
    not_followed_by: Vec<String>,
    #[serde(default)]
    not_preceded_by: Vec<String>,
    #[serde(default = "yes")]
    negatable: bool,
    #[serde(default)]
    unless: Vec<String>,
    #[serde(default)]
    sentence_start: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StructureDef {
    name: String,
    category: String,
    score: f64,
    description: String,
    slots: Vec<String>,
    #[serde(default)]
    required: Vec<String>,
    /// At least one of these must be among the slots found.
    #[serde(default)]
    any_of: Vec<String>,
    min_slots: usize,
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

fn yes() -> bool {
    true
}

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

/// What every symbol-making entry of a pack declares.
struct Head {
    name: String,
    category: String,
    score: f64,
    description: String,
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
        include_str!("../../../config/rules/lexicon-en.toml"),
    ),
    (
        "lexicon-es.toml",
        include_str!("../../../config/rules/lexicon-es.toml"),
    ),
    (
        "threats.toml",
        include_str!("../../../config/rules/threats.toml"),
    ),
    (
        "coercion.toml",
        include_str!("../../../config/rules/coercion.toml"),
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

/// The inflected forms a lexicon asks for, and the lexicon each goes to.
struct Forms {
    /// Spanish infinitive + object pronoun (`matarte`).
    enclitic: Option<u32>,
    /// Spanish present of the speaker (`mato`, `matamos`).
    present: Option<u32>,
    /// Spanish synthetic future and conditional (`matare`, `mataria`).
    future: Option<u32>,
    /// English third person singular (`kills`).
    third_person: Option<u32>,
    /// English -ing form (`killing`).
    progressive: Option<u32>,
}

impl Forms {
    /// Every form of an entry. Only the first word is inflected: `cortar el cuello` ->
    /// `cortarle el cuello`, `put a bullet in` -> `puts a bullet in`.
    fn of(&self, entry: &str) -> Vec<(String, u32)> {
        let (verb, rest) = entry.split_once(' ').unwrap_or((entry, ""));
        let whole = |form: String| {
            if rest.is_empty() {
                form
            } else {
                format!("{form} {rest}")
            }
        };
        let infinitive = ["ar", "er", "ir"]
            .iter()
            .find(|e| verb.len() > 3 && verb.ends_with(*e))
            .map(|e| (&verb[..verb.len() - 2], *e));
        let mut out = Vec::new();
        if let Some(class) = self.enclitic {
            out.extend(
                CLITICS
                    .iter()
                    .map(|cl| (whole(format!("{verb}{cl}")), class)),
            );
        }
        if let (Some(class), Some((stem, ending))) = (self.present, infinitive) {
            let plural = match ending {
                "ar" => "amos",
                "er" => "emos",
                _ => "imos",
            };
            out.push((whole(format!("{stem}o")), class));
            out.push((whole(format!("{stem}{plural}")), class));
        }
        if let (Some(class), Some(_)) = (self.future, infinitive) {
            out.extend(
                FUTURE_ENDINGS
                    .iter()
                    .map(|e| (whole(format!("{verb}{e}")), class)),
            );
        }
        if let Some(class) = self.third_person {
            out.push((whole(third_person(verb)), class));
        }
        if let Some(class) = self.progressive {
            out.push((whole(gerund(verb)), class));
        }
        out
    }
}

/// The English third person singular: kill -> kills, punch -> punches, bury -> buries.
fn third_person(verb: &str) -> String {
    if verb.ends_with("sh")
        || verb.ends_with("ch")
        || verb.ends_with('s')
        || verb.ends_with('x')
        || verb.ends_with('z')
        || verb.ends_with('o')
    {
        format!("{verb}es")
    } else if let Some(stem) = verb.strip_suffix('y').filter(|s| {
        s.chars()
            .last()
            .is_some_and(|c| !matches!(c, 'a' | 'e' | 'i' | 'o' | 'u'))
    }) {
        format!("{stem}ies")
    } else {
        format!("{verb}s")
    }
}

/// The English -ing form: kill -> killing, stab -> stabbing, strangle -> strangling.
fn gerund(verb: &str) -> String {
    let b = verb.as_bytes();
    let vowel = |c: u8| matches!(c, b'a' | b'e' | b'i' | b'o' | b'u');
    if let Some(stem) = verb.strip_suffix("ie") {
        return format!("{stem}ying");
    }
    if verb.len() > 2 && verb.ends_with('e') && !verb.ends_with("ee") {
        return format!("{}ing", &verb[..verb.len() - 1]);
    }
    // One short syllable ending consonant-vowel-consonant doubles its last letter.
    let n = b.len();
    if (3..=4).contains(&n)
        && !vowel(b[n - 1])
        && !matches!(b[n - 1], b'w' | b'x' | b'y')
        && vowel(b[n - 2])
        && !vowel(b[n - 3])
    {
        return format!("{verb}{}ing", b[n - 1] as char);
    }
    format!("{verb}ing")
}

/// Endings of the Spanish synthetic future, without accents.
/// Also the conditional (`fusilaria`), which threatens in the same breath.
const FUTURE_ENDINGS: &[&str] = &[
    "e", "as", "a", "emos", "eis", "an", "ia", "ias", "iamos", "iais", "ian",
];

/// Spanish object pronouns that attach to an infinitive (`matarte`).
const CLITICS: &[&str] = &["te", "lo", "la", "los", "las", "le", "les", "os"];

fn valid_symbol(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

fn valid_lexicon(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

struct Compiler {
    entry_ids: HashMap<String, usize>,
    entry_texts: Vec<String>,
    entry_classes: Vec<Vec<u32>>,
    class_names: Vec<String>,
    lexicon_ids: HashMap<String, u32>,
    lexicons: Vec<Lexicon>,
}

impl Compiler {
    fn entry(&mut self, text: String, class: u32) {
        let next = self.entry_texts.len();
        let id = *self.entry_ids.entry(text.clone()).or_insert_with(|| {
            self.entry_texts.push(text);
            self.entry_classes.push(Vec::new());
            next
        });
        if !self.entry_classes[id].contains(&class) {
            self.entry_classes[id].push(class);
        }
    }

    fn lexicon(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.lexicon_ids.get(name) {
            return id;
        }
        let id = self.class_names.len() as u32;
        self.class_names.push(name.to_string());
        self.lexicon_ids.insert(name.to_string(), id);
        self.lexicons.push(Lexicon {
            name: name.to_string(),
            description: String::new(),
            entries: 0,
            carries: false,
            whole_verb: false,
        });
        id
    }

    fn piece(&mut self, text: String) -> u32 {
        let key = format!("\u{0}{text}");
        if let Some(&id) = self.lexicon_ids.get(&key) {
            return id;
        }
        let id = self.class_names.len() as u32;
        self.class_names.push("phrase".into());
        self.lexicon_ids.insert(key, id);
        self.entry(text, id);
        id
    }
}

impl RuleSet {
    /// The default packs.
    pub fn defaults() -> Result<RuleSet, RuleError> {
        Self::compile(
            DEFAULT_PACKS
                .iter()
                .map(|(f, t)| (f.to_string(), t.to_string())),
        )
    }

    /// Compiles packs given as `(file name, TOML text)`; every symbol name must be unique
    /// across them, and every lexicon a frame names must be defined in one of them.
    pub fn compile(
        packs: impl IntoIterator<Item = (String, String)>,
    ) -> Result<RuleSet, RuleError> {
        let mut c = Compiler {
            entry_ids: HashMap::new(),
            entry_texts: Vec::new(),
            entry_classes: Vec::new(),
            class_names: Vec::new(),
            lexicon_ids: HashMap::new(),
            lexicons: Vec::new(),
        };
        let mut parsed = Vec::new();
        for (file, text) in packs {
            let pack: PackFile = toml::from_str(&text).map_err(|e| RuleError::Parse {
                file: file.clone(),
                message: e.to_string(),
            })?;
            // Lexicons first, from every pack, so a frame may use a lexicon from another.
            for lex in &pack.lexicons {
                let bad = |message: String| RuleError::Rule {
                    file: file.clone(),
                    rule: lex.name.clone(),
                    message,
                };
                if !valid_lexicon(&lex.name) {
                    return Err(bad("a lexicon name must be a-z, 0-9 and _".into()));
                }
                let id = c.lexicon(&lex.name);
                let also = match &lex.enclitic {
                    Some(t) if valid_lexicon(t) => Some(c.lexicon(t)),
                    Some(_) => return Err(bad("enclitic must name a lexicon".into())),
                    None => None,
                };
                let progressive = match &lex.progressive {
                    Some(t) if valid_lexicon(t) => Some(c.lexicon(t)),
                    Some(_) => return Err(bad("progressive must name a lexicon".into())),
                    None => None,
                };
                let present = match &lex.present {
                    Some(t) if valid_lexicon(t) => Some(c.lexicon(t)),
                    Some(_) => return Err(bad("present must name a lexicon".into())),
                    None => None,
                };
                let future = match &lex.future {
                    Some(t) if valid_lexicon(t) => Some(c.lexicon(t)),
                    Some(_) => return Err(bad("future must name a lexicon".into())),
                    None => None,
                };
                if !lex.description.is_empty() {
                    c.lexicons[id as usize].description = lex.description.clone();
                }
                if lex.carries {
                    c.lexicons[id as usize].carries = true;
                }
                if lex.whole_verb {
                    c.lexicons[id as usize].whole_verb = true;
                }
                for w in &lex.words {
                    let n = normalize(w).text;
                    if n.is_empty() || w.contains('*') {
                        return Err(bad(format!(
                            "entry `{w}` must be words (no `*`; use a frame for gaps)"
                        )));
                    }
                    let forms = Forms {
                        enclitic: also,
                        present,
                        future,
                        third_person: lex.third_person.then_some(id),
                        progressive,
                    };
                    for (form, class) in forms.of(&n) {
                        c.entry(form, class);
                    }
                    c.entry(n, id);
                    c.lexicons[id as usize].entries += 1;
                }
            }
            parsed.push((file, pack));
        }
        let mut rules: Vec<Rule> = Vec::new();
        let mut patterns = Vec::new();
        let mut structures = Vec::new();
        let mut names: HashMap<String, String> = HashMap::new();
        for (file, pack) in parsed {
            let check = |name: &str,
                         category: &str,
                         score: f64,
                         names: &mut HashMap<String, String>|
             -> Result<(), RuleError> {
                let bad = |message: String| RuleError::Rule {
                    file: file.clone(),
                    rule: name.to_string(),
                    message,
                };
                if !valid_symbol(name) {
                    return Err(bad("name must be A-Z, 0-9 and _".into()));
                }
                if let Some(other) = names.insert(name.to_string(), file.clone()) {
                    return Err(bad(format!("name already used in {other}")));
                }
                if !CATEGORIES.contains(&category) {
                    return Err(bad(format!(
                        "unknown category `{}` (one of {})",
                        category,
                        CATEGORIES.join(", ")
                    )));
                }
                if !score.is_finite() || score.abs() > 100.0 {
                    return Err(bad("score must be a number between -100 and 100".into()));
                }
                Ok(())
            };
            let words_of = |list: &[String]| -> Result<Vec<String>, String> {
                list.iter()
                    .map(|w| {
                        let n = normalize(w).text;
                        if n.is_empty() {
                            Err(format!("`{w}` has no word"))
                        } else {
                            Ok(n)
                        }
                    })
                    .collect()
            };
            for def in pack.frames {
                check(&def.name, &def.category, def.score, &mut names)?;
                let bad = |message: String| RuleError::Rule {
                    file: file.clone(),
                    rule: def.name.clone(),
                    message,
                };
                if def.slots.is_empty() || def.slots.len() > 8 {
                    return Err(bad("a frame has 1 to 8 slots".into()));
                }
                let gap = def.max_gap.unwrap_or(DEFAULT_GAP);
                let gaps = match &def.gaps {
                    Some(g) if g.len() + 1 != def.slots.len() => {
                        return Err(bad(
                            "gaps needs one number per pair of neighbouring slots".into()
                        ))
                    }
                    Some(g) => g.clone(),
                    None => vec![gap; def.slots.len().saturating_sub(1)],
                };
                if gap > 20 || gaps.iter().any(|&g| g > 20) {
                    return Err(bad("a gap is at most 20 words".into()));
                }
                let compile = |list: &[String]| -> Result<Vec<Vec<u32>>, RuleError> {
                    let mut slots = Vec::new();
                    for slot in list {
                        let mut classes = Vec::new();
                        for alt in slot.split('|') {
                            let alt = alt.trim();
                            match c.lexicon_ids.get(alt) {
                                Some(&id) if !alt.starts_with('\u{0}') => classes.push(id),
                                _ => {
                                    return Err(bad(format!(
                                        "slot `{slot}`: no lexicon named `{alt}`"
                                    )))
                                }
                            }
                        }
                        slots.push(classes);
                    }
                    Ok(slots)
                };
                let mut unless = Vec::new();
                for name in &def.unless {
                    match c.lexicon_ids.get(name.as_str()) {
                        Some(&id) => unless.push(id),
                        None => return Err(bad(format!("unless: no lexicon named `{name}`"))),
                    }
                }
                let rule = rules.len();
                let not_followed_by = words_of(&def.not_followed_by).map_err(&bad)?;
                let not_preceded_by = words_of(&def.not_preceded_by).map_err(&bad)?;
                for list in std::iter::once(&def.slots).chain(&def.variants) {
                    if list.len() != def.slots.len() {
                        return Err(bad(format!(
                            "a variant has {} slots, the frame {}",
                            list.len(),
                            def.slots.len()
                        )));
                    }
                    let slots = compile(list)?;
                    // Per slot, whether its lexicons have a property: any of them, or all.
                    let per_slot = |has: fn(&Lexicon) -> bool, all: bool| -> Vec<bool> {
                        slots
                            .iter()
                            .map(|alts| {
                                let mut of = alts
                                    .iter()
                                    .map(|&a| c.lexicons.get(a as usize).is_some_and(has));
                                if all {
                                    of.all(|x| x)
                                } else {
                                    of.any(|x| x)
                                }
                            })
                            .collect()
                    };
                    let carries = per_slot(|l| l.carries, false);
                    let whole_verb = per_slot(|l| l.whole_verb, true);
                    patterns.push(Pattern {
                        rule,
                        carries,
                        whole_verb,
                        slots,
                        unless: unless.clone(),
                        sentence_start: def.sentence_start,
                        gaps: gaps.clone(),
                        not_followed_by: not_followed_by.clone(),
                        not_preceded_by: not_preceded_by.clone(),
                        negatable: def.negatable,
                    });
                }
                rules.push(Rule::new(
                    Head {
                        name: def.name,
                        category: def.category,
                        score: def.score,
                        description: def.description,
                    },
                    &file,
                    RuleKind::Frame,
                    def.slots,
                ));
            }
            for def in pack.structures {
                check(&def.name, &def.category, def.score, &mut names)?;
                let bad = |message: String| RuleError::Rule {
                    file: file.clone(),
                    rule: def.name.clone(),
                    message,
                };
                let lookup = |n: &String| -> Result<u32, RuleError> {
                    c.lexicon_ids
                        .get(n.as_str())
                        .copied()
                        .ok_or_else(|| bad(format!("no lexicon named `{n}`")))
                };
                let slots = def
                    .slots
                    .iter()
                    .map(lookup)
                    .collect::<Result<Vec<_>, _>>()?;
                let required = def
                    .required
                    .iter()
                    .map(lookup)
                    .collect::<Result<Vec<_>, _>>()?;
                let any_of = def
                    .any_of
                    .iter()
                    .map(lookup)
                    .collect::<Result<Vec<_>, _>>()?;
                if def.min_slots == 0 || def.min_slots > slots.len() {
                    return Err(bad(
                        "min_slots must be between 1 and the number of slots".into()
                    ));
                }
                if required.iter().any(|r| !slots.contains(r)) {
                    return Err(bad("every required lexicon must be one of the slots".into()));
                }
                if any_of.iter().any(|r| !slots.contains(r)) {
                    return Err(bad("every any_of lexicon must be one of the slots".into()));
                }
                let rule = rules.len();
                structures.push(Structure {
                    rule,
                    slots,
                    required,
                    any_of,
                    min_slots: def.min_slots,
                });
                rules.push(Rule::new(
                    Head {
                        name: def.name,
                        category: def.category,
                        score: def.score,
                        description: def.description,
                    },
                    &file,
                    RuleKind::Structure,
                    def.slots,
                ));
            }
            for def in pack.rules {
                check(&def.name, &def.category, def.score, &mut names)?;
                let bad = |message: String| RuleError::Rule {
                    file: file.clone(),
                    rule: def.name.clone(),
                    message,
                };
                if def.phrases.is_empty() {
                    return Err(bad("has no phrases".into()));
                }
                let gap = def.max_gap.unwrap_or(DEFAULT_GAP);
                if gap > 20 {
                    return Err(bad("a gap is at most 20 words".into()));
                }
                let not_followed_by = words_of(&def.not_followed_by)
                    .map_err(|m| bad(format!("not_followed_by entry {m}")))?;
                let rule = rules.len();
                for phrase in &def.phrases {
                    let parts: Vec<String> = phrase.split('*').map(|p| normalize(p).text).collect();
                    if parts.iter().any(|p| p.is_empty()) {
                        return Err(bad(format!(
                            "phrase `{phrase}`: `*` must stand between words, and every part needs a word"
                        )));
                    }
                    let slots: Vec<Vec<u32>> =
                        parts.into_iter().map(|p| vec![c.piece(p)]).collect();
                    patterns.push(Pattern {
                        rule,
                        gaps: vec![gap; slots.len() - 1],
                        carries: vec![false; slots.len()],
                        whole_verb: vec![false; slots.len()],
                        slots,
                        not_followed_by: not_followed_by.clone(),
                        not_preceded_by: Vec::new(),
                        negatable: false,
                        unless: Vec::new(),
                        sentence_start: false,
                    });
                }
                rules.push(Rule::new(
                    Head {
                        name: def.name,
                        category: def.category,
                        score: def.score,
                        description: def.description,
                    },
                    &file,
                    RuleKind::Phrase,
                    Vec::new(),
                ));
            }
        }
        let mut users = vec![Vec::new(); c.class_names.len()];
        for (p, pattern) in patterns.iter().enumerate() {
            for (s, classes) in pattern.slots.iter().enumerate() {
                for &class in classes {
                    users[class as usize].push((p as u32, s as u16));
                }
            }
        }
        // Every entry is searched for with a space on each side, in the text with a space
        // on each side: a match is then always whole words, and the automaton never
        // stops inside a word ("a" in "data").
        let automaton = if c.entry_texts.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .kind(Some(AhoCorasickKind::DFA))
                    .build(c.entry_texts.iter().map(|t| format!(" {t} ")))
                    .map_err(|e| RuleError::Build(e.to_string()))?,
            )
        };
        let vocabulary = Vocabulary::new(
            c.entry_texts
                .iter()
                .flat_map(|t| t.split(' '))
                .filter(|w| w.len() >= 2),
        );
        let mut slot_offsets = Vec::with_capacity(patterns.len());
        let mut slot_total = 0usize;
        for p in &patterns {
            slot_offsets.push(slot_total);
            slot_total += p.slots.len();
        }
        let coordinator = c.lexicon_ids.get(lexicons::COORDINATOR).copied();
        Ok(RuleSet {
            coordinator,
            slot_offsets,
            slot_total,
            rules,
            patterns,
            structures,
            entry_classes: c.entry_classes,
            class_hashes: c
                .class_names
                .iter()
                .map(|n| crate::model::class_name_hash(n))
                .collect(),
            class_names: c.class_names,
            lexicons: c.lexicons,
            users,
            automaton,
            vocabulary,
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
    pub fn classes(&self) -> usize {
        self.class_names.len()
    }

    /// The class id of a lexicon, if there is one by that name.
    pub fn lexicon_id(&self, name: &str) -> Option<u32> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
