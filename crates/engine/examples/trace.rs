//! Shows how the engine reads a text, for people writing rules: the normalised text, every
//! lexicon hit and every frame that matched.
//!
//! Usage: `cargo run -p palisade-engine --example trace -- "text to read"` (or text on stdin).

use std::io::Read;

use palisade_engine::frames::match_frames;
use palisade_engine::normalize::normalize_with;
use palisade_engine::rules::{RuleSet, Words};
use palisade_engine::stance::Context;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut text = std::env::args().skip(1).collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        std::io::stdin().read_to_string(&mut text)?;
    }
    let rules = RuleSet::defaults()?;
    let norm = normalize_with(&text, rules.vocabulary());
    println!("normalised: {}", norm.text);
    let words = Words::of(&norm);
    let hits = rules.class_hits(&norm, &words);
    let word = |i: u32| {
        let s = words.starts[i as usize] as usize;
        let e = words.ends[i as usize] as usize;
        &norm.text[s..e]
    };
    for h in &hits {
        let span: Vec<&str> = (h.start..h.end).map(word).collect();
        println!(
            "  {:>4} {:<20} {}",
            h.start,
            rules.class_name(h.class),
            span.join(" ")
        );
    }
    let ctx = Context::new(&text, &norm, &words, &hits, &rules);
    for f in match_frames(&rules, &hits, &words, &norm.text) {
        let span: Vec<&str> = (f.start..f.end).map(word).collect();
        println!(
            "frame {} : {} | {:?}",
            rules.rules()[f.rule].name,
            span.join(" "),
            ctx.weigh(&f, true)
        );
    }
    Ok(())
}
