//! Prints the shipped model's reading of each line of standard input: the probability of
//! the line's most threatening sentence and the features that weighed most either way.
//! For developers looking at what the model learned:
//! `cargo run --release -p palisade-engine --example model_probe [MODEL_FILE] < lines.txt`
//! (the shipped model unless a model file, e.g. one `palisade-train --out` wrote, is named).

use palisade_engine::model::Model;
use palisade_engine::rules::Words;
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
        let norm = palisade_engine::normalize::normalize_with(&line, rules.vocabulary());
        let words = Words::of(&norm);
        let hits = rules.class_hits(&norm, &words);
        match m.read_text(&rules, &line, &norm, &words, &hits) {
            Some((p, chunk)) => {
                let top = m.explain(&rules, &line, &norm, &words, &hits, chunk, 5);
                let top: Vec<String> = top.iter().map(|(n, w)| format!("{n} {w:.2}")).collect();
                writeln!(out, "{p:.3}\t{line}\n\t{}", top.join(" | "))?;
            }
            None => writeln!(out, "-\t{line}")?,
        }
    }
    Ok(())
}
