//! Criterion benchmark: authenticating a message with one RSA-2048 DKIM signature (SPF,
//! DKIM, ARC, DMARC, iprev) once every DNS answer is in Palisade's cache. The records
//! are served by a real unbound started here; the first run fills the cache.
#![allow(missing_docs, clippy::unwrap_used)]

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use palisade_auth::{AuthRequest, AuthResult, AuthSettings, Authenticator};
use palisade_e2e::dns::{DnsServer, Record};
use palisade_e2e::signing::{dkim_record, dkim_sign, key};

fn bench(c: &mut Criterion) {
    let county = key("county-s1.pkcs1.der").unwrap();
    let records = vec![
        Record::txt("county.test", "v=spf1 ip4:192.0.2.10 -all"),
        Record::txt("_dmarc.county.test", "v=DMARC1; p=reject"),
        dkim_record("county.test", "s1", &county),
        Record::ptr4("192.0.2.10", "mx.county.test"),
        Record::a("mx.county.test", "192.0.2.10"),
        Record::txt("mx.county.test", "v=spf1 a -all"),
    ];
    let mut dns = DnsServer::start(&["test", "in-addr.arpa"], &records).unwrap();
    let body = "The canvass board meets Monday at 9.\r\n".repeat(50);
    let raw = dkim_sign(
        &format!(
            "From: Clerk <clerk@county.test>\r\nTo: staff@county.test\r\nSubject: Canvass\r\nDate: Tue, 27 Oct 2026 10:00:00 -0400\r\nMessage-ID: <b1@county.test>\r\n\r\n{body}"
        ),
        "county.test",
        "s1",
        county,
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let auth = Authenticator::new(AuthSettings {
        nameservers: vec![dns.addr],
        timeout: Duration::from_secs(1),
        attempts: 1,
        cache_entries: 1000,
        deadline: Duration::from_secs(10),
        trusted_arc_sealers: Vec::new(),
        host_domain: "mx.palisade.test".into(),
        max_dkim_signatures: 5,
    })
    .unwrap();
    let req = AuthRequest {
        raw: raw.as_bytes(),
        client_ip: Some("192.0.2.10".parse().unwrap()),
        helo: "mx.county.test",
        mail_from: "clerk@county.test",
        from: &[],
        truncated: false,
    };
    let first = rt.block_on(auth.authenticate(req));
    assert_eq!(first.dkim, AuthResult::Pass);
    assert_eq!(first.dmarc, AuthResult::Pass);
    // From here on every answer must come from a cache (Palisade's for records, the
    // resolver's for negative answers): with the server gone, anything else would time
    // out and turn into temperror.
    dns.stop();
    c.bench_function("authenticate_cached_rsa2048", |b| {
        b.iter(|| rt.block_on(auth.authenticate(req)))
    });
    let last = rt.block_on(auth.authenticate(req));
    assert_eq!(
        (last.spf, last.dkim, last.dmarc),
        (AuthResult::Pass, AuthResult::Pass, AuthResult::Pass)
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
