//! Macros (sendmail's name for per-stage key/value facts: queue id, client address, …).

use crate::Stage;

/// Macros received so far on a connection, kept per stage so that a new stage's values
/// replace the old ones and later stages are forgotten when an earlier one repeats.
#[derive(Debug, Clone, Default)]
pub struct Macros {
    stages: [Vec<(String, String)>; 7],
}

/// `{j}` and `j` name the same macro: names are kept without braces.
fn bare(name: &str) -> &str {
    name.strip_prefix('{')
        .and_then(|n| n.strip_suffix('}'))
        .unwrap_or(name)
}

impl Macros {
    /// Stores the macros of one MACRO packet, forgetting those of this stage and of every
    /// later stage.
    pub fn set(&mut self, stage: Stage, pairs: &[(Vec<u8>, Vec<u8>)]) {
        self.clear_from(stage);
        let slot = &mut self.stages[stage.order()];
        for (name, value) in pairs {
            let name = String::from_utf8_lossy(name);
            slot.push((
                bare(&name).to_string(),
                String::from_utf8_lossy(value).into_owned(),
            ));
        }
    }

    /// Forgets the macros of `stage` and every later stage.
    pub(crate) fn clear_from(&mut self, stage: Stage) {
        for slot in &mut self.stages[stage.order()..] {
            slot.clear();
        }
    }

    /// The newest value of a macro; `j` and `{j}` are the same.
    pub fn get(&self, name: &str) -> Option<&str> {
        let name = bare(name);
        self.stages.iter().rev().find_map(|slot| {
            slot.iter()
                .rev()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        })
    }

    /// Like [`Macros::get`], but an empty value counts as missing.
    pub fn get_nonempty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(Vec<u8>, Vec<u8>)> {
        p.iter()
            .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn braces_do_not_matter_and_later_stages_are_cleared() {
        let mut m = Macros::default();
        m.set(Stage::Connect, &pairs(&[("j", "mx.example.org")]));
        m.set(Stage::Mail, &pairs(&[("{auth_authen}", "alice")]));
        m.set(Stage::Rcpt, &pairs(&[("i", "4ABC")]));
        assert_eq!(m.get("{j}"), Some("mx.example.org"));
        assert_eq!(m.get("auth_authen"), Some("alice"));
        assert_eq!(m.get("i"), Some("4ABC"));
        // The next message's MAIL macros replace the old ones and drop RCPT's.
        m.set(Stage::Mail, &pairs(&[]));
        assert_eq!(m.get("auth_authen"), None);
        assert_eq!(m.get("i"), None);
        assert_eq!(m.get("j"), Some("mx.example.org"));
    }
}
