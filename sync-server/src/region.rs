//! One region's cart service: the only place that changes carts. Every change, from a
//! device, a REST client, a peer region or a checkout, is a cart-core delta joined
//! into the stored cart by the store; nothing else merges.

use std::sync::Arc;

use cart_core::{
    CartState, CausalContext, Durability, OpError, Replica, ReplicaId, SyncRequest, SyncResponse,
};
use tokio::sync::MutexGuard;

use crate::error::AppError;
use crate::events::{Change, Events};
use crate::replication::Peers;
use crate::store::{CartStore, Merged};
use crate::stripes::Stripes;

/// Lock stripes for operations this process makes as a replica.
const STRIPES: usize = 64;

/// A region: its store, its own replica id, its listeners and its peers.
pub struct Region {
    /// The region's name, e.g. `us-west`.
    pub name: String,
    /// The replica id this process writes REST changes and checkouts under. New on every
    /// start, so a restart can never reuse a counter.
    pub replica: ReplicaId,
    /// Where carts live.
    pub store: Arc<dyn CartStore>,
    /// Live change notifications.
    pub events: Events,
    /// Other regions this one replicates with.
    pub peers: Peers,
    stripes: Stripes,
}

impl Region {
    /// A region over a store, replicating with `peers`.
    #[must_use]
    pub fn new(name: String, store: Arc<dyn CartStore>, peers: Peers) -> Self {
        let replica = ReplicaId::random();
        tracing::info!(region = %name, %replica, "region replica id for this process");
        Self { name, replica, store, events: Events::default(), peers, stripes: Stripes::new(STRIPES) }
    }

    /// Serializes this process's own operations on one cart, so no dot is minted twice.
    pub async fn lock(&self, cart_id: &str) -> MutexGuard<'_, ()> {
        self.stripes.lock(cart_id).await
    }

    /// Joins a delta into the stored cart; announces the change and queues it for the
    /// peers (all but `from_peer`, which sent it).
    ///
    /// # Errors
    /// When the store fails; nothing is announced then.
    pub async fn apply(
        &self,
        cart_id: &str,
        delta: CartState,
        from_peer: Option<&str>,
    ) -> Result<Merged, AppError> {
        let merged = self.store.merge(cart_id, delta).await?;
        if merged.changed {
            metrics::counter!("cart_changes_total").increment(1);
            self.events.publish(cart_id, || Change {
                cart_id: cart_id.to_owned(),
                context: serde_json::from_str(&cart_core::codec::json::encode_context(
                    merged.state.context(),
                ))
                .unwrap_or_default(),
                region: self.name.clone(),
            });
            self.peers.mark_dirty(cart_id, from_peer);
        }
        Ok(merged)
    }

    /// Runs one operation as this region's replica (REST clients, checkout, guest merge).
    ///
    /// # Errors
    /// 400 for invalid input, or a store failure.
    pub async fn act(
        &self,
        cart_id: &str,
        op: impl FnOnce(&mut Replica) -> Result<CartState, OpError>,
    ) -> Result<Arc<CartState>, AppError> {
        let _guard = self.lock(cart_id).await;
        let state = self.store.load(cart_id).await?;
        let mut replica = Replica::restore(self.replica, 1, Arc::unwrap_or_clone(state));
        let delta = op(&mut replica)?;
        if delta.is_empty() {
            return Ok(Arc::new(replica.state().clone()));
        }
        Ok(self.apply(cart_id, delta, None).await?.state)
    }

    /// A device's sync: check what it claims, join its delta, answer with what it lacks.
    /// `siblings` are replica ids of the device's other tabs, vouched for by their tokens:
    /// their changes are the device's own too.
    ///
    /// # Errors
    /// 409 when the device claims changes of other replicas this region has not seen
    /// (forged, or from a region not yet replicated here: retry later); store failures.
    pub async fn device_sync(
        &self,
        cart_id: &str,
        device: ReplicaId,
        siblings: &[ReplicaId],
        request: SyncRequest,
    ) -> Result<SyncResponse, AppError> {
        let vouched = |r: &ReplicaId| *r == device || siblings.contains(r);
        let mut seen = request.context.clone();
        seen.union_with(request.delta.context());
        // A read must cover everything the device has seen; a write only what it claims of
        // other replicas (checked below), as its answer comes from the store's merge.
        let current = if request.delta.is_empty() {
            self.store.load_seen(cart_id, &seen).await?
        } else {
            self.store.load_seen(cart_id, &not_vouched(&seen, vouched)).await?
        };
        for claimed in [&request.context, request.delta.context()] {
            if let Some(unknown) = foreign_unknown(claimed, vouched, current.context()) {
                self.peers.wake_all();
                return Err(AppError::unknown_changes(format!(
                    "the request claims changes of replica {unknown} that region {} has not seen; a device may only \
                     send its own changes and what it received from this region (retry after regions replicate)",
                    self.name
                )));
            }
        }
        let state = if request.delta.is_empty() {
            current
        } else {
            // Let go of this version first, so the store can update it in place.
            drop(current);
            self.apply(cart_id, request.delta, None).await?.state
        };
        let own = only(&seen, device);
        Ok(SyncResponse {
            delta: state.delta_since(&seen),
            context: state.context().clone(),
            durability: Durability {
                accepted_by: self.name.clone(),
                replicated_to: self.peers.holding(cart_id, &own),
            },
        })
    }

    /// A peer region's sync: regions trust each other, so the delta is joined as it is.
    ///
    /// # Errors
    /// Store failures.
    pub async fn peer_sync(
        &self,
        cart_id: &str,
        peer: &str,
        request: SyncRequest,
    ) -> Result<SyncResponse, AppError> {
        let state = self.apply(cart_id, request.delta, Some(peer)).await?.state;
        let answer = state.delta_since(&request.context);
        Ok(SyncResponse {
            delta: answer,
            context: state.context().clone(),
            durability: Durability { accepted_by: self.name.clone(), replicated_to: Vec::new() },
        })
    }
}

/// The first replica not vouched for with a dot in `claimed` that `known` lacks.
fn foreign_unknown(
    claimed: &CausalContext,
    vouched: impl Fn(&ReplicaId) -> bool,
    known: &CausalContext,
) -> Option<ReplicaId> {
    claimed.iter().filter(|(r, _)| !vouched(r)).find_map(|(r, ranges)| {
        let mut one = CausalContext::new();
        one.set_ranges(*r, ranges.to_vec()).ok()?;
        (!known.includes(&one)).then_some(*r)
    })
}

/// The part of `ctx` of replicas not vouched for.
fn not_vouched(ctx: &CausalContext, vouched: impl Fn(&ReplicaId) -> bool) -> CausalContext {
    let mut others = CausalContext::new();
    for (r, ranges) in ctx.iter().filter(|(r, _)| !vouched(r)) {
        let _ = others.set_ranges(*r, ranges.to_vec());
    }
    others
}

/// The part of `ctx` that is `replica`'s own.
fn only(ctx: &CausalContext, replica: ReplicaId) -> CausalContext {
    let mut own = CausalContext::new();
    if let Some((_, ranges)) = ctx.iter().find(|(r, _)| **r == replica) {
        let _ = own.set_ranges(replica, ranges.to_vec());
    }
    own
}
