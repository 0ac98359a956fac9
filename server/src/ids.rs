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
/// One generator for the process: ids made in the same millisecond still sort in the order
/// they were made (ULIDs alone order only by millisecond), so "newest first" is exact.
static GENERATOR: std::sync::Mutex<ulid::Generator> = std::sync::Mutex::new(ulid::Generator::new());

pub fn new_id(kind: IdKind) -> String {
    let next = GENERATOR.lock().map(|mut g| g.generate()).ok().and_then(Result::ok);
    // Only 2^80 ids fit in one millisecond; past that (never), fall back to a random one.
    let id = match next {
        Some(id) => id,
        None => ulid::Ulid::new(), // not `Default`, which is the nil id
    };
    format!("{}{}", kind.prefix(), id)
}

/// The lowest id of `kind` that can be made at `at` (UTC): every id made earlier sorts below
/// it, so `id < first_id_at(kind, t)` picks what was made before `t` from the primary key.
pub fn first_id_at(kind: IdKind, at: chrono::NaiveDateTime) -> String {
    let ms = u64::try_from(at.and_utc().timestamp_millis()).unwrap_or(0);
    format!("{}{}", kind.prefix(), ulid::Ulid::from_parts(ms, 0))
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
    fn ids_made_in_the_same_millisecond_keep_their_order() {
        let ids: Vec<String> = (0..2_000).map(|_| new_id(IdKind::Request)).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn the_first_id_at_a_time_divides_the_ids_made_before_it_from_those_after() {
        let before = new_id(IdKind::WebhookDelivery);
        std::thread::sleep(std::time::Duration::from_millis(2));
        let boundary = first_id_at(IdKind::WebhookDelivery, crate::time::now());
        std::thread::sleep(std::time::Duration::from_millis(2));
        let after = new_id(IdKind::WebhookDelivery);
        assert!(before < boundary && boundary < after, "{before} {boundary} {after}");
        assert!(boundary.starts_with("whd_"));
    }

    #[test]
    fn later_ids_sort_after_earlier_ones() {
        let a = new_id(IdKind::Request);
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_id(IdKind::Request);
        assert!(a < b);
    }
}
