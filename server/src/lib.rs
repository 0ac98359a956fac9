//! The Relay server: HTTP API, storage and (as the product grows) the device hub and queue.
//!
//! One module per resource, each holding its models, queries and routes side by side
//! (`accounts`, `keys`, `devices`); the HTTP edge lives in `http`, the one error type in `error`.

pub mod accounts;
pub mod auth;
pub mod batches;
pub mod cli;
pub mod cluster;
pub mod console;
pub mod db;
pub mod demo;
pub mod devices;
pub mod error;
pub mod health;
pub mod http;
pub mod ids;
pub mod keys;
pub mod link;
pub mod messages;
pub mod metrics;
pub mod otp;
pub mod plans;
pub mod portal;
pub mod queue;
pub mod ratelimit;
pub mod recipients;
pub mod secrets;
pub mod serve;
pub mod state;
pub mod time;
pub mod tls;
pub mod webhooks;
