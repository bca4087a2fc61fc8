//! The learned reader: a linear model over hashed features of each sentence, beside the
//! frames. Frames name the shapes the team wrote down; the model weighs the words and
//! lexicon classes of a sentence together, so "I'll drive over and break your neck"
//! scores like the threats it was trained on even when no frame's gap reaches.
//!
//! Features of a sentence (all hashed into `2^bits` weights):
//! - every word;
//! - every lexicon class the automaton found (`harm_body`, `target_you`, …), so that a
//!   weight learned for "kill" also serves every word of its class;
//! - pairs and triples of neighbouring tokens, where a token is a class when a lexicon
//!   entry starts there and the word otherwise ("intent harm_body target_you"), when
//!   classes make up most of them (a pair with a class, a triple with two): sequences of
//!   plain words teach a model the wording of its training sentences, not their shape;
//! - ordered pairs of classes up to [`PAIR_GAP`] words apart ("intent … harm_body");
//! - whether the sentence is a question, and its length.
//!
//! A message scores as its most threatening sentence (the model was trained that way:
//! a threat is usually one sentence among ordinary ones). Long sentences are read in
//! chunks of [`CHUNK`] words, so the work per message is linear in its words.
//!
//! The weights are trained by `crates/train` (see docs/model.md) and shipped in
//! `crates/engine/model/threat.model`; nothing is downloaded or learned at run time.

use crate::rules::{ClassHit, RuleSet, Words};
mod features;

use features::Named;
pub use features::{chunk_features, Analysed, Hashes, Sink, TextView, PAIR_GAP};

/// The symbol the model's verdict is reported as.
pub const SYMBOL: &str = "THREAT_MODEL";

/// What the symbol scores at the model's tag point; its quarantine point scores twice this.
pub(crate) const TAG_SCORE: f64 = 5.0;

/// Below this the symbol is left out: the model is not sure enough to say anything.
pub const MIN_SCORE: f64 = 1.0;

/// The most the symbol scores, however sure the model is.
pub(crate) const MAX_SCORE: f64 = 12.0;

/// Words of one piece of a long sentence.
pub(crate) const CHUNK: usize = 48;

const MAGIC: &[u8; 8] = b"PALMODL1";

/// The shipped model, built by `crates/train/build`.
const SHIPPED: &[u8] = include_bytes!("../../model/threat.model");

/// What can be wrong with a model file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The file does not start with the model's magic bytes.
    #[error("not a Palisade model file (bad magic)")]
    Magic,
    /// The file ends before its header says it should.
    #[error("model file truncated: {0}")]
    Truncated(&'static str),
    /// A header value is out of range.
    #[error("model file invalid: {0}")]
    Invalid(&'static str),
}

/// A trained linear model with its calibrated thresholds.
#[derive(Clone, PartialEq)]
pub struct Model {
    bits: u32,
    bias: f32,
    /// Probability from which the model alone tags a message.
    tag: f32,
    /// Probability from which the model alone quarantines a message.
    quarantine: f32,
    /// Free text: how the model was built (sources, counts, validation figures).
    about: String,
    weights: Vec<f32>,
}

/// The model's reading of one message.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// Probability that the most threatening sentence is a threat.
    pub probability: f32,
    /// Which extracted text it is in.
    pub text: usize,
    /// Its first word and one past its last, in that text's words.
    pub words: (u32, u32),
    /// The share of its score the sentence keeps: how the rules' frames in it are said
    /// (1.0 when said directly or when no frame matched there).
    pub stance: f64,
}

impl Model {
    /// A model from its parts. `weights` must have `2^bits` entries.
    pub fn new(
        bits: u32,
        bias: f32,
        weights: Vec<f32>,
        tag: f32,
        quarantine: f32,
        about: String,
    ) -> Result<Model, ModelError> {
        let m = Model {
            bits,
            bias,
            tag,
            quarantine,
            about,
            weights,
        };
        m.check()?;
        Ok(m)
    }

    fn check(&self) -> Result<(), ModelError> {
        if !(8..=24).contains(&self.bits) {
            return Err(ModelError::Invalid("bits outside 8..=24"));
        }
        if self.weights.len() != 1usize << self.bits {
            return Err(ModelError::Invalid("weight count is not 2^bits"));
        }
        let p = |x: f32| x > 0.0 && x < 1.0;
        if !p(self.tag) || !p(self.quarantine) || self.quarantine <= self.tag {
            return Err(ModelError::Invalid(
                "thresholds must satisfy 0 < tag < quarantine < 1",
            ));
        }
        if !self.bias.is_finite() || self.weights.iter().any(|w| !w.is_finite()) {
            return Err(ModelError::Invalid("a weight is not a finite number"));
        }
        Ok(())
    }

