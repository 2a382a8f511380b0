/**
 * The rig's control server on its own, with handlers that record what they were asked: every
 * error has the one body shape `{"errors":[{"field"?,"message","code"}]}` with the status's own
 * code, and world time cannot be pushed past what the firmware can represent, by `ms` or `to`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ControlServer, MAX_ADVANCE_MS, WORLD_TIME_LIMIT, type ControlHandlers } from '../../hw-profiles/sim/control-server.ts';
import { EventBus } from '../../hw-profiles/sim/events.ts';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSeedFile } from '../../scripts/cli/sim.ts';
import { SimulatedClock } from '../../shared/clock.ts';
import { expectHsmError } from '../helpers/errors.ts';
import { tempDir } from '../helpers/temp.ts';

const START = Date.UTC(2026, 2, 10, 7, 0);
let server: ControlServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function serve(now = START): Promise<{ url: string; advanced: number[] }> {
  const clock = new SimulatedClock({ start: now });
  const advanced: number[] = [];
  const handlers: ControlHandlers = {
    now: () => clock.now(),
    status: async () => ({ ok: true }),
    advance: async (ms) => {
      advanced.push(ms);
      return { now: new Date(clock.now() + ms).toISOString() };
    },
    fault: async () => undefined,
    withdrawal: async () => 1,
    batch: async () => undefined,
    sms: async () => undefined,
  };
  server = new ControlServer(new EventBus(clock), handlers);
  return { url: await server.listen('127.0.0.1', 0), advanced };
}

async function post(url: string, path: string, body: string, contentType = 'application/json'): Promise<{ status: number; body: any }> {
  const response = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': contentType }, body });
  return { status: response.status, body: await response.json() };
}

describe('control server errors', () => {
  it('answers every error with the one body shape and the code of its status (6 kinds)', async () => {
    const { url } = await serve();
    const cases: Array<[string, Promise<{ status: number; body: any }>, number, number]> = [
      ['a field out of range', post(url, '/control/advance', '{"ms":-5}'), 400, 40001],
      ['a body that is not JSON', post(url, '/control/advance', '{"ms":'), 400, 40001],
      ['a body over 64 KiB', post(url, '/control/sms', JSON.stringify({ text: 'x'.repeat(70_000) })), 413, 41301],
      ['a body of another media type', post(url, '/control/advance', 'ms=5', 'text/plain'), 415, 41501],
      ['an unknown path', fetch(`${url}/control/nothing`).then(async (r) => ({ status: r.status, body: await r.json() })), 404, 1000],
      ['a path with a bad escape', fetch(`${url}/control/%zz`).then(async (r) => ({ status: r.status, body: await r.json() })), 400, 40001],
    ];
    for (const [what, request, status, code] of cases) {
      const response = await request;
      expect(response.status, what).toBe(status);
      expect(Object.keys(response.body), what).toEqual(['errors']);
      expect(response.body.errors, what).toHaveLength(1);
      const [error] = response.body.errors;
      expect(error.code, what).toBe(code);
      expect(typeof error.message, what).toBe('string');
      expect(Object.keys(error).filter((k) => !['field', 'message', 'code'].includes(k)), what).toEqual([]);
    }
  });
});

describe('control server: advancing world time', () => {
  it('takes ms and to within the same bound, and moves time by what was asked', async () => {
    const { url, advanced } = await serve();
    expect((await post(url, '/control/advance', '{"ms":60000}')).status).toBe(200);
    expect((await post(url, '/control/advance', JSON.stringify({ to: new Date(START + 3_600_000).toISOString() }))).status).toBe(200);
    expect(advanced).toEqual([60_000, 3_600_000]);
  });

  it('refuses a to in the past, one further than ms may go, and one past what the firmware can represent, changing nothing', async () => {
    const { url, advanced } = await serve();
    for (const [body, field] of [
      [{ to: '2100-01-01T00:00:00Z' }, 'to'],
      [{ to: new Date(START + MAX_ADVANCE_MS + 1).toISOString() }, 'to'],
      [{ to: new Date(START - 1).toISOString() }, 'to'],
      [{ ms: MAX_ADVANCE_MS + 1 }, 'ms'],
    ] as const) {
      const response = await post(url, '/control/advance', JSON.stringify(body));
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.body.errors[0].field, JSON.stringify(body)).toBe(field);
    }
    expect(advanced).toEqual([]);
  });

  it('stops short of the last time the firmware can represent, however it is approached', async () => {
    const { url, advanced } = await serve(WORLD_TIME_LIMIT - 1_000);
    expect((await post(url, '/control/advance', '{"ms":1000}')).status).toBe(200);
    const over = await post(url, '/control/advance', '{"ms":1001}');
    expect(over.status).toBe(400);
    expect(over.body.errors[0]).toMatchObject({ field: 'ms', code: 40001 });
    expect(over.body.errors[0].message).toContain('2089');
    expect(advanced).toEqual([1_000]);
  });

  it('a seed file cannot start a world outside the times the firmware can represent', () => {
    const dir = tempDir();
    for (const start of ['2100-01-01T00:00:00Z', '1999-12-31T00:00:00Z']) {
      const file = join(dir, `seed-${start.slice(0, 4)}.json`);
      writeFileSync(file, JSON.stringify({ seed: 's', start }));
      expectHsmError(() => readSeedFile(file), 'BAD_OPTION', 'seed.start');
    }
    const file = join(dir, 'seed-ok.json');
    writeFileSync(file, JSON.stringify({ seed: 's', start: '2089-12-30T00:00:00Z' }));
    expect(readSeedFile(file).start).toBe(Date.UTC(2089, 11, 30));
  });
});
