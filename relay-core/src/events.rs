//! What the agent tells its host (the Android UI, the simulator, tests): connection state
//! changes and per-message events.

use std::sync::{Arc, Mutex};

use relay_protocol::frames::DeliveryStatus;

#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum ConnectionState {
    Connecting {
        url: String,
    },
    /// `welcome` arrived: the link is up.
    Connected {
        url: String,
        device_name: String,
    },
    /// The link is down; the agent retries after a backoff.
    Disconnected {
        reason: String,
    },
    /// The server refused the device token (unpaired?). The agent keeps retrying slowly.
    Unauthorized,
    Stopped,
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum MessageEventKind {
    /// Stored after `send`; `accepted` went out.
    Stored,
    Confirmed,
    Revoked {
        reason: String,
    },
    /// Given to the SMS transport.
    HandedOver,
    /// Its time ran out before it could be sent: reported failed/expired.
    Expired,
    Sent,
    Delivered,
    Failed {
        code: String,
        reason: String,
    },
    /// The server stored this status.
    Acknowledged {
        status: DeliveryStatus,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct MessageEvent {
    pub request_id: String,
    pub kind: MessageEventKind,
}

/// Receives events on the agent's threads; must return quickly. Across the FFI the app
/// implements it (a Kotlin object).
#[cfg_attr(feature = "uniffi", uniffi::export(with_foreign))]
pub trait RelayListener: Send + Sync {
    fn on_connection_state(&self, state: ConnectionState);
    fn on_message_event(&self, event: MessageEvent);
}

/// The newest connection state, kept for `RelayClient::status`.
pub(crate) type LastState = Arc<Mutex<ConnectionState>>;

/// The optional listener, so the agent can always just "emit"; every state change is also
/// remembered in `last`.
#[derive(Clone)]
pub(crate) struct Events {
    listener: Option<Arc<dyn RelayListener>>,
    last: LastState,
}

impl Events {
    pub(crate) fn new(listener: Option<Arc<dyn RelayListener>>, last: LastState) -> Self {
        Events { listener, last }
    }

    pub(crate) fn state(&self, state: ConnectionState) {
        tracing::debug!(?state, "connection state");
        if let Ok(mut last) = self.last.lock() {
            *last = state.clone();
        }
        if let Some(l) = &self.listener {
            l.on_connection_state(state);
        }
    }

    pub(crate) fn message(&self, request_id: &str, kind: MessageEventKind) {
        if let Some(l) = &self.listener {
            l.on_message_event(MessageEvent { request_id: request_id.to_owned(), kind });
        }
    }
}
