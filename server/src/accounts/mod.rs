//! Accounts: who a customer is, their subscription and plan limits.

pub mod models;
pub mod queries;
pub mod routes;

pub use models::{Account, AccountStatus};
