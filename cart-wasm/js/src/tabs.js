// Tabs of one browser profile share one IndexedDB database but never a replica id.
//
// Each tab holds a numbered slot under a Web Lock for as long as it lives; a slot is
// one replica (id, counter, state) in storage, written only by the tab that holds it.
// So two tabs can never mint the same dot, and the number of replica ids a device
// uses is the largest number of tabs it had open at once, not the number of page loads.
// Tabs hear each other's changes at once on a BroadcastChannel, with no server.

const MAX_SLOTS = 64;

/** Holds the first free slot; `release()` gives it back. Without Web Locks, slot 0. */
export async function holdSlot(prefix) {
  const locks = globalThis.navigator?.locks;
  if (!locks) return { index: 0, release() {} };
  for (let index = 0; index < MAX_SLOTS; index++) {
    const release = await new Promise((resolve) => {
      locks
        .request(`${prefix}:slot:${index}`, { ifAvailable: true }, (lock) => {
          if (!lock) return resolve(null);
          return new Promise((done) => resolve(done));
        })
        .catch(() => resolve(null));
    });
    if (release) return { index, release };
  }
  throw new Error(`more than ${MAX_SLOTS} tabs hold this cart`);
}

/** A channel to the other tabs of this cart; `onDelta(bytes)` hears theirs. */
export function tabChannel(name, onDelta) {
  if (name === null || typeof globalThis.BroadcastChannel !== 'function') return { post() {}, close() {} };
  const channel = new BroadcastChannel(name);
  channel.onmessage = (event) => {
    const { delta, from } = event.data ?? {};
    if (delta instanceof Uint8Array) onDelta(delta, typeof from === 'string' ? from : null);
  };
  return {
    post(delta, from) { channel.postMessage({ delta, from }); },
    close() { channel.close(); },
  };
}
