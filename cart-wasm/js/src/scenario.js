// Replays a scenario file of the spec (shared/spec/cart-semantics.md, "Scenario files")
// through the shipped module's public API, so the very binary a storefront loads is
// checked against the native runner: the same carts, refusals and bytes.
//
// This only drives replicas and compares what they show; every rule is cart-core's.
// Replica ids are fixed by position exactly as the native runner fixes them (the
// i-th replica's 16 bytes all equal i + 1), so encodings match byte for byte.

import { CartError, fromCore } from './errors.js';

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

function idOf(index) {
  const byte = Math.min(index + 1, 255).toString(16).padStart(2, '0');
  const h = byte.repeat(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function sameCart(a, b) {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}

/** Replays one scenario (JSON text) with `glue`, the module's exports. */
export function replay(glue, file, json) {
  const unreadable = (why) => ({ name: file, pass: false, replicas: {}, errors: [], encoded_bytes: {}, failures: [why], states: {} });
  let scenario;
  try {
    scenario = JSON.parse(json);
  } catch (error) {
    return unreadable(`${file}: not a valid scenario: ${error.message}`);
  }
  if (!Array.isArray(scenario?.replicas) || !Array.isArray(scenario?.steps)) {
    return unreadable(`${file}: not a valid scenario: it needs "replicas" and "steps" lists`);
  }
  if (new Set(scenario.replicas).size !== scenario.replicas.length) {
    return unreadable(`${file}: a replica name is listed twice`);
  }
  const replicas = new Map(scenario.replicas.map((name, i) => [name, glue.CoreReplica.withId(idOf(i))]));
  const deltas = new Map();
  const errors = [];
  const failures = [];
  const at = (name) => {
    const replica = replicas.get(name);
    if (!replica) throw new Error(`unknown replica ${JSON.stringify(name)}`);
    return replica;
  };
  const attrs = (s) => ({ unitPrice: s.unit_price ?? undefined, name: s.name ?? undefined });
  const ops = {
    add: (r, s) => r.add(s.item, s.qty, attrs(s)),
    set: (r, s) => r.set(s.item, s.qty, attrs(s)),
    remove: (r, s) => r.remove(s.item),
    clear: (r) => r.clear(),
    set_item_limit: (r, s) => r.setItemLimit(s.qty),
  };
  try {
    scenario.steps.forEach((step, index) => {
      try {
        if (step.op !== undefined) {
          const op = ops[step.op];
          if (!op) throw new Error(`operation ${JSON.stringify(step.op)} with these fields is not a known step form`);
          try {
            deltas.set(index, op(at(step.at), step));
          } catch (error) {
            const e = fromCore(error);
            if (e.code !== 'invalid_input') throw e;
            errors.push({ step: index, field: e.field, message: e.message });
          }
        } else if (step.merge !== undefined) {
          at(step.into).join(at(step.merge).stateBytes());
        } else if (step.sync !== undefined) {
          const [a, b] = step.sync;
          for (const [from, to] of [[b, a], [a, b]]) at(to).join(at(from).deltaSince(at(to).contextBytes()));
        } else if (step.deliver !== undefined) {
          for (const i of step.deliver) {
            if (!deltas.has(i)) throw new Error(`step ${i} made no delta to deliver`);
            at(step.into).join(deltas.get(i));
          }
        } else {
          throw new CartError('invalid_input', `step ${index} is not one of the step forms of the spec`);
        }
      } catch (error) {
        if (error instanceof CartError && error.message.startsWith(`step ${index} is not`)) throw error;
        failures.push(`step ${index}: ${error.message}`);
      }
    });
  } catch (error) {
    return unreadable(`${file}: ${error.message}`);
  }
  const carts = {};
  const states = {};
  const encoded = {};
  for (const [name, replica] of replicas) {
    carts[name] = Object.fromEntries(replica.items().map((l) => [l.itemId, l.quantity]));
    states[name] = hex(replica.stateBytes());
    encoded[name] = states[name].length / 2;
  }
  for (const [name, expected] of Object.entries(scenario.expect ?? {})) {
    if (!carts[name]) failures.push(`expect names unknown replica ${JSON.stringify(name)}`);
    else if (!sameCart(carts[name], expected)) failures.push(`${name}: expected cart ${JSON.stringify(expected)}, got ${JSON.stringify(carts[name])}`);
  }
  const refused = [...new Set(errors.map((e) => e.step))].sort((x, y) => x - y);
  const expectedRefused = [...new Set(scenario.expect_errors ?? [])].sort((x, y) => x - y);
  if (refused.join() !== expectedRefused.join()) failures.push(`expected refused steps [${expectedRefused}], got [${refused}]`);
  for (const group of scenario.identical ?? []) {
    for (const other of group.slice(1)) {
      if (states[group[0]] === undefined || states[other] !== states[group[0]]) failures.push(`${group[0]} and ${other}: encodings differ`);
    }
  }
  for (const [name, total] of Object.entries(scenario.expect_total ?? {})) {
    const got = replicas.get(name)?.total();
    if (got !== total) failures.push(`${name}: expected total ${total}, got ${got}`);
  }
  for (const replica of replicas.values()) replica.free();
  return { name: scenario.name, pass: failures.length === 0, replicas: carts, errors, encoded_bytes: encoded, failures, states };
}
