//! A replica: one writer of a cart, holding its state and minting its dots.
//!
//! Each operation checks its input first, then mints one dot, builds the delta it
//! makes, and joins that delta into the replica's own state. Applying a change locally
//! is therefore the same code path as applying it anywhere else.

use std::collections::BTreeMap;

use crate::context::CausalContext;
use crate::dot::{Dot, ReplicaId};
use std::sync::Arc;

use crate::input::{
    AttrPatch, InputError, ItemAttrs, ItemId, check_add_qty, check_item_limit, check_set_qty,
};
use crate::state::{CartState, ItemState, QtyWrite, Write};

/// Why an operation was refused. Nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpError {
    /// The input was invalid; the error names the field.
    #[error(transparent)]
    Input(#[from] InputError),
    /// This replica has used every counter a dot may carry. Start a new replica
    /// (a new id) and join this one's state into it.
    #[error("replica {0} has no counters left; continue under a new replica id")]
    CountersExhausted(ReplicaId),
}

/// One writer of one cart: a device, a tab or a server process. See the module docs.
#[derive(Clone, Debug)]
pub struct Replica {
    id: ReplicaId,
    /// The counter of the next dot to mint. Persisted with the state, never reused.
    next_counter: u64,
    state: CartState,
}

#[cfg(feature = "random")]
impl Default for Replica {
    fn default() -> Self {
        Self::new()
    }
}

impl Replica {
    /// A new replica of an empty cart, under a fresh random id.
    #[cfg(feature = "random")]
    #[must_use]
    pub fn new() -> Self {
        Self::with_id(ReplicaId::random())
    }

    /// A new replica of an empty cart under a chosen id. The id must never have been
    /// used before; prefer [`Replica::new`].
    #[must_use]
    pub fn with_id(id: ReplicaId) -> Self {
        Self { id, next_counter: 1, state: CartState::new() }
    }

    /// A replica brought back from storage. The next counter is raised, if needed,
    /// above every dot of this id that the state holds, so no dot is minted twice.
    #[must_use]
    pub fn restore(id: ReplicaId, next_counter: u64, state: CartState) -> Self {
        let mut replica = Self { id, next_counter, state };
        replica.raise_counter();
        replica
    }

    /// This replica's id.
    #[must_use]
    pub fn id(&self) -> ReplicaId {
        self.id
    }

    /// The counter the next change will use. Persist it with the state.
    #[must_use]
    pub fn next_counter(&self) -> u64 {
        self.next_counter
    }

    /// The replicated state.
    #[must_use]
    pub fn state(&self) -> &CartState {
        &self.state
    }

    /// Everything this replica has seen. Send it to a peer to ask for what is missing.
    #[must_use]
    pub fn context(&self) -> &CausalContext {
        self.state.context()
    }

    /// Joins a delta or a whole state from elsewhere into this replica.
    pub fn join(&mut self, other: &CartState) {
        self.state.join(other);
        self.raise_counter();
    }

    /// What a peer that has seen `peer` lacks: see [`CartState::delta_since`].
    #[must_use]
    pub fn delta_since(&self, peer: &CausalContext) -> CartState {
        self.state.delta_since(peer)
    }

    /// "Add to cart": `qty` more of `item`, with attributes to change (an empty patch
    /// keeps the current ones). Returns the delta to send to other replicas.
    ///
    /// An add to an item already shown at the per-item limit is refused: it would change
    /// nothing the shopper sees, and refusing it bounds the writes an item can hold.
    ///
    /// # Errors
    /// When `item`, `qty` (1 to the per-item limit) or the patch is invalid, or the
    /// item is already at the limit.
    pub fn add(&mut self, item: &str, qty: i64, patch: &AttrPatch) -> Result<CartState, OpError> {
        let id = ItemId::new(item)?;
        let limit = self.state.item_limit();
        let qty = check_add_qty(qty, limit)?;
        if self.state.items.get(&id).is_some_and(|i| i.raw_quantity() >= u64::from(limit)) {
            return Err(InputError::AtLimit { limit }.into());
        }
        self.write(id, QtyWrite::Add(qty), patch, Vec::new())
    }

    /// "Set quantity": `item` becomes `qty`, overwriting the writes this replica has
    /// seen; 0 removes the item. Concurrent adds still come on top, and among concurrent
    /// sets the larger wins. Returns the delta.
    ///
    /// # Errors
    /// When `item`, `qty` (0 to the per-item limit) or the patch is invalid.
    pub fn set(&mut self, item: &str, qty: i64, patch: &AttrPatch) -> Result<CartState, OpError> {
        let id = ItemId::new(item)?;
        let qty = check_set_qty(qty, self.state.item_limit())?;
        let seen: Vec<Dot> =
            self.state.items.get(&id).map(|i| i.dots().copied().collect()).unwrap_or_default();
        if qty == 0 {
            // Check the patch all the same: refused input changes nothing, whatever the qty.
            patch.apply_to(&ItemAttrs::default())?;
            return self.remove_dots(seen);
        }
        self.write(id, QtyWrite::Set(qty), patch, seen)
    }

