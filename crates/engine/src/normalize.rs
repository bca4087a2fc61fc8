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

use icu_properties::props::DefaultIgnorableCodePoint;
use icu_properties::CodePointSetData;
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
    pub fn disguised_within(&self, start: usize, end: usize) -> bool {
        let i = self
            .disguised
            .partition_point(|&(_, e)| (e as usize) <= start);
        self.disguised
            .get(i)
            .is_some_and(|&(s, _)| (s as usize) < end)
    }

    /// The original offset behind `text[at]` (the end of the original for `at` past the end).
    pub fn original_offset(&self, at: usize) -> usize {
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

/// Whether `c` is invisible: Default_Ignorable_Code_Point, plus the Hangul fillers and
/// invisible operators that render as nothing.
fn is_invisible(c: char) -> bool {
    CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c)
        || matches!(
            c,
            '\u{2061}'
                ..='\u{2064}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}'
        )
}

/// What a reader takes a non-Latin letter for: its UTS #39 skeleton, when that is one
/// ASCII letter or digit.
fn confusable(c: char) -> Option<char> {
    let mut buf = [0u8; 4];
    let s: &str = c.encode_utf8(&mut buf);
    let mut sk = unicode_security::skeleton(s);
    let first = sk.next()?;
    if sk.next().is_some() || first == c || !first.is_ascii_alphanumeric() {
        return lowercase_look_alike(c);
    }
    let l = first.to_ascii_lowercase();
    // The skeleton's prototypes for l and o are 1-like and 0-like shapes; read them as
    // the letters people see.
    Some(match l {
        '0' => 'o',
        '1' => 'l',
        other => other,
    })
}

/// Lowercase Cyrillic and Greek letters whose UTS #39 prototype is not a Latin letter
/// (the tables map most of them to their capital look-alikes), but which a reader of
/// lowercase text takes for one.
fn lowercase_look_alike(c: char) -> Option<char> {
    Some(match c {
        'к' | 'κ' => 'k',
        'в' => 'b',
        'м' => 'm',
        'н' => 'h',
        'т' | 'τ' => 't',
        'ѕ' => 's',
        'ԝ' | 'ω' => 'w',
        'ν' => 'v',
        'η' => 'n',
        'ι' => 'i',
        'ρ' => 'p',
        'χ' => 'x',
        'υ' => 'u',
        _ => return None,
    })
}

/// Digits and symbols that stand for letters. `1`, `!` and `|` read as `i` or `l`.
fn leet(c: char) -> Option<char> {
    Some(match c {
        '0' => 'o',
        '1' | '!' | '|' => 'i',
        '3' => 'e',
        '4' => 'a',
        '5' | '$' => 's',
        '7' | '+' => 't',
        '8' => 'b',
        _ => return None,
    })
}

fn leet_ambiguous(c: char) -> bool {
    matches!(c, '1' | '!' | '|')
}

/// Whether some word of [`rewrite`] has this first letter and length: most words do not,
/// and are passed without looking further.
fn may_rewrite(first: u8, len: usize) -> bool {
    const KEYS: &[&str] = &[
        "gonna", "gunna", "finna", "gona", "wanna", "gotta", "tryna", "ima", "imma", "im", "ive",
        "youre", "youll", "youve", "youd", "theyll", "theyre", "weve", "itll", "thats", "whats",
        "theres", "dont", "doesnt", "didnt", "wont", "cant", "cannot", "isnt", "arent", "wasnt",
        "werent", "wouldnt", "shouldnt", "couldnt", "aint", "u", "yu", "ya", "yah", "r", "ur",
        "yur", "yer", "urself", "yall", "cuz", "coz", "cos", "bcuz", "bcz", "tho", "q", "ke", "k",
        "xq", "pq", "porq", "xk", "tmb", "tb",
    ];
    static TABLE: OnceLock<[u16; 26]> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u16; 26];
        for k in KEYS {
            let b = k.as_bytes();
            t[usize::from(b[0] - b'a')] |= 1 << b.len().min(15);
        }
        t
    });
    first.is_ascii_lowercase() && len < 16 && table[usize::from(first - b'a')] & (1 << len) != 0
}

