#![allow(missing_docs)]
//! Criterion benchmarks for the content pipeline: parse, extract, normalise and match, on
//! a 2 KB plain message, a 20 KB HTML+text message and a 1 MB message with an attachment;
//! and on 10 MiB of adversarial text (repeated near-matches, overlapping hits, one long
//! line, deep HTML), which must stay linear. The messages are generated here, from our own
//! text.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use palisade_engine::{Engine, Input, Thresholds};

const PARAGRAPH: &str = "The county elections office will open early voting on Monday at 8 am. \
Poll workers should arrive thirty minutes before opening to set up the check-in tables, test \
the ballot-marking devices and post the required notices. Please bring your badge and the \
signed oath form. If you have questions about your assignment, call the warehouse or reply \
to this message. ";

fn plain(size: usize) -> Vec<u8> {
    let mut m = String::from(
        "From: Elections <office@county.example>\r\nTo: staff@county.example\r\n\
         Subject: Early voting logistics\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n",
    );
    while m.len() < size {
        m.push_str(PARAGRAPH);
        m.push_str("\r\n\r\n");
    }
    m.into_bytes()
}

fn html_and_text(size: usize) -> Vec<u8> {
    let mut text = String::new();
    let mut html = String::from("<html><head><style>p{margin:0}</style></head><body>");
    while text.len() + html.len() < size {
        text.push_str(PARAGRAPH);
        text.push_str("\r\n\r\n");
        html.push_str("<p style=\"color:#333\">");
        for (i, w) in PARAGRAPH.split(' ').enumerate() {
            if i % 7 == 0 {
                html.push_str(&format!("<b>{w}</b> "));
            } else {
                html.push_str(w);
                html.push(' ');
            }
        }
        html.push_str("&nbsp;&mdash;</p>\r\n");
    }
    html.push_str("</body></html>");
    format!(
        "From: Elections <office@county.example>\r\nSubject: Early voting\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n--alt\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n--alt\r\n\
         Content-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n--alt--\r\n"
    )
    .into_bytes()
}

fn with_attachment(size: usize) -> Vec<u8> {
    let mut b64 = String::new();
    let mut x: u32 = 12345;
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    while b64.len() < size {
        for _ in 0..76 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            b64.push(alphabet[(x >> 16) as usize % 64] as char);
        }
        b64.push_str("\r\n");
    }
    format!(
        "From: Elections <office@county.example>\r\nSubject: Precinct maps\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"mix\"\r\n\r\n--mix\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n--mix\r\n\
         Content-Type: application/pdf; name=maps.pdf\r\nContent-Transfer-Encoding: base64\r\n\
         Content-Disposition: attachment; filename=maps.pdf\r\n\r\n{b64}--mix--\r\n",
        PARAGRAPH
    )
    .into_bytes()
}

