//! API keys: several per account, stored only as a hash plus a visible prefix, revocable.

pub mod last_used;
pub mod models;
pub mod queries;
pub mod routes;
pub mod secret;

pub use models::{ApiKey, CreatedKey};