/// Words written for other words: contractions without apostrophes and text-speak.
fn rewrite(word: &str) -> Option<&'static [&'static str]> {
    if !may_rewrite(word.as_bytes().first().copied().unwrap_or(0), word.len()) {
        return None;
    }
    Some(match word {
        "gonna" | "gunna" | "finna" | "gona" => &["going", "to"],
        "wanna" => &["want", "to"],
        "gotta" => &["got", "to"],
        "tryna" => &["trying", "to"],
        "ima" | "imma" => &["i", "am", "going", "to"],
        "im" => &["i", "am"],
        "ive" => &["i", "have"],
        "youre" => &["you", "are"],
        "youll" => &["you", "will"],
        "youve" => &["you", "have"],
        "youd" => &["you", "would"],
        "theyll" => &["they", "will"],
        "theyre" => &["they", "are"],
        "weve" => &["we", "have"],
        "itll" => &["it", "will"],
        "thats" => &["that", "is"],
        "whats" => &["what", "is"],
        "theres" => &["there", "is"],
        "dont" => &["do", "not"],
        "doesnt" => &["does", "not"],
        "didnt" => &["did", "not"],
        "wont" => &["will", "not"],
        "cant" => &["can", "not"],
        "cannot" => &["can", "not"],
        "isnt" => &["is", "not"],
        "arent" => &["are", "not"],
        "wasnt" => &["was", "not"],
        "werent" => &["were", "not"],
        "wouldnt" => &["would", "not"],
        "shouldnt" => &["should", "not"],
        "couldnt" => &["could", "not"],
        "aint" => &["is", "not"],
        "u" | "yu" | "ya" | "yah" => &["you"],
        "r" => &["are"],
        "ur" | "yur" | "yer" => &["your"],
        "urself" => &["yourself"],
        "yall" => &["you", "all"],
        "cuz" | "coz" | "cos" => &["because"],
        "bcuz" | "bcz" => &["because"],
        "tho" => &["though"],
        // Every key here is listed in `may_rewrite` too.
        // Spanish text-speak.
        "q" | "ke" | "k" => &["que"],
        "xq" | "pq" | "porq" | "xk" => &["porque"],
        "tmb" | "tb" => &["tambien"],
        _ => return None,
    })
}

/// A contraction's second half (`'ll`, `'re`, `n't` …) as the word it stands for.
fn contraction(base: &str, suffix: &str) -> Option<(String, &'static str)> {
    Some(match suffix {
        "ll" => (base.to_string(), "will"),
        "re" => (base.to_string(), "are"),
        "ve" => (base.to_string(), "have"),
        "m" => (base.to_string(), "am"),
        "d" => (base.to_string(), "would"),
        "s" => match base {
            "it" | "that" | "he" | "she" | "there" | "what" | "who" | "where" | "here"
            | "someone" | "somebody" | "everyone" | "nobody" | "how" | "time" => {
                (base.to_string(), "is")
            }
            "let" => ("let".into(), "us"),
            _ => return None,
        },
        "t" => {
            let stem = base.strip_suffix('n')?;
            let stem = match stem {
                "wo" => "will",
                "ca" => "can",
                "ai" => "is",
                "sha" => "shall",
                s => s,
            };
            (stem.to_string(), "not")
        }
        _ => return None,
    })
}

/// Words after which a preceding `your` is the common misspelling of `you're`.
fn your_is_you_are(next: &str) -> bool {
    matches!(
        next,
        "going"
            | "gonna"
            | "dead"
            | "done"
            | "a"
            | "an"
            | "the"
            | "not"
            | "gone"
            | "dying"
            | "never"
            | "screwed"
            | "fucked"
            | "warned"
    )
}

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

