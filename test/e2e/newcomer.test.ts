/**
 * A newcomer's first run: `npm start` (= `node bin/hsm.mjs sim`) prints the READY line, the
 * printed token works against the printed API URL and the answers have the seed's
 * shapes, Ctrl-C stops it cleanly, and a second run on the same state directory resumes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { worldKeys } from '../../hw-profiles/sim/world-keys.ts';
import { tempDir } from '../helpers/temp.ts';
import { oracleAddresses } from '../sim/rig-helpers.ts';
import { startSim } from './sim-process.ts';

/** The seed's "User" example, key for key. */
const SEED_USER_KEYS = ['can_otc_ad', 'user_id', 'gender', 'user_type', 'real_name', 'receiving_index', 'avatar', 'register_at', 'address', 'balance', 'user_name', 'can_otc_order'];
/** Guards against a hang only: how fast the sim starts is not a test's business (it is logged). */
const READY_LIMIT_MS = 150_000;
const STOP_LIMIT_MS = 60_000;

async function get(url: string, token: string): Promise<{ status: number; body: any }> {
  const response = await fetch(url, { headers: { token } });
  return { status: response.status, body: await response.json() };
}

describe('a newcomer runs npm start', () => {
  it('READY, the seed shapes with the printed token, a clean Ctrl-C, and a resumed second run', async () => {
    const dir = tempDir('hsm-newcomer-');
    const readyFile = join(dir, 'ready.json');
    const stateDir = join(dir, 'state');
    const args = ['--ready-file', readyFile, '--state-dir', stateDir];

    const first = startSim(args);
    const { ready, elapsedMs } = await first.ready(READY_LIMIT_MS);
    console.info(`hsm sim: READY after ${elapsedMs} ms (new world, real KDF, time scale 1)`);
    expect(JSON.parse(readFileSync(readyFile, 'utf8'))).toEqual(ready);
    expect(ready).toMatchObject({ resumed: false, processes: false, timeScale: 1, vDevice: { mode: 'emulated' }, adminModem: null });
    expect(ready.stateDir).toBe(stateDir);
    expect(ready.api.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/v1\/open$/);
    expect(ready.hostApi.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+/);
    expect(ready.hostApi.identity).toMatch(/^0[23][0-9a-f]{64}$/);
    expect(Object.values(ready.numbers).every((n) => /^\+\d{8,15}$/.test(n))).toBe(true);
    expect(ready.dashboard).toBe(`${ready.control}/dashboard/`);
    const dashboard = await fetch(ready.dashboard);
    expect(dashboard.status).toBe(200);
    expect(await dashboard.text()).toContain('<script type="module" src="page/app.js">');

    const api = ready.api.url;
    const token = ready.api.tokens.hotSending.token;
    const time = await get(`${api}/time`, token);
    expect(time.status).toBe(200);
    expect(Object.keys(time.body)).toEqual(['time']);
    expect(time.body.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);

    const user = await get(`${api}/user`, token);
    expect(user.status).toBe(200);
    expect(Object.keys(user.body).sort()).toEqual([...SEED_USER_KEYS].sort());
    expect(user.body).toMatchObject({ user_id: 40000, real_name: null, avatar: null, can_otc_ad: 0, can_otc_order: 0, gender: 0, user_type: 4 });
    expect(user.body.balance).toBeGreaterThan(0); // a new world funds the hot wallet
    expect(user.body.register_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);

    // The addresses are the world's: an independent derivation from its seed gives the same.
    const keys = worldKeys(ready.seed);
    const batch = await get(`${api}/address/batch/0`, token);
    expect(batch.status).toBe(200);
    expect(batch.body).toHaveLength(1000);
    expect(batch.body.map((a: { index: number }) => a.index)).toEqual([...Array(1000).keys()]);
    expect(batch.body.every((a: object) => Object.keys(a).join() === 'index,address')).toBe(true);
    expect(batch.body.slice(0, 5).map((a: { address: string }) => a.address)).toEqual(oracleAddresses(keys.hotMnemonic, 0, 0, 5));

    const next = await get(`${api}/address/next`, token);
    expect(next.status).toBe(200);
    expect(Object.keys(next.body)).toEqual(['index', 'address']);
    expect(next.body.index).toBe(user.body.receiving_index);
    expect(next.body.address).toBe(user.body.address);
    expect(next.body.address).toBe(batch.body[next.body.index].address);

    // Without a token nothing is served, in the seed's error shape.
    const anonymous = await fetch(`${api}/time`);
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { errors: unknown[] }).errors[0]).toMatchObject({ field: 'token', code: 1301 });

    expect(await first.stop('SIGINT', STOP_LIMIT_MS)).toBe(0);
    expect(first.stderr()).toContain('stopped.');
    expect(first.stderr()).toContain(`dashboard    ${ready.dashboard}`);

    const second = startSim(args);
    const resumed = await second.ready(READY_LIMIT_MS);
    console.info(`hsm sim: READY after ${resumed.elapsedMs} ms (resumed world)`);
    expect(resumed.ready).toMatchObject({ resumed: true, seed: ready.seed, stateDir, hostApi: { identity: ready.hostApi.identity } });
    expect(JSON.parse(readFileSync(readyFile, 'utf8'))).toEqual(resumed.ready);
    expect(Date.parse(resumed.ready.worldTime)).toBeGreaterThanOrEqual(Date.parse(ready.worldTime));
    const again = await get(`${resumed.ready.api.url}/user`, resumed.ready.api.tokens.hotSending.token);
    expect(again.body).toMatchObject({ user_id: 40000, balance: user.body.balance, address: user.body.address });
    expect(await second.stop('SIGTERM', STOP_LIMIT_MS)).toBe(0);
  }, 420_000);
});
