//! A milter session fed the event sequences Postfix really sends.
#![allow(clippy::unwrap_used)]

use palisade_milter::client::{self, Connection, Envelope, Exchange, Outcome, Progress};
use palisade_milter::session::Step;
use palisade_milter::{frame, Command, Reply, Session, SessionConfig};

/// Runs an exchange against a session in memory, the way the daemon wires it, answering
/// CONNECT with `continue` and EOM with `accept`.
fn run(session: &mut Session, ex: &mut Exchange) -> Option<Outcome> {
    loop {
        let mut out = Vec::new();
        if !ex.next_batch(&mut out) {
            feed(session, &out);
            return None;
        }
        let replies = feed(session, &out);
        for r in replies {
            match ex.on_reply(r).unwrap() {
                Progress::Continue | Progress::Read => {}
                Progress::Done(o) => return Some(o),
            }
        }
    }
}

fn feed(session: &mut Session, mut wire: &[u8]) -> Vec<Reply> {
    let mut replies = Vec::new();
    while let Some((p, used)) = frame::decode(wire).unwrap() {
        wire = &wire[used..];
        match session
            .handle(Command::parse(p.code, p.data).unwrap())
            .unwrap()
        {
            Step::Nothing | Step::Close => {}
            Step::Reply(r) => replies.push(r),
            Step::Connect { reply: true } => replies.push(Reply::Continue),
            Step::Connect { reply: false } => {}
            Step::EndOfMessage => {
                let m = session.take_message().unwrap();
                replies.push(Reply::AddHeader {
                    name: b"X-Size".to_vec(),
                    value: session.header_value(&m.raw.len().to_string()),
                });
                replies.push(Reply::Accept);
            }
        }
    }
    replies
}

fn negotiated(session: &mut Session) -> palisade_milter::Negotiated {
    negotiated_with(session, client::postfix_offer())
}

fn negotiated_with(
    session: &mut Session,
    offer: palisade_milter::negotiate::OptNeg,
) -> palisade_milter::Negotiated {
    let replies = feed(session, &{
        let mut w = Vec::new();
        Command::OptNeg(offer).encode(&mut w);
        w
    });
    client::accept_negotiation(&offer, &replies[0]).unwrap()
}

fn envelope(n: usize) -> Envelope {
    Envelope {
        mail_from: format!("sender{n}@example.org"),
        rcpt_to: vec![
            "clerk@county.example".into(),
            "deputy@county.example".into(),
        ],
        queue_id: format!("QID{n}"),
        auth_user: None,
    }
}

#[test]
fn many_messages_on_one_connection_with_aborts() {
    let mut s = Session::new(SessionConfig::default());
    let n = negotiated(&mut s);
    let mut ex = Exchange::new(n, client::connection_commands(&Connection::default()));
    assert_eq!(run(&mut s, &mut ex), None);
    for i in 0..5 {
        let raw = format!("Subject: message {i}\r\nFrom: a@example.org\r\n\r\nbody {i}\r\n");
        let parsed = client::parse_message(raw.as_bytes());
        let mut ex = Exchange::new(n, client::message_commands(&envelope(i), &parsed, &n));
        let outcome = run(&mut s, &mut ex).unwrap();
        assert_eq!(outcome.reply, Reply::Accept);
        assert_eq!(outcome.answered, "EOM");
        let expected = raw.len().to_string();
        assert_eq!(
            outcome.modifications,
            vec![Reply::AddHeader {
                name: b"X-Size".to_vec(),
                value: format!(" {expected}").into_bytes()
            }]
        );
        // Postfix sends ABORT after every message, accepted ones too; twice at QUIT.
        feed(&mut s, &encode(&[Command::Abort]));
    }
    feed(&mut s, &encode(&[Command::Abort, Command::Abort]));
    assert_eq!(s.messages(), 5);
}

fn encode(cmds: &[Command]) -> Vec<u8> {
    let mut w = Vec::new();
    for c in cmds {
        c.encode(&mut w);
    }
    w
}

