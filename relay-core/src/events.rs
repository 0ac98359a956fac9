//! What the agent tells its host (the Android UI, the simulator, tests): connection state
//! changes and per-message events.

use std::sync::Arc;

use relay_protocol::frames::DeliveryStatus;

#[derive(Debug, Clone, PartialEq, Eq)]
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
pub struct MessageEvent {
    pub request_id: String,
    pub kind: MessageEventKind,
}

/// Receives events on the agent's threads; must return quickly.
pub trait RelayListener: Send + Sync {
    fn on_connection_state(&self, state: ConnectionState);
    fn on_message_event(&self, event: MessageEvent);
}

/// The optional listener, so the agent can always just "emit".
#[derive(Clone, Default)]
pub(crate) struct Events(Option<Arc<dyn RelayListener>>);

impl Events {
    pub(crate) fn new(listener: Option<Arc<dyn RelayListener>>) -> Self {
        Events(listener)
    }

    pub(crate) fn state(&self, state: ConnectionState) {
        tracing::debug!(?state, "connection state");
        if let Some(l) = &self.0 {
            l.on_connection_state(state);
        }
    }

    pub(crate) fn message(&self, request_id: &str, kind: MessageEventKind) {
        if let Some(l) = &self.0 {
            l.on_message_event(MessageEvent { request_id: request_id.to_owned(), kind });
        }
    }
}
