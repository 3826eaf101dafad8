//! Integration tests of the vocabulary: every object and every extension module's body round-trips
//! through our own example documents (`tests/fixtures`), and one test per erratum of the checklist
//! (§17) that applies to parsing.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod errata;
mod extensions;
mod spec_examples;
