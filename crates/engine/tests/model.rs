//! The shipped model loads, and reads the fixed texts recorded when it was built exactly
//! as it did then. When this fails after a change to the lexicons, the normaliser or the
//! model's features, build the model again: `crates/train/build` (docs/model.md).

use palisade_engine::model::{self, Model};
use palisade_engine::{Action, Engine, RuleSet, Thresholds};

#[test]
fn the_shipped_model_reads_the_recorded_texts_as_recorded() {
    let m = Model::shipped().expect("the shipped model loads");
    let rules = RuleSet::defaults().expect("default rules");
    let recorded = include_str!("../model/expected.tsv");
    let mut n = 0;
    for line in recorded.lines().filter(|l| !l.starts_with('#')) {
        let (p, text) = line.split_once('\t').expect("probability<TAB>text");
        let recorded: f32 = p.parse().expect("a probability");
        let now = model::text_features(&rules, text, m.bits())
            .iter()
            .map(|f| m.probability(f))
            .fold(0.0f32, f32::max);
        assert!(
            (now - recorded).abs() < 1e-4,
            "{text:?}: recorded {recorded}, now {now}: rebuild the model (crates/train/build)"
        );
        n += 1;
    }
    assert!(n >= 6, "expected.tsv lists {n} texts");
}

#[test]
fn a_threat_the_model_reads_is_explained_by_its_sentence_and_features() {
    let engine = Engine::with_default_rules(Thresholds {
        tag: 5.0,
        quarantine: 10.0,
        reject: 0.0,
    })
    .unwrap();
    let v = engine.scan(&palisade_engine::Input::new(
        b"Subject: hello\r\n\r\nThe weather is fine.\r\nI know where you live. If you certify the results we will burn your house down.\r\n",
    ));
    let s = v
        .symbols
        .iter()
        .find(|s| s.name == model::SYMBOL)
        .expect("THREAT_MODEL fires");
    assert!(s.detail.contains("likely a threat"), "{}", s.detail);
    assert!(s.detail.contains("burn your house down"), "{}", s.detail);
    assert!(s.detail.contains("weighed most:"), "{}", s.detail);
    assert!(v.action >= Action::Tag, "{v:?}");

    let calm = engine.scan(&palisade_engine::Input::new(
        b"Subject: minutes\r\n\r\nThe board meets on Tuesday at 7 pm in the county building.\r\n",
    ));
    assert!(
        calm.symbols.iter().all(|s| s.name != model::SYMBOL),
        "{calm:?}"
    );
}

#[test]
fn without_a_model_the_rules_score_alone() {
    let t = Thresholds {
        tag: 5.0,
        quarantine: 10.0,
        reject: 0.0,
    };
    let engine = Engine::with_default_rules(t).unwrap().with_model(None);
    assert!(engine.model().is_none());
    let v = engine.scan(&palisade_engine::Input::new(
        b"Subject: x\r\n\r\nI will drive over to your place and break your neck.\r\n",
    ));
    assert!(v.symbols.iter().all(|s| s.name != model::SYMBOL));
}
