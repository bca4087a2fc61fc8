//! Text normalisation for matching: the text a person reads, reduced to lowercase Latin
//! words separated by single spaces, with a map back to the original.
//!
//! What it undoes, in one pass over the characters and one over the words:
//! - Unicode compatibility forms (NFKD: full-width letters, mathematical alphanumerics,
//!   ligatures), combining marks (accents, so Spanish written without them matches), case;
//! - letters from other scripts that look like Latin ones, by their UTS #39 confusable
//!   skeleton (the `unicode-security` tables);
//! - every Default_Ignorable code point (zero-width and bidi controls, soft hyphens,
//!   variation selectors, tags: the `icu_properties` tables);
//! - digits and symbols standing for letters anywhere in a word (`ki11`, `k1ll`, `d3ad`,
//!   `b0mb`, `$end`), letters repeated for effect (`killll`), letters spaced or dotted out
//!   (`k i l l`, `k.i.l.l`), where a choice is ambiguous the reading that is a known word
//!   wins;
//! - contractions and text-speak (`we'll` -> `we will`, `you're` -> `you are`, `gonna` ->
//!   `going to`, `u` -> `you`, `ima` -> `i am going to`, `ur` -> `your`);
//! - hashtags and run-together words (`#WeWillFindYou`, `#killthetraitors`);
//! - every run of whitespace or punctuation, line breaks included.
//!
//! How much of each disguise it undid is reported, since disguise is itself a signal.

use std::collections::HashSet;
use std::sync::OnceLock;

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Counts of the disguises undone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Disguise {
    /// Invisible characters (zero-width, bidi controls, soft hyphens) found inside words.
    pub invisible_in_words: u32,
    /// Words that mixed Latin letters with look-alikes from other scripts.
    pub mixed_script_words: u32,
    /// Words with digits or symbols standing for letters.
    pub leet_words: u32,
    /// Words spelled with spaced-out letters.
    pub spaced_words: u32,
    /// Words with letters repeated three times or more (`killll`).
    pub stretched_words: u32,
}

/// Normalised text and how to find the original behind it.
#[derive(Debug, Clone, Default)]
pub struct Normalized {
    /// Lowercase words separated by single spaces.
    pub text: String,
    /// For every byte of `text`, the byte offset in the original of the character it came
    /// from (a space maps to the first character of the word after it).
    pub map: Vec<u32>,
    /// Offsets in `text` where a sentence begins (after `.`, `!`, `?`, `;` or a blank
    /// line), in increasing order.
    pub sentence_starts: Vec<u32>,
    /// Disguises undone.
    pub disguise: Disguise,
    /// `(start, end)` in `text` of every word that was disguised, in order.
    pub disguised: Vec<(u32, u32)>,
}

impl Normalized {
    /// Whether any word in `text[start..end]` was disguised.
    pub(crate) fn disguised_within(&self, start: usize, end: usize) -> bool {
        let i = self
            .disguised
            .partition_point(|&(_, e)| (e as usize) <= start);
        self.disguised
            .get(i)
            .is_some_and(|&(s, _)| (s as usize) < end)
    }

    /// The original offset behind `text[at]` (the end of the original for `at` past the end).
    pub(crate) fn original_offset(&self, at: usize) -> usize {
        self.map.get(at).map_or(usize::MAX, |&o| o as usize)
    }

    /// The original text behind `text[start..end]`.
    pub fn original<'a>(&self, original: &'a str, start: usize, end: usize) -> &'a str {
        if start >= end || end > self.map.len() {
            return "";
        }
        let from = self.map[start] as usize;
        let last = self.map[end - 1] as usize;
        if from > last || last >= original.len() {
            return original.get(from..).unwrap_or("");
        }
        let to = original[last..]
            .chars()
            .next()
            .map(|c| last + c.len_utf8())
            .unwrap_or(last);
        original.get(from..to).unwrap_or("")
    }
}

/// Words the normaliser may prefer when a disguise can be read more than one way
/// (`ki11` is `kill`, not `kiii`). The rule packs add every word of their lexicons.
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    words: HashSet<Box<str>>,
}

/// Common words that segmenting run-together hashtags needs besides the lexicons.
const COMMON: &[&str] = &[
    "a", "all", "and", "are", "be", "but", "by", "come", "coming", "day", "do", "dont", "for",
    "from", "get", "go", "going", "have", "he", "her", "him", "his", "i", "if", "in", "is", "it",
    "know", "let", "lets", "live", "me", "my", "not", "now", "of", "on", "or", "our", "out", "she",
    "so", "that", "the", "their", "them", "they", "this", "time", "to", "up", "us", "was", "we",
    "what", "when", "where", "who", "will", "with", "you", "your", "traitor", "traitors", "people",
    "vote", "stop", "steal", "patriots", "america", "el", "la", "los", "las", "de", "que", "te",
    "tu", "y", "a",
];

