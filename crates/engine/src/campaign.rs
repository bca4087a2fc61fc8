//! Campaign fingerprints: one template mailed to many people, each copy personalised
//! (name, street address, party, phone), collides here; unrelated mail does not.
//!
//! The text is normalised as for matching ([`crate::normalize`]), then masked: the
//! recipient's own name parts, numbers, URLs, mail addresses and month names become
//! placeholders. Word 3-shingles of what remains go into a one-permutation MinHash
//! signature of [`HASHES`] values (each shingle hashed once into one bin; empty bins
//! densified from their neighbour), cut into [`BANDS`] bands of [`ROWS`] for locality-sensitive
//! hashing: two copies whose shingle sets overlap by Jaccard J share at least one band
//! with probability 1 - (1 - J^6)^16 (J = 0.8: 99%; J = 0.5: 22%; J = 0.3: 1%). A band
//! match is then confirmed on the whole signature ([`Fingerprint::similarity`]).
//!
//! Hashes are xxh3 with fixed seeds, so fingerprints agree across hosts and versions:
//! a fleet can share them. Only hashes leave this module, never text.

use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::normalize::normalize;

/// Rows per band.
pub(crate) const ROWS: usize = 6;
/// Bands.
pub const BANDS: usize = 16;
/// MinHash values in a signature.
pub const HASHES: usize = ROWS * BANDS;
/// Words of text fingerprinted at most (a template is short; the cost stays linear
/// and bounded whatever a sender sends).
pub(crate) const MAX_WORDS: usize = 1_000;
/// Personal words masked at most (recipients' names and address parts).
pub(crate) const MAX_PERSONAL: usize = 256;
/// Fewer shingles than this: too little text to call anything a campaign.
pub(crate) const MIN_SHINGLES: usize = 12;
/// Signature similarity from which two messages are one template.
pub const SAME_TEMPLATE: f64 = 0.6;

/// Symbols the daemon adds from what a campaign store knows, with default scores
/// (`[scores]` overrides them).
pub const DEFAULTS: &[(&str, f64)] = &[
    // The message is a copy of a template sent to many recipients (information).
    (SYMBOL_CAMPAIGN, 0.0),
    // ... and some copy of that template carried threat symbols.
    (SYMBOL_CAMPAIGN_THREAT, 5.0),
    // The campaign store could not be reached: judged without campaign data.
    (SYMBOL_STATE_UNAVAILABLE, 0.0),
];
/// A copy of a campaign.
pub const SYMBOL_CAMPAIGN: &str = "CAMPAIGN";
/// A copy of a campaign some copy of which threatened.
pub const SYMBOL_CAMPAIGN_THREAT: &str = "CAMPAIGN_THREAT";
/// The campaign store was unavailable.
pub const SYMBOL_STATE_UNAVAILABLE: &str = "STATE_UNAVAILABLE";

/// Symbol categories that make a campaign a threat when any copy carries one.
pub const THREAT_CATEGORIES: &[&str] =
    &["threat", "intimidation", "coercion", "extortion", "doxxing"];

/// The names of a verdict's symbols that make its campaign a threat (positive score,
/// threat family).
pub fn threat_symbols(symbols: &[crate::verdict::Symbol]) -> Vec<String> {
    symbols
        .iter()
        .filter(|s| s.score > 0.0 && THREAT_CATEGORIES.contains(&s.category.as_str()))
        .map(|s| s.name.clone())
        .collect()
}

const SEED: u64 = 0x7061_6c69_7361_6465; // "palisade"

/// A message's campaign fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// MinHash signature.
    pub signature: [u64; HASHES],
    /// One key per band (a hash of its rows and its index): the LSH buckets.
    pub bands: [u64; BANDS],
    /// Shingles that went in.
    pub shingles: usize,
}

impl Fingerprint {
    /// The share of signature slots two fingerprints agree on: an estimate of the
    /// Jaccard similarity of their shingle sets.
    pub fn similarity(&self, other: &Fingerprint) -> f64 {
        let same = self
            .signature
            .iter()
            .zip(other.signature.iter())
            .filter(|(a, b)| a == b)
            .count();
        same as f64 / HASHES as f64
    }

    /// Whether any band matches (a candidate for the same template): what the stores'
    /// band index finds, checked here against the similarity.
    #[cfg(test)]
    fn shares_band(&self, other: &Fingerprint) -> bool {
        self.bands
            .iter()
            .zip(other.bands.iter())
            .any(|(a, b)| a == b)
    }

