//! Lock stripes keyed by cart id: operations on one cart go one at a time, operations
//! on different carts mostly do not wait for each other, and memory stays fixed.

use std::hash::{Hash, Hasher};

use tokio::sync::{Mutex, MutexGuard};

/// A fixed set of async mutexes; a cart id picks one by hash.
pub struct Stripes(Vec<Mutex<()>>);

impl Stripes {
    /// `n` stripes (at least one).
    #[must_use]
    pub fn new(n: usize) -> Self {
        Self((0..n.max(1)).map(|_| Mutex::new(())).collect())
    }

    /// Waits for the stripe of `key`.
    pub async fn lock(&self, key: &str) -> MutexGuard<'_, ()> {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut hasher);
        let count = u64::try_from(self.0.len()).unwrap_or(1);
        let index =
            usize::try_from(hasher.finish().checked_rem(count).unwrap_or_default()).unwrap_or_default();
        #[allow(clippy::indexing_slicing)] // index < len, and len >= 1
        self.0[index].lock().await
    }
}
