//! One module per command. Each reads its arguments, does its work through the library
//! crates, and returns the exit code; none imports the dispatcher ([`crate::cli`]) or
//! another command.

pub mod assets;
pub mod audit;
pub mod bench;
pub mod campaign;
pub mod check;
pub mod config;
pub mod quarantine;
pub mod serve;
pub mod user;
