//! `palisade-train`: builds `crates/engine/model/threat.model` from recorded, openly
//! licensed data (docs/model.md lists every source, its licence and how to fetch it).
//!
//! The model is a logistic regression over the engine's own sentence features
//! ([`palisade_engine::model`]), trained as a bag of sentences per message: a message
//! scores as its most threatening sentence, so each step moves the weights of that
//! sentence only (after one warm-up pass that spreads each message over all of its
//! sentences). A fifth of every source, chosen by a hash of its name, is held back;
//! the thresholds are set on it so that ordinary mail stays below tag, and its figures
//! are written to the report.

#![forbid(unsafe_code)]

mod load;
mod synth;

use load::{load, FOLDS};

use anyhow::{bail, Context, Result};
use palisade_engine::model::{self, Model};
use palisade_engine::RuleSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What a message teaches.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// A real threat, extortion or intimidation.
    Threat,
    /// Real text about threats or violence that makes none (reports, guidance, idiom).
    Hard,
    /// Ordinary mail.
    Ordinary,
    /// A generated threat.
    SynthThreat,
    /// A generated contrast.
    SynthContrast,
    /// A labelled threat from a corpus of comments or posts.
    CorpusThreat,
    /// A labelled non-threat from such a corpus.
    CorpusOther,
}

impl Kind {
    fn threat(self) -> bool {
        matches!(self, Kind::Threat | Kind::SynthThreat | Kind::CorpusThreat)
    }
}

struct Bag {
    source: &'static str,
    name: String,
    kind: Kind,
    weight: f32,
    chunks: Vec<Vec<u32>>,
    /// Which fifth it falls in (by a hash of its name), for cross-validation.
    fold: usize,
    /// The message as the engine reads it.
    raw: Vec<u8>,
}

/// Texts whose probabilities are recorded beside the model, so that a test can tell
/// when the engine no longer reads text the way the model was trained (a lexicon or
/// feature changed): then the model must be built again.
const FIXED: &[&str] = &[
    "I know where you live. If you certify the results we will burn your house down.",
    "The board meets on Tuesday at 7 pm in the county building; the agenda is attached.",
    "The defendant pleaded guilty to threatening to kill a county clerk, prosecutors said.",
    "I'd kill for a coffee right now, this meeting is endless.",
    "Si vuelves a denunciar te vamos a quemar la casa con tus hijos dentro.",
    "El acusado fue condenado por amenazar de muerte a su vecino, según la sentencia.",
    "Pay 2,000 dollars in bitcoin within 48 hours or your family sees the video.",
    "Please vote on November 3rd; polls are open from 7 am to 8 pm.",
];

struct Options {
    repo: PathBuf,
    data: PathBuf,
    campaign: Option<PathBuf>,
    out: PathBuf,
    report: PathBuf,
    bits: u32,
    epochs: usize,
    synthetic: usize,
    rate: f32,
    l2: f32,
}

fn usage() -> &'static str {
    "usage: palisade-train --data DIR [--campaign DIR] [--repo DIR] [--out FILE] [--report FILE] [--bits N] [--epochs N] [--synthetic N]\n\
     Builds the threat model from the data fetched by crates/train/fetch into DIR. See docs/model.md."
}

fn options() -> Result<Options> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut o = Options {
        out: repo.join("crates/engine/model/threat.model"),
        report: repo.join("crates/engine/model/REPORT.md"),
        repo,
        data: PathBuf::new(),
        campaign: None,
        bits: 18,
        epochs: 10,
        synthetic: 20_000,
        rate: 0.2,
        l2: 1e-3,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || {
            args.next()
                .with_context(|| format!("{a} needs a value\n{}", usage()))
        };
        match a.as_str() {
            "--data" => o.data = value()?.into(),
            "--campaign" => o.campaign = Some(value()?.into()),
            "--repo" => o.repo = value()?.into(),
            "--out" => o.out = value()?.into(),
            "--report" => o.report = value()?.into(),
            "--bits" => o.bits = value()?.parse().context("--bits")?,
            "--epochs" => o.epochs = value()?.parse().context("--epochs")?,
            "--synthetic" => o.synthetic = value()?.parse().context("--synthetic")?,
            "--rate" => o.rate = value()?.parse().context("--rate")?,
            "--l2" => o.l2 = value()?.parse().context("--l2")?,
            "-h" | "--help" => {
                println!("{}", usage());
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}\n{}", usage()),
        }
    }
    if o.data.as_os_str().is_empty() {
        bail!("--data is required\n{}", usage());
    }
    if !(12..=22).contains(&o.bits) {
        bail!("--bits must be 12..=22");
    }
    Ok(o)
}