impl Vocabulary {
    /// A vocabulary of these words (normalised spelling: lowercase, no accents).
    pub fn new<I: IntoIterator<Item = S>, S: AsRef<str>>(words: I) -> Vocabulary {
        let mut v = Vocabulary {
            words: COMMON.iter().map(|w| Box::from(*w)).collect(),
        };
        for w in words {
            let w = w.as_ref();
            if !w.is_empty() {
                v.words.insert(Box::from(w));
            }
        }
        v
    }

    /// Whether `word` is known.
    pub fn contains(&self, word: &str) -> bool {
        self.words.contains(word)
    }

    /// Words known.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Whether no word is known.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }
}

fn default_vocabulary() -> &'static Vocabulary {
    static V: OnceLock<Vocabulary> = OnceLock::new();
    V.get_or_init(|| Vocabulary::new(["kill", "will", "all", "hell", "bomb", "dead", "die"]))
}

mod builder;
mod chars;
mod emit;
mod leet;
mod spacing;
mod words;

use chars::{confusable, has_triple, is_invisible};

#[derive(Clone, Copy)]
struct Ch {
    c: char,
    at: u32,
    foreign: bool,
}

struct Builder<'a> {
    src: &'a str,
    vocab: &'a Vocabulary,
    out: Normalized,
    word: Vec<Ch>,
    /// Invisible characters seen since the last visible word character.
    pending_invisible: u32,
    /// Invisible characters inside the current word.
    pending_word_invisible: u32,
    /// Separator characters since the last word.
    gap: u32,
    sentence_break: bool,
    /// Single letters waiting to see whether they spell a word (`v o t e`).
    run: Vec<(Ch, u32, bool)>,
    /// What the current word holds, kept up to date as it grows so that the common word
    /// (plain letters) needs no second look.
    w_foreign: u32,
    w_leet: bool,
    w_symbol: bool,
    w_apostrophe: bool,
    w_repeat: bool,
    w_hashtag: bool,
    /// The last separator was `#`.
    hash: bool,
    /// Where the last emitted word starts in `text`, and whether it was `your`.
    last_word: usize,
    last_your: bool,
}

/// Slots in the per-text cache of what non-ASCII characters become.
const CACHE: usize = 512;

/// What one non-ASCII character becomes.
#[derive(Debug, Clone)]
enum Mapped {
    /// Nothing a reader sees.
    Invisible,
    /// These characters, each with whether it stood for a letter of another script.
    Chars(Vec<(char, bool)>),
}

/// Compatibility decomposition, combining marks dropped, lower case, look-alikes mapped.
fn map_char(c: char) -> Mapped {
    if is_invisible(c) {
        return Mapped::Invisible;
    }
    let mut out = Vec::new();
    for d in std::iter::once(c).nfkd() {
        if is_combining_mark(d) {
            continue;
        }
        if d.is_ascii() {
            out.push((d.to_ascii_lowercase(), false));
            continue;
        }
        for l in d.to_lowercase() {
            // Only letters have look-alikes worth undoing: `¡` is not an `i`.
            let mapped = if l.is_alphabetic() {
                confusable(l)
            } else {
                None
            };
            match mapped {
                Some(m) => out.push((m, true)),
                None => out.push((l, false)),
            }
        }
    }
    Mapped::Chars(out)
}

/// Normalises `src` with the built-in vocabulary.
pub fn normalize(src: &str) -> Normalized {
    normalize_with(src, default_vocabulary())
}