    /// The model shipped with this build.
    pub fn shipped() -> Result<Model, ModelError> {
        Model::from_bytes(SHIPPED)
    }

    /// Reads a model file.
    pub fn from_bytes(b: &[u8]) -> Result<Model, ModelError> {
        let rest = b.strip_prefix(MAGIC.as_slice()).ok_or(ModelError::Magic)?;
        let mut r = Reader(rest);
        let bits = r.u32("bits")?;
        let bias = r.f32("bias")?;
        let tag = r.f32("tag")?;
        let quarantine = r.f32("quarantine")?;
        let about_len = r.u32("about length")? as usize;
        let about = String::from_utf8(r.take(about_len, "about")?.to_vec())
            .map_err(|_| ModelError::Invalid("about is not UTF-8"))?;
        if !(8..=24).contains(&bits) {
            return Err(ModelError::Invalid("bits outside 8..=24"));
        }
        let n = 1usize << bits;
        let raw = r.take(n * 4, "weights")?;
        if !r.0.is_empty() {
            return Err(ModelError::Invalid("bytes after the weights"));
        }
        let weights = raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Model::new(bits, bias, weights, tag, quarantine, about)
    }

    /// The model as a file.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + self.about.len() + self.weights.len() * 4);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.bits.to_le_bytes());
        out.extend_from_slice(&self.bias.to_le_bytes());
        out.extend_from_slice(&self.tag.to_le_bytes());
        out.extend_from_slice(&self.quarantine.to_le_bytes());
        out.extend_from_slice(&(self.about.len() as u32).to_le_bytes());
        out.extend_from_slice(self.about.as_bytes());
        for w in &self.weights {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out
    }

    /// How many bits of feature hash the model uses.
    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// How the model was built.
    pub fn about(&self) -> &str {
        &self.about
    }

    /// The weight of one feature.
    pub fn weight(&self, feature: u32) -> f32 {
        self.weights.get(feature as usize).copied().unwrap_or(0.0)
    }

    /// The raw score (log-odds) of a set of features.
    pub fn logit(&self, features: &[u32]) -> f32 {
        self.bias + features.iter().map(|&f| self.weight(f)).sum::<f32>()
    }

    /// The probability for a set of features.
    pub fn probability(&self, features: &[u32]) -> f32 {
        sigmoid(self.logit(features))
    }

    /// The symbol's score for a probability (see [`score_of_logit`]).
    pub fn score(&self, probability: f32) -> f64 {
        score_of_logit(logit(probability), logit(self.tag), logit(self.quarantine))
    }

    /// The most threatening sentence of one text: its probability and words.
    pub fn read_text(&self, text: TextView) -> Option<(f32, (u32, u32))> {
        let mut best: Option<(f32, (u32, u32))> = None;
        let mut features = Vec::new();
        let mut seen = Seen::new(self.bits);
        let context = context_of(text.rules, text.hits);
        for_each_chunk(text.words, |start, end| {
            features.clear();
            let mut sink = Hashes {
                bits: self.bits,
                out: &mut features,
            };
            chunk_features(text, &context, start, end, &mut sink);
            seen.keep_first(&mut features);
            let p = self.probability(&features);
            if best.is_none_or(|(b, _)| p > b) {
                best = Some((p, (start, end)));
            }
        });
        best
    }

    /// The features of one chunk that weighed most, strongest first, with their
    /// weights: what a reviewer is shown.
    pub fn explain(&self, text: TextView, chunk: (u32, u32), top: usize) -> Vec<(String, f32)> {
        let mut named = Named {
            bits: self.bits,
            out: Vec::new(),
        };
        let context = context_of(text.rules, text.hits);
        chunk_features(text, &context, chunk.0, chunk.1, &mut named);
        let mut seen = std::collections::HashSet::new();
        let mut weighed: Vec<(String, f32)> = named
            .out
            .into_iter()
            .filter(|(_, f)| seen.insert(*f))
            .map(|(name, f)| (name, self.weight(f)))
            .filter(|(_, w)| *w > 0.0)
            .collect();
        weighed.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        weighed.truncate(top);
        weighed
    }
}