struct Weights {
    w: Vec<f32>,
    g2: Vec<f32>,
    bias: f32,
    gbias: f32,
}

impl Weights {
    fn logit(&self, f: &[u32]) -> f32 {
        self.bias + f.iter().map(|&i| self.w[i as usize]).sum::<f32>()
    }

    fn step(&mut self, f: &[u32], gradient: f32, rate: f32, l2: f32) {
        for &i in f {
            let i = i as usize;
            let g = gradient + l2 * self.w[i];
            self.g2[i] += g * g;
            self.w[i] -= rate * g / self.g2[i].sqrt();
        }
        self.gbias += gradient * gradient;
        self.bias -= rate * gradient / self.gbias.sqrt();
    }

    /// The bag's most threatening chunk and its probability.
    fn best(&self, bag: &Bag) -> (usize, f32) {
        let mut best = (0, f32::NEG_INFINITY);
        for (j, c) in bag.chunks.iter().enumerate() {
            let z = self.logit(c);
            if z > best.1 {
                best = (j, z);
            }
        }
        (best.0, model::sigmoid(best.1))
    }
}

fn train(
    bags: &[Bag],
    skip_fold: Option<usize>,
    bits: u32,
    epochs: usize,
    rate: f32,
    l2: f32,
) -> Weights {
    let mut w = Weights {
        w: vec![0.0; 1 << bits],
        g2: vec![1e-6; 1 << bits],
        bias: 0.0,
        gbias: 1e-6,
    };
    let train: Vec<usize> = (0..bags.len())
        .filter(|&i| Some(bags[i].fold) != skip_fold)
        .collect();
    let mut rng = synth::Rng::new(0x7472_6169_6e21);
    for epoch in 0..epochs {
        let mut order = train.clone();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i + 1));
        }
        for &b in &order {
            let bag = &bags[b];
            let y = if bag.kind.threat() { 1.0 } else { 0.0 };
            if epoch == 0 {
                // Warm-up: the whole message, spread over its sentences.
                let share = bag.weight / bag.chunks.len() as f32;
                for c in &bag.chunks {
                    let p = model::sigmoid(w.logit(c));
                    w.step(c, (p - y) * share, rate, l2);
                }
            } else {
                let (j, p) = w.best(bag);
                w.step(&bag.chunks[j], (p - y) * bag.weight, rate, l2);
            }
        }
    }
    w
}

