//! Letters spaced or dotted out and words run together (`k i l l`, `#WeWillFindYou`):
//! split and placed as the words they spell.

use super::words::{ass, is_filler, rewrite, your_is_you_are};
use super::*;

impl<'a> Builder<'a> {
    /// How many times the original switches from a lowercase to an uppercase letter
    /// inside the word (`WeWillFindYou` has three).
    pub(super) fn camel_humps(&self, word: &[Ch]) -> usize {
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
    pub(super) fn split_and_place(&mut self, word: &[Ch], disguised: bool) {
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
    pub(super) fn segment(&self, word: &[Ch]) -> Option<Vec<(usize, usize)>> {
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
    pub(super) fn place_ascii(&mut self, word: &str, at: u32) {
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
    pub(super) fn place(&mut self, word: &[Ch], disguised: bool) {
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
    pub(super) fn flush_run(&mut self) {
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
    pub(super) fn is_initial(&self, ch: &Ch) -> bool {
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
}
