use super::*;
use palisade_engine::campaign::{fingerprint, personal_words};

fn settings() -> Settings {
    Settings {
        window: 3600,
        max_recipients: 1000,
        max_copies: 100,
        max_campaigns: 1000,
    }
}

/// One personalised copy of a threatening template, as an observation.
fn copy(name: &str, street: &str, at: u64, threat: bool) -> Observation {
    let text = format!(
        "{name}, we have your address at {street} and your registration. You will vote \
         for our candidate on Election Day or we will come after you. We will know how \
         you voted. Change your party affiliation so we know you received this message \
         and will comply. Take this seriously, {name}."
    );
    let rcpt = format!("{}@county.example", name.to_lowercase().replace(' ', "."));
    let fp = fingerprint(&text, &personal_words(std::slice::from_ref(&rcpt), name))
        .expect("long enough");
    Observation {
        signature: fp.signature.iter().map(|v| *v as u32).collect(),
        bands: fp.bands,
        at,
        recipients: vec![format!("h-{rcpt}")],
        sender: "s1".into(),
        ip: "ip1".into(),
        threat: if threat {
            vec!["VOTER_COERCION".into()]
        } else {
            Vec::new()
        },
    }
}

fn unrelated(at: u64) -> Observation {
    let text = "The county board of elections will meet on Tuesday in the annex to certify \
                the canvass. Poll workers should return their equipment by Friday, and \
                the clerk will post the minutes on the website next week.";
    let fp = fingerprint(text, &[]).expect("long enough");
    Observation {
        signature: fp.signature.iter().map(|v| *v as u32).collect(),
        bands: fp.bands,
        at,
        recipients: vec!["h-clerk".into()],
        sender: "s2".into(),
        ip: "ip2".into(),
        threat: Vec::new(),
    }
}

const NAMES: [(&str, &str); 6] = [
    ("Maria Lopez", "12 Oak Street"),
    ("John Smith", "907 Pine Avenue"),
    ("Aisha Khan", "3 Elm Court"),
    ("Robert Chen", "4410 Lake Road"),
    ("Linda Park", "88 Hill Lane"),
    ("Tom Baker", "501 River Drive"),
];

#[test]
fn personalised_copies_count_as_one_campaign_and_unrelated_mail_apart() {
    let m = memory::Memory::open(None, settings()).expect("store");
    let mut id = None;
    for (i, (name, street)) in NAMES.iter().enumerate() {
        let seen = m.observe(&copy(name, street, 1000 + i as u64, i == 2));
        let s = seen.summary;
        assert_eq!(s.recipients, i as u64 + 1, "{s:?}");
        assert_eq!(s.first_seen, 1000);
        assert_eq!(s.threat, i >= 2);
        assert_eq!(*id.get_or_insert(s.id.clone()), s.id);
    }
    let other = m.observe(&unrelated(2000)).summary;
    assert_ne!(Some(other.id), id);
    assert_eq!(other.recipients, 1);
    assert_eq!(m.count(), 2);
    // Symbols: CAMPAIGN from two recipients, CAMPAIGN_THREAT from min_recipients.
    let s = m
        .list()
        .into_iter()
        .find(|s| Some(&s.id) == id.as_ref())
        .expect("listed");
    let names: Vec<String> = symbols(&s, 5).into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["CAMPAIGN", "CAMPAIGN_THREAT"]);
    let names: Vec<String> = symbols(&s, 7).into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["CAMPAIGN"]);
    assert!(symbols(&other_summary(&m), 2).is_empty());
}

fn other_summary(m: &memory::Memory) -> Summary {
    m.list()
        .into_iter()
        .find(|s| s.recipients == 1)
        .expect("the unrelated message")
}

