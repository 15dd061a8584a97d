//! End-to-end tests: a real server on port 0 with a temp data dir, driven through the official
//! `aws-sdk-kinesis` client and, for protocol edge cases, raw HTTP bytes.

mod cbor;
mod common;
mod control;
mod data;
mod fanout;
mod metrics;
mod persistence;
mod protocol;
mod reshard;
mod settings;
mod tags;
mod tls;
