//! One device's replica of one cart, as JavaScript holds it.
//!
//! Every method is a thin call into cart-core: operations return the delta they made
//! as bytes (persist the replica, then send them anywhere); `join` accepts bytes from
//! any replica; sync messages are encoded and decoded here, so the JS sync client
//! only moves bytes.

use cart_core::{CartState, CausalContext, Replica, ReplicaId, SyncRequest, SyncResponse};
use serde::Serialize;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

use crate::convert::{attr_patch, quantity, to_js};
use crate::error::{decode_error, js_error, op_error};

/// A replica held by JavaScript.
#[wasm_bindgen]
pub struct CoreReplica {
    inner: Replica,
}

/// What a sync answer changed, for the JS sync client.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SyncOutcome {
    /// True when the answer brought changes this replica lacked.
    changed: bool,
    /// The region that stored this replica's changes.
    accepted_by: String,
    /// Other regions known to hold them.
    replicated_to: Vec<String>,
}

/// Draws a new replica id from `crypto.getRandomValues`.
///
/// # Errors
/// `no_secure_random` when the platform has no working `crypto.getRandomValues`: a
/// weak or constant id could collide with another device's and lose its changes.
pub fn fresh_replica_id() -> Result<ReplicaId, JsValue> {
    let refuse = |why: &str| {
        js_error(
            "no_secure_random",
            None,
            &format!(
                "cannot draw a replica id: {why}; a cart needs crypto.getRandomValues (a secure context)"
            ),
        )
    };
    let crypto =
        js_sys::Reflect::get(&js_sys::global(), &"crypto".into()).map_err(|_| refuse("no crypto object"))?;
    if !crypto.is_object() {
        return Err(refuse("globalThis.crypto is missing"));
    }
    let mut bytes = [0_u8; 16];
    crypto
        .unchecked_into::<web_sys::Crypto>()
        .get_random_values_with_u8_array(&mut bytes)
        .map_err(|_| refuse("crypto.getRandomValues failed"))?;
    if bytes.iter().min() == bytes.iter().max() {
        // 16 equal bytes from a working generator: 2^-120. A stub that fills nothing is far likelier.
        return Err(refuse("crypto.getRandomValues returned constant bytes"));
    }
    Ok(ReplicaId::from_random_bytes(bytes))
}

fn decode_state(bytes: &[u8]) -> Result<CartState, JsValue> {
    CartState::from_bytes(bytes).map_err(|e| decode_error("delta", &e))
}

fn decode_context(bytes: &[u8]) -> Result<CausalContext, JsValue> {
    CausalContext::from_bytes(bytes).map_err(|e| decode_error("context", &e))
}

#[wasm_bindgen]
impl CoreReplica {
    /// A new replica of an empty cart under a fresh random id.
    ///
    /// # Errors
    /// `no_secure_random`, see [`fresh_replica_id`].
    #[wasm_bindgen(constructor)]
    pub fn new() -> Result<CoreReplica, JsValue> {
        Ok(Self { inner: Replica::with_id(fresh_replica_id()?) })
    }

    /// A new replica under a chosen id. Only for replaying scenarios and tests, where
    /// fixed ids make encodings comparable: a device must use `new CoreReplica()`, since
    /// an id used by two replicas loses changes.
    ///
    /// # Errors
    /// `invalid_input` when `id` is not a UUID.
    #[wasm_bindgen(js_name = withId)]
    pub fn with_id(id: &str) -> Result<CoreReplica, JsValue> {
        let id: ReplicaId = id.parse().map_err(|e: cart_core::ReplicaIdError| {
            js_error("invalid_input", Some("replica_id"), &e.to_string())
        })?;
        Ok(Self { inner: Replica::with_id(id) })
    }

