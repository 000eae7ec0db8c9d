// Real sync-server regions for the JS tests: each on a free loopback port, with its own
// temporary data directory, replicating with the others; stopped (and the directory
// removed) by `stop()`, which the tests call in `after` hooks, also when they fail.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const WEB_ROOT = join(ROOT, 'target/web');
const BINARY = process.env.SYNC_SERVER ?? join(ROOT, 'target/debug/sync-server');
export const SECRET = 'js-tests-secret-0123456789';

export async function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
    server.on('error', fail);
  });
}

async function waitReady(url, child, deadlineMs = 15000) {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`${url}: sync-server exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/readyz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url}: not ready in ${deadlineMs} ms`);
}

/** One region process. `stop()` ends it; `start()` brings it back on the same port and data. */
export class Region {
  constructor(name, port, dataDir, peers, origins) {
    Object.assign(this, { name, port, dataDir, peers, origins, url: `http://127.0.0.1:${port}` });
  }

  async start() {
    const args = ['serve', '--region', this.name, '--listen', `127.0.0.1:${this.port}`, '--data-dir', this.dataDir,
      '--token-secret', SECRET, '--web-root', WEB_ROOT, '--demo-tokens'];
    for (const peer of this.peers) args.push('--peer', peer);
    for (const origin of this.origins) args.push('--allow-origin', origin);
    this.child = spawn(BINARY, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, RUST_LOG: 'warn' } });
    this.stderr = '';
    this.child.stderr.on('data', (d) => { this.stderr = (this.stderr + d).slice(-4000); });
    await waitReady(this.url, this.child);
  }

  async stop(signal = 'SIGTERM') {
    // A process that was killed by a signal has a signalCode and no exitCode.
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill(signal);
    await exited;
  }
}

/** `names.length` regions that peer with each other; every origin of every region may call every other. */
export async function startRegions(names = ['us-west', 'eu-central']) {
  const ports = [];
  for (const _ of names) ports.push(await freePort());
  const urls = ports.map((p) => `http://127.0.0.1:${p}`);
  const dir = mkdtempSync(join(tmpdir(), 'cart-regions-'));
  const regions = names.map((name, i) => new Region(name, ports[i], join(dir, name), urls.filter((_, j) => j !== i), urls));
  const all = {
    regions,
    urls,
    async stop() {
      await Promise.all(regions.map((r) => r.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await Promise.all(regions.map((r) => r.start()));
  } catch (error) {
    await all.stop();
    throw error;
  }
  return all;
}

/** A device token from a region's demo token route. */
export async function demoToken(url, user, device) {
  const response = await fetch(`${url}/api/v1/demo/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(device ? { user_id: user, device } : { user_id: user }),
  });
  if (!response.ok) throw new Error(`demo token: ${response.status} ${await response.text()}`);
  return (await response.json()).token;
}

/** Polls `check` until it returns true (a condition of the system, not a sleep). */
export async function eventually(check, what, timeoutMs = 10000) {
  const until = Date.now() + timeoutMs;
  let last;
  while (Date.now() < until) {
    try {
      if (await check()) return;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
}
