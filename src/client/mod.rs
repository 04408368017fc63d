//! A typed async client of the Harmonic protocol.