    /// Brings back a replica saved with [`CoreReplica::to_bytes`].
    ///
    /// # Errors
    /// `invalid_bytes` when the blob is not a valid saved replica.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: &[u8]) -> Result<CoreReplica, JsValue> {
        Replica::from_bytes(bytes).map(|inner| Self { inner }).map_err(|e| decode_error("replica", &e))
    }

    /// What to persist: id, next counter and state in one blob.
    #[wasm_bindgen(js_name = toBytes)]
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        self.inner.to_bytes()
    }

    /// Takes in a saved copy of this same replica written by another tab: its state is
    /// joined and its next counter adopted when higher, so no dot is minted twice.
    ///
    /// # Errors
    /// `invalid_bytes` for a bad blob, `wrong_replica` for another replica's blob.
    #[wasm_bindgen(js_name = absorbSaved)]
    pub fn absorb_saved(&mut self, bytes: &[u8]) -> Result<bool, JsValue> {
        let saved = Replica::from_bytes(bytes).map_err(|e| decode_error("replica", &e))?;
        if saved.id() != self.inner.id() {
            return Err(js_error(
                "wrong_replica",
                Some("replica"),
                "the saved blob belongs to another replica",
            ));
        }
        let changed = self.inner.state().context() != saved.state().context();
        let next = self.inner.next_counter().max(saved.next_counter());
        let mut state = self.inner.state().clone();
        state.join(saved.state());
        self.inner = Replica::restore(self.inner.id(), next, state);
        Ok(changed)
    }

    /// This replica's id (a UUID).
    #[wasm_bindgen(getter, js_name = replicaId)]
    #[must_use]
    pub fn replica_id(&self) -> String {
        self.inner.id().to_string()
    }

    /// The counter the next change will carry, as decimal text (it may pass 2^53).
    #[wasm_bindgen(getter, js_name = nextCounter)]
    #[must_use]
    pub fn next_counter(&self) -> String {
        self.inner.next_counter().to_string()
    }

    /// "Add to cart". Returns the delta.
    ///
    /// # Errors
    /// `invalid_input` naming the field.
    pub fn add(&mut self, item: &str, qty: &JsValue, attrs: &JsValue) -> Result<Vec<u8>, JsValue> {
        let (qty, patch) = (quantity(qty)?, attr_patch(attrs)?);
        self.inner.add(item, qty, &patch).map(|d| d.to_bytes()).map_err(|e| op_error(&e))
    }

    /// "Set quantity" (0 removes). Returns the delta.
    ///
    /// # Errors
    /// `invalid_input` naming the field.
    pub fn set(&mut self, item: &str, qty: &JsValue, attrs: &JsValue) -> Result<Vec<u8>, JsValue> {
        let (qty, patch) = (quantity(qty)?, attr_patch(attrs)?);
        self.inner.set(item, qty, &patch).map(|d| d.to_bytes()).map_err(|e| op_error(&e))
    }

    /// Removes what this replica sees of an item. Returns the delta.
    ///
    /// # Errors
    /// `invalid_input` for a malformed item id.
    pub fn remove(&mut self, item: &str) -> Result<Vec<u8>, JsValue> {
        self.inner.remove(item).map(|d| d.to_bytes()).map_err(|e| op_error(&e))
    }

    /// Removes every item this replica sees. Returns the delta.
    ///
    /// # Errors
    /// `counters_exhausted` only.
    pub fn clear(&mut self) -> Result<Vec<u8>, JsValue> {
        self.inner.clear().map(|d| d.to_bytes()).map_err(|e| op_error(&e))
    }

    /// Sets the cart's per-item quantity limit (default 999); concurrent limits resolve
    /// to the largest. Returns the delta.
    ///
    /// # Errors
    /// `invalid_input` for a limit out of range.
    #[wasm_bindgen(js_name = setItemLimit)]
    pub fn set_item_limit(&mut self, limit: &JsValue) -> Result<Vec<u8>, JsValue> {
        let limit = quantity(limit)
            .map_err(|_| js_error("invalid_input", Some("limit"), "limit must be a whole number"))?;
        self.inner.set_item_limit(limit).map(|d| d.to_bytes()).map_err(|e| op_error(&e))
    }

    /// Joins a delta or whole state (binary) from any replica; true when it changed anything.
    ///
    /// # Errors
    /// `invalid_bytes`; nothing is changed then.
    pub fn join(&mut self, bytes: &[u8]) -> Result<bool, JsValue> {
        let delta = decode_state(bytes)?;
        let before = self.inner.context().clone();
        self.inner.join(&delta);
        Ok(*self.inner.context() != before)
    }

    /// The cart's lines: `[{itemId, quantity, unitPrice, lineTotal, name, imageUrl, attributes}]`.
    ///
    /// # Errors
    /// Never in practice.
    pub fn items(&self) -> Result<JsValue, JsValue> {
        to_js(&crate::convert::lines(self.inner.state()))
    }

    /// The exact total of priced lines, as decimal text.
    #[must_use]
    pub fn total(&self) -> String {
        self.inner.state().total().to_string()
    }

    /// The number of distinct items.
    #[wasm_bindgen(getter)]
    #[must_use]
    pub fn length(&self) -> usize {
        self.inner.state().len()
    }

    /// Everything this replica has seen, as `{replicaId: "1-4,7"}`.
    ///
    /// # Errors
    /// Never in practice.
    pub fn context(&self) -> Result<JsValue, JsValue> {
        crate::convert::context(self.inner.state())
    }

    /// The replicated state's canonical bytes (what the native build encodes too).
    #[wasm_bindgen(js_name = stateBytes)]
    #[must_use]
    pub fn state_bytes(&self) -> Vec<u8> {
        self.inner.state().to_bytes()
    }

    /// Everything this replica has seen, binary: what a peer needs to answer with
    /// [`CoreReplica::delta_since`].
    #[wasm_bindgen(js_name = contextBytes)]
    #[must_use]
    pub fn context_bytes(&self) -> Vec<u8> {
        self.inner.context().to_bytes()
    }

    /// What a replica that has seen `context` (binary) lacks: anti-entropy's answer.
    ///
    /// # Errors
    /// `invalid_bytes` for a bad context.
    #[wasm_bindgen(js_name = deltaSince)]
    pub fn delta_since(&self, context: &[u8]) -> Result<Vec<u8>, JsValue> {
        Ok(self.inner.delta_since(&decode_context(context)?).to_bytes())
    }

    /// True when this replica has seen everything in `context` (`{replicaId: "1-4,7"}`,
    /// as a region's change event carries it), so the event needs no sync.
    ///
    /// # Errors
    /// `invalid_input` when it is not a context.
    #[wasm_bindgen(js_name = hasSeen)]
    pub fn has_seen(&self, context: JsValue) -> Result<bool, JsValue> {
        Ok(self.inner.context().includes(&crate::convert::context_from_js(context)?))
    }

    /// A binary sync request: this replica's context, and what a region that has seen
    /// `region_context` (binary, from its last answer; empty for none) lacks.
    ///
    /// # Errors
    /// `invalid_bytes` for a bad context.
    #[wasm_bindgen(js_name = syncRequest)]
    pub fn sync_request(&self, region_context: &[u8]) -> Result<Vec<u8>, JsValue> {
        let known =
            if region_context.is_empty() { CausalContext::new() } else { decode_context(region_context)? };
        Ok(SyncRequest { context: self.inner.context().clone(), delta: self.inner.delta_since(&known) }
            .to_bytes())
    }

    /// Joins a binary sync answer: `{changed, acceptedBy, replicatedTo, regionContext}`,
    /// where `regionContext` (bytes) is what the region has seen, for the next
    /// `syncRequest` to that region.
    ///
    /// # Errors
    /// `invalid_bytes`; nothing is changed then.
    #[wasm_bindgen(js_name = applySyncResponse)]
    pub fn apply_sync_response(&mut self, bytes: &[u8]) -> Result<JsValue, JsValue> {
        let response = SyncResponse::from_bytes(bytes).map_err(|e| decode_error("sync response", &e))?;
        let before = self.inner.context().clone();
        self.inner.join(&response.delta);
        let outcome = to_js(&SyncOutcome {
            changed: *self.inner.context() != before,
            accepted_by: response.durability.accepted_by,
            replicated_to: response.durability.replicated_to,
        })?;
        let region = js_sys::Uint8Array::from(response.context.to_bytes().as_slice());
        js_sys::Reflect::set(&outcome, &"regionContext".into(), &region)?;
        Ok(outcome)
    }
}

/// The largest `n` such that `context` (binary, a region's) holds every change 1..=n of
/// `replica_id`, as decimal text: a device's changes up to `n` are stored there. A
/// replica's own changes are numbered without gaps, so this is how far they have got.
///
/// # Errors
/// `invalid_bytes` for a bad context, `invalid_input` for a bad replica id.
#[wasm_bindgen(js_name = seenUpTo)]
pub fn seen_up_to(context: &[u8], replica_id: &str) -> Result<String, JsValue> {
    let id: ReplicaId = replica_id.parse().map_err(|e: cart_core::ReplicaIdError| {
        js_error("invalid_input", Some("replica_id"), &e.to_string())
    })?;
    let context = if context.is_empty() { CausalContext::new() } else { decode_context(context)? };
    let upto = context
        .iter()
        .find(|(r, _)| **r == id)
        .and_then(|(_, ranges)| ranges.first().copied())
        .filter(|(start, _)| *start == 1)
        .map_or(0, |(_, end)| end);
    Ok(upto.to_string())
}
