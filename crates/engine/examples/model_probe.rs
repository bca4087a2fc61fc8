//! Prints the shipped model's reading of each line of standard input: the probability of
//! the line's most threatening sentence and the features that weighed most for and against
//! it.
//! For developers looking at what the model learned:
//! `cargo run --release -p palisade-engine --example model_probe [MODEL_FILE] < lines.txt`
//! (the shipped model unless a model file, e.g. one `palisade-train --out` wrote, is named).

use palisade_engine::model::{self, Model, Sink};
use palisade_engine::RuleSet;
use std::io::{BufRead, Write};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let m = match std::env::args_os().nth(1) {
        Some(path) => Model::from_bytes(&std::fs::read(path)?)?,
        None => Model::shipped()?,
    };
    let rules = RuleSet::defaults()?;
    let mut out = std::io::stdout().lock();
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let analysed = model::Analysed::of(&rules, &line);
        let view = analysed.view(&rules, &line);
        match m.read_text(view) {
            Some((p, chunk)) => {
                let top = m.explain(view, chunk, 5);
                let top: Vec<String> = top.iter().map(|(n, w)| format!("{n} {w:.2}")).collect();
                // And the features that weighed most against it.
                let mut named = Named(Vec::new(), m.bits());
                let context = model::context_of(&rules, view.hits);
                model::chunk_features(view, &context, chunk.0, chunk.1, &mut named);
                let mut against: Vec<(String, f32)> = named
                    .0
                    .into_iter()
                    .map(|(n, f)| (n, m.weight(f)))
                    .filter(|(_, w)| *w < 0.0)
                    .collect();
                against.sort_by(|a, b| a.1.total_cmp(&b.1));
                against.dedup_by(|a, b| a.0 == b.0);
                let against: Vec<String> = against
                    .iter()
                    .take(5)
                    .map(|(n, w)| format!("{n} {w:.2}"))
                    .collect();
                let shown = writeln!(
                    out,
                    "{p:.3}\t{line}\n\tfor: {}\n\tagainst: {}",
                    top.join(" | "),
                    against.join(" | ")
                );
                // A closed pipe (`| head`) ends the run quietly.
                if shown.is_err() {
                    return Ok(());
                }
            }
            None => {
                if writeln!(out, "-\t{line}").is_err() {
                    return Ok(());
                }
            }
        }
    }
    Ok(())
}

/// Collects features with their names and indices.
struct Named(Vec<(String, u32)>, u32);

impl Sink for Named {
    fn add(&mut self, hash: u64, name: impl FnOnce() -> String) {
        self.0.push((name(), (hash >> (64 - self.1)) as u32));
    }
}
