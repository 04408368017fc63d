//! The actix layer of the server: one file per actor, each with the messages it handles.

pub mod analysis;
pub mod auth;
pub mod library;
