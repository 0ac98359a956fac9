//! The recipients directory: the people an account sends to, searchable by name or number.
//!
//! `search` folds names into search keys and reads what people type as numbers; `queries`
//! stores and ranks; `routes` the CRUD endpoints (opt-out is a PATCH); `import` reads and
//! writes CSV. Numbers are E.164, one recipient per number per account; an opted-out number
//! is refused by `POST /v1/messages` and bulk sends (OTP codes still go).

pub mod import;
pub mod models;
pub mod queries;
pub mod routes;
pub mod search;