    /// One write of `item`: the quantity, with the attributes the item shows here laid
    /// under the patch, replacing the `overwritten` dots.
    fn write(
        &mut self,
        id: ItemId,
        qty: QtyWrite,
        patch: &AttrPatch,
        overwritten: Vec<Dot>,
    ) -> Result<CartState, OpError> {
        let current = self.state.items.get(&id);
        let (base, base_version) = current
            .and_then(ItemState::latest)
            .map_or_else(|| (Arc::default(), 0), |(_, w)| (Arc::clone(&w.attrs), w.version));
        let attrs = if patch.is_empty() { Arc::clone(&base) } else { Arc::new(patch.apply_to(&base)?) };
        let version = if attrs == base {
            base_version
        } else {
            let seen = current.into_iter().flat_map(|i| i.writes.values()).map(|w| w.version).max();
            seen.unwrap_or(0).saturating_add(1)
        };
        let dot = self.mint()?;
        let mut delta = CartState::new();
        for old in overwritten {
            delta.context.insert(old);
        }
        delta.context.insert(dot);
        let mut written = ItemState::default();
        written.writes.insert(dot, Write { qty, version, attrs });
        delta.items.insert(id, written);
        Ok(self.apply_own(delta))
    }

    /// "Remove": `item` leaves the cart, taking only the writes this replica has seen.
    /// Removing an item that is not there changes nothing and returns an empty delta.
    ///
    /// # Errors
    /// When `item` is not a valid id.
    pub fn remove(&mut self, item: &str) -> Result<CartState, OpError> {
        let id = ItemId::new(item)?;
        let dots = self.state.items.get(&id).map(|i| i.dots().copied().collect()).unwrap_or_default();
        self.remove_dots(dots)
    }

    /// "Clear": every item this replica sees leaves the cart. Items added concurrently
    /// elsewhere stay. The per-item limit is kept.
    ///
    /// # Errors
    /// Only [`OpError::CountersExhausted`].
    pub fn clear(&mut self) -> Result<CartState, OpError> {
        let dots = self.state.items.values().flat_map(ItemState::dots).copied().collect();
        self.remove_dots(dots)
    }

    /// Removes exactly the item writes in `seen` and nothing else: what a checkout does
    /// with the context it read, and what a client does that can only say which
    /// version it saw. Changes made concurrently, outside `seen`, stay in the cart.
    ///
    /// # Errors
    /// Only [`OpError::CountersExhausted`].
    pub fn remove_seen(&mut self, seen: &CausalContext) -> Result<CartState, OpError> {
        let dots = self
            .state
            .items
            .values()
            .flat_map(ItemState::dots)
            .filter(|d| seen.contains(d))
            .copied()
            .collect();
        self.remove_dots(dots)
    }

    /// Removes exactly the item writes in `seen` for one item (the observed-remove of REST).
    ///
    /// # Errors
    /// When `item` is not a valid id, or [`OpError::CountersExhausted`].
    pub fn remove_item_seen(&mut self, item: &str, seen: &CausalContext) -> Result<CartState, OpError> {
        let id = ItemId::new(item)?;
        let dots = self
            .state
            .items
            .get(&id)
            .map(|i| i.dots().filter(|d| seen.contains(d)).copied().collect())
            .unwrap_or_default();
        self.remove_dots(dots)
    }

    /// Sets the per-item quantity limit of this cart (default 999). Among concurrent
    /// limits the largest wins.
    ///
    /// # Errors
    /// When `limit` is outside 1 to [`MAX_ITEM_LIMIT`](crate::MAX_ITEM_LIMIT).
    pub fn set_item_limit(&mut self, limit: i64) -> Result<CartState, OpError> {
        let limit = check_item_limit(limit)?;
        let dot = self.mint()?;
        let mut delta = CartState::new();
        for old in self.state.limit.keys() {
            delta.context.insert(*old);
        }
        delta.context.insert(dot);
        delta.limit = BTreeMap::from([(dot, limit)]);
        Ok(self.apply_own(delta))
    }

    /// A removal: the seen dots plus one new dot, so that even a change made only of
    /// removals moves this replica's counter and anti-entropy notices it.
    fn remove_dots(&mut self, dots: Vec<Dot>) -> Result<CartState, OpError> {
        if dots.is_empty() {
            return Ok(CartState::new());
        }
        let dot = self.mint()?;
        let mut delta = CartState::new();
        for d in dots {
            delta.context.insert(d);
        }
        delta.context.insert(dot);
        Ok(self.apply_own(delta))
    }

    fn mint(&mut self) -> Result<Dot, OpError> {
        if self.next_counter > Dot::MAX_COUNTER {
            return Err(OpError::CountersExhausted(self.id));
        }
        let dot = Dot::new(self.id, self.next_counter);
        self.next_counter = self.next_counter.saturating_add(1);
        Ok(dot)
    }

    /// Joins an operation's delta into this replica, then widens the delta's context
    /// to everything this replica has seen except the live writes the delta does not
    /// carry. A delta is thus self-contained: whoever joins it learns every removal its
    /// maker knew of. Without that, a replica that got a `clear` before the `set` it
    /// cleared would hold the set's dot in its context but not the set's effect, and
    /// anti-entropy, which compares contexts, would never repair the difference.
    fn apply_own(&mut self, mut delta: CartState) -> CartState {
        self.state.join(&delta);
        let carried = delta.live_dots();
        let mut not_carried = self.state.live_dots();
        not_carried.retain(|d| carried.binary_search(d).is_err());
        delta.context = self.state.context.without_sorted(&not_carried);
        delta
    }

    fn raise_counter(&mut self) {
        let seen = self.state.context.max_counter(&self.id);
        self.next_counter = self.next_counter.max(seen.saturating_add(1));
    }
}
