//! The compiler: packs checked and turned into one Aho-Corasick automaton over every
//! lexicon entry and its forms, with frames, structures and rules pointing into it.

use std::collections::{BTreeMap, HashMap};

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

use super::forms::*;
use super::schema::*;
use super::*;
use crate::normalize::{normalize, Vocabulary};

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
            let check = |head: &Head,
                         unknown: &BTreeMap<String, toml::Value>,
                         names: &mut HashMap<String, String>|
             -> Result<(), RuleError> {
                let (name, category, score) = (&head.name, head.category.as_str(), head.score);
                let bad = |message: String| RuleError::Rule {
                    file: file.clone(),
                    rule: name.to_string(),
                    message,
                };
                if let Some(key) = unknown.keys().next() {
                    return Err(bad(format!("unknown field `{key}`")));
                }
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
                check(&def.head, &def.unknown, &mut names)?;
                let bad = |message: String| RuleError::Rule {
                    file: file.clone(),
                    rule: def.head.name.clone(),
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
                rules.push(Rule::new(def.head, &file, RuleKind::Frame, def.slots));
            }
            for def in pack.structures {
                check(&def.head, &def.unknown, &mut names)?;
                let bad = |message: String| RuleError::Rule {
                    file: file.clone(),
                    rule: def.head.name.clone(),
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
                rules.push(Rule::new(def.head, &file, RuleKind::Structure, def.slots));
            }
            for def in pack.rules {
                check(&def.head, &def.unknown, &mut names)?;
                let bad = |message: String| RuleError::Rule {
                    file: file.clone(),
                    rule: def.head.name.clone(),
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
                rules.push(Rule::new(def.head, &file, RuleKind::Phrase, Vec::new()));
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
            class_hashes: c.class_names.iter().map(|n| class_name_hash(n)).collect(),
            class_names: c.class_names,
            lexicons: c.lexicons,
            users,
            automaton,
            vocabulary,
        })
    }
}