#[test]
fn envelope_and_macros_reach_the_message() {
    let mut s = Session::new(SessionConfig::default());
    let n = negotiated(&mut s);
    let mut ex = Exchange::new(n, client::connection_commands(&Connection::default()));
    run(&mut s, &mut ex);
    let mut env = envelope(7);
    env.auth_user = Some("alice".into());
    let parsed = client::parse_message(b"Subject: x\n\nhello\n");
    let mut cmds = client::message_commands(&env, &parsed, &n);
    let eom = cmds.pop().unwrap();
    feed(&mut s, &encode(&cmds));
    assert_eq!(s.envelope().mail_from, "sender7@example.org");
    let Step::EndOfMessage = s.handle(eom).unwrap() else {
        panic!("EOM did not end the message")
    };
    let m = s.take_message().unwrap();
    assert_eq!(m.envelope.queue_id.as_deref(), Some("QID7"));
    assert_eq!(m.envelope.auth_user.as_deref(), Some("alice"));
    assert_eq!(m.envelope.mta_name.as_deref(), Some("mx.palisade.test"));
    assert_eq!(m.envelope.client_addr, "127.0.0.1");
    assert_eq!(m.envelope.helo, "client.example.org");
    assert_eq!(
        m.envelope.rcpt_to,
        vec!["clerk@county.example", "deputy@county.example"]
    );
    assert_eq!(m.raw, b"Subject: x\r\n\r\nhello\r\n".to_vec());
    assert_eq!(m.headers, vec![("Subject".to_string(), b"x".to_vec())]);
    assert!(s.take_message().is_none());
}

#[test]
fn abort_mid_message_forgets_it_and_a_second_helo_replaces_the_first() {
    let mut s = Session::new(SessionConfig::default());
    let n = negotiated(&mut s);
    let mut ex = Exchange::new(n, client::connection_commands(&Connection::default()));
    run(&mut s, &mut ex);
    let parsed = client::parse_message(b"Subject: first\n\nfirst body\n");
    let mut cmds = client::message_commands(&envelope(1), &parsed, &n);
    cmds.truncate(cmds.len() - 4);
    feed(&mut s, &encode(&cmds));
    assert!(s.in_message());
    feed(
        &mut s,
        &encode(&[Command::Abort, Command::Helo(b"after-starttls".to_vec())]),
    );
    assert!(!s.in_message());
    let parsed = client::parse_message(b"Subject: second\n\nsecond\n");
    let mut cmds = client::message_commands(&envelope(2), &parsed, &n);
    let eom = cmds.pop().unwrap();
    feed(&mut s, &encode(&cmds));
    s.handle(eom).unwrap();
    let m = s.take_message().unwrap();
    assert_eq!(m.raw, b"Subject: second\r\n\r\nsecond\r\n".to_vec());
    assert_eq!(m.envelope.helo, "after-starttls");
    assert_eq!(m.envelope.mail_from, "sender2@example.org");
}

#[test]
fn a_new_mail_right_after_eom_starts_a_fresh_message() {
    let mut s = Session::new(SessionConfig::default());
    let n = negotiated(&mut s);
    for i in 0..3 {
        let parsed = client::parse_message(format!("Subject: {i}\n\nb\n").as_bytes());
        let mut cmds = client::message_commands(&envelope(i), &parsed, &n);
        let eom = cmds.pop().unwrap();
        feed(&mut s, &encode(&cmds));
        s.handle(eom).unwrap();
        let m = s.take_message().unwrap();
        assert_eq!(m.headers.len(), 1);
        assert_eq!(m.envelope.rcpt_to.len(), 2);
    }
}

