//! The TOML schema of a rule pack: lexicons, frames, structures and phrase rules, as
//! written in config/rules/*.toml (docs/rules.md).

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PackFile {
    #[serde(rename = "lexicon", default)]
    pub(super) lexicons: Vec<LexiconDef>,
    #[serde(rename = "frame", default)]
    pub(super) frames: Vec<FrameDef>,
    #[serde(rename = "structure", default)]
    pub(super) structures: Vec<StructureDef>,
    #[serde(rename = "rule", default)]
    pub(super) rules: Vec<RuleDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LexiconDef {
    pub(super) name: String,
    #[serde(default)]
    pub(super) description: String,
    pub(super) words: Vec<String>,
    #[serde(default)]
    pub(super) enclitic: Option<String>,
    #[serde(default)]
    pub(super) future: Option<String>,
    #[serde(default)]
    pub(super) present: Option<String>,
    #[serde(default)]
    pub(super) third_person: bool,
    #[serde(default)]
    pub(super) progressive: Option<String>,
    /// A modal whose scope carries over verbs coordinated with it (`I will drive to your
    /// house and burn it down`): a frame's next slot may then start further on, right
    /// after a `coordinator`.
    #[serde(default)]
    pub(super) carries: bool,
    /// Its entries are verbs with their object inside (`matarte`): one may be coordinated
    /// even as a frame's last slot.
    #[serde(default)]
    pub(super) whole_verb: bool,
}

#[derive(Debug, Deserialize)]
pub(super) struct FrameDef {
    #[serde(flatten)]
    pub(super) head: Head,
    pub(super) slots: Vec<String>,
    /// Other slot lists for the same frame, one pattern each, with the same gaps: for
    /// words that only make the meaning together (`take … out`, `gun … down`).
    #[serde(default)]
    pub(super) variants: Vec<Vec<String>>,
    #[serde(default)]
    pub(super) max_gap: Option<usize>,
    #[serde(default)]
    pub(super) gaps: Option<Vec<usize>>,
    #[serde(default)]
    pub(super) not_followed_by: Vec<String>,
    #[serde(default)]
    pub(super) not_preceded_by: Vec<String>,
    #[serde(default = "yes")]
    pub(super) negatable: bool,
    #[serde(default)]
    pub(super) unless: Vec<String>,
    #[serde(default)]
    pub(super) sentence_start: bool,
    /// Keys no field above takes: refused by the compiler, as `deny_unknown_fields`
    /// would (serde cannot combine that with `flatten`).
    #[serde(flatten)]
    pub(super) unknown: BTreeMap<String, toml::Value>,
}

#[derive(Debug, Deserialize)]
pub(super) struct StructureDef {
    #[serde(flatten)]
    pub(super) head: Head,
    pub(super) slots: Vec<String>,
    #[serde(default)]
    pub(super) required: Vec<String>,
    /// At least one of these must be among the slots found.
    #[serde(default)]
    pub(super) any_of: Vec<String>,
    pub(super) min_slots: usize,
    /// Keys no field above takes: refused by the compiler, as `deny_unknown_fields`
    /// would (serde cannot combine that with `flatten`).
    #[serde(flatten)]
    pub(super) unknown: BTreeMap<String, toml::Value>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RuleDef {
    #[serde(flatten)]
    pub(super) head: Head,
    pub(super) phrases: Vec<String>,
    #[serde(default)]
    pub(super) max_gap: Option<usize>,
    #[serde(default)]
    pub(super) not_followed_by: Vec<String>,
    /// Keys no field above takes: refused by the compiler, as `deny_unknown_fields`
    /// would (serde cannot combine that with `flatten`).
    #[serde(flatten)]
    pub(super) unknown: BTreeMap<String, toml::Value>,
}

/// What every symbol-making entry of a pack (frame, structure, phrase rule) declares.
#[derive(Debug, Deserialize)]
pub(super) struct Head {
    pub(super) name: String,
    pub(super) category: String,
    pub(super) score: f64,
    pub(super) description: String,
}

pub(super) fn yes() -> bool {
    true
}
