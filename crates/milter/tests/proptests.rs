//! Property tests: every command and reply survives encode -> decode, and no sequence of
#![allow(clippy::unwrap_used)]
//! bytes from a peer can make the decoder or the session panic.

use palisade_milter::negotiate::OptNeg;
use palisade_milter::{frame, Actions, Command, Family, Protocol, Reply, Session, SessionConfig};
use proptest::prelude::*;

/// Protocol strings are NUL-terminated, so they cannot hold a NUL.
fn cstring() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(1u8..=255, 0..40)
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..300)
}

fn optneg() -> impl Strategy<Value = OptNeg> {
    (any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(v, a, p)| OptNeg {
        version: v,
        actions: Actions(a),
        protocol: Protocol(p),
    })
}

fn command() -> impl Strategy<Value = Command> {
    let family = prop_oneof![Just(Family::Unix), Just(Family::Inet), Just(Family::Inet6)];
    prop_oneof![
        optneg().prop_map(Command::OptNeg),
        (
            any::<u8>(),
            prop::collection::vec((cstring(), cstring()), 0..5)
        )
            .prop_map(|(stage, pairs)| Command::Macro { stage, pairs }),
        (cstring(), family, any::<u16>(), cstring()).prop_map(|(h, f, p, a)| {
            Command::Connect {
                hostname: h,
                family: f,
                port: p,
                address: a,
            }
        }),
        cstring().prop_map(|h| Command::Connect {
            hostname: h,
            family: Family::Unknown,
            port: 0,
            address: Vec::new()
        }),
        cstring().prop_map(Command::Helo),
        prop::collection::vec(cstring(), 0..4).prop_map(Command::Mail),
        prop::collection::vec(cstring(), 0..4).prop_map(Command::Rcpt),
        Just(Command::Data),
        (cstring(), cstring()).prop_map(|(name, value)| Command::Header { name, value }),
        Just(Command::EndOfHeaders),
        bytes().prop_map(Command::Body),
        bytes().prop_map(Command::EndOfMessage),
        cstring().prop_map(Command::Unknown),
        Just(Command::Abort),
        Just(Command::Quit),
        Just(Command::QuitNewConnection),
    ]
}

fn reply() -> impl Strategy<Value = Reply> {
    prop_oneof![
        (
            optneg(),
            prop::collection::vec((any::<u32>(), cstring()), 0..7)
        )
            .prop_map(|(options, macros)| Reply::OptNeg { options, macros }),
        Just(Reply::Continue),
        Just(Reply::Accept),
        Just(Reply::Reject),
        Just(Reply::Tempfail),
        Just(Reply::Discard),
        Just(Reply::Skip),
        Just(Reply::Progress),
        cstring().prop_map(Reply::ReplyCode),
        cstring().prop_map(Reply::Quarantine),
        (cstring(), cstring()).prop_map(|(name, value)| Reply::AddHeader { name, value }),
        (any::<u32>(), cstring(), cstring()).prop_map(|(index, name, value)| Reply::InsertHeader {
            index,
            name,
            value
        }),
        (any::<u32>(), cstring(), cstring()).prop_map(|(index, name, value)| Reply::ChangeHeader {
            index,
            name,
            value
        }),
        cstring().prop_map(Reply::AddRcpt),
        cstring().prop_map(Reply::DeleteRcpt),
        (cstring(), cstring()).prop_map(|(address, args)| Reply::AddRcptParams { address, args }),
        (cstring(), prop::option::of(cstring()))
            .prop_map(|(address, args)| Reply::ChangeFrom { address, args }),
        bytes().prop_map(Reply::ReplaceBody),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn commands_roundtrip(cmds in prop::collection::vec(command(), 1..8)) {
        let mut wire = Vec::new();
        for c in &cmds {
            c.encode(&mut wire);
        }
        let mut rest = &wire[..];
        for c in &cmds {
            let (p, used) = frame::decode(rest).unwrap().unwrap();
            prop_assert_eq!(&Command::parse(p.code, p.data).unwrap(), c);
            rest = &rest[used..];
        }
        prop_assert!(rest.is_empty());
    }

    #[test]
    fn replies_roundtrip(r in reply()) {
        let mut wire = Vec::new();
        r.encode(&mut wire);
        let (p, used) = frame::decode(&wire).unwrap().unwrap();
        prop_assert_eq!(used, wire.len());
        prop_assert_eq!(Reply::parse(p.code, p.data).unwrap(), r);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..2000)) {
        let mut session = Session::new(SessionConfig { max_message_size: 512, ..SessionConfig::default() });
        let mut rest = &data[..];
        while let Ok(Some((p, used))) = frame::decode(rest) {
            let _ = Reply::parse(p.code, p.data);
            if let Ok(cmd) = Command::parse(p.code, p.data) {
                if session.handle(cmd).is_err() {
                    break;
                }
            }
            rest = &rest[used..];
        }
    }

    #[test]
    fn valid_frames_with_random_commands_never_panic(
        cmds in prop::collection::vec(command(), 0..40),
        cap in 0usize..400,
    ) {
        let mut session = Session::new(SessionConfig { max_message_size: cap, ..SessionConfig::default() });
        let offer = palisade_milter::client::postfix_offer();
        session.handle(Command::OptNeg(offer)).unwrap();
        for c in cmds {
            // Postfix waits for no reply to these (SMFIP_NR_*, SMFIP_NR_BODY included):
            // one would be read as the answer to the next event that waits, and put
            // every later reply out of step.
            let unanswered = matches!(
                c,
                Command::Helo(_)
                    | Command::Mail(_)
                    | Command::Rcpt(_)
                    | Command::Data
                    | Command::Header { .. }
                    | Command::EndOfHeaders
                    | Command::Body(_)
                    | Command::Unknown(_)
            );
            let Ok(step) = session.handle(c) else {
                break;
            };
            if unanswered {
                prop_assert!(!matches!(step, palisade_milter::session::Step::Reply(_)));
            }
            let _ = session.take_message().map(|m| assert!(m.raw.len() <= cap));
        }
    }
}
