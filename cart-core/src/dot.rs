//! Replica ids and dots: the names of events.
//!
//! Every change a replica makes is one event, named by a [`Dot`]: the replica's id and
//! a counter that only grows. Two dots are equal only if they name the same event, so
//! a dot is how a remove says exactly which adds it saw.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

/// The id of one replica: a device, a browser tab, or one server process.
///
/// Ids are random version-4 UUIDs, drawn once when the replica is created and never
/// reused: a replica that loses its storage starts again under a new id, so its old
/// counters can never be handed out twice.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReplicaId([u8; 16]);

impl ReplicaId {
    /// Draws a fresh random id from the operating system's generator.
    #[cfg(feature = "random")]
    #[must_use]
    pub fn random() -> Self {
        Self(*Uuid::new_v4().as_bytes())
    }

    /// A version-4 id made from 16 random bytes the caller drew (the WebAssembly build
    /// draws them with `crypto.getRandomValues`); the version and variant bits are set.
    #[must_use]
    pub fn from_random_bytes(bytes: [u8; 16]) -> Self {
        Self(*uuid::Builder::from_random_bytes(bytes).into_uuid().as_bytes())
    }

    /// The id with these 16 bytes. Tests and decoders use it; new replicas use [`random`](Self::random).
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// The id's 16 bytes, in the order they sort.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Display for ReplicaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Uuid::from_bytes(self.0).hyphenated().fmt(f)
    }
}

impl fmt::Debug for ReplicaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReplicaId({self})")
    }
}

/// A replica id that is not a UUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("replica id {0:?} is not a UUID (expected 8-4-4-4-12 hex digits)")]
pub struct ReplicaIdError(pub String);

impl FromStr for ReplicaId {
    type Err = ReplicaIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s)
            .map(|u| Self(*u.as_bytes()))
            .map_err(|_| ReplicaIdError(s.chars().take(64).collect()))
    }
}

/// One event: the `counter`-th change made by `replica`. Counters start at 1.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Dot {
    /// The replica that made the change.
    pub replica: ReplicaId,
    /// Its position among that replica's changes, from 1 up to [`Dot::MAX_COUNTER`].
    pub counter: u64,
}

impl Dot {
    /// The largest counter a dot may carry. One below `u64::MAX`, so that "the next
    /// counter" is always representable; decoders refuse anything larger.
    pub const MAX_COUNTER: u64 = u64::MAX - 1;

    /// The dot of `replica`'s `counter`-th change.
    #[must_use]
    pub const fn new(replica: ReplicaId, counter: u64) -> Self {
        Self { replica, counter }
    }
}

impl fmt::Display for Dot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.counter, self.replica)
    }
}
