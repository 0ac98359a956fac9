//! Devices: the phones paired with an account. (Pairing and the live link arrive with the
//! message path; readiness already counts them.)

pub mod queries;
