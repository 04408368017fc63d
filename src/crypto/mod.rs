//! The handshake and the encrypted channel of PROTOCOL.md §2 and §3.