impl<'a> Builder<'a> {
    fn new(src: &'a str, vocab: &'a Vocabulary) -> Builder<'a> {
        Builder {
            src,
            vocab,
            out: Normalized::default(),
            word: Vec::new(),
            pending_invisible: 0,
            pending_word_invisible: 0,
            gap: 0,
            sentence_break: false,
            run: Vec::new(),
            w_foreign: 0,
            w_leet: false,
            w_symbol: false,
            w_apostrophe: false,
            w_repeat: false,
            w_hashtag: false,
            hash: false,
            last_word: 0,
            last_your: false,
        }
    }

    fn letter_like(c: char) -> bool {
        c.is_alphanumeric() || c == '$'
    }

    fn start_letter(&mut self) {
        if self.word.is_empty() {
            self.w_hashtag = std::mem::take(&mut self.hash);
        }
    }

    fn note_repeat(&mut self, c: char) {
        if !self.w_repeat && c.is_alphabetic() {
            let n = self.word.len();
            if n >= 2 && self.word[n - 1].c == c && self.word[n - 2].c == c {
                self.w_repeat = true;
            }
        }
    }

    fn push_char(&mut self, c: char, at: u32, foreign: bool) {
        if Self::letter_like(c) {
            if self.pending_invisible > 0 && !self.word.is_empty() {
                self.out.disguise.invisible_in_words += self.pending_invisible;
                self.pending_word_invisible += self.pending_invisible;
            }
            self.pending_invisible = 0;
            self.start_letter();
            if self.word.len() < 256 {
                self.note_repeat(c);
                self.w_foreign += u32::from(foreign);
                self.w_leet |= leet(c).is_some();
                self.w_symbol |= c == '$';
                self.word.push(Ch { c, at, foreign });
            }
        } else if matches!(c, '\'' | '’' | 'ʼ' | '`')
            && self.word.last().is_some_and(|w| w.c.is_alphabetic())
        {
            // An apostrophe inside a word: a contraction or a possessive, decided when the
            // word ends.
            self.w_apostrophe = true;
            if self.word.len() < 256 {
                self.word.push(Ch {
                    c: '\'',
                    at,
                    foreign: false,
                });
            }
        } else if c == '*'
            && self
                .word
                .last()
                .is_some_and(|w| w.c.is_alphabetic() || w.c == '*')
        {
            // A censored word (f***ing, k*ll): decided when the word ends.
            self.w_symbol = true;
            if self.word.len() < 256 {
                self.word.push(Ch { c, at, foreign });
            }
        } else if !self.word.is_empty() && matches!(c, '!' | '|' | '+') {
            // Possibly a symbol standing for a letter (k!ll); decided when the word ends.
            self.w_leet = true;
            self.w_symbol = true;
            self.word.push(Ch { c, at, foreign });
        } else {
            self.finish_word();
            self.gap += 1;
            self.hash = c == '#';
            // A colon introduces rather than ends: "specifically: …", "Warning: …".
            if matches!(c, '.' | '!' | '?' | ';' | '…') {
                self.sentence_break = true;
            }
        }
    }

    fn newline(&mut self, blank_line: bool) {
        self.finish_word();
        self.gap += 1;
        self.hash = false;
        if blank_line {
            self.sentence_break = true;
        }
    }

    /// A lowercase ASCII letter or digit: the hot path.
    #[inline]
    fn push_ascii_alnum(&mut self, c: char, at: u32) {
        if self.pending_invisible > 0 || self.word.is_empty() {
            self.push_char(c, at, false);
            return;
        }
        if self.word.len() < 256 {
            self.note_repeat(c);
            self.w_leet |= matches!(c, '0' | '1' | '3' | '4' | '5' | '7' | '8');
            self.word.push(Ch {
                c,
                at,
                foreign: false,
            });
        }
    }

    fn finish_word(&mut self) {
        if self.word.is_empty() {
            return;
        }
        let (foreign, leet_chars, symbol, apostrophe, repeat, hashtag) = (
            std::mem::take(&mut self.w_foreign),
            std::mem::take(&mut self.w_leet),
            std::mem::take(&mut self.w_symbol),
            std::mem::take(&mut self.w_apostrophe),
            std::mem::take(&mut self.w_repeat),
            std::mem::take(&mut self.w_hashtag),
        );
        let mut word = std::mem::take(&mut self.word);
        if !leet_chars
            && !symbol
            && !apostrophe
            && !repeat
            && !hashtag
            && foreign == 0
            && self.pending_word_invisible == 0
        {
            // Plain letters and digits: nothing to undo, unless it runs words together.
            if word.len() >= 8 && self.camel_humps(&word) >= 2 {
                self.split_and_place(&word, true);
            } else {
                self.place(&word, false);
            }
            word.clear();
            self.word = word;
            return;
        }
        // Trailing symbols are punctuation after all ("hello!"); a `!` ends the sentence
        // once this word is placed.
        let mut trailing = 0;
        let mut bang = false;
        while word
            .last()
            .is_some_and(|w| matches!(w.c, '!' | '|' | '+' | '\''))
        {
            bang |= word.pop().is_some_and(|w| w.c == '!');
            trailing += 1;
        }
        self.finish_leet_word(word, repeat, apostrophe, hashtag, foreign);
        self.gap += trailing;
        self.sentence_break |= bang;
    }

    fn finish_leet_word(
        &mut self,
        mut word: Vec<Ch>,
        repeat: bool,
        apostrophe: bool,
        hashtag: bool,
        _foreign: u32,
    ) {
        let mut disguised = self.pending_word_invisible > 0;
        self.pending_word_invisible = 0;
        // Trailing stars are punctuation ("bitch***"); inner ones hide letters.
        while word.last().is_some_and(|w| w.c == '*') {
            word.pop();
        }
        if word.iter().any(|w| w.c == '*') {
            if !self.uncensor(&mut word) {
                // A censored swear word: nothing a frame needs, so it is left out.
                word.clear();
                self.word = word;
                return;
            }
            disguised = true;
        }
        let has_letter = word.iter().any(|w| w.c.is_alphabetic());
        let has_leet = word.iter().any(|w| w.c != '\'' && leet(w.c).is_some());
        if has_letter && has_leet && !self.looks_numeric(&word) {
            disguised = true;
            self.undo_leet(&mut word);
            self.out.disguise.leet_words += 1;
        } else {
            word.retain(|w| w.c.is_alphanumeric() || w.c == '\'');
        }
        let foreign = word.iter().filter(|w| w.foreign).count();
        if foreign > 0 && foreign < word.iter().filter(|w| w.c.is_alphabetic()).count() {
            self.out.disguise.mixed_script_words += 1;
            disguised = true;
        }
        if repeat && self.unstretch(&mut word) {
            self.out.disguise.stretched_words += 1;
            disguised = true;
        }
        if word.is_empty() {
            self.word = word;
            return;
        }
        if apostrophe {
            if let Some(i) = word.iter().position(|w| w.c == '\'') {
                let base: String = word[..i].iter().map(|w| w.c).collect();
                let suffix: String = word[i + 1..]
                    .iter()
                    .filter(|w| w.c != '\'')
                    .map(|w| w.c)
                    .collect();
                let at = word[i].at;
                if let Some((first, second)) = contraction(&base, &suffix) {
                    // Keep each letter's own place in the original where the first half is
                    // the word as written (we'll -> we), so quotes lead back to it.
                    let first: Vec<Ch> = if first == base {
                        word[..i].to_vec()
                    } else {
                        first
                            .chars()
                            .map(|c| Ch {
                                c,
                                at: word[0].at,
                                foreign: false,
                            })
                            .collect()
                    };
                    if !first.is_empty() {
                        self.place(&first, disguised);
                    }
                    let last = word.last().map_or(at, |w| w.at);
                    let n = second.len();
                    let second: Vec<Ch> = second
                        .chars()
                        .enumerate()
                        .map(|(k, c)| Ch {
                            c,
                            at: if k + 1 == n { last } else { at },
                            foreign: false,
                        })
                        .collect();
                    self.place(&second, false);
                    word.clear();
                    self.word = word;
                    return;
                }
                if suffix == "s" || suffix.is_empty() {
                    // A possessive: the owner is the word.
                    word.truncate(i);
                } else {
                    word.retain(|w| w.c != '\'');
                }
            }
        }
        if hashtag && word.len() >= 6 {
            self.split_and_place(&word, disguised);
        } else {
            self.place(&word, disguised);
        }
        word.clear();
        self.word = word;
    }

    /// Whether a word of digits and leet-able symbols is a number, an amount or a code
    /// rather than a disguised word: `2020`, `$10`, `4pm`, `1st`, `a1`.
    fn looks_numeric(&self, word: &[Ch]) -> bool {
        let letters = word.iter().filter(|w| w.c.is_alphabetic()).count();
        let digits = word.iter().filter(|w| w.c.is_ascii_digit()).count();
        if letters == 0 {
            return true;
        }
        // Ordinals, times and units: digits first, then at most two letters to the end
        // (4pm, 1st, $5k).
        let first_letter = word.iter().position(|w| w.c.is_alphabetic()).unwrap_or(0);
        let prefix = &word[..first_letter];
        if letters <= 2
            && prefix.iter().any(|w| w.c.is_ascii_digit())
            && prefix.iter().all(|w| w.c.is_ascii_digit() || w.c == '$')
            && word[first_letter..].iter().all(|w| w.c.is_alphabetic())
        {
            return true;
        }
        // Codes such as a1b2c3 or ab12345: more digits than letters.
        digits > letters + 1
    }

    /// Fills the stars of a censored word with vowels when that makes a known word
    /// (`k*ll` -> `kill`, `d**d` -> `dead`); false when no filling is known.
    fn uncensor(&self, word: &mut [Ch]) -> bool {
        const VOWELS: [char; 5] = ['a', 'e', 'i', 'o', 'u'];
        let stars: Vec<usize> = word
            .iter()
            .enumerate()
            .filter(|(_, w)| w.c == '*')
            .map(|(i, _)| i)
            .collect();
        if stars.is_empty() || stars.len() > 2 {
            return false;
        }
        let combos = 5usize.pow(stars.len() as u32);
        let mut candidate = String::with_capacity(word.len());
        for mut n in 0..combos {
            let mut fill = [' '; 2];
            for f in fill.iter_mut().take(stars.len()) {
                *f = VOWELS[n % 5];
                n /= 5;
            }
            candidate.clear();
            let mut k = 0;
            for w in word.iter() {
                if w.c == '*' {
                    candidate.push(fill[k]);
                    k += 1;
                } else {
                    candidate.extend(w.c.to_lowercase());
                }
            }
            if self.vocab.contains(&candidate) {
                let mut k = 0;
                for w in word.iter_mut() {
                    if w.c == '*' {
                        w.c = fill[k];
                        k += 1;
                    }
                }
                return true;
            }
        }
        false
    }

    /// Reads digits and symbols as letters; where `1`, `!` or `|` could be `i` or `l`, the
    /// reading that is a known word wins (`ki11` -> `kill`, `k1ll` -> `kill`).
    fn undo_leet(&self, word: &mut [Ch]) {
        let ambiguous: Vec<usize> = word
            .iter()
            .enumerate()
            .filter(|(_, w)| leet_ambiguous(w.c))
            .map(|(i, _)| i)
            .take(6)
            .collect();
        for w in word.iter_mut() {
            if w.c != '\'' {
                if let Some(l) = leet(w.c) {
                    w.c = l;
                }
            }
        }
        if ambiguous.is_empty() {
            return;
        }
        let mut best: Option<u32> = None;
        let mut candidate: String = String::with_capacity(word.len());
        for mask in 0u32..(1 << ambiguous.len()) {
            candidate.clear();
            let mut k = 0;
            for (i, w) in word.iter().enumerate() {
                if k < ambiguous.len() && ambiguous[k] == i {
                    candidate.push(if mask & (1 << k) != 0 { 'l' } else { 'i' });
                    k += 1;
                } else {
                    candidate.push(w.c);
                }
            }
            if self.vocab.contains(&candidate) {
                best = Some(mask);
                break;
            }
        }
        // Unknown either way: a doubled 1 is most often `ll` (wi11, a11).
        let mask = best.unwrap_or_else(|| {
            let mut m = 0;
            for k in 0..ambiguous.len() {
                let next = ambiguous.get(k + 1) == Some(&(ambiguous[k] + 1));
                let prev = k > 0 && ambiguous[k - 1] + 1 == ambiguous[k];
                if next || prev {
                    m |= 1 << k;
                }
            }
            m
        });
        for (k, &i) in ambiguous.iter().enumerate() {
            word[i].c = if mask & (1 << k) != 0 { 'l' } else { 'i' };
        }
    }

    /// Letters repeated three times or more (`killlll`, `diiie`): shortened to the known
    /// word, trying two then one of each run; left at two when no reading is known.
    /// Returns whether anything changed.
    fn unstretch(&self, word: &mut Vec<Ch>) -> bool {
        // Runs of three or more of one letter, as (start, length).
        let mut runs: Vec<(usize, usize)> = Vec::new();
        let mut i = 0;
        while i < word.len() {
            let mut j = i + 1;
            while j < word.len() && word[j].c == word[i].c {
                j += 1;
            }
            if j - i >= 3 && word[i].c.is_alphabetic() {
                runs.push((i, j - i));
            }
            i = j;
        }
        if runs.is_empty() {
            return false;
        }
        runs.truncate(6);
        let build = |mask: u32| -> Vec<Ch> {
            let mut out = Vec::with_capacity(word.len());
            let mut i = 0;
            let mut k = 0;
            while i < word.len() {
                if k < runs.len() && runs[k].0 == i {
                    let keep = if mask & (1 << k) != 0 { 1 } else { 2 };
                    out.extend_from_slice(&word[i..i + keep]);
                    i += runs[k].1;
                    k += 1;
                } else {
                    out.push(word[i]);
                    i += 1;
                }
            }
            out
        };
        let mut chosen = build(0);
        for mask in 0u32..(1 << runs.len()) {
            let candidate = build(mask);
            let s: String = candidate.iter().map(|w| w.c).collect();
            if self.vocab.contains(&s) {
                chosen = candidate;
                break;
            }
        }
        *word = chosen;
        true
    }

    /// How many times the original switches from a lowercase to an uppercase letter
    /// inside the word (`WeWillFindYou` has three).
    fn camel_humps(&self, word: &[Ch]) -> usize {
        let bytes = self.src.as_bytes();
        let mut humps = 0;
        for pair in word.windows(2) {
            let a = bytes.get(pair[0].at as usize).copied().unwrap_or(0);
            let b = bytes.get(pair[1].at as usize).copied().unwrap_or(0);
            if a.is_ascii_lowercase() && b.is_ascii_uppercase() {
                humps += 1;
            }
        }
        humps
    }

    /// Splits run-together words: at case changes (`HangThemAll`), or else into known
    /// words when the whole of it can be read so (`killthetraitors`).
    fn split_and_place(&mut self, word: &[Ch], disguised: bool) {
        let bytes = self.src.as_bytes();
        let mut parts: Vec<(usize, usize)> = Vec::new();
        if self.camel_humps(word) >= 1 {
            let mut start = 0;
            for i in 1..word.len() {
                let a = bytes.get(word[i - 1].at as usize).copied().unwrap_or(0);
                let b = bytes.get(word[i].at as usize).copied().unwrap_or(0);
                if (a.is_ascii_lowercase() || a.is_ascii_digit()) && b.is_ascii_uppercase() {
                    parts.push((start, i));
                    start = i;
                }
            }
            parts.push((start, word.len()));
        } else if let Some(p) = self.segment(word) {
            parts = p;
        } else {
            self.place(word, disguised);
            return;
        }
        for (s, e) in parts {
            self.place(&word[s..e], disguised);
        }
    }

    /// Reads a run of letters as known words, fewest words first (dynamic programming,
    /// linear in the word times the longest word tried).
    fn segment(&self, word: &[Ch]) -> Option<Vec<(usize, usize)>> {
        const LONGEST: usize = 16;
        let n = word.len();
        if n > 64 {
            return None;
        }
        let s: String = word.iter().map(|w| w.c).collect();
        if !s.is_ascii() {
            return None;
        }
        // best[i] = (words, previous cut) for s[..i].
        let mut best: Vec<Option<(usize, usize)>> = vec![None; n + 1];
        best[0] = Some((0, 0));
        for end in 1..=n {
            for start in end.saturating_sub(LONGEST)..end {
                let Some((count, _)) = best[start] else {
                    continue;
                };
                let piece = &s[start..end];
                if (piece.len() >= 2 || piece == "i" || piece == "a") && self.vocab.contains(piece)
                {
                    let better = best[end].is_none_or(|(c, _)| count + 1 < c);
                    if better {
                        best[end] = Some((count + 1, start));
                    }
                }
            }
        }
        best[n]?;
        let mut cuts = Vec::new();
        let mut end = n;
        while end > 0 {
            let (_, start) = best[end]?;
            cuts.push((start, end));
            end = start;
        }
        cuts.reverse();
        (cuts.len() >= 2).then_some(cuts)
    }

    /// Emits a word of two or more lowercase ASCII letters, found whole in the source at
    /// `at`: the fast path for most of the words of a text.
    fn place_ascii(&mut self, word: &str, at: u32) {
        let gap = std::mem::take(&mut self.gap);
        let sentence = std::mem::take(&mut self.sentence_break);
        let _ = gap;
        self.flush_run();
        if is_filler(word) {
            // `your [expletive]` stands for a noun, most often "ass": keep one there so
            // "hunt your [expletive] down" still reads as hunting the reader.
            if self.after_possessive() {
                self.emit_raw(&ass(at), sentence, false);
                self.last_your = false;
                return;
            }
            self.sentence_break |= sentence;
            return;
        }
        if self.last_your && your_is_you_are(word) {
            self.reopen_your();
        }
        if rewrite(word).is_some() {
            // Text-speak and contractions go the general way, which rewrites them.
            let chars: Vec<Ch> = word
                .bytes()
                .enumerate()
                .map(|(k, c)| Ch {
                    c: c as char,
                    at: at + k as u32,
                    foreign: false,
                })
                .collect();
            self.emit(&chars, sentence, false);
            return;
        }
        let out = &mut self.out;
        if !out.text.is_empty() {
            out.text.push(' ');
            out.map.push(at);
        }
        if sentence || out.text.is_empty() {
            out.sentence_starts.push(out.text.len() as u32);
        }
        self.last_word = out.text.len();
        out.text.push_str(word);
        out.map.extend(at..at + word.len() as u32);
        self.last_your = word == "your";
    }

    /// Emits a finished word, or holds it back when it is a single letter that may be
    /// part of a spaced-out word.
    fn place(&mut self, word: &[Ch], disguised: bool) {
        let gap = std::mem::take(&mut self.gap);
        let sentence = std::mem::take(&mut self.sentence_break);
        if word.len() == 1 && word[0].c.is_alphabetic() {
            self.run.push((word[0], gap, sentence));
            return;
        }
        self.flush_run();
        self.emit(word, sentence, disguised);
    }

    /// Single letters in a row. Letters one separator apart form groups ("W I L L", and a
    /// single dot in "V.O.T.E" is spelling, not a sentence end); wider gaps separate
    /// words. When some group spells three letters or more, the run is spaced-out writing
    /// and every group of two or more becomes a word ("W E  W I L L" -> "we will");
    /// otherwise the letters stay as they were ("options a, b, c").
    fn flush_run(&mut self) {
        if self.run.is_empty() {
            return;
        }
        let run = std::mem::take(&mut self.run);
        let mut groups: Vec<(usize, usize)> = Vec::new();
        for (i, (_, gap, _)) in run.iter().enumerate() {
            match groups.last_mut() {
                Some((_, end)) if *gap == 1 => *end = i + 1,
                _ => groups.push((i, i + 1)),
            }
        }
        let spaced = groups.iter().any(|(s, e)| e - s >= 3);
        let mut letters: Vec<Ch> = Vec::new();
        for (s, e) in groups {
            if spaced && e - s >= 2 {
                letters.clear();
                letters.extend(run[s..e].iter().map(|(ch, _, _)| *ch));
                self.out.disguise.spaced_words += 1;
                self.emit(&letters, run[s].2 && run[s].1 != 1, true);
            } else {
                for (ch, gap, sentence) in &run[s..e] {
                    self.emit(&[*ch], *sentence && *gap != 1, false);
                }
            }
        }
    }

    /// Whether a single `u` is an abbreviation's letter (`U.S.`, `U-Haul`) rather than
    /// text-speak for "you".
    fn is_initial(&self, ch: &Ch) -> bool {
        let bytes = self.src.as_bytes();
        let next = bytes.get(ch.at as usize + 1).copied();
        // `U.S.`, `U&I`, `U-Haul`: a letter follows the mark. `... for U.` ends a sentence.
        let after = bytes.get(ch.at as usize + 2).copied();
        matches!(next, Some(b'.' | b'&' | b'-' | b'/'))
            && after.is_some_and(|a| a.is_ascii_alphabetic())
            || self
                .src
                .as_bytes()
                .get(ch.at as usize)
                .is_some_and(|b| b.is_ascii_uppercase())
                && matches!(next, Some(b'S' | b'K' | b'N'))
    }

    fn emit(&mut self, word: &[Ch], sentence: bool, disguised: bool) {
        // Text-speak and contractions written without an apostrophe.
        if word.len() <= 10 && word.iter().all(|w| w.c.is_ascii_alphabetic()) {
            let mut buf = [0u8; 10];
            for (i, w) in word.iter().enumerate() {
                buf[i] = w.c as u8;
            }
            let s = std::str::from_utf8(&buf[..word.len()]).unwrap_or("");
            if is_filler(s) {
                if self.after_possessive() {
                    self.emit_raw(&ass(word[0].at), sentence, false);
                    self.last_your = false;
                    return;
                }
                self.sentence_break |= sentence;
                return;
            }
            if self.last_your && your_is_you_are(s) {
                self.reopen_your();
            }
            let single = word.len() == 1;
            if let Some(words) = rewrite(s) {
                if !(single && ((s == "u" || s == "q") && self.is_initial(&word[0]) || s == "k")) {
                    let at = word[0].at;
                    let mut first = true;
                    for w in words {
                        let chars: Vec<Ch> = w
                            .chars()
                            .map(|c| Ch {
                                c,
                                at,
                                foreign: false,
                            })
                            .collect();
                        self.emit_raw(&chars, sentence && first, disguised);
                        first = false;
                    }
                    self.last_your = words == ["your"];
                    return;
                }
            }
            self.emit_raw(word, sentence, disguised);
            self.last_your = s == "your";
            return;
        }
        self.emit_raw(word, sentence, disguised);
        self.last_your = false;
    }

    /// Whether the last word emitted is a possessive (`your`, `his` …).
    fn after_possessive(&self) -> bool {
        matches!(
            self.out.text.get(self.last_word..),
            Some("your" | "his" | "her" | "their" | "my" | "yer" | "ur")
        )
    }

    /// Rewrites the `your` just emitted as `you are`.
    fn reopen_your(&mut self) {
        let start = self.last_word;
        if self.out.text.get(start..) != Some("your") {
            return;
        }
        let at = self.out.map[start];
        self.out.text.truncate(start);
        self.out.map.truncate(start);
        self.out.text.push_str("you are");
        self.out.map.extend(std::iter::repeat_n(at, 7));
        while self
            .out
            .disguised
            .last()
            .is_some_and(|&(s, _)| s as usize >= start)
        {
            self.out.disguised.pop();
        }
        self.last_your = false;
    }

    fn emit_raw(&mut self, word: &[Ch], sentence: bool, disguised: bool) {
        let out = &mut self.out;
        if !out.text.is_empty() {
            out.text.push(' ');
            out.map.push(word[0].at);
        }
        if sentence || out.text.is_empty() {
            out.sentence_starts.push(out.text.len() as u32);
        }
        let start = out.text.len() as u32;
        self.last_word = start as usize;
        out.text.reserve(word.len());
        out.map.reserve(word.len());
        for w in word {
            if w.c.is_ascii() {
                out.text.push(w.c);
                out.map.push(w.at);
            } else {
                let before = out.text.len();
                out.text.push(w.c);
                for _ in before..out.text.len() {
                    out.map.push(w.at);
                }
            }
        }
        if disguised {
            out.disguised.push((start, out.text.len() as u32));
        }
    }

    fn finish(mut self) -> Normalized {
        self.finish_word();
        self.flush_run();
        self.out
    }
}

/// The noun a redacted word after a possessive most often stands for.
fn ass(at: u32) -> [Ch; 3] {
    ['a', 's', 's'].map(|c| Ch {
        c,
        at,
        foreign: false,
    })
}

/// Words that only intensify or annotate (`fucking`, `[expletive]`, `[inaudible]`,
/// `[sic]`): left out, so "blow up your fucking car" reads as "blow up your car".
fn is_filler(word: &str) -> bool {
    matches!(
        word,
        "fucking"
            | "fuckin"
            | "fking"
            | "fkn"
            | "freaking"
            | "frickin"
            | "fricking"
            | "frigging"
            | "friggin"
            | "effing"
            | "damn"
            | "damned"
            | "goddamn"
            | "goddamned"
            | "bloody"
            | "expletive"
            | "expletives"
            | "obscenity"
            | "inaudible"
            | "sic"
            | "redacted"
            | "censored"
            | "pinche"
            | "jodido"
            | "jodida"
    )
}

/// Whether a letter comes three times in a row (`killlll`).
fn has_triple(word: &[u8]) -> bool {
    word.windows(3).any(|w| w[0] == w[1] && w[1] == w[2])
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