fn bench(c: &mut Criterion) {
    let engine = Engine::with_default_rules(Thresholds {
        tag: 5.0,
        quarantine: 10.0,
        reject: 0.0,
    })
    .expect("default rules compile");
    scans(
        c,
        "scan",
        &engine,
        None,
        vec![
            ("plain_2k", plain(2 * 1024)),
            ("html_text_20k", html_and_text(20 * 1024)),
            ("attachment_1m", with_attachment(1024 * 1024)),
            ("plain_1m", plain(1024 * 1024)),
        ],
    );
    // What the learned model costs: the same messages with the rules alone.
    let rules_only = engine.clone().with_model(None);
    scans(
        c,
        "rules_only",
        &rules_only,
        None,
        vec![
            ("plain_2k", plain(2 * 1024)),
            ("plain_1m", plain(1024 * 1024)),
        ],
    );

    // The stages on their own, for finding where time goes.
    let text = String::from_utf8(plain(1024 * 1024)).expect("utf-8");
    let mut stages = c.benchmark_group("stage_1m");
    stages.throughput(Throughput::Bytes(text.len() as u64));
    stages.bench_function("extract", |b| {
        b.iter(|| palisade_engine::extract::extract(text.as_bytes(), &Default::default()))
    });
    stages.bench_function("normalize", |b| {
        b.iter(|| palisade_engine::normalize::normalize(&text))
    });
    let rules = engine.rules();
    let norm = palisade_engine::normalize::normalize_with(&text, rules.vocabulary());
    let words = palisade_engine::rules::Words::of(&norm);
    stages.bench_function("lexicon_hits", |b| {
        b.iter(|| rules.class_hits(&norm, &words))
    });
    let hits = rules.class_hits(&norm, &words);
    stages.bench_function("frames", |b| {
        b.iter(|| palisade_engine::frames::match_frames(rules, &hits, &words, &norm.text))
    });
    if let Some(m) = engine.model() {
        stages.bench_function("model", |b| {
            let view = palisade_engine::model::TextView {
                rules,
                original: &text,
                norm: &norm,
                words: &words,
                hits: &hits,
            };
            b.iter(|| m.read_text(view))
        });
    }
    stages.finish();

    // Campaign fingerprints: the cost the daemon adds per message with campaigns on.
    let mut campaign = c.benchmark_group("campaign");
    let template = "Maria Lopez, we are in possession of all your information: your email, \
        your address 12 Oak Street, your telephone 555-0100, everything. You are currently \
        registered as a Democrat. We know this because we have gained access to the entire \
        voting infrastructure. You will vote for our candidate on Election Day or we will \
        come after you. Change your party affiliation to let us know you received our \
        message and will comply. We will know which candidate you voted for. I would take \
        this seriously if I were you. Good luck Maria.";
    let personal = palisade_engine::campaign::personal_words(
        &["maria.lopez@county.example".to_string()],
        "\"Maria Lopez\" <maria.lopez@county.example>",
    );
    campaign.bench_function("fingerprint_template_85w", |b| {
        b.iter(|| palisade_engine::campaign::fingerprint(template, &personal))
    });
    let page = String::from_utf8(plain(2 * 1024)).expect("utf-8");
    campaign.bench_function("fingerprint_plain_2k", |b| {
        b.iter(|| palisade_engine::campaign::fingerprint(&page, &personal))
    });
    let msg = plain(2 * 1024);
    campaign.bench_function("scan_plain_2k", |b| {
        b.iter(|| engine.scan(&Input::new(&msg)))
    });
    campaign.bench_function("scan_with_fingerprint_plain_2k", |b| {
        b.iter(|| engine.scan_with_fingerprint(&Input::new(&msg)))
    });
    campaign.finish();

    scans(
        c,
        "adversarial_10m",
        &engine,
        Some(10),
        adversarial(10 << 20),
    );
    // The same adversarial messages with the rules alone: what the model adds there.
    scans(
        c,
        "adversarial_10m_rules_only",
        &rules_only,
        Some(10),
        adversarial(10 << 20),
    );
}

/// One benchmark group: `engine` scanning each message, with its throughput.
fn scans(
    c: &mut Criterion,
    group: &str,
    engine: &Engine,
    samples: Option<usize>,
    messages: Vec<(&'static str, Vec<u8>)>,
) {
    let mut g = c.benchmark_group(group);
    if let Some(n) = samples {
        g.sample_size(n);
    }
    for (name, msg) in messages {
        g.throughput(Throughput::Bytes(msg.len() as u64));
        g.bench_with_input(BenchmarkId::from_parameter(name), &msg, |b, msg| {
            b.iter(|| engine.scan(&Input::new(msg)))
        });
    }
    g.finish();
}

/// Messages of about `size` bytes built to make a matcher work hard.
fn adversarial(size: usize) -> Vec<(&'static str, Vec<u8>)> {
    let head =
        "From: x <x@example.net>\r\nSubject: s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n";
    let fill = |unit: &str, newline_every: usize| {
        let mut m = String::from(head);
        let mut n = 0;
        while m.len() < size {
            m.push_str(unit);
            n += 1;
            if newline_every > 0 && n % newline_every == 0 {
                m.push_str("\r\n");
            }
        }
        m.into_bytes()
    };
    let html = {
        let mut m = String::from(
            "From: x <x@example.net>\r\nSubject: s\r\nContent-Type: text/html; charset=utf-8\r\n\r\n",
        );
        let unit = "<div><span>we will</span> <b>find</b> ";
        while m.len() < size {
            m.push_str(unit);
        }
        m.into_bytes()
    };
    vec![
        // A frame start over and over with its end never coming.
        ("near_matches", fill("we will come after ", 20)),
        // Words that fill several lexicons at once, so every word is a hit.
        (
            "overlapping_hits",
            fill("you will be killed you are dead ", 10),
        ),
        // One line of ten megabytes.
        ("long_line", fill("te grabe voy a matar a ", 0)),
        // Spanish and disguises: leet, stretched letters, confusables.
        (
            "disguised",
            fill("k1ll yoooou \u{0455}h\u{043E}\u{043E}t ", 12),
        ),
        // Every slot of the threat frames present, in the wrong order, so that every
        // pattern stays alive and no match ever completes.
        (
            "scrambled_slots",
            fill("you kill will we the school bomb there is ", 15),
        ),
        // HTML nested without end.
        ("deep_html", html),
    ]
}

criterion_group!(benches, bench);
criterion_main!(benches);
