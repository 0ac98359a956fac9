//! Prefixed ULIDs: sortable by creation time, and the prefix tells a person what an id names.

/// The kinds of object that carry ids, with their prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    Account,
    Key,
    Request,
    Otp,
    Device,
    Batch,
    Event,
    Webhook,
    WebhookDelivery,
    Recipient,
}

impl IdKind {
    pub const fn prefix(self) -> &'static str {
        match self {
            IdKind::Account => "acc_",
            IdKind::Key => "key_",
            IdKind::Request => "req_",
            IdKind::Otp => "otp_",
            IdKind::Device => "dev_",
            IdKind::Batch => "bat_",
            IdKind::Event => "evt_",
            IdKind::Webhook => "whk_",
            IdKind::WebhookDelivery => "whd_",
            IdKind::Recipient => "rcp_",
        }
    }
}

/// A fresh id of the given kind, e.g. `acc_01JDX4…`.
pub fn new_id(kind: IdKind) -> String {
    format!("{}{}", kind.prefix(), ulid::Ulid::new())
}

/// A fresh opaque id for tracing one request through the logs.
pub fn new_trace_id() -> String {
    ulid::Ulid::new().to_string().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_their_prefix_and_a_ulid() {
        let id = new_id(IdKind::Account);
        let rest = id.strip_prefix("acc_").unwrap();
        assert!(ulid::Ulid::from_string(rest).is_ok(), "{id}");
    }

    #[test]
    fn later_ids_sort_after_earlier_ones() {
        let a = new_id(IdKind::Request);
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_id(IdKind::Request);
        assert!(a < b);
    }
}
