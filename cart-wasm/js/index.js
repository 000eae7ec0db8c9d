// offline-cart: see README.md and index.d.ts.

import { Cart } from './src/cart.js';
import { guard, loadCore } from './src/core.js';
import { replay } from './src/scenario.js';

export { Cart } from './src/cart.js';
export { CartError } from './src/errors.js';
/** The raw bindings (`CoreReplica` and friends) for custom transports and storage; most code wants `openCart`. */
export { loadCore } from './src/core.js';

/** Opens a shopper's cart on this device (restoring what it saved), and starts syncing. */
export function openCart(options) {
  return Cart.open(options);
}

let scenarioCore;

/** Replays one scenario file of the spec through the WebAssembly core. */
export async function runScenario(file, json) {
  scenarioCore = scenarioCore && !scenarioCore.broken ? scenarioCore : await loadCore();
  return guard(scenarioCore, (glue) => replay(glue, file, json));
}
