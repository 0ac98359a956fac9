//! Integration tests: a real `relay-server` process, real HTTP on loopback, real storage.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod auth;
mod bulk;
mod cli;
mod demo;
mod errors;
mod messages;
mod openapi;
mod otp;
mod phone;
mod recipients;
mod shutdown;
mod tls;
