//! One-time codes: send a code by SMS in the OTP lane, verify it once, see its state.
//!
//! `texts` writes the SMS per purpose and locale; `secret` makes codes and their HMACs (the
//! key lives outside the database); `queries` holds the one-statement verification; `routes`
//! the three endpoints. An OTP's SMS is an ordinary message in lane 0, whose stored and shown
//! text has the code masked (`messages.redacted_body`) once a phone holds it.

pub mod models;
pub mod queries;
pub mod routes;
pub mod secret;
pub mod test_clock;
pub mod texts;