/// Sends one message far over the cap and returns how many body chunks it had, how many
/// went out, how many bytes the session kept (its X-Size reply), and every reply.
fn send_oversized(
    offer: palisade_milter::negotiate::OptNeg,
) -> (usize, usize, usize, Vec<&'static str>) {
    let mut s = Session::new(SessionConfig {
        max_message_size: 1000,
        watched_headers: vec!["x-spam-status".into()],
        ..SessionConfig::default()
    });
    let n = negotiated_with(&mut s, offer);
    let mut raw = b"Subject: big\n".to_vec();
    raw.extend_from_slice(format!("X-Filler: {}\n", "f".repeat(2000)).as_bytes());
    raw.extend_from_slice(b"X-Spam-Status: Yes, forged\n\n");
    raw.extend_from_slice(&b"line of body text\n".repeat(10_000));
    let parsed = client::parse_message(&raw);
    let cmds = client::message_commands(&envelope(1), &parsed, &n);
    let body_chunks = cmds
        .iter()
        .filter(|c| matches!(c, Command::Body(_)))
        .count();
    assert!(body_chunks > 2);
    let mut ex = Exchange::new(n, cmds);
    let mut sent_bodies = 0;
    let mut kept = None;
    let mut all = Vec::new();
    let mut done = false;
    while !done {
        let mut out = Vec::new();
        let waiting = ex.next_batch(&mut out);
        let mut rest = &out[..];
        while let Some((p, used)) = frame::decode(rest).unwrap() {
            sent_bodies += usize::from(p.code == b'B');
            rest = &rest[used..];
        }
        let replies = feed(&mut s, &out);
        all.extend(replies.iter().map(Reply::name));
        for r in &replies {
            if let Reply::AddHeader { value, .. } = r {
                kept = Some(
                    String::from_utf8_lossy(value)
                        .trim()
                        .parse::<usize>()
                        .unwrap(),
                );
            }
        }
        done = !waiting
            || replies
                .iter()
                .any(|r| matches!(ex.on_reply(r.clone()).unwrap(), Progress::Done(_)));
    }
    (body_chunks, sent_bodies, kept.unwrap(), all)
}

#[test]
fn oversized_message_is_capped_and_the_rest_skipped_or_streamed() {
    // An MTA that waits for a reply to each body chunk: the first chunk already
    // overflows the cap, and SKIP stops the rest.
    let (_, sent, kept, replies) = send_oversized(client::offer_waiting_for_body());
    assert_eq!(sent, 1);
    assert!(kept <= 1000, "{kept}");
    assert_eq!(replies, ["skip", "add_header", "accept"]);
    // Postfix offers no reply to body chunks, which Palisade takes: the body streams
    // without a round trip per chunk, and what is kept is capped the same way.
    let (chunks, sent, kept, replies) = send_oversized(client::postfix_offer());
    assert_eq!(sent, chunks);
    assert!(kept <= 1000, "{kept}");
    // Not one reply to a body chunk: a stray one would be taken for the answer to end
    // of message and put every later reply out of step.
    assert_eq!(replies, ["add_header", "accept"]);
}

#[test]
fn cap_marks_truncation_and_never_exceeds() {
    let mut s = Session::new(SessionConfig {
        max_message_size: 100,
        watched_headers: vec!["x-spam-status".into()],
        ..SessionConfig::default()
    });
    let n = negotiated(&mut s);
    let raw = format!(
        "Subject: big\nX-Filler: {}\nX-Spam-Status: Yes\n\nbody\n",
        "f".repeat(200)
    );
    let parsed = client::parse_message(raw.as_bytes());
    let mut cmds = client::message_commands(&envelope(1), &parsed, &n);
    let eom = cmds.pop().unwrap();
    feed(&mut s, &encode(&cmds));
    s.handle(eom).unwrap();
    let m = s.take_message().unwrap();
    assert!(m.truncated);
    assert!(m.raw.len() <= 100);
    assert_eq!(m.size as usize, raw.len() + 3);
    let names: Vec<&str> = m.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, vec!["Subject", "X-Spam-Status"]);
}

#[test]
fn commands_before_negotiation_are_refused() {
    let mut s = Session::new(SessionConfig::default());
    assert!(s.handle(Command::Helo(b"x".to_vec())).is_err());
    let mut s = Session::new(SessionConfig::default());
    negotiated(&mut s);
    assert!(s.handle(Command::OptNeg(client::postfix_offer())).is_err());
}
