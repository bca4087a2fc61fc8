//! The character pass: characters into words, invisible ones counted, separators
//! remembered, each finished word handed on.

use super::chars::leet;
use super::*;

impl<'a> Builder<'a> {
    pub(super) fn new(src: &'a str, vocab: &'a Vocabulary) -> Builder<'a> {
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

    pub(super) fn letter_like(c: char) -> bool {
        c.is_alphanumeric() || c == '$'
    }

    pub(super) fn start_letter(&mut self) {
        if self.word.is_empty() {
            self.w_hashtag = std::mem::take(&mut self.hash);
        }
    }

    pub(super) fn note_repeat(&mut self, c: char) {
        if !self.w_repeat && c.is_alphabetic() {
            let n = self.word.len();
            if n >= 2 && self.word[n - 1].c == c && self.word[n - 2].c == c {
                self.w_repeat = true;
            }
        }
    }

    pub(super) fn push_char(&mut self, c: char, at: u32, foreign: bool) {
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

    pub(super) fn newline(&mut self, blank_line: bool) {
        self.finish_word();
        self.gap += 1;
        self.hash = false;
        if blank_line {
            self.sentence_break = true;
        }
    }

    /// A lowercase ASCII letter or digit: the hot path.
    #[inline]
    pub(super) fn push_ascii_alnum(&mut self, c: char, at: u32) {
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

    pub(super) fn finish_word(&mut self) {
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

    pub(super) fn finish(mut self) -> Normalized {
        self.finish_word();
        self.flush_run();
        self.out
    }
}
