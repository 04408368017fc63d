//! The actix layer of the server: one file per actor, each with the messages it handles.
