//! The word pass's tables: contractions and text-speak, fillers, redactions.

use std::sync::OnceLock;

use super::Ch;

/// Whether some word of [`rewrite`] has this first letter and length: most words do not,
/// and are passed without looking further.
pub(super) fn may_rewrite(first: u8, len: usize) -> bool {
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
pub(super) fn rewrite(word: &str) -> Option<&'static [&'static str]> {
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
pub(super) fn contraction(base: &str, suffix: &str) -> Option<(String, &'static str)> {
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
pub(super) fn your_is_you_are(next: &str) -> bool {
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

/// The noun a redacted word after a possessive most often stands for.
pub(super) fn ass(at: u32) -> [Ch; 3] {
    ['a', 's', 's'].map(|c| Ch {
        c,
        at,
        foreign: false,
    })
}

/// Words that only intensify or annotate (`fucking`, `[expletive]`, `[inaudible]`,
/// `[sic]`): left out, so "blow up your fucking car" reads as "blow up your car".
pub(super) fn is_filler(word: &str) -> bool {
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