    /// A short stable id: the first band key, hex.
    pub fn id(&self) -> String {
        format!("{:016x}", self.bands[0])
    }
}

/// SplitMix64's finaliser: one base hash, many independent-looking ones.
const fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A hasher for keys that are already well-mixed hashes: passes them through.
#[derive(Default)]
struct Mixed(u64);

impl std::hash::Hasher for Mixed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

fn is_month(w: &str) -> bool {
    // Cheap length test first: most words are not months.
    (3..=10).contains(&w.len()) && MONTHS.contains(&w)
}

const MONTHS: &[&str] = &[
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
];

/// The words of a recipient's name and address that personalise a copy: the parts of
/// each envelope recipient's local part and of the display names in `to`, lower-case,
/// two letters or more.
pub fn personal_words(recipients: &[String], to: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut add = |w: &str| {
        if out.len() >= MAX_PERSONAL {
            return;
        }
        let w = normalize(w).text;
        for part in w.split(' ') {
            if out.len() < MAX_PERSONAL
                && part.chars().count() >= 2
                && seen.insert(part.to_string())
            {
                out.push(part.to_string());
            }
        }
    };
    for r in recipients.iter().take(MAX_PERSONAL) {
        let local = r.rsplit_once('@').map_or(r.as_str(), |(l, _)| l);
        add(&local.replace(['.', '_', '-', '+'], " "));
    }
    // Display names: what stands outside angle brackets and addresses (the first 64 KiB
    // of them: a sender controls their length).
    let to = match to.char_indices().nth(64 * 1024) {
        Some((i, _)) => &to[..i],
        None => to,
    };
    for mailbox in to.split(',') {
        let name = mailbox.split('<').next().unwrap_or("");
        if !name.contains('@') {
            add(&name.replace('"', " "));
        }
    }
    out
}

/// Replaces URLs and mail addresses with placeholders before normalisation (which
/// would otherwise cut them into words that differ per copy).
fn premask(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, token) in text.split_whitespace().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let lower = token.to_ascii_lowercase();
        if lower.contains("://") || lower.starts_with("www.") {
            out.push_str("zzurl");
        } else if token.contains('@') && token.contains('.') {
            out.push_str("zzmail");
        } else {
            out.push_str(token);
        }
    }
    out
}

/// The fingerprint of a message's readable text (subject and body parts, joined),
/// with `personal` words (see [`personal_words`]) masked. `None` when the text is too
/// short to tell a template by.
pub fn fingerprint(text: &str, personal: &[String]) -> Option<Fingerprint> {
    let mut s = Shingler::new(personal);
    s.feed(&normalize(&premask(text)).text);
    s.finish()
}

/// Builds a fingerprint from text already normalised ([`crate::normalize`]), fed in
/// pieces (the engine feeds each text as it normalises it for matching).
#[derive(Debug)]
pub(crate) struct Shingler<'p> {
    /// The personal words' hashes (a word's hash is computed anyway).
    personal: std::collections::HashSet<u64, std::hash::BuildHasherDefault<Mixed>>,
    words: Vec<u64>,
    _personal: std::marker::PhantomData<&'p str>,
}

