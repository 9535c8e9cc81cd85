//! Fuzz target: `_core::fuzzing::request_head` (see rust/fuzzing.rs for the invariants).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    _core::fuzzing::request_head(data);
});
