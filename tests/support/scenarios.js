// The scenario files and the native runner's reports of them (with final encodings).

import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from './regions.js';

export function scenarioFiles() {
  const dirs = [join(ROOT, 'cart-core/scenarios/spec'), join(ROOT, 'cart-core/scenarios/project'), join(ROOT, '../shared/spec/scenarios')];
  return dirs.flatMap((dir) => {
    try {
      return readdirSync(dir).filter((f) => f.endsWith('.json')).sort().map((f) => relative(ROOT, join(dir, f)));
    } catch {
      return [];
    }
  });
}

/** `scenario --with-states` over `files` (paths relative to the repository root). */
export function nativeReports(files) {
  const out = execFileSync('cargo', ['run', '-q', '--locked', '-p', 'cart-core', '--example', 'scenario', '--', '--with-states', ...files], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const lines = out.trim().split('\n').map((l) => JSON.parse(l));
  return new Map(files.map((f, i) => [f, lines[i]]));
}
