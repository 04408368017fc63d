//! The wire protocol of PROTOCOL.md: frames, messages, requests and error codes.
