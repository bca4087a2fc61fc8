//! Text normalisation for matching: the text a person reads, reduced to lowercase Latin
//! words separated by single spaces, with a map back to the original.
//!
//! What it undoes, in one pass: Unicode compatibility forms (NFKD: full-width letters,
//! mathematical alphanumerics, ligatures), accents, case, look-alike letters from Cyrillic
//! and Greek, invisible characters (zero-width and bidi controls, soft hyphens), digit
//! and symbol swaps inside words (`v0te`, `w3`, `$end`), letters spaced out (`v o t e`,
//! `V.O.T.E`), and every run of whitespace or punctuation, line breaks included. How much
//! of each it undid is reported, since disguise is itself a signal.

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
}

/// Normalised text and how to find the original behind it.
#[derive(Debug, Clone, Default)]
pub struct Normalized {
    /// Lowercase words separated by single spaces.
    pub text: String,
    /// For every byte of `text`, the byte offset in the original of the character it came
    /// from (a space maps to the first character of the word after it).
    pub map: Vec<u32>,
    /// Offsets in `text` where a sentence begins (after `.`, `!`, `?`, `;`, `:` or a blank
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

    /// The original text behind `text[start..end]`.
    pub fn original<'a>(&self, original: &'a str, start: usize, end: usize) -> &'a str {
        if start >= end || end > self.map.len() {
            return "";
        }
        let from = self.map[start] as usize;
        let last = self.map[end - 1] as usize;
        let to = original[last..]
            .chars()
            .next()
            .map(|c| last + c.len_utf8())
            .unwrap_or(last);
        original.get(from..to).unwrap_or("")
    }
}

fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}'
        | '\u{FEFF}' | '\u{FFA0}' | '\u{E0001}' | '\u{E0020}'..='\u{E007F}')
}

/// Letters from other scripts that look like Latin ones, mapped to what a reader sees.
/// (NFKD already maps full-width and mathematical letters.)
fn confusable(c: char) -> Option<char> {
    Some(match c {
        // Cyrillic
        'а' => 'a',
        'в' => 'b',
        'е' | 'ё' | 'є' => 'e',
        'к' => 'k',
        'м' => 'm',
        'н' => 'h',
        'о' => 'o',
        'р' => 'p',
        'с' => 'c',
        'т' => 't',
        'у' => 'y',
        'х' => 'x',
        'ѕ' => 's',
        'і' | 'ї' => 'i',
        'ј' => 'j',
        'ԁ' => 'd',
        'ԛ' => 'q',
        'ԝ' => 'w',
        'һ' => 'h',
        'ӏ' => 'l',
        'ɡ' => 'g',
        'ո' => 'n',
        'ս' => 'u',
        'ց' => 'g',
        'օ' => 'o',
        // Greek
        'α' => 'a',
        'β' => 'b',
        'ε' => 'e',
        'η' => 'n',
        'ι' => 'i',
        'κ' => 'k',
        'ν' => 'v',
        'ο' => 'o',
        'ρ' => 'p',
        'τ' => 't',
        'υ' => 'u',
        'χ' => 'x',
        'γ' => 'y',
        'ω' => 'w',
        'ϲ' => 'c',
        'ϳ' => 'j',
        'ѵ' => 'v',
        // Latin look-alikes outside a-z
        'ı' => 'i',
        'ȷ' => 'j',
        'ł' => 'l',
        'ø' => 'o',
        'đ' => 'd',
        'ħ' => 'h',
        'ŀ' => 'l',
        'ß' => 's',
        _ => return None,
    })
}

fn leet(c: char) -> Option<char> {
    Some(match c {
        '0' => 'o',
        '1' | '!' | '|' => 'i',
        '3' => 'e',
        '4' => 'a',
        '5' | '$' => 's',
        '7' | '+' => 't',
        _ => return None,
    })
}

#[derive(Clone, Copy)]
struct Ch {
    c: char,
    at: u32,
    foreign: bool,
}

#[derive(Default)]
struct Builder {
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
}

impl Builder {
    fn letter_like(c: char) -> bool {
        // `@` is not taken for an `a`: e-mail addresses are far too common for that.
        c.is_alphanumeric() || c == '$'
    }

    fn push_char(&mut self, c: char, at: u32, foreign: bool) {
        if Self::letter_like(c) {
            if self.pending_invisible > 0 && !self.word.is_empty() {
                self.out.disguise.invisible_in_words += self.pending_invisible;
                self.pending_word_invisible += self.pending_invisible;
            }
            self.pending_invisible = 0;
            if self.word.len() < 256 {
                self.w_foreign += u32::from(foreign);
                self.w_leet |= leet(c).is_some();
                self.w_symbol |= c == '$';
                self.word.push(Ch { c, at, foreign });
            }
        } else if matches!(c, '\'' | '’' | 'ʼ' | '`')
            && self.word.last().is_some_and(|w| w.c.is_alphabetic())
        {
            // Apostrophes inside words disappear: don't -> dont, in text and rules alike.
        } else if !self.word.is_empty() && matches!(c, '!' | '|' | '+') {
            // Possibly a symbol standing for a letter (k!ll); decided when the word ends.
            self.w_leet = true;
            self.w_symbol = true;
            self.word.push(Ch { c, at, foreign });
        } else {
            self.finish_word();
            self.gap += 1;
            if matches!(c, '.' | '!' | '?' | ';' | ':' | '…') {
                self.sentence_break = true;
            }
        }
    }