impl std::fmt::Debug for Model {
    // The weights are a megabyte of numbers: show what identifies the model instead.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("bits", &self.bits)
            .field("tag", &self.tag)
            .field("quarantine", &self.quarantine)
            .field("about", &self.about.lines().next().unwrap_or(""))
            .finish_non_exhaustive()
    }
}

/// The features of every chunk of every text of a message, read as the engine reads it
/// (for training and for checking a model against messages).
pub fn message_features(rules: &RuleSet, raw: &[u8], bits: u32) -> Vec<Vec<u32>> {
    let extracted = crate::extract::extract(raw, &crate::extract::Limits::default());
    let mut out = Vec::new();
    for text in &extracted.texts {
        text_features_into(rules, &text.text, bits, &mut out);
    }
    out
}

/// The features of every chunk of one plain text.
pub fn text_features(rules: &RuleSet, text: &str, bits: u32) -> Vec<Vec<u32>> {
    let mut out = Vec::new();
    text_features_into(rules, text, bits, &mut out);
    out
}

fn text_features_into(rules: &RuleSet, text: &str, bits: u32, out: &mut Vec<Vec<u32>>) {
    let analysed = Analysed::of(rules, text);
    let view = analysed.view(rules, text);
    let context = context_of(rules, view.hits);
    let mut seen = Seen::new(bits);
    for_each_chunk(view.words, |s, e| {
        let mut f = Vec::new();
        chunk_features(view, &context, s, e, &mut Hashes { bits, out: &mut f });
        seen.keep_first(&mut f);
        out.push(f);
    });
}

/// Keeps each feature once: what a sentence says, not how often it repeats it (a sender
/// repeating a phrase a thousand times must not add its weight a thousand times). A
/// bit per feature, cleared again after each chunk, so the work is linear in the
/// features.
struct Seen(Vec<u64>);

impl Seen {
    fn new(bits: u32) -> Seen {
        Seen(vec![0; (1usize << bits).div_ceil(64)])
    }

