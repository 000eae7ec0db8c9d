//! Durable storage of carts and orders, behind one trait.
//!
//! The store keeps each cart's encoded [`CartState`] and joins deltas into it with
//! cart-core's join: there is no other merge. A change is acknowledged only after
//! the store has committed it durably.

pub mod cassandra;
pub mod embedded;
pub mod redis_cache;

use std::sync::Arc;

use async_trait::async_trait;
use cart_core::{CartState, CausalContext};
use serde::{Deserialize, Serialize};

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store cannot take the request now; retry later. Nothing was changed.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Stored bytes that do not decode: a bug or disk corruption.
    #[error("stored data for {key} is corrupt: {why}")]
    Corrupt {
        /// Which record.
        key: String,
        /// The decoder's words.
        why: String,
    },
    /// Another checkout of the cart was committed after this one read it: read again.
    #[error("another checkout of this cart came first; read the cart again")]
    CheckoutRaced,
    /// Any other failure of the backend.
    #[error("store failure: {0}")]
    Backend(String),
}

/// The outcome of joining a delta into a stored cart.
#[derive(Debug, Clone)]
pub struct Merged {
    /// The cart after the join (shared: stores keep the same value in their caches).
    pub state: Arc<CartState>,
    /// False when the delta brought nothing new.
    pub changed: bool,
}

/// One line of an order, frozen at checkout.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrderLine {
    /// The item.
    pub item_id: String,
    /// The quantity bought.
    pub quantity: u32,
    /// Unit price, exact decimal text, when the item had one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit_price: Option<String>,
    /// Quantity times unit price.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line_total: Option<String>,
    /// Display name, when the item had one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// An order: exactly what a checkout read, frozen.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Order {
    /// The order's id.
    pub order_id: String,
    /// The cart it came from.
    pub cart_id: String,
    /// The shopper.
    pub user_id: String,
    /// The key that makes retries return this order.
    pub idempotency_key: String,
    /// The lines bought.
    pub items: Vec<OrderLine>,
    /// Exact total of the priced lines.
    pub total: String,
    /// The causal context the checkout read (JSON form): exactly these changes left the cart.
    pub context: serde_json::Value,
    /// The region that made the order.
    pub region: String,
    /// When it was made (shown, never used to decide anything).
    pub created_at: String,
}

/// Where carts and orders live. Implemented by the embedded store and by Cassandra.
#[async_trait]
pub trait CartStore: Send + Sync + 'static {
    /// The cart's state (empty when it has never been written).
    async fn load(&self, cart_id: &str) -> Result<Arc<CartState>, StoreError>;

    /// The cart for a caller that has seen `seen`: it holds everything in `seen` that the
    /// store holds. A cache answers from its copy when that covers `seen`
    /// ([`redis_cache`]); a store answers as [`CartStore::load`] does.
    async fn load_seen(&self, cart_id: &str, seen: &CausalContext) -> Result<Arc<CartState>, StoreError> {
        let _ = seen;
        self.load(cart_id).await
    }

    /// Joins `delta` into the stored cart, durably, and returns the result.
    async fn merge(&self, cart_id: &str, delta: CartState) -> Result<Merged, StoreError>;

    /// Every cart id, for a full anti-entropy pass.
    async fn cart_ids(&self) -> Result<Vec<String>, StoreError>;

    /// The order a checkout with this key made, if any.
    async fn order_for_key(&self, cart_id: &str, key: &str) -> Result<Option<Order>, StoreError>;

    /// An order by id.
    async fn order(&self, order_id: &str) -> Result<Option<Order>, StoreError>;

    /// The cart as a checkout reads it. Cassandra reads at QUORUM across datacenters:
    /// every change a quorum of replicas holds; one acknowledged by its own datacenter
    /// alone and not yet replicated may be missed, and then stays in the cart.
    async fn load_for_checkout(&self, cart_id: &str) -> Result<Arc<CartState>, StoreError> {
        self.load(cart_id).await
    }

    /// Atomically: unless an order exists for `order.idempotency_key`, joins `delta`
    /// (which removes what the order froze from `read`, the cart it was made from) and
    /// stores the order. Returns the order that holds for the key: this one, or the one
    /// stored before. [`StoreError::CheckoutRaced`] when another checkout of the cart was
    /// committed since `read` was loaded: nothing is stored, and the caller reads again.
    async fn commit_checkout(
        &self,
        cart_id: &str,
        read: &CartState,
        delta: CartState,
        order: Order,
    ) -> Result<Order, StoreError>;
}