fn main() -> Result<()> {
    let o = options()?;
    let rules = RuleSet::defaults().context("cannot compile the default rules")?;
    eprintln!("palisade-train: reading sources");
    let (bags, loaded) = load(&o, &rules)?;
    eprintln!(
        "palisade-train: {} messages and texts; training",
        bags.len()
    );
    // Out-of-fold probabilities: each item scored by a model that never saw it.
    let mut oof = vec![0.0f32; bags.len()];
    for k in 0..FOLDS {
        let w = train(&bags, Some(k), o.bits, o.epochs, o.rate, o.l2);
        for (i, b) in bags.iter().enumerate().filter(|(_, b)| b.fold == k) {
            oof[i] = model::logit(w.best(b).1);
        }
    }
    // What the rules alone make of each item, and whether it reads as a report.
    eprintln!("palisade-train: scoring every item with the rules");
    let thresholds = palisade_engine::Thresholds {
        tag: 5.0,
        quarantine: 10.0,
        reject: 0.0,
    };
    let engine = palisade_engine::Engine::new(thresholds, rules.clone()).with_model(None);
    let scored: Vec<(f64, bool)> = bags
        .iter()
        .map(|b| {
            let v = engine.scan(&palisade_engine::Input::new(&b.raw));
            (v.score, engine.reads_as_report(&b.raw))
        })
        .collect();
    if std::env::var_os("PALISADE_TRAIN_DEBUG").is_some() {
        for (i, b) in bags.iter().enumerate() {
            if matches!(b.kind, Kind::Threat | Kind::Hard | Kind::Ordinary) {
                eprintln!(
                    "oof\t{}\t{:?}\t{:.2}\t{:.1}\t{}\t{}",
                    b.source, b.kind, oof[i], scored[i].0, scored[i].1, b.name
                );
            }
        }
    }
    let (zt, zq, figures) = calibrate(&bags, &oof, &scored);
    eprintln!("palisade-train: training on everything");
    let w = train(&bags, None, o.bits, o.epochs, o.rate, o.l2);
    let tag = model::sigmoid(zt);
    let quarantine = model::sigmoid(zq);

    let mut report = String::new();
    let _ = writeln!(report, "# The shipped threat model: how it was built\n");
    let _ = writeln!(
        report,
        "Built by `crates/train/build` (palisade-train {}): {} feature bits, {} epochs, rate {}, L2 {}.\n",
        env!("CARGO_PKG_VERSION"),
        o.bits,
        o.epochs,
        o.rate,
        o.l2
    );
    let _ = writeln!(report, "| source | what | items |\n|---|---|---|");
    for s in &loaded {
        let _ = writeln!(report, "| {} | {} | {} |", s.source, s.what, s.count);
    }
    let _ = writeln!(
        report,
        "\nThresholds, chosen on out-of-fold scores together with the rules: the model alone tags from p = {tag:.4} (log-odds {zt:.2}) and quarantines from p = {quarantine:.4} (log-odds {zq:.2}).\n"
    );
    report.push_str(&figures);
    let about = format!(
        "palisade-train {}: bits {}, epochs {}, sources {}",
        env!("CARGO_PKG_VERSION"),
        o.bits,
        o.epochs,
        loaded
            .iter()
            .map(|s| format!("{} {}", s.source, s.count))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let m = Model::new(o.bits, w.bias, w.w, tag, quarantine, about)
        .context("the trained model is not valid")?;
    std::fs::write(&o.out, m.to_bytes())
        .with_context(|| format!("cannot write {}", o.out.display()))?;
    std::fs::write(&o.report, &report)
        .with_context(|| format!("cannot write {}", o.report.display()))?;
    let mut expected = String::from("# probability<TAB>text: the shipped model's reading of fixed texts (crates/engine/tests/model.rs)\n");
    for text in FIXED {
        let p = model::text_features(&rules, text, m.bits())
            .iter()
            .map(|f| m.probability(f))
            .fold(0.0f32, f32::max);
        let _ = writeln!(expected, "{p:.6}\t{text}");
    }
    let expected_path = o.out.with_file_name("expected.tsv");
    std::fs::write(&expected_path, expected)
        .with_context(|| format!("cannot write {}", expected_path.display()))?;
    print!("{report}");
    eprintln!(
        "palisade-train: wrote {} and {}",
        o.out.display(),
        o.report.display()
    );
    Ok(())
}

/// The symbol's score for log-odds `z` under tag and quarantine points `zt` and `zq`,
/// as the engine gives it (see `Model::score` and the report factor in scan.rs).
fn model_score(z: f32, zt: f32, zq: f32, reported: bool) -> f64 {
    let s = model::score_of_logit(z, zt, zq);
    let s = if reported {
        s * palisade_engine::REPORTED_FACTOR
    } else {
        s
    };
    if s >= model::MIN_SCORE {
        s
    } else {
        0.0
    }
}

/// Picks the tag and quarantine points: the pair that holds the most real threats at
/// quarantine (then tags the most) while, with the rules' own scores added, no real hard
/// negative or ordinary message is quarantined that the rules alone did not, ordinary
/// mail the model tags stays at or under 0.05%, and real hard negatives at tag stay at or
/// under 3% (or what the rules alone tag, if more). Returns the report's figures too.
fn calibrate(bags: &[Bag], oof: &[f32], scored: &[(f64, bool)]) -> (f32, f32, String) {
    let idx = |pred: &dyn Fn(&Bag) -> bool| -> Vec<usize> {
        (0..bags.len()).filter(|&i| pred(&bags[i])).collect()
    };
    let threats = idx(&|b| b.kind == Kind::Threat);
    let hard = idx(&|b| b.kind == Kind::Hard);
    let ordinary = idx(&|b| b.kind == Kind::Ordinary);
    let other = idx(&|b| b.kind == Kind::CorpusOther);
    let count = |set: &[usize], zt: f32, zq: f32, at: f64| {
        set.iter()
            .filter(|&&i| scored[i].0 + model_score(oof[i], zt, zq, scored[i].1) >= at)
            .count()
    };
    let rules_count = |set: &[usize], at: f64| set.iter().filter(|&&i| scored[i].0 >= at).count();
    // A message the model alone tags must be well short of one it holds.
    let hard_tag_cap = ((hard.len() as f64 * 0.03).floor() as usize).max(rules_count(&hard, 5.0));
    let ordinary_tag_cap =
        rules_count(&ordinary, 5.0) + (ordinary.len() as f64 * 0.0005).floor() as usize;
    // Hate, insults and violent questions that threaten nobody (Hatemoji, OpenAI's set,
    // XSTest): the model may add at most 0.5% to what the rules flag there.
    let other_tag_cap = rules_count(&other, 5.0) + (other.len() as f64 * 0.005).floor() as usize;
    let mut best: Option<(usize, usize, f32, f32)> = None;
    let steps: Vec<f32> = (0..=64).map(|i| i as f32 * 0.25).collect();
    for &zt in &steps {
        for &gap in steps.iter().skip(4) {
            let zq = zt + gap;
            if count(&hard, zt, zq, 10.0) > rules_count(&hard, 10.0)
                || count(&ordinary, zt, zq, 10.0) > rules_count(&ordinary, 10.0)
                || count(&hard, zt, zq, 5.0) > hard_tag_cap
                || count(&ordinary, zt, zq, 5.0) > ordinary_tag_cap
                || count(&other, zt, zq, 5.0) > other_tag_cap
            {
                continue;
            }
            let held = count(&threats, zt, zq, 10.0);
            let flagged = count(&threats, zt, zq, 5.0);
            if best.is_none_or(|(h, f, _, _)| (held, flagged) > (h, f)) {
                best = Some((held, flagged, zt, zq));
            }
        }
    }
    let (_, _, zt, zq) = best.unwrap_or((0, 0, 16.0, 20.0));
    let mut figures = String::new();
    let _ = writeln!(
        figures,
        "Cross-validated ({FOLDS} folds; each item scored by a model trained without it), rules and model together against the rules alone:\n"
    );
    let _ = writeln!(
        figures,
        "| source | kind | items | tag or worse (rules alone) | quarantine (rules alone) |\n|---|---|---|---|---|"
    );
    let mut keys: Vec<(&str, Kind)> = Vec::new();
    for b in bags {
        if !keys.contains(&(b.source, b.kind)) {
            keys.push((b.source, b.kind));
        }
    }
    for (source, kind) in keys {
        let set = idx(&|b| b.source == source && b.kind == kind);
        let _ = writeln!(
            figures,
            "| {source} | {kind:?} | {} | {} ({}) | {} ({}) |",
            set.len(),
            count(&set, zt, zq, 5.0),
            rules_count(&set, 5.0),
            count(&set, zt, zq, 10.0),
            rules_count(&set, 10.0)
        );
    }
    let over: Vec<String> = hard
        .iter()
        .chain(&ordinary)
        .filter(|&&i| scored[i].0 + model_score(oof[i], zt, zq, scored[i].1) >= 5.0)
        .map(|&i| {
            format!(
                "{} ({:.1})",
                bags[i].name,
                scored[i].0 + model_score(oof[i], zt, zq, scored[i].1)
            )
        })
        .collect();
    let _ = writeln!(
        figures,
        "\nReal negatives at tag or worse: {}\n",
        if over.is_empty() {
            "none".into()
        } else {
            over.join(", ")
        }
    );
    (zt, zq, figures)
}
