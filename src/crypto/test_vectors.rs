//! Loading `../shared/test-vectors.json` (PROTOCOL.md's independent vectors) for the tests.

/// Where the vectors live beside the repository (`shared/` next to the checkout).
const DEFAULT_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/test-vectors.json");

/// Overrides [`DEFAULT_PATH`], for checkouts that have no `../shared` (git worktrees).
const PATH_VARIABLE: &str = "HARMONIC_TEST_VECTORS";

/// The vectors, or `None` (with a message on stderr) where the file is absent.
pub(crate) fn load_vectors() -> Option<serde_json::Value> {
    let path = std::env::var(PATH_VARIABLE).unwrap_or_else(|_| DEFAULT_PATH.to_owned());
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(serde_json::from_str(&text).expect("test-vectors.json is valid JSON")),
        Err(_) => {
            eprintln!(
                "skipping: ../shared/test-vectors.json not found (looked at {path}; \
                 set {PATH_VARIABLE} to point elsewhere)"
            );
            None
        }
    }
}

/// The bytes of the hex string field `name`.
pub(crate) fn vector_bytes(vectors: &serde_json::Value, name: &str) -> Vec<u8> {
    let text = vectors[name]
        .as_str()
        .unwrap_or_else(|| panic!("test vector {name} missing"));
    hex::decode(text).expect("test vectors are hex")
}
