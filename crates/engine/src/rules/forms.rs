//! English and Spanish verb forms a lexicon asks for: third person, gerund, Spanish
//! future and enclitic pronouns.

/// The inflected forms a lexicon asks for, and the lexicon each goes to.
pub(super) struct Forms {
    /// Spanish infinitive + object pronoun (`matarte`).
    pub(super) enclitic: Option<u32>,
    /// Spanish present of the speaker (`mato`, `matamos`).
    pub(super) present: Option<u32>,
    /// Spanish synthetic future and conditional (`matare`, `mataria`).
    pub(super) future: Option<u32>,
    /// English third person singular (`kills`).
    pub(super) third_person: Option<u32>,
    /// English -ing form (`killing`).
    pub(super) progressive: Option<u32>,
}

impl Forms {
    /// Every form of an entry. Only the first word is inflected: `cortar el cuello` ->
    /// `cortarle el cuello`, `put a bullet in` -> `puts a bullet in`.
    pub(super) fn of(&self, entry: &str) -> Vec<(String, u32)> {
        let (verb, rest) = entry.split_once(' ').unwrap_or((entry, ""));
        let whole = |form: String| {
            if rest.is_empty() {
                form
            } else {
                format!("{form} {rest}")
            }
        };
        let infinitive = ["ar", "er", "ir"]
            .iter()
            .find(|e| verb.len() > 3 && verb.ends_with(*e))
            .map(|e| (&verb[..verb.len() - 2], *e));
        let mut out = Vec::new();
        if let Some(class) = self.enclitic {
            out.extend(
                CLITICS
                    .iter()
                    .map(|cl| (whole(format!("{verb}{cl}")), class)),
            );
        }
        if let (Some(class), Some((stem, ending))) = (self.present, infinitive) {
            let plural = match ending {
                "ar" => "amos",
                "er" => "emos",
                _ => "imos",
            };
            out.push((whole(format!("{stem}o")), class));
            out.push((whole(format!("{stem}{plural}")), class));
        }
        if let (Some(class), Some(_)) = (self.future, infinitive) {
            out.extend(
                FUTURE_ENDINGS
                    .iter()
                    .map(|e| (whole(format!("{verb}{e}")), class)),
            );
        }
        if let Some(class) = self.third_person {
            out.push((whole(third_person(verb)), class));
        }
        if let Some(class) = self.progressive {
            out.push((whole(gerund(verb)), class));
        }
        out
    }
}

/// The English third person singular: kill -> kills, punch -> punches, bury -> buries.
pub(super) fn third_person(verb: &str) -> String {
    if verb.ends_with("sh")
        || verb.ends_with("ch")
        || verb.ends_with('s')
        || verb.ends_with('x')
        || verb.ends_with('z')
        || verb.ends_with('o')
    {
        format!("{verb}es")
    } else if let Some(stem) = verb.strip_suffix('y').filter(|s| {
        s.chars()
            .last()
            .is_some_and(|c| !matches!(c, 'a' | 'e' | 'i' | 'o' | 'u'))
    }) {
        format!("{stem}ies")
    } else {
        format!("{verb}s")
    }
}

/// The English -ing form: kill -> killing, stab -> stabbing, strangle -> strangling.
pub(super) fn gerund(verb: &str) -> String {
    let b = verb.as_bytes();
    let vowel = |c: u8| matches!(c, b'a' | b'e' | b'i' | b'o' | b'u');
    if let Some(stem) = verb.strip_suffix("ie") {
        return format!("{stem}ying");
    }
    if verb.len() > 2 && verb.ends_with('e') && !verb.ends_with("ee") {
        return format!("{}ing", &verb[..verb.len() - 1]);
    }
    // One short syllable ending consonant-vowel-consonant doubles its last letter.
    let n = b.len();
    if (3..=4).contains(&n)
        && !vowel(b[n - 1])
        && !matches!(b[n - 1], b'w' | b'x' | b'y')
        && vowel(b[n - 2])
        && !vowel(b[n - 3])
    {
        return format!("{verb}{}ing", b[n - 1] as char);
    }
    format!("{verb}ing")
}

/// Endings of the Spanish synthetic future, without accents.
/// Also the conditional (`fusilaria`), which threatens in the same breath.
pub(super) const FUTURE_ENDINGS: &[&str] = &[
    "e", "as", "a", "emos", "eis", "an", "ia", "ias", "iamos", "iais", "ian",
];

/// Spanish object pronouns that attach to an infinitive (`matarte`).
pub(super) const CLITICS: &[&str] = &["te", "lo", "la", "los", "las", "le", "les", "os"];