#[test]
fn the_window_slides_and_old_campaigns_are_forgotten() {
    let m = memory::Memory::open(None, settings()).expect("store");
    for (i, (name, street)) in NAMES.iter().take(3).enumerate() {
        m.observe(&copy(name, street, 10_000 + i as u64, false));
    }
    // Two hours later (window one hour): the first three recipients have fallen out.
    let s = m
        .observe(&copy(NAMES[3].0, NAMES[3].1, 10_000 + 7200, false))
        .summary;
    assert_eq!(s.recipients, 1, "{s:?}");
    // The campaign itself expired (last seen before the window), so this is new.
    assert_eq!(s.first_seen, 10_000 + 7200);
}

#[test]
fn the_store_survives_a_restart_and_keeps_its_bounds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("campaigns.json");
    let small = Settings {
        max_recipients: 3,
        max_copies: 2,
        ..settings()
    };
    let id;
    {
        let m = memory::Memory::open(Some(path.clone()), small).expect("store");
        for (i, (name, street)) in NAMES.iter().enumerate() {
            let s = m
                .observe(&copy(name, street, 5000 + i as u64, true))
                .summary;
            m.record(
                &s.id,
                Copy {
                    at: 5000 + i as u64,
                    host: "mx1".into(),
                    queue_id: format!("Q{i}"),
                    action: "tag".into(),
                    sealed: String::new(),
                },
            );
        }
        let s = &m.list()[0];
        assert_eq!(s.recipients, 3, "bounded: {s:?}");
        assert_eq!(s.copies, 6);
        id = s.id.clone();
        m.save().expect("saved");
    }
    let text = std::fs::read_to_string(&path).expect("file");
    for (name, _) in NAMES {
        assert!(!text.contains(name), "no text in the store");
    }
    let m = memory::Memory::open(Some(path.clone()), small).expect("read back");
    let (s, copies) = m.show(&id, 0).expect("still there");
    assert_eq!(s.copies, 6);
    assert!(s.threat);
    assert_eq!(
        copies
            .iter()
            .map(|c| c.queue_id.as_str())
            .collect::<Vec<_>>(),
        ["Q4", "Q5"]
    );
    // The band index is rebuilt: a new copy joins the same campaign.
    let again = m
        .observe(&copy("Ana Ruiz", "9 Bay Street", 5100, false))
        .summary;
    assert_eq!(again.id, id);
    // A damaged file: the CLI says so, naming it; the daemon moves it aside and starts
    // empty (counts are worth less than mail flowing).
    std::fs::write(&path, b"{not json").expect("write");
    let e = memory::read_saved(&path, small).expect_err("refused");
    assert!(format!("{e:#}").contains("campaigns.json"), "{e:#}");
    let m = memory::Memory::open(Some(path.clone()), small).expect("starts empty");
    assert_eq!(m.count(), 0);
    assert!(!path.exists());
    let aside: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("damaged"))
        .collect();
    assert_eq!(aside.len(), 1);
}

#[test]
fn many_campaigns_stay_within_the_bound() {
    let m = memory::Memory::open(
        None,
        Settings {
            max_campaigns: 50,
            ..settings()
        },
    )
    .expect("store");
    // 400 different texts (words without digits, so nothing is masked alike).
    let words = [
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
        "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra",
        "tango",
    ];
    let mut ids = std::collections::HashSet::new();
    for i in 0..400usize {
        let mut x = (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let text: Vec<&str> = (0..30)
            .map(|_| {
                x = x
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                words[(x >> 33) as usize % words.len()]
            })
            .collect();
        let text = text.join(" ");
        let fp = fingerprint(&text, &[]).expect("long enough");
        let seen = m.observe(&Observation {
            signature: fp.signature.iter().map(|v| *v as u32).collect(),
            bands: fp.bands,
            at: 100 + i as u64,
            recipients: vec![format!("r{i}")],
            sender: String::new(),
            ip: String::new(),
            threat: Vec::new(),
        });
        ids.insert(seen.summary.id);
        assert!(m.count() <= 50, "{}", m.count());
    }
    // Far more campaigns came than the bound keeps: the oldest made room.
    assert!(ids.len() > 200, "{} distinct campaigns", ids.len());
    assert!(m.count() >= 40);
}