    fn newline(&mut self, blank_line: bool) {
        self.finish_word();
        self.gap += 1;
        if blank_line {
            self.sentence_break = true;
        }
    }

    /// A lowercase ASCII letter or digit: the hot path.
    #[inline]
    fn push_ascii_alnum(&mut self, c: char, at: u32) {
        if self.pending_invisible > 0 {
            self.push_char(c, at, false);
            return;
        }
        if self.word.len() < 256 {
            self.w_leet |= matches!(c, '0' | '1' | '3' | '4' | '5' | '7');
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
        let (foreign, leet_chars, symbol) = (
            std::mem::take(&mut self.w_foreign),
            std::mem::take(&mut self.w_leet),
            std::mem::take(&mut self.w_symbol),
        );
        if !leet_chars && !symbol && foreign == 0 && self.pending_word_invisible == 0 {
            // Plain letters and digits: nothing to undo.
            let word = std::mem::take(&mut self.word);
            self.place(&word, false);
            self.word = word;
            self.word.clear();
            return;
        }
        let mut word = std::mem::take(&mut self.word);
        // Trailing symbols are punctuation after all ("hello!").
        while word.last().is_some_and(|w| matches!(w.c, '!' | '|' | '+')) {
            if word.pop().is_some_and(|w| w.c == '!') {
                self.sentence_break = true;
            }
            self.gap += 1;
        }
        let has_letter = word.iter().any(|w| w.c.is_alphabetic());
        let has_leet = word.iter().any(|w| leet(w.c).is_some());
        let mut disguised = self.pending_word_invisible > 0;
        self.pending_word_invisible = 0;
        if has_letter && has_leet {
            disguised = true;
            for w in &mut word {
                if let Some(l) = leet(w.c) {
                    w.c = l;
                }
            }
            self.out.disguise.leet_words += 1;
        } else {
            word.retain(|w| w.c.is_alphanumeric());
        }
        let foreign = word.iter().filter(|w| w.foreign).count();
        if foreign > 0 && foreign < word.iter().filter(|w| w.c.is_alphabetic()).count() {
            self.out.disguise.mixed_script_words += 1;
            disguised = true;
        }
        if !word.is_empty() {
            self.place(&word, disguised);
        }
        self.word = word;
        self.word.clear();
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

    fn emit(&mut self, word: &[Ch], sentence: bool, disguised: bool) {
        let out = &mut self.out;
        if !out.text.is_empty() {
            out.text.push(' ');
            out.map.push(word[0].at);
        }
        if sentence || out.text.is_empty() {
            out.sentence_starts.push(out.text.len() as u32);
        }
        let start = out.text.len() as u32;
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

/// Normalises `src` (at most its first `limit` bytes).
pub fn normalize(src: &str) -> Normalized {
    let mut b = Builder::default();
    b.out.text.reserve(src.len());
    b.out.map.reserve(src.len());
    let mut newlines = 0u32;
    let bytes = src.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        let at = i as u32;
        match byte {
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
        if is_invisible(c) {
            b.pending_invisible += 1;
            continue;
        }
        for d in std::iter::once(c).nfkd() {
            if is_combining_mark(d) {
                continue;
            }
            for l in d.to_lowercase() {
                match confusable(l) {
                    Some(m) => b.push_char(m, at, true),
                    None => b.push_char(l, at, false),
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

    #[test]
    fn plain_text_is_words() {
        assert_eq!(
            n("You will VOTE for Trump,\r\n  or else!"),
            "you will vote for trump or else"
        );
        assert_eq!(n("don't — can’t"), "dont cant");
    }

    #[test]
    fn disguises_are_undone() {
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
        assert_eq!(n("V O T E  F O R  him"), "vote for him");
        assert_eq!(n("v.o.t.e"), "vote");
        assert_eq!(n("k!ll"), "kill");
    }

    #[test]
    fn swaps_do_not_create_words_from_numbers() {
        assert_eq!(
            n("Polls open 7 to 8, 2020 turnout was 55%"),
            "polls open 7 to 8 2020 turnout was 55"
        );
        assert_eq!(n("options a, b, c"), "options a b c");
        assert_eq!(n("pay $10 now!"), "pay 10 now");
        assert_eq!(n("mail clerk@county.example"), "mail clerk county example");
        assert_eq!(n("I am a b"), "i am a b");
    }

    #[test]
    fn map_leads_back_to_the_original() {
        let s = "Well…  WE  w1ll f\u{0456}nd you";
        let norm = normalize(s);
        let at = norm.text.find("we will find you").unwrap();
        assert_eq!(norm.original(s, at, at + 16), "WE  w1ll f\u{0456}nd you");
        assert_eq!(norm.sentence_starts, vec![0, 5]);
    }
}
