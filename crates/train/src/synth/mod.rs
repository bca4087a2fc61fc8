//! Sentences built from the shapes of threats (docs/model.md, ../shared/notes'
//! threat-language taxonomy: who · intent · harm · target · condition · time), and the
//! contrasts that share their words: reports, negations, protection, idiom, campaign
//! urgency, questions and plain business.
//!
//! Real threats are few and every one of them is worded once; these teach the model
//! which *combinations* matter, so that a weight learned for "I will … your neck" also
//! serves "we'll … your church". Every slot list is general vocabulary; none is a
//! sentence of an evaluation message.

mod english;
mod spanish;

use english::*;
use spanish::*;

/// A small deterministic generator (xorshift64*), so a build is reproducible.
pub(crate) struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    /// The next number.
    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// A number below `n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
    /// One item of a list.
    pub fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list.get(self.below(list.len())).copied().unwrap_or("")
    }
}

/// Fills `{slot}`s of a template from the slot lists.
fn fill(rng: &mut Rng, template: &str, slots: &[(&str, &[&str])]) -> String {
    let mut out = String::with_capacity(template.len() * 2);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let name = &after[..close];
        match slots.iter().find(|(n, _)| *n == name) {
            Some((_, list)) => {
                let v = rng.pick(list);
                // A filler may itself hold slots.
                if v.contains('{') {
                    out.push_str(&fill(rng, v, slots));
                } else {
                    out.push_str(v);
                }
            }
            None => {
                out.push('{');
                out.push_str(name);
                out.push('}');
            }
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Frames that quote a threat to condemn, report or discuss it: counter-speech and
/// reported speech (threat-language notes §5). The quoted threat is generated as above;
/// the whole is not a threat.
const EN_QUOTING: &[&str] = &[
    "Someone wrote \"{q}\" on our page. That is not acceptable and we reported it.",
    "\"{q}\" is the kind of message you should forward to the police.",
    "Messages like \"{q}\" are threats, and threats are crimes.",
    "The email said: \"{q}\" Staff called the sheriff, who is investigating.",
    "Saying \"{q}\" is never okay, even as a joke.",
    "We received a voicemail saying \"{q}\" and have handed it to investigators.",
    "If anyone tells you \"{q}\", call 911.",
    "According to the complaint, he wrote: \"{q}\"",
];

const ES_QUOTING: &[&str] = &[
    "Alguien escribió \"{q}\" en nuestra página. Es inaceptable y lo hemos denunciado.",
    "Mensajes como \"{q}\" son amenazas, y las amenazas son delito.",
    "Según la sentencia, el acusado le dijo: \"{q}\"",
    "Si alguien te dice \"{q}\", llama al 112.",
    "Decir \"{q}\" nunca está bien, ni en broma.",
    "Recibimos un mensaje que decía \"{q}\" y lo hemos puesto en manos de la Guardia Civil.",
];

/// Slot names with their fillers.
type Slots<'a> = &'a [(&'a str, &'a [&'a str])];

/// One generated example.
pub struct Example {
    /// The text.
    pub text: String,
    /// Whether it is a threat.
    pub threat: bool,
    /// Which template made it (for the report).
    pub template: usize,
}

/// `n` threats and `n` contrasts in English and in Spanish (`n / 2` each), from `seed`.
pub fn generate(seed: u64, n: usize) -> Vec<Example> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(n * 2);
    let slots_en: Vec<(&str, &[&str])> = EN_SLOTS
        .iter()
        .copied()
        .chain([("wished", EN_WISHED)])
        .collect();
    for (language, count) in [(0, n - n / 2), (1, n / 2)] {
        let (threats, t_slots, contrasts, c_slots): (&[&str], Slots<'_>, &[&str], Slots<'_>) =
            if language == 0 {
                (EN_THREATS, &slots_en, EN_CONTRASTS, EN_CONTRAST_SLOTS)
            } else {
                (ES_THREATS, ES_SLOTS, ES_CONTRASTS, ES_CONTRAST_SLOTS)
            };
        for _ in 0..count {
            let t = rng.below(threats.len());
            let text = capitalise(fill(&mut rng, threats[t], t_slots).trim());
            out.push(Example {
                text: tidy(&text),
                threat: true,
                template: t,
            });
            // Every fourth contrast quotes a threat to condemn or report it.
            let (text, template) = if rng.below(4) == 0 {
                let quoting = if language == 0 {
                    EN_QUOTING
                } else {
                    ES_QUOTING
                };
                let q = rng.below(quoting.len());
                let t = rng.below(threats.len());
                let quoted = capitalise(fill(&mut rng, threats[t], t_slots).trim());
                (quoting[q].replace("{q}", &tidy(&quoted)), 2000 + q)
            } else {
                let c = rng.below(contrasts.len());
                (
                    capitalise(fill(&mut rng, contrasts[c], c_slots).trim()),
                    1000 + c,
                )
            };
            out.push(Example {
                text: tidy(&text),
                threat: false,
                template,
            });
        }
    }
    out
}

/// Joins "I 'll" into "I'll" and drops doubled spaces left by empty fillers.
fn tidy(s: &str) -> String {
    s.replace(" 'll", "'ll")
        .replace(" 'm", "'m")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_reproducible_and_fills_every_slot() {
        let a = generate(7, 400);
        let b = generate(7, 400);
        assert_eq!(a.len(), 800);
        assert!(a.iter().zip(&b).all(|(x, y)| x.text == y.text));
        for e in &a {
            assert!(!e.text.contains('{'), "unfilled slot in {:?}", e.text);
            assert!(!e.text.is_empty());
        }
        assert_eq!(a.iter().filter(|e| e.threat).count(), 400);
        assert!(
            a.iter()
                .any(|e| e.text.contains("I'll") || e.text.contains("we'll"))
                || a.iter().any(|e| e.text.contains("will"))
        );
    }
}