    fn keep_first(&mut self, features: &mut Vec<u32>) {
        features.retain(|&f| {
            let (word, bit) = ((f / 64) as usize, 1u64 << (f % 64));
            match self.0.get_mut(word) {
                Some(w) if *w & bit == 0 => {
                    *w |= bit;
                    true
                }
                _ => false,
            }
        });
        for &f in features.iter() {
            if let Some(w) = self.0.get_mut((f / 64) as usize) {
                *w = 0;
            }
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], ModelError> {
        if self.0.len() < n {
            return Err(ModelError::Truncated(what));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, ModelError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn f32(&mut self, what: &'static str) -> Result<f32, ModelError> {
        let b = self.take(4, what)?;
        Ok(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// How far below the tag point (in log-odds) the score starts from zero.
pub(crate) const RAMP: f32 = 4.0;

/// The symbol's score for log-odds `z` when the tag point is `zt` and the quarantine
/// point `zq`: [`TAG_SCORE`] at the tag point, twice that at the quarantine point,
/// linear in log-odds between and beyond up to [`MAX_SCORE`]; below the tag point it falls
/// linearly to zero [`RAMP`] log-odds lower, so an unsure reading adds little whatever
/// the distance between the two points.
pub fn score_of_logit(z: f32, zt: f32, zq: f32) -> f64 {
    let (z, zt, zq) = (f64::from(z), f64::from(zt), f64::from(zq));
    if z >= zt {
        (TAG_SCORE + TAG_SCORE * (z - zt) / (zq - zt).max(1e-3)).min(MAX_SCORE)
    } else {
        (TAG_SCORE * (z - (zt - f64::from(RAMP))) / f64::from(RAMP)).max(0.0)
    }
}

/// The logistic function.
pub fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

/// The log-odds of a probability (kept away from 0 and 1).
pub fn logit(p: f32) -> f32 {
    let p = p.clamp(1e-6, 1.0 - 1e-6);
    (p / (1.0 - p)).ln()
}

/// Calls `f(start, end)` for every chunk of every sentence: at most [`CHUNK`] words each.
pub(crate) fn for_each_chunk(words: &Words, mut f: impl FnMut(u32, u32)) {
    let n = words.len();
    let mut start = 0usize;
    while start < n {
        let sentence = words.sentence[start];
        let mut end = start + 1;
        while end < n && words.sentence[end] == sentence && end - start < CHUNK {
            end += 1;
        }
        f(start as u32, end as u32);
        start = end;
    }
}

/// Lexicons whose presence anywhere in a text colours every sentence of it: a text
/// that attributes words to someone or reads like a court release or news is telling
/// about a threat more often than making one.
const CONTEXT: &[&str] = &["report_frame", "reporting"];

/// The context classes present in a text's hits (computed once per text).
pub fn context_of(rules: &RuleSet, hits: &[ClassHit]) -> Vec<u32> {
    let mut ctx: Vec<u32> = hits
        .iter()
        .map(|h| h.class)
        .filter(|&c| CONTEXT.contains(&rules.class_name(c)))
        .collect();
    ctx.sort_unstable();
    ctx.dedup();
    ctx
}

#[cfg(test)]
mod tests {
    use super::features::{index, mix, KIND_QUESTION};
    use super::*;

    fn features(rules: &RuleSet, text: &str) -> Vec<Vec<u32>> {
        text_features(rules, text, 18)
    }

    #[test]
    fn a_model_file_round_trips_and_bad_files_are_refused() {
        let m = Model::new(8, -1.0, vec![0.5; 256], 0.5, 0.9, "test".into()).unwrap();
        let bytes = m.to_bytes();
        assert_eq!(Model::from_bytes(&bytes).unwrap(), m);
        assert_eq!(Model::from_bytes(b"nope"), Err(ModelError::Magic));
        assert!(matches!(
            Model::from_bytes(&bytes[..bytes.len() - 1]),
            Err(ModelError::Truncated(_))
        ));
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(
            Model::from_bytes(&longer),
            Err(ModelError::Invalid(_))
        ));
        assert!(Model::new(8, 0.0, vec![0.0; 255], 0.5, 0.9, String::new()).is_err());
        assert!(Model::new(8, 0.0, vec![0.0; 256], 0.9, 0.5, String::new()).is_err());
        assert!(Model::new(8, f32::NAN, vec![0.0; 256], 0.5, 0.9, String::new()).is_err());
    }

    #[test]
    fn the_score_is_five_at_the_tag_point_and_ten_at_the_quarantine_point() {
        let m = Model::new(8, 0.0, vec![0.0; 256], 0.6, 0.9, String::new()).unwrap();
        assert!((m.score(0.6) - 5.0).abs() < 1e-3);
        assert!((m.score(0.9) - 10.0).abs() < 1e-3);
        assert_eq!(m.score(0.999_999), MAX_SCORE);
        assert_eq!(m.score(0.0), 0.0);
        // Below the tag point the score falls to nothing within RAMP log-odds, however
        // far apart the points are.
        let wide = Model::new(8, 0.0, vec![0.0; 256], 0.9, 0.999_99, String::new()).unwrap();
        assert!((wide.score(0.9) - 5.0).abs() < 1e-3);
        assert_eq!(wide.score(sigmoid(logit(0.9) - RAMP - 0.1)), 0.0);
        assert!(wide.score(0.15) < MIN_SCORE);
    }

    #[test]
    fn classes_stand_for_their_words_so_one_weight_serves_a_whole_lexicon() {
        let rules = RuleSet::defaults().unwrap();
        let a = features(&rules, "I will break your neck");
        let b = features(&rules, "I will break your legs");
        let shared = a[0].iter().filter(|f| b[0].contains(f)).count();
        // Everything but the last word's own features is shared.
        assert!(shared + 4 >= a[0].len(), "{shared} of {}", a[0].len());
    }

    #[test]
    fn long_sentences_are_read_in_bounded_chunks() {
        let rules = RuleSet::defaults().unwrap();
        let text = "word ".repeat(10_000);
        let chunks = features(&rules, &text);
        assert_eq!(chunks.len(), 10_000usize.div_ceil(CHUNK));
        assert!(chunks.iter().all(|c| c.len() < CHUNK * 4 + 8));
    }

    #[test]
    fn a_question_is_a_feature_of_its_sentence() {
        let rules = RuleSet::defaults().unwrap();
        let q = features(&rules, "are you going to hurt me?");
        let s = features(&rules, "are you going to hurt me.");
        let question = index(mix(KIND_QUESTION, 1), 18);
        assert!(q[0].contains(&question));
        assert!(!s[0].contains(&question));
    }

    #[test]
    fn the_shipped_model_loads() {
        let m = Model::shipped().unwrap();
        assert!(m.tag < m.quarantine);
        assert!(!m.about().is_empty());
    }
}
