//! A guard for calls that hand automerge bytes from outside.
//!
//! automerge 0.12 panics on some malformed changes instead of returning an error: applying a
//! change whose operations name an actor it never declares ends in an `unwrap` on the actor
//! lookup (found by the `change` fuzz target, `fuzz/README.md`; the regression test is
//! `tests/tests/fuzz_regressions.rs`). Every place that applies or loads bytes someone else
//! made (changes pulled from a server or a bundle, snapshots, the server's snapshot builder)
//! runs the call through [`guarded`], so such input becomes an ordinary "cannot be read"
//! error, and the caller drops the document the panic may have left half-changed.

use std::panic::{AssertUnwindSafe, catch_unwind};

/// Runs `f`; a panic inside it comes back as `Err` with its message.
pub fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown failure".to_owned());
        format!("automerge could not read it ({message})")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_error() {
        assert_eq!(guarded(|| 2 + 2), Ok(4));
        let err = guarded(|| -> u8 { panic!("boom") }).expect_err("a panic");
        assert!(err.contains("boom"), "{err}");
    }
}
