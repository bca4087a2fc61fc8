//! Emitting words: contractions and text-speak expanded, fillers left out, each word
//! mapped back to where it came from.

use super::words::{ass, is_filler, rewrite, your_is_you_are};
use super::*;

impl<'a> Builder<'a> {
    pub(super) fn emit(&mut self, word: &[Ch], sentence: bool, disguised: bool) {
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
    pub(super) fn after_possessive(&self) -> bool {
        matches!(
            self.out.text.get(self.last_word..),
            Some("your" | "his" | "her" | "their" | "my" | "yer" | "ur")
        )
    }

    /// Rewrites the `your` just emitted as `you are`.
    pub(super) fn reopen_your(&mut self) {
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

    pub(super) fn emit_raw(&mut self, word: &[Ch], sentence: bool, disguised: bool) {
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
}
