//! Campaign fingerprints on real political campaign mail (../shared/corpora/campaign-2020,
//! 2020 party and candidate mail by state): how much of it the fingerprints group, and
//! whether groups cross senders. Not run by default (the corpus lives outside the
//! repository); run with
//! `cargo test -p palisade-engine --test campaign_corpus -- --ignored --nocapture`.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use palisade_engine::campaign::{fingerprint, Fingerprint, SAME_TEMPLATE};

fn find(parent: &mut [usize], i: usize) -> usize {
    let mut r = i;
    while parent[r] != r {
        r = parent[r];
    }
    let mut j = i;
    while parent[j] != r {
        let next = parent[j];
        parent[j] = r;
        j = next;
    }
    r
}

#[test]
#[ignore]
fn campaign_2020_mail_is_grouped_only_within_a_sender() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora/campaign-2020");
    let mut messages: Vec<(String, String)> = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .collect();
    files.sort_by_key(|e| e.path());
    for f in files {
        let state = f.path().file_stem().unwrap().to_string_lossy().into_owned();
        let mut reader = csv::Reader::from_path(f.path()).unwrap();
        for rec in reader.records() {
            let rec = rec.unwrap();
            messages.push((state.clone(), rec.get(0).unwrap_or("").to_string()));
        }
    }
    let started = std::time::Instant::now();
    let prints: Vec<Option<Fingerprint>> = messages
        .iter()
        .map(|(_, text)| fingerprint(text, &[]))
        .collect();
    let per_message = started.elapsed().as_secs_f64() * 1e6 / messages.len() as f64;
    let mut parent: Vec<usize> = (0..messages.len()).collect();
    let mut buckets: std::collections::HashMap<(usize, u64), Vec<usize>> = Default::default();
    for (i, p) in prints.iter().enumerate() {
        if let Some(p) = p {
            for (b, key) in p.bands.iter().enumerate() {
                buckets.entry((b, *key)).or_default().push(i);
            }
        }
    }
    let mut cross_state = 0usize;
    for members in buckets.values() {
        for w in members.windows(2) {
            let (a, b) = (w[0], w[1]);
            let (pa, pb) = (prints[a].as_ref().unwrap(), prints[b].as_ref().unwrap());
            if pa.similarity(pb) >= SAME_TEMPLATE {
                if messages[a].0 != messages[b].0 {
                    cross_state += 1;
                }
                let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
                parent[ra] = rb;
            }
        }
    }
    let mut sizes: std::collections::HashMap<usize, usize> = Default::default();
    for (i, p) in prints.iter().enumerate() {
        if p.is_some() {
            *sizes.entry(find(&mut parent, i)).or_default() += 1;
        }
    }
    let fingerprinted = prints.iter().filter(|p| p.is_some()).count();
    let grouped: usize = sizes.values().filter(|s| **s > 1).sum();
    let largest = sizes.values().max().copied().unwrap_or(0);
    println!(
        "campaign-2020: {} messages, {fingerprinted} fingerprinted, {grouped} in {} groups of 2+, largest {largest}, cross-state links {cross_state}, {per_message:.0} us per message (debug build)",
        messages.len(),
        sizes.values().filter(|s| **s > 1).count()
    );
    assert!(fingerprinted > messages.len() / 2);
}
