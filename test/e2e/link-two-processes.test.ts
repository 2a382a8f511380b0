import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createPtyPair } from '../../hw-profiles/sim/uart/pty-pair.ts';
import { DeviceStore } from '../../shared/store/store.ts';
import { osTool } from '../helpers/os-tools.ts';
import { tempDir } from '../helpers/temp.ts';
import { TEST_COLLECTIONS, effects, results, totals } from '../link/harness.ts';

const NODE = new URL('../link/fixtures/link-node.ts', import.meta.url).pathname;
const REQUESTS = 300;
const socat = osTool('socat', 'socat');

interface Proc {
  child: ChildProcess;
  events: Array<Record<string, unknown>>;
  waitFor(predicate: (e: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<void>;
}

function start(role: 'hot' | 'cold', dir: string, tty: string): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', NODE, role, dir, tty, String(REQUESTS)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const events: Array<Record<string, unknown>> = [];
  const waiters: Array<{ predicate: (e: Record<string, unknown>) => boolean; resolve: () => void }> = [];
  let buffer = '';
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout!.on('data', (d: Buffer) => {
    buffer += d.toString();
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      const event = JSON.parse(line) as Record<string, unknown>;
      events.push(event);
      for (const w of [...waiters]) if (w.predicate(event)) (waiters.splice(waiters.indexOf(w), 1), w.resolve());
    }
  });
  return {
    child,
    events,
    waitFor(predicate, timeoutMs = 60_000) {
      if (events.some(predicate)) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${role}: event not seen in time; stderr: ${stderr.slice(-2000)}`)), timeoutMs);
        waiters.push({ predicate, resolve: () => (clearTimeout(timer), resolve()) });
        child.on('exit', (code, signal) => {
          if (!events.some(predicate)) reject(new Error(`${role} exited (${code ?? signal}) early; stderr: ${stderr.slice(-2000)}`));
        });
      });
    },
  };
}

function kill9(proc: Proc): Promise<void> {
  return new Promise((resolve) => {
    proc.child.on('exit', () => resolve());
    proc.child.kill('SIGKILL');
  });
}

const settledAtLeast = (n: number) => (e: Record<string, unknown>) => e.event === 'settled' && (e.n as number) >= n;

describe.skipIf(!socat.available)('link end to end: two processes over a socat pty pair, real serialport bindings', () => {
  it(`${REQUESTS} requests complete exactly once although each side is killed with SIGKILL and restarted mid-exchange`, async () => {
    const dir = tempDir();
    const pair = await createPtyPair({ linkA: join(dir, 'ttyHot'), linkB: join(dir, 'ttyCold') });
    const hotDir = join(dir, 'hot');
    const coldDir = join(dir, 'cold');
    try {
      let cold = start('cold', coldDir, pair.pathB);
      let hot = start('hot', hotDir, pair.pathA);
      await hot.waitFor(settledAtLeast(60));
      await kill9(cold); // the responder dies with requests in flight
      cold = start('cold', coldDir, pair.pathB);
      await hot.waitFor(settledAtLeast(150));
      await kill9(hot); // and then the requester
      hot = start('hot', hotDir, pair.pathA);
      await hot.waitFor((e) => e.event === 'done', 120_000);
      // Both restarted processes came back on a new boot epoch and resumed from their stores.
      expect(cold.events.find((e) => e.event === 'up')).toMatchObject({ epoch: 2 });
      expect(hot.events.find((e) => e.event === 'up')).toMatchObject({ epoch: 2 });
      expect((hot.events.find((e) => e.event === 'settled')?.n as number) ?? 0).toBeGreaterThanOrEqual(150);
      await new Promise((resolve) => hot.child.on('exit', resolve));
      cold.child.kill('SIGTERM');
      await new Promise((resolve) => cold.child.on('exit', resolve));
    } finally {
      await pair.close();
    }
    const hotStore = DeviceStore.open(hotDir, { app: 'test-hot', schemaVersion: 1, collections: TEST_COLLECTIONS });
    const coldStore = DeviceStore.open(coldDir, { app: 'test-cold', schemaVersion: 1, collections: TEST_COLLECTIONS });
    try {
      expect(hotStore.count(results)).toBe(REQUESTS);
      const counts = [...coldStore.range(effects)].map((e) => e.value.count);
      expect(counts).toHaveLength(REQUESTS);
      expect(counts.every((c) => c === 1)).toBe(true);
      expect(coldStore.get(totals, 'sum')).toEqual({ total: REQUESTS });
    } finally {
      await hotStore.close();
      await coldStore.close();
    }
  }, 180_000);
});
