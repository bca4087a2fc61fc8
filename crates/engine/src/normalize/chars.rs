//! The character pass's tables: what is invisible, what looks like a Latin letter, and
//! which digits and symbols stand for letters.

use icu_properties::props::DefaultIgnorableCodePoint;
use icu_properties::CodePointSetData;

/// Whether `c` is invisible: Default_Ignorable_Code_Point, plus the Hangul fillers and
/// invisible operators that render as nothing.
pub(super) fn is_invisible(c: char) -> bool {
    CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c)
        || matches!(
            c,
            '\u{2061}'
                ..='\u{2064}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}'
        )
}

/// What a reader takes a non-Latin letter for: its UTS #39 skeleton, when that is one
/// ASCII letter or digit.
pub(super) fn confusable(c: char) -> Option<char> {
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
pub(super) fn lowercase_look_alike(c: char) -> Option<char> {
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
pub(super) fn leet(c: char) -> Option<char> {
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

pub(super) fn leet_ambiguous(c: char) -> bool {
    matches!(c, '1' | '!' | '|')
}

/// Whether a letter comes three times in a row (`killlll`).
pub(super) fn has_triple(word: &[u8]) -> bool {
    word.windows(3).any(|w| w[0] == w[1] && w[1] == w[2])
}
