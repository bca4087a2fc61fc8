//! The milter protocol as Postfix and sendmail speak it, without any I/O.
//!
//! This crate turns bytes into typed packets and back, in both directions, and keeps the
//! per-connection state a milter needs. It never touches a socket: the daemon (or a test,
//! or the load generator) reads bytes, hands them to [`frame::decode`], and writes whatever
//! the session answers.
//!
//! - [`Command`] is what the MTA sends, [`Reply`] what the milter answers; both can be
//!   parsed and encoded, so the milter side and the MTA side share one codec.
//! - [`negotiate`] picks the options Palisade asks Postfix for.
//! - [`Session`] follows one milter connection (many messages, aborts, repeated HELO) and
//!   collects the message to scan, capped at a configured size.
//! - [`client`] drives a milter exactly as Postfix does, for tests and `palisade bench`.
//!
//! Depends on no other Palisade crate, and must never depend on an async runtime or
//! anything that does I/O (tests/layout/check fails the build on tokio here).
//!
//! ```
//! use palisade_milter::{frame, Command};
//! let mut wire = Vec::new();
//! Command::Helo(b"mx.example.org".to_vec()).encode(&mut wire);
//! let (packet, used) = frame::decode(&wire).unwrap().unwrap();
//! assert_eq!(used, wire.len());
//! assert_eq!(Command::parse(packet.code, packet.data).unwrap(),
//!            Command::Helo(b"mx.example.org".to_vec()));
//! ```
#![forbid(unsafe_code)]

pub mod client;
mod command;
mod error;
pub mod flags;
pub mod frame;
pub mod macros;
pub mod negotiate;
pub mod reply;
pub mod session;
mod wire;

pub use command::{Command, Family};
pub use error::ProtocolError;
pub use flags::{Actions, Protocol, Stage};
pub use negotiate::{Negotiated, OptNeg};
pub use reply::Reply;
pub use session::{Envelope, Message, Session, SessionConfig, Step};
