// Loads cart-core's WebAssembly build, and replaces an instance that trapped.
//
// A Rust panic (a bug) aborts: JavaScript sees `RuntimeError: unreachable`, and that
// instance's memory can no longer be trusted. `guard` turns the trap into a CartError
// with the panic's message; the caller then asks for a fresh instance (`loadCore`) and
// restores its replica from the last saved bytes. A fresh instance is a fresh import of
// the glue module (its URL differs by a query), sharing one compiled WebAssembly.Module.

import { CartError, fromCore } from './errors.js';

let compiled;
let generation = 0;

function compile() {
  compiled ??= (async () => {
    const url = new URL('../core/cart_wasm_bg.wasm', import.meta.url);
    if (url.protocol === 'file:') {
      const { readFile } = await import('node:fs/promises');
      return WebAssembly.compile(await readFile(url));
    }
    const response = await fetch(url);
    if (!response.ok) throw new CartError('load_failed', `cannot load ${url}: HTTP ${response.status}`);
    return WebAssembly.compile(await response.arrayBuffer());
  })();
  return compiled;
}

/** A ready instance of the core: its exports, plus `broken` once it has trapped. */
export async function loadCore() {
  const module = await compile();
  const glue = await import(`../core/cart_wasm.js?instance=${generation++}`);
  glue.initSync({ module });
  return { glue, broken: false };
}

/** Runs `fn` against `core`, turning a trap into a `panic` CartError and core errors into CartErrors. */
export function guard(core, fn) {
  if (core.broken) throw new CartError('panic', 'this cart-core instance trapped earlier; reload it');
  try {
    return fn(core.glue);
  } catch (error) {
    if (error instanceof WebAssembly.RuntimeError) {
      core.broken = true;
      let message = null;
      try {
        message = core.glue.takePanicMessage();
      } catch {
        // The instance may be beyond reading; the trap's own text stands in.
      }
      throw new CartError('panic', `cart-core panicked: ${message ?? error.message}`, { cause: error });
    }
    throw fromCore(error);
  }
}
