//! Live change notifications, one broadcast channel per cart with listeners.
//! A shopper's other devices hear within milliseconds that their cart changed, and
//! then sync; a slow listener that misses messages only syncs later.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::broadcast;

/// Capacity of each cart's channel; a listener further behind skips to the newest.
const BACKLOG: usize = 16;

/// One change: the cart's new context (JSON form), and where it happened.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Change {
    /// The cart.
    pub cart_id: String,
    /// The region's context after the change: a device that has seen it lacks nothing.
    pub context: serde_json::Value,
    /// The region that announces it.
    pub region: String,
}

/// The per-cart channels; `None` once the process is shutting down.
pub struct Events {
    channels: Mutex<Option<HashMap<String, broadcast::Sender<Change>>>>,
}

impl Default for Events {
    fn default() -> Self {
        Self { channels: Mutex::new(Some(HashMap::new())) }
    }
}

impl Events {
    /// Listens to one cart's changes. After [`Events::close`], the stream ends at once.
    pub fn subscribe(&self, cart_id: &str) -> broadcast::Receiver<Change> {
        let mut channels = self.channels.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match channels.as_mut() {
            Some(channels) => channels
                .entry(cart_id.to_owned())
                .or_insert_with(|| broadcast::channel(BACKLOG).0)
                .subscribe(),
            None => broadcast::channel(1).1,
        }
    }

    /// Ends every event stream: on shutdown, open streams would otherwise hold their
    /// connections, and so the graceful shutdown, forever. Devices reconnect elsewhere.
    pub fn close(&self) {
        self.channels.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
    }

    /// Tells a cart's listeners about a change; forgets carts nobody listens to. The
    /// change is made only when someone listens: most carts have no other device open.
    pub fn publish(&self, cart_id: &str, change: impl FnOnce() -> Change) {
        let mut guard = self.channels.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(channels) = guard.as_mut() else { return };
        if let Some(tx) = channels.get(cart_id) {
            if tx.receiver_count() == 0 {
                channels.remove(cart_id);
            } else {
                let _ = tx.send(change());
            }
        }
    }
}
