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

/// The per-cart channels.
#[derive(Default)]
pub struct Events {
    channels: Mutex<HashMap<String, broadcast::Sender<Change>>>,
}

impl Events {
    /// Listens to one cart's changes.
    pub fn subscribe(&self, cart_id: &str) -> broadcast::Receiver<Change> {
        let mut channels = self.channels.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        channels.entry(cart_id.to_owned()).or_insert_with(|| broadcast::channel(BACKLOG).0).subscribe()
    }

    /// Tells a cart's listeners about a change; forgets carts nobody listens to.
    pub fn publish(&self, change: Change) {
        let mut channels = self.channels.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(tx) = channels.get(&change.cart_id) {
            if tx.receiver_count() == 0 {
                channels.remove(&change.cart_id);
            } else {
                let _ = tx.send(change);
            }
        }
    }
}
