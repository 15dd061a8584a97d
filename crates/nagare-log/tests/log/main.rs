//! Integration tests of nagare-log (one test binary; scenarios in `tests/log/`).
#![expect(clippy::unwrap_used, clippy::indexing_slicing)]

mod basic;
mod common;
mod crash;
mod kill;
mod prop;
