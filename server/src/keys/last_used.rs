//! Last-used times without a database write per request: requests note the time in memory,
//! and a background task writes what changed once a minute (and once more at shutdown).

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::NaiveDateTime;

#[derive(Debug, Default)]
pub struct LastUsed {
    pending: Mutex<HashMap<String, NaiveDateTime>>,
}

impl LastUsed {
    pub fn touch(&self, key_id: &str, at: NaiveDateTime) {
        if let Ok(mut pending) = self.pending.lock() {
            pending.insert(key_id.to_owned(), at);
        }
    }

    /// Takes everything noted since the last call.
    pub fn drain(&self) -> Vec<(String, NaiveDateTime)> {
        match self.pending.lock() {
            Ok(mut pending) => pending.drain().collect(),
            Err(_) => Vec::new(),
        }
    }

    /// The newest time noted but not yet stored, to show alongside the stored value.
    pub fn peek(&self, key_id: &str) -> Option<NaiveDateTime> {
        self.pending.lock().ok().and_then(|p| p.get(key_id).copied())
    }
}
