/**
 * Nobody on the network can keep the platform out of HSM-Hot's host API, nor learn or spoil
 * its nonces: idle unauthenticated sockets (WebSocket or raw TCP, from the platform's own
 * address or from many) never cost the platform its session, nor make it wait for their auth
 * deadline (the world clock stands still while it connects); an unsigned message learns
 * nothing about a key's nonce; a signed nonce cannot jump so far that the key runs out of
 * nonces; an oversize frame closes with 1009, as documented.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { API_ERROR } from '../../hsm-hot/api-wire.ts';
import { lastNonce } from '../../hsm-hot/api-keys.ts';
import { PlatformClient, type ServerMessage } from './client.ts';
import { eventually } from '../helpers/eventually.ts';
import { idleTcpSockets, idleWebSockets, platformGetsIn, releaseAll, sendOversizeFrameSlowly } from './idle-sockets.ts';
import { HotRig } from './rig.ts';
import { PLATFORM, READER, STRANGER, TEST_CONFIG } from './wallet-fixture.ts';

let rig: HotRig | undefined;
afterEach(async () => {
  releaseAll();
  await rig?.close();
  rig = undefined;
});

function expectErr(reply: ServerMessage, code: string, field?: string): void {
  expect(reply.msg, JSON.stringify(reply.data)).toBe('err');
  expect(reply.data.code).toBe(code);
  if (field !== undefined) expect(reply.data.field).toBe(field);
}

describe('host API admission', () => {
  it('the platform authenticates without waiting for any deadline while 1,000 idle unauthenticated WebSockets are held from its own address', async () => {
    const r = (rig = await HotRig.create({ coldRunning: false }));
    const first = await r.client();
    first.drop();
    const idle = await idleWebSockets(r.url, 1_000, ['127.0.0.1']);
    // The device keeps at most its per-address share of them and closes the rest.
    await eventually(() => idle.closedByDevice() >= 1_000 - r.hot.config.api.maxPendingPerAddress, 'the device closed the idle sockets past its share');
    const platform = await platformGetsIn(r.url, r.clock);
    expect((await platform.op('device_status', {})).msg).toBe('ack');
    platform.drop();
  }, 120_000);

  it('the platform authenticates without waiting for any deadline while 1,000 idle WebSockets from 100 addresses and 300 silent TCP sockets are held', async () => {
    const r = (rig = await HotRig.create({ coldRunning: false }));
    const addresses = Array.from({ length: 100 }, (_, i) => `127.0.${1 + Math.floor(i / 200)}.${(i % 200) + 2}`);
    await idleWebSockets(r.url, 1_000, addresses);
    await idleTcpSockets(Number(new URL(r.url).port), 300);
    const platform = await platformGetsIn(r.url, r.clock);
    expect((await platform.op('device_status', {})).msg).toBe('ack');
  }, 120_000);
});

describe('host API: authenticated connections', () => {
  it('at the cap (2 here) a key reconnecting displaces its own oldest connection (1013); another key is refused, spending nothing', async () => {
    const r = (rig = await HotRig.create({ coldRunning: false, config: { ...TEST_CONFIG, api: { maxConnections: 2 } } }));
    const first = await r.client();
    const second = await r.client();
    const third = await r.client();
    await eventually(() => first.closed, 'the oldest connection of the key closed');
    expect(first.closeCode).toBe(1013);
    expect(second.closed).toBe(false);
    expect((await third.op('device_status', {})).msg).toBe('ack');

    const reader = await PlatformClient.connect(r.url, READER);
    const before = lastNonce(r.hot.store, READER.publicKey);
    expectErr(await reader.auth(), API_ERROR.CONNECTION_LIMIT);
    expect(lastNonce(r.hot.store, READER.publicKey)).toBe(before);
    expect((await second.op('device_status', {})).msg).toBe('ack');
  });
});

describe('host API nonces against an attacker', () => {
  it('an unsigned probe learns nothing about the last nonce of a key: the signature is checked first', async () => {
    const r = (rig = await HotRig.create({ coldRunning: false }));
    const client = await r.client();
    expect((await client.op('device_status', {})).msg).toBe('ack');
    const last = lastNonce(r.hot.store, PLATFORM.publicKey);
    const probe = await PlatformClient.connect(r.url);
    for (const nonce of [1, last - 1, last, last + 1, last + 1_000]) {
      expectErr(await probe.auth({ nonce, signWith: STRANGER.privateKey }), API_ERROR.SIGNATURE_INVALID, 'data.signed');
      expectErr(await client.op('device_status', {}, { nonce, signWith: STRANGER.privateKey }), API_ERROR.SIGNATURE_INVALID, 'data.signed');
    }
    expect(lastNonce(r.hot.store, PLATFORM.publicKey)).toBe(last);
  });

  it('a signed nonce that jumps too far is refused and spends nothing, so the key can never run out of nonces', async () => {
    const r = (rig = await HotRig.create({ coldRunning: false }));
    const client = await r.client();
    const before = lastNonce(r.hot.store, PLATFORM.publicKey);
    expectErr(await client.op('device_status', {}, { nonce: 2 ** 53 - 2 }), API_ERROR.NONCE_TOO_FAR, 'data.nonce');
    expect(lastNonce(r.hot.store, PLATFORM.publicKey)).toBe(before);
    expect((await client.op('device_status', {})).msg).toBe('ack');
    // A platform that recovers a lost nonce record by jumping to the time in µs still may.
    const jump = r.clock.now() * 1000;
    expect((await client.op('device_status', {}, { nonce: jump })).msg).toBe('ack');
    expect((await client.op('device_status', {}, { nonce: jump + 1 })).msg).toBe('ack');
  });
});

describe('host API frames', () => {
  it('answers a client still sending a 5 MB frame (past the 4 MB hard cap) with a 1009 close, not a reset (3 clients)', async () => {
    const r = (rig = await HotRig.create({ coldRunning: false }));
    const port = Number(new URL(r.url).port);
    for (let i = 0; i < 3; i++) expect(await sendOversizeFrameSlowly(port, 5 * 1024 * 1024)).toEqual({ closeCode: 1009, reset: false });
    expect((await PlatformClient.session(r.url)).challenge).toMatch(/^[0-9a-f]{64}$/);
  });
});
