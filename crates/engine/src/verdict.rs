//! The result of a scan and how it maps to an action.

use serde::Serialize;

/// What to do with a message, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Deliver as is (headers added).
    Accept,
    /// Deliver, marked: X-Spam-Flag and a subject prefix.
    Tag,
    /// Hold for review (Postfix hold queue).
    Quarantine,
    /// Refuse with a 5xx.
    Reject,
    /// Refuse with a 4xx: the message could not be judged now.
    Tempfail,
}

impl Action {
    /// The lowercase name used in headers, logs, JSON and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Accept => "accept",
            Action::Tag => "tag",
            Action::Quarantine => "quarantine",
            Action::Reject => "reject",
            Action::Tempfail => "tempfail",
        }
    }
}

/// Score thresholds; 0 switches an action off.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Thresholds {
    /// Tag at or above this score.
    pub tag: f64,
    /// Quarantine at or above this score.
    pub quarantine: f64,
    /// Reject at or above this score (0 = never).
    pub reject: f64,
}

impl Thresholds {
    /// The action a score earns.
    pub fn action(&self, score: f64) -> Action {
        let reached = |t: f64| t > 0.0 && score >= t;
        if reached(self.reject) {
            Action::Reject
        } else if reached(self.quarantine) {
            Action::Quarantine
        } else if reached(self.tag) {
            Action::Tag
        } else {
            Action::Accept
        }
    }

    /// Of two sets of thresholds, the stricter at each level (0 = off counts as looser
    /// than any threshold in use).
    pub fn strictest(&self, other: &Thresholds) -> Thresholds {
        let pick = |a: f64, b: f64| match (a > 0.0, b > 0.0) {
            (true, true) => a.min(b),
            (true, false) => a,
            (false, _) => b,
        };
        Thresholds {
            tag: pick(self.tag, other.tag),
            quarantine: pick(self.quarantine, other.quarantine),
            reject: pick(self.reject, other.reject),
        }
    }

    /// The score a message needs to be flagged: the lowest threshold in use.
    pub fn required(&self) -> f64 {
        [self.tag, self.quarantine, self.reject]
            .into_iter()
            .filter(|t| *t > 0.0)
            .fold(f64::INFINITY, f64::min)
            .min(f64::MAX)
    }
}

/// One rule or check that fired.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Symbol {
    /// Upper-case name (`VOTER_COERCION`, `R_SPF_FAIL`).
    pub name: String,
    /// What it adds to the score (may be negative).
    pub score: f64,
    /// Family: `threat`, `coercion`, `auth`, `info`, …
    pub category: String,
    /// Why it fired, quoting the matched words where there are some.
    pub detail: String,
}

impl Symbol {
    /// A symbol whose score comes from a module's table of defaults (0 if absent).
    pub(crate) fn from_table(
        table: &[(&str, f64)],
        name: &str,
        category: &str,
        detail: String,
    ) -> Symbol {
        Symbol {
            name: name.into(),
            score: table
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(0.0, |(_, s)| *s),
            category: category.into(),
            detail,
        }
    }
}

/// The outcome of a scan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// The sum of the symbols' scores.
    pub score: f64,
    /// The lowest threshold in use (SpamAssassin's `required`).
    pub required: f64,
    /// What the thresholds make of the score.
    pub action: Action,
    /// Every symbol that fired, highest score first.
    pub symbols: Vec<Symbol>,
    /// Whether the From domain is outside the protected domains (`None` when no
    /// protected domains are configured).
    pub external: Option<bool>,
}

impl Verdict {
    /// Adds up the symbols and applies the thresholds.
    pub fn from_symbols(mut symbols: Vec<Symbol>, thresholds: &Thresholds) -> Verdict {
        symbols.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.name.cmp(&b.name)));
        let score = symbols.iter().map(|s| s.score).sum::<f64>();
        // Scores are shown with two decimals; decide on what is shown.
        // (Adding 0.0 turns the -0.0 of an empty float sum into 0.0.)
        let score = (score * 100.0).round() / 100.0 + 0.0;
        Verdict {
            score,
            required: thresholds.required(),
            action: thresholds.action(score),
            symbols,
            external: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sym(name: &str, score: f64) -> Symbol {
        Symbol {
            name: name.into(),
            score,
            category: "test".into(),
            detail: String::new(),
        }
    }

    #[test]
    fn thresholds_pick_the_strongest_reached_action() {
        let t = Thresholds {
            tag: 5.0,
            quarantine: 10.0,
            reject: 0.0,
        };
        assert_eq!(t.action(4.99), Action::Accept);
        assert_eq!(t.action(5.0), Action::Tag);
        assert_eq!(t.action(1000.0), Action::Quarantine);
        let with_reject = Thresholds { reject: 15.0, ..t };
        assert_eq!(with_reject.action(15.0), Action::Reject);
        assert_eq!(t.required(), 5.0);
    }

    #[test]
    fn verdict_sums_and_sorts() {
        let t = Thresholds {
            tag: 5.0,
            quarantine: 10.0,
            reject: 0.0,
        };
        let v = Verdict::from_symbols(vec![sym("B", 1.5), sym("A", 4.0), sym("C", -0.5)], &t);
        assert_eq!(v.score, 5.0);
        assert_eq!(v.action, Action::Tag);
        let names: Vec<_> = v.symbols.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["A", "B", "C"]);
        let empty = Verdict::from_symbols(Vec::new(), &t);
        assert!(empty.score.is_sign_positive());
    }
}
