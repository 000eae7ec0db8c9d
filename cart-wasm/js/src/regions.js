// The regional endpoints a device talks to: nearest first, failing over in order.
//
// Order: by the round trip of each region's /healthz, measured when the list is set
// (unless the caller fixes the order), and a region that fails moves to the back until
// the next measurement. A request goes to the first region; a network error, a
// timeout, a 5xx or a 409 `unknown_changes` (that region has not yet replicated what
// the device saw elsewhere) tries the next one. Other 4xx answers are the caller's
// mistake and stop at once: they would fail everywhere.

import { CartError } from './errors.js';

const RETRYABLE = (status, code) => status >= 500 || status === 408 || status === 429 || code === 'unknown_changes';

export class Regions {
  constructor({ urls = [], timeoutMs = 4000, rankByLatency = true }) {
    this.timeoutMs = timeoutMs;
    this.set(urls, { rankByLatency });
  }

  set(urls, { rankByLatency = false } = {}) {
    this.urls = [...new Set(urls.map((u) => u.replace(/\/+$/, '')))];
    this.order = [...this.urls];
    this.ranked = rankByLatency ? this.rank() : Promise.resolve();
  }

  /** Measures each region's round trip and orders them, unreachable ones last. */
  async rank() {
    const urls = [...this.urls];
    const times = await Promise.all(
      urls.map(async (url) => {
        const start = performance.now();
        try {
          const response = await this.fetch(`${url}/healthz`, {});
          return response.ok ? performance.now() - start : Infinity;
        } catch {
          return Infinity;
        }
      }),
    );
    if (urls.join() === this.urls.join()) {
      this.order = urls.map((url, i) => [url, times[i]]).sort((a, b) => a[1] - b[1]).map(([url]) => url);
    }
  }

  demote(url) {
    this.order = [...this.order.filter((u) => u !== url), url];
  }

  /** fetch with this client's timeout; a timeout is an error like a lost connection. */
  async fetch(url, init) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    try {
      return await fetch(url, { ...init, signal: controller.signal });
    } catch (error) {
      throw new CartError('unreachable', `${url}: ${controller.signal.aborted ? `no answer in ${this.timeoutMs} ms` : error.message}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Sends `init` (a function of the region's URL, so each region gets its own body) to
   * `path` at the first region that takes it. Resolves `{url, response}`; rejects with
   * a CartError that lists every region's failure.
   */
  async request(path, init) {
    await this.ranked;
    if (this.order.length === 0) throw new CartError('no_regions', 'no regional endpoint is configured');
    const failures = [];
    for (const url of [...this.order]) {
      let response;
      try {
        response = await this.fetch(`${url}${path}`, await init(url));
      } catch (error) {
        failures.push(error.message);
        this.demote(url);
        continue;
      }
      if (response.ok) return { url, response };
      const body = await response.json().catch(() => ({}));
      const code = body?.error?.code ?? body?.code ?? `http_${response.status}`;
      const message = `${url}: ${response.status} ${body?.error?.message ?? body?.message ?? ''}`.trim();
      if (!RETRYABLE(response.status, code)) throw new CartError(code, message, { field: body?.error?.field ?? body?.field });
      failures.push(message);
      if (code !== 'unknown_changes') this.demote(url);
    }
    throw new CartError('sync_failed', `no region took the request: ${failures.join('; ')}`);
  }
}
