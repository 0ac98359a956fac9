//! Messages: the send API, the queue's storage and every state change a message goes through.

pub mod models;
pub mod patterns;
mod pg_insert;
pub mod queries;
pub mod routes;
pub mod text;