/// Normalises `src`, preferring the words of `vocab` where a disguise is ambiguous.
pub fn normalize_with(src: &str, vocab: &Vocabulary) -> Normalized {
    let mut b = Builder::new(src, vocab);
    b.out.text.reserve(src.len());
    b.out.map.reserve(src.len());
    let mut newlines = 0u32;
    // Allocated at the first non-ASCII character: most mail never needs it.
    let mut cache: Vec<Option<(char, Mapped)>> = Vec::new();
    let bytes = src.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        let at = i as u32;
        match byte {
            b'a'..=b'z' if b.word.is_empty() && b.pending_invisible == 0 && !b.hash => {
                // The common word: lowercase ASCII letters up to a plain separator. It is
                // copied whole; anything else (digits, capitals, apostrophes, symbols
                // that may stand for letters, letters repeated for effect) takes the
                // character path below.
                let end = bytes[i..]
                    .iter()
                    .position(|c| !c.is_ascii_lowercase())
                    .map_or(bytes.len(), |p| i + p);
                let plain_end = bytes.get(end).is_none_or(|&c| {
                    matches!(
                        c,
                        b' ' | b'\t'
                            | b'\n'
                            | b'\r'
                            | b'.'
                            | b','
                            | b';'
                            | b':'
                            | b'?'
                            | b'('
                            | b')'
                            | b'"'
                            | b'-'
                            | b'/'
                            | b'['
                            | b']'
                    )
                });
                if plain_end && end - i >= 2 && !has_triple(&bytes[i..end]) {
                    newlines = 0;
                    b.place_ascii(&src[i..end], at);
                    i = end;
                    continue;
                }
                newlines = 0;
                b.push_ascii_alnum(byte as char, at);
                i += 1;
                continue;
            }
            b'a'..=b'z' | b'0'..=b'9' => {
                newlines = 0;
                b.push_ascii_alnum(byte as char, at);
                i += 1;
                continue;
            }
            b'A'..=b'Z' => {
                newlines = 0;
                b.push_ascii_alnum(byte.to_ascii_lowercase() as char, at);
                i += 1;
                continue;
            }
            b' ' | b'\t' => {
                b.finish_word();
                b.gap += 1;
                b.hash = false;
                i += 1;
                continue;
            }
            b'!'..=b'/' | b':'..=b'@' | b'['..=b'`' | b'{'..=b'~' => {
                newlines = 0;
                b.push_char(byte as char, at, false);
                i += 1;
                continue;
            }
            _ => {}
        }
        let Some(c) = src[i..].chars().next() else {
            break;
        };
        i += c.len_utf8();
        if c == '\n' {
            newlines += 1;
            b.newline(newlines >= 2);
            continue;
        }
        if c == '\r' {
            continue;
        }
        if !c.is_whitespace() {
            newlines = 0;
        }
        if c.is_ascii() {
            b.push_char(c.to_ascii_lowercase(), at, false);
            continue;
        }
        // What a character becomes is worked out once per distinct character: text in
        // another script repeats the same few hundred over and over.
        if cache.is_empty() {
            cache.resize(CACHE, None);
        }
        let slot = (c as usize) % CACHE;
        let mapped = match &cache[slot] {
            Some((k, m)) if *k == c => m.clone(),
            _ => {
                let m = map_char(c);
                cache[slot] = Some((c, m.clone()));
                m
            }
        };
        match mapped {
            Mapped::Invisible => b.pending_invisible += 1,
            Mapped::Chars(chars) => {
                for (ch, foreign) in chars {
                    b.push_char(ch, at, foreign);
                }
            }
        }
    }
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> String {
        normalize(s).text
    }

    fn nv(s: &str) -> String {
        let v = Vocabulary::new(["kill", "dead", "bomb", "die", "hang", "traitors", "find"]);
        normalize_with(s, &v).text
    }

    #[test]
    fn plain_text_is_words() {
        assert_eq!(
            n("You will VOTE for Trump,\r\n  or else!"),
            "you will vote for trump or else"
        );
        assert_eq!(n("don't — can’t"), "do not can not");
    }

    #[test]
    fn contractions_and_text_speak_are_expanded() {
        assert_eq!(n("We'll find you"), "we will find you");
        assert_eq!(n("I'll kill you"), "i will kill you");
        assert_eq!(
            n("you're next, you've been warned"),
            "you are next you have been warned"
        );
        assert_eq!(n("I'm gonna find u"), "i am going to find you");
        assert_eq!(n("ima get u"), "i am going to get you");
        assert_eq!(n("ur dead"), "you are dead");
        assert_eq!(n("your going to pay"), "you are going to pay");
        assert_eq!(n("r u scared"), "are you scared");
        assert_eq!(n("we won't stop, it's over"), "we will not stop it is over");
        assert_eq!(n("youll regret it"), "you will regret it");
        // Possessives keep the owner; abbreviations stay letters.
        assert_eq!(
            n("the voters' choice, America's future"),
            "the voters choice america future"
        );
        assert_eq!(n("the U.S. Attorney"), "the u s attorney");
        // Spanish text-speak.
        assert_eq!(
            n("sabemos q vives ahi xq te vimos"),
            "sabemos que vives ahi porque te vimos"
        );
    }

    #[test]
    fn leetspeak_anywhere_in_a_word() {
        assert_eq!(nv("ki11 u"), "kill you");
        assert_eq!(nv("k1ll"), "kill");
        assert_eq!(nv("d3ad"), "dead");
        assert_eq!(nv("b0mb"), "bomb");
        assert_eq!(n("k!ll"), "kill");
        assert_eq!(nv("$h00t"), "shoot");
    }

    #[test]
    fn numbers_are_not_leet() {
        assert_eq!(
            n("Polls open 7 to 8, 2020 turnout was 55%"),
            "polls open 7 to 8 2020 turnout was 55"
        );
        assert_eq!(n("pay $10 now!"), "pay 10 now");
        assert_eq!(n("at 4pm on the 1st"), "at 4pm on the 1st");
        assert_eq!(n("mail clerk@county.example"), "mail clerk county example");
    }

    #[test]
    fn stretched_letters() {
        assert_eq!(nv("killllll"), "kill");
        assert_eq!(nv("diiiie"), "die");
        let norm = normalize("youuuuu");
        assert_eq!(norm.text, "you");
        assert_eq!(norm.disguise.stretched_words, 1);
        assert_eq!(n("pleeeease"), "pleease");
    }

    #[test]
    fn spaced_and_dotted_letters() {
        assert_eq!(n("V O T E  F O R  him"), "vote for him");
        assert_eq!(n("v.o.t.e"), "vote");
        assert_eq!(n("k i l l"), "kill");
        assert_eq!(nv("I will k*ll you"), "i will kill you");
        assert_eq!(
            n("blow up your f***ing car [expletive] [sic]"),
            "blow up your car"
        );
        assert_eq!(n("k-i-l-l you"), "kill you");
        assert_eq!(n("options a, b, c"), "options a b c");
        assert_eq!(n("I am a b"), "i am a b");
    }

    #[test]
    fn hashtags_and_run_together_words() {
        assert_eq!(n("#WeWillFindYou"), "we will find you");
        assert_eq!(n("HangThemAll now"), "hang them all now");
        assert_eq!(nv("#killthetraitors"), "kill the traitors");
        // One hump is a name, not run-together words.
        assert_eq!(n("McDonald iPhone"), "mcdonald iphone");
        assert_eq!(n("#qwzxv"), "qwzxv");
    }

    #[test]
    fn confusables_and_invisible_characters() {
        let s = "Y\u{200B}o\u{200B}u will v\u{043E}te for Trump or w3 will c0me after y0u.";
        let norm = normalize(s);
        assert_eq!(
            norm.text,
            "you will vote for trump or we will come after you"
        );
        assert_eq!(norm.disguise.invisible_in_words, 2);
        assert_eq!(norm.disguise.mixed_script_words, 1);
        assert_eq!(norm.disguise.leet_words, 3);
        let at = norm.text.find("come after").unwrap();
        assert!(norm.disguised_within(at, at + 10));
        let at = norm.text.find("trump").unwrap();
        assert!(!norm.disguised_within(at, at + 5));
        assert_eq!(n("ｖｏｔｅ 𝐟𝐨𝐫 mé"), "vote for me");
        // Default-ignorable code points beyond the zero-width ones: a variation selector,
        // a tag character, the Mongolian vowel separator, a word joiner.
        assert_eq!(
            n("ki\u{FE0F}ll y\u{E0061}ou d\u{180E}ie h\u{2060}ang"),
            "kill you die hang"
        );
        // Cyrillic and Greek look-alikes through the UTS #39 skeleton.
        assert_eq!(n("\u{0455}h\u{043E}\u{043E}t \u{03BF}ne"), "shoot one");
        // Combining marks (zalgo) and Spanish accents.
        assert_eq!(n("k\u{0336}i\u{0336}l\u{0336}l\u{0336}"), "kill");
        assert_eq!(
            n("te mataré, sé dónde vives, ¡cuídate!"),
            "te matare se donde vives cuidate"
        );
    }

    #[test]
    fn map_leads_back_to_the_original() {
        let s = "Well…  WE  w1ll f\u{0456}nd you";
        let norm = normalize(s);
        let at = norm.text.find("we will find you").unwrap();
        assert_eq!(norm.original(s, at, at + 16), "WE  w1ll f\u{0456}nd you");
        assert_eq!(norm.sentence_starts, vec![0, 5]);
        let s = "and we'll find you";
        let norm = normalize(s);
        assert_eq!(norm.text, "and we will find you");
        let at = norm.text.find("we will").unwrap();
        assert_eq!(norm.original(s, at, norm.text.len()), "we'll find you");
        assert_eq!(norm.map.len(), norm.text.len());
    }
}
