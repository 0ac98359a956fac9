//! Bulk sends: one request, many numbers, each its own message in the bulk lane.
//!
//! `routes` checks and renders every recipient outside the database writer (on all cores),
//! then queues the whole batch in one writer job: a few multi-row INSERTs in one transaction
//! (`queries`). `template` fills `{{name}}` and `{{var}}`. A batch's progress is counted from
//! its messages; cancelling it cancels what no phone has acknowledged.

pub mod queries;
pub mod routes;
pub mod template;