impl<'p> Shingler<'p> {
    /// With these personal words masked.
    pub fn new(personal: &'p [String]) -> Shingler<'p> {
        Shingler {
            personal: personal
                .iter()
                .map(|p| xxh3_64_with_seed(p.as_bytes(), SEED))
                .collect(),
            _personal: std::marker::PhantomData,
            words: Vec::new(),
        }
    }

    /// Adds normalised text (words separated by single spaces), up to [`MAX_WORDS`]
    /// words in all.
    pub fn feed(&mut self, normalized: &str) {
        for w in normalized.split(' ').filter(|w| !w.is_empty()) {
            if !self.push(w) {
                break;
            }
        }
    }

    /// Adds normalised text already cut into words (as the engine's matcher cuts it).
    pub(crate) fn feed_words(&mut self, normalized: &str, words: &crate::rules::Words) {
        for (s, e) in words.starts.iter().zip(&words.ends) {
            let Some(w) = normalized.get(*s as usize..*e as usize) else {
                continue;
            };
            if !w.is_empty() && !self.push(w) {
                break;
            }
        }
    }

    /// One word; false once [`MAX_WORDS`] are in.
    fn push(&mut self, w: &str) -> bool {
        if self.words.len() >= MAX_WORDS {
            return false;
        }
        // Placeholders for what differs per copy.
        let placeholder = if w.bytes().any(|b| b.is_ascii_digit()) {
            Some("#")
        } else if is_month(w) {
            Some("#m")
        } else if w.starts_with("http") || w.starts_with("www") {
            Some("#u")
        } else {
            None
        };
        let h = match placeholder {
            Some(p) => xxh3_64_with_seed(p.as_bytes(), SEED),
            None => {
                let h = xxh3_64_with_seed(w.as_bytes(), SEED);
                if self.personal.contains(&h) {
                    xxh3_64_with_seed(b"#n", SEED)
                } else {
                    h
                }
            }
        };
        self.words.push(h);
        true
    }

    /// The fingerprint; `None` when the text is too short to tell a template by.
    pub fn finish(self) -> Option<Fingerprint> {
        let words = self.words;
        if words.len() < 3 {
            return None;
        }
        // One-permutation MinHash: each 3-shingle's hash (order matters: rotations tell
        // the positions apart) goes to one of HASHES bins by its high bits, and each bin
        // keeps its least hash: one hash per shingle instead of one per slot.
        let mut bins = [u64::MAX; HASHES];
        let mut shingles = 0usize;
        let mut seen: std::collections::HashSet<u64, std::hash::BuildHasherDefault<Mixed>> =
            std::collections::HashSet::with_capacity_and_hasher(words.len(), Default::default());
        for w in words.windows(3) {
            let h = mix(w[0] ^ w[1].rotate_left(21) ^ w[2].rotate_left(42));
            if !seen.insert(h) {
                continue;
            }
            shingles += 1;
            let bin = (((h >> 32) * HASHES as u64) >> 32) as usize;
            if h < bins[bin] {
                bins[bin] = h;
            }
        }
        if shingles < MIN_SHINGLES {
            return None;
        }
        // Densification: an empty bin takes the value of the next filled bin to its
        // right (circularly), mixed with the distance, so two texts agree on it exactly
        // when they agree on that bin and on the gap.
        let mut signature = bins;
        let mut next: Option<(usize, usize)> = None;
        for jj in (0..2 * HASHES).rev() {
            let j = jj % HASHES;
            if bins[j] != u64::MAX {
                next = Some((j, jj));
            } else if jj < HASHES {
                if let Some((n, nn)) = next {
                    signature[j] =
                        mix(bins[n] ^ ((nn - jj) as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
                }
            }
        }
        let mut bands = [0u64; BANDS];
        for (b, key) in bands.iter_mut().enumerate() {
            let mut bytes = Vec::with_capacity(8 * (ROWS + 1));
            bytes.extend_from_slice(&(b as u64).to_le_bytes());
            for v in &signature[b * ROWS..(b + 1) * ROWS] {
                bytes.extend_from_slice(&v.to_le_bytes());
            }
            *key = xxh3_64_with_seed(&bytes, SEED);
        }
        Some(Fingerprint {
            signature,
            bands,
            shingles,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A template in the shape of the 2020 mail, personalised per voter.
    fn copy(
        name: &str,
        street: &str,
        number: u32,
        party: &str,
        phone: &str,
    ) -> (String, Vec<String>) {
        let first = name.split(' ').next().unwrap_or(name);
        let text = format!(
            "{name}, we are in possession of all your information: your email, your address \
             {number} {street}, your telephone {phone}, everything. You are currently registered \
             as a {party}. We know this because we have gained access to the entire voting \
             infrastructure. You will vote for our candidate on Election Day or we will come \
             after you. Change your party affiliation to let us know you received our message \
             and will comply. We will know which candidate you voted for. I would take this \
             seriously if I were you. Good luck {first}."
        );
        let rcpt = format!("{}@county.example", name.to_lowercase().replace(' ', "."));
        let personal = personal_words(&[rcpt], &format!("\"{name}\" <x@county.example>"));
        (text, personal)
    }

    fn fp(t: &(String, Vec<String>)) -> Fingerprint {
        fingerprint(&t.0, &t.1).expect("long enough")
    }

    #[test]
    fn personalised_copies_of_one_template_collide() {
        let people = [
            (
                "Maria Gonzalez",
                "Oak Street",
                1204,
                "Democrat",
                "(352) 555-0188",
            ),
            (
                "James Whitfield",
                "Magnolia Avenue",
                88,
                "Democrat",
                "352-555-0101",
            ),
            (
                "Aisha Okafor",
                "Northwest 13th Terrace",
                4410,
                "Democrat",
                "+1 352 555 0142",
            ),
            (
                "Tom Nguyen",
                "Lake Shore Drive",
                7,
                "Independent",
                "555 0199",
            ),
            (
                "Patricia O'Neill",
                "Archer Road",
                23015,
                "Democrat",
                "(904) 555-0111",
            ),
            (
                "Li Wei",
                "University Avenue",
                300,
                "Green Party member",
                "352.555.0123",
            ),
        ];
        let first = fp(&copy(
            people[0].0,
            people[0].1,
            people[0].2,
            people[0].3,
            people[0].4,
        ));
        for p in &people[1..] {
            let other = fp(&copy(p.0, p.1, p.2, p.3, p.4));
            let s = first.similarity(&other);
            eprintln!("personalised copy {}: similarity {s:.2}", p.0);
            assert!(
                first.shares_band(&other) && s >= SAME_TEMPLATE,
                "{}: {s}",
                p.0
            );
        }
        // Sentences reordered, a greeting added, a signature line changed.
        let (text, personal) = copy(
            "Maria Gonzalez",
            "Oak Street",
            1204,
            "Democrat",
            "(352) 555-0188",
        );
        let mut sentences: Vec<&str> = text.split(". ").collect();
        sentences.swap(1, 2);
        sentences.swap(4, 5);
        let reordered = format!("Hello Maria Gonzalez. {}", sentences.join(". "));
        let other = fingerprint(&reordered, &personal).expect("long enough");
        let s = first.similarity(&other);
        eprintln!("reordered, greeted copy: similarity {s:.2}");
        assert!(
            first.shares_band(&other) && s >= SAME_TEMPLATE,
            "reordered: {s}"
        );
        // Disguised copies (leetspeak, odd spacing) normalise to the same words.
        let disguised = text
            .replace("come after you", "c0me aft3r y o u")
            .replace("vote", "v0te");
        let other = fingerprint(&disguised, &personal).expect("long enough");
        assert!(first.similarity(&other) >= SAME_TEMPLATE);
        assert_eq!(
            first.id(),
            fp(&copy(
                people[0].0,
                people[0].1,
                people[0].2,
                people[0].3,
                people[0].4
            ))
            .id(),
            "stable"
        );
    }

    #[test]
    fn mail_that_shares_boilerplate_but_not_a_template_does_not() {
        // Campaign fundraising mail: one footer, different appeals.
        let footer = "Paid for by Friends of the County Committee. Not authorized by any candidate \
                      or candidate's committee. Contributions are not tax deductible. To unsubscribe \
                      from these emails click here or write to us at our headquarters. We respect \
                      your privacy and never share your information.";
        let bodies = [
            "The polls are tightening in the final stretch and our volunteers are knocking on \
             doors every evening this week. Can you chip in before the midnight deadline so we \
             can keep our field offices open through Election Day?",
            "Join us Saturday morning at the library for a town hall on school funding, road \
             repairs and the new bus routes. Bring your questions for the commissioners and \
             bring a neighbour too.",
            "Early voting starts Monday. Find your polling place, check your registration and \
             make a plan to vote. Our ride program can take you to the polls if you need a lift.",
        ];
        let prints: Vec<Fingerprint> = bodies
            .iter()
            .map(|b| fingerprint(&format!("{b} {footer}"), &[]).expect("long enough"))
            .collect();
        for (i, a) in prints.iter().enumerate() {
            for b in &prints[i + 1..] {
                let s = a.similarity(b);
                eprintln!("shared boilerplate, different appeal: similarity {s:.2}");
                assert!(
                    s < SAME_TEMPLATE,
                    "different appeals called one template: {s}"
                );
            }
        }
        // And the threat template is nothing like them.
        let threat = fp(&copy(
            "Maria Gonzalez",
            "Oak Street",
            1204,
            "Democrat",
            "555",
        ));
        for p in &prints {
            assert!(!threat.shares_band(p) && threat.similarity(p) < 0.2);
        }
    }

    #[test]
    fn short_or_empty_text_has_no_fingerprint_and_long_text_is_bounded() {
        assert!(fingerprint("", &[]).is_none());
        assert!(fingerprint("vote or else", &[]).is_none());
        let long = "word ".repeat(1_000_000);
        // Same shingle over and over: one shingle, below the minimum.
        assert!(fingerprint(&long, &[]).is_none());
        // Only the first MAX_WORDS words count, however long the text.
        let varied: String = (0..200_000).map(|i| format!("word{} ", i % 977)).collect();
        let f = fingerprint(&varied, &[]).expect("varied text");
        assert!(f.shingles < MAX_WORDS, "{}", f.shingles);
    }

    #[test]
    fn personal_words_come_from_addresses_and_display_names() {
        let w = personal_words(
            &[
                "maria.gonzalez@county.example".into(),
                "j_smith+vote@x.example".into(),
            ],
            "\"González, María\" <maria.gonzalez@county.example>, Bob Lee <b@x>",
        );
        for x in ["maria", "gonzalez", "smith", "vote", "bob", "lee"] {
            assert!(w.iter().any(|y| y == x), "{x} in {w:?}");
        }
    }
}

#[cfg(test)]
mod engine_tests {
    use crate::{Action, Engine, Envelope, Input, Symbol, Thresholds};

    fn engine() -> Engine {
        Engine::with_default_rules(Thresholds {
            tag: 5.0,
            quarantine: 10.0,
            reject: 0.0,
        })
        .expect("default rules compile")
    }

    fn message(name: &str, street: &str) -> (Vec<u8>, Envelope) {
        let rcpt = format!("{}@county.example", name.to_lowercase().replace(' ', "."));
        let raw = format!(
            "From: a@b.example\r\nTo: \"{name}\" <{rcpt}>\r\nSubject: notice\r\n\r\n\
             Dear {name}, the records office has updated the file for {street}. The new \
             assessment notice lists the parcel, the owner of record and the mailing address \
             we hold. Please review the enclosed summary and tell us of any change before the \
             end of the month so the roll can be certified on time.\r\n"
        );
        let envelope = Envelope {
            rcpt_to: vec![rcpt],
            ..Envelope::default()
        };
        (raw.into_bytes(), envelope)
    }

    #[test]
    fn the_engine_fingerprints_personalised_copies_alike() {
        let engine = engine();
        let (a, env_a) = message("Maria Lopez", "12 Oak Street");
        let (b, env_b) = message("John Smith", "907 Pine Avenue");
        let mut input = Input::new(&a);
        input.envelope = env_a;
        let (_, fa) = engine.scan_with_fingerprint(&input);
        let mut input = Input::new(&b);
        input.envelope = env_b;
        let (_, fb) = engine.scan_with_fingerprint(&input);
        let (fa, fb) = (fa.expect("long enough"), fb.expect("long enough"));
        assert!(fa.shares_band(&fb));
        assert!(
            fa.similarity(&fb) > super::SAME_TEMPLATE,
            "{}",
            fa.similarity(&fb)
        );
        // Plain scan computes none.
        assert_eq!(
            engine.scan(&Input::new(&a)).symbols,
            engine.scan_with_fingerprint(&Input::new(&a)).0.symbols
        );
    }

    #[test]
    fn rescore_adds_symbols_and_reapplies_thresholds() {
        let engine = engine();
        let base = crate::Verdict::from_symbols(
            vec![Symbol {
                name: "X".into(),
                score: 6.0,
                category: "threat".into(),
                detail: String::new(),
            }],
            &Thresholds {
                tag: 5.0,
                quarantine: 10.0,
                reject: 0.0,
            },
        );
        assert_eq!(base.action, Action::Tag);
        let extra = Symbol {
            name: super::SYMBOL_CAMPAIGN_THREAT.into(),
            score: 5.0,
            category: "campaign".into(),
            detail: "campaign".into(),
        };
        let held = engine.rescore(base.clone(), vec![extra.clone()], &[]);
        assert_eq!(held.action, Action::Quarantine);
        assert_eq!(held.score, 11.0);
        // [scores] overrides apply to added symbols too.
        let scores = [(super::SYMBOL_CAMPAIGN_THREAT.to_string(), 1.0)]
            .into_iter()
            .collect();
        let engine = engine.with_scores(&scores).expect("known symbol");
        let tagged = engine.rescore(base, vec![extra], &[]);
        assert_eq!(tagged.action, Action::Tag);
        assert_eq!(tagged.score, 7.0);
    }
}
