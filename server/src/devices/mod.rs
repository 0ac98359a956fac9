//! Devices: the phones paired with an account — pairing codes and QR codes, the device list,
//! settings (name, enabled, pacing) and unpairing.

pub mod models;
pub mod pairing;
pub mod qr;
pub mod queries;
pub mod routes;
