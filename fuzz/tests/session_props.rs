//! Property tests over whole negotiated sessions, as the daemon runs them: option
//! negotiation, a connection, then messages with arbitrary headers (our own among them,
//! folded, empty, huge in number), arbitrary bodies in arbitrary chunks, aborts in
//! between, and limits small and large. Every message that reaches end of message gets
//! exactly one final reply, deletions stay under the cap, and nothing panics.
#![allow(clippy::unwrap_used)]

use palisade_milter::client::{self, Connection, Envelope};
use palisade_milter::{Command, Session, SessionConfig};
use palisade_server::actions::MAX_HEADER_DELETIONS;
use proptest::prelude::*;

fn header_name() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"From".to_vec()),
        Just(b"Subject".to_vec()),
        Just(b"Authentication-Results".to_vec()),
        Just(b"X-Palisade-Result".to_vec()),
        Just(b"X-Spam-Flag".to_vec()),
        Just(b"DKIM-Signature".to_vec()),
        Just(b"Content-Type".to_vec()),
        "[A-Za-z-]{1,20}".prop_map(|s| s.into_bytes()),
    ]
}

fn header_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b" mx.fuzz.test; dmarc=pass".to_vec()),
        Just(b" (c) mx.fuzz.test; spf=pass".to_vec()),
        Just(b" Clerk <clerk@county.example>".to_vec()),
        Just(b" a@x.test, b@y.test".to_vec()),
        Just(b" text/html; charset=utf-8".to_vec()),
        Just(b" multipart/mixed; boundary=b".to_vec()),
        prop::collection::vec(1u8..=255, 0..80),
    ]
}

#[derive(Debug, Clone)]
struct Msg {
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    body: Vec<u8>,
    abort_after: Option<usize>,
}

fn message() -> impl Strategy<Value = Msg> {
    (
        prop::collection::vec((header_name(), header_value()), 0..40),
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..3000),
            Just(b"<p>we <b>will</b> find you</p><a title=\"\xc3\xa9".to_vec()),
            Just(b"--b\r\nContent-Type: text/plain\r\n\r\nwe will kill you\r\n--b--\r\n".to_vec()),
        ],
        prop::option::weighted(0.2, 0usize..20),
    )
        .prop_map(|(headers, body, abort_after)| Msg {
            headers,
            body,
            abort_after,
        })
}

fn session_stream(msgs: &[Msg]) -> (Vec<u8>, usize) {
    let offer = client::postfix_offer();
    let mut s = Session::new(SessionConfig::default());
    let mut out = Vec::new();
    Command::OptNeg(offer).encode(&mut out);
    let _ = s.handle(Command::OptNeg(offer));
    let negotiated = *s.negotiated().unwrap();
    let conn = Connection {
        address: "192.0.2.10".into(),
        hostname: "client.example".into(),
        helo: "client.example".into(),
        ..Connection::default()
    };
    for c in client::connection_commands(&conn) {
        c.encode(&mut out);
    }
    let mut complete = 0;
    for (i, m) in msgs.iter().enumerate() {
        let env = Envelope {
            mail_from: format!("s{i}@example.org"),
            rcpt_to: vec!["clerk@county.example".into()],
            queue_id: format!("Q{i}"),
            auth_user: None,
        };
        let parsed = client::ParsedMessage {
            headers: m.headers.clone(),
            body: m.body.clone(),
        };
        let mut cmds = client::message_commands(&env, &parsed, &negotiated);
        if let Some(n) = m.abort_after.filter(|n| *n < cmds.len().saturating_sub(1)) {
            cmds.truncate(n);
            cmds.push(Command::Abort);
        } else {
            complete += 1;
        }
        for c in cmds {
            c.encode(&mut out);
        }
    }
    Command::Quit.encode(&mut out);
    (out, complete)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_message_of_a_negotiated_session_gets_one_final_reply(
        msgs in prop::collection::vec(message(), 1..5),
        knobs in 0u8..4,
    ) {
        let (stream, complete) = session_stream(&msgs);
        let outcome = palisade_fuzz::drive_session(knobs, &stream);
        prop_assert_eq!(outcome.messages, complete);
        prop_assert_eq!(outcome.finals, complete);
        prop_assert!(outcome.deletions <= complete * (MAX_HEADER_DELETIONS * 7));
    }
}
