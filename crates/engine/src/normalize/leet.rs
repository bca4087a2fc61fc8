//! Words written with digits and symbols, censored with stars, or stretched
//! (`k1ll`, `k*ll`, `killll`): read back as the word meant.

use super::chars::{leet, leet_ambiguous};
use super::words::contraction;
use super::*;

impl<'a> Builder<'a> {
    pub(super) fn finish_leet_word(
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
    pub(super) fn looks_numeric(&self, word: &[Ch]) -> bool {
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
    pub(super) fn uncensor(&self, word: &mut [Ch]) -> bool {
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
    pub(super) fn undo_leet(&self, word: &mut [Ch]) {
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
    pub(super) fn unstretch(&self, word: &mut Vec<Ch>) -> bool {
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
}
