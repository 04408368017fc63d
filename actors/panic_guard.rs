//! A panic on a `SyncArbiter` thread ends that thread's actor for good: an
//! analysis worker lost shrinks the pool, and the library's one thread lost
//! stops every login and every request that touches the disk. Nothing in
//! them is meant to panic, but their dependencies have (the resampler's
//! FFT on input the fuzzers made up, say), so both run each message under
//! [`without_panics`]: the panic becomes an `internal` answer, its message
//! goes to the log, and the thread keeps serving.

use crate::protocol::{ErrorCode, WireError};

/// Runs `work`; a panic becomes an `internal` error (logged under `target`
/// with `origin`, the panic's own message never sent to the client).
pub fn without_panics<T>(
    target: &str,
    origin: &impl std::fmt::Display,
    work: impl FnOnce() -> Result<T, WireError>,
) -> Result<T, WireError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".into());
        log::error!(target: target, "{origin}: panicked: {what}");
        Err(WireError::new(
            ErrorCode::Internal,
            "internal server error: the request failed unexpectedly",
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_an_internal_error_and_its_message_stays_in_the_log() {
        let result: Result<(), WireError> =
            without_panics("analysis", &"session 1 (127.0.0.1:1)", || panic!("boom"));
        let err = result.unwrap_err();
        assert_eq!(err.code, ErrorCode::Internal);
        assert!(!err.message.contains("boom"), "internals stay in the log");
        assert_eq!(without_panics("analysis", &"s", || Ok(7)).ok(), Some(7));
    }
}
