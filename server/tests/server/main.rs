//! Integration tests: a real `relay-server` process, real HTTP on loopback, real storage.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod auth;
mod browser;
mod bulk;
mod cli;
mod console;
mod demo;
mod errors;
mod frames;
mod group_commit;
mod isolation;
mod messages;
mod metrics;
mod openapi;
mod otp;
mod phone;
mod portal;
mod recipients;
mod schemathesis;
mod shutdown;
mod snippets;
mod statistics;
mod sweeps;
mod tls;
mod totals;
mod webhooks;
