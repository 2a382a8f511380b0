/**
 * Nobody on the network can keep the platform out of HSM-Hot's host API, nor learn or spoil
 * its nonces: idle unauthenticated sockets (WebSocket or raw TCP, from the platform's own
 * address or from many) never cost the platform its session; an unsigned message learns
 * nothing about a key's nonce; a signed nonce cannot jump so far that the key runs out of
 * nonces; an oversize frame closes with 1009, as documented.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { API_ERROR } from '../../hsm-hot/api-wire.ts';
import { lastNonce } from '../../hsm-hot/api-keys.ts';
import { PlatformClient, type ServerMessage } from './client.ts';
import { eventually } from '../helpers/eventually.ts';
import { HotRig } from './rig.ts';
import { PLATFORM, STRANGER } from './wallet-fixture.ts';

/** The platform's reconnect bound: a round trip and a signature, with room for a loaded machine. */
const RECONNECT_BOUND_MS = 2_000;

let rig: HotRig | undefined;
const held: Array<{ close(): void }> = [];
afterEach(async () => {
  for (const socket of held.splice(0)) socket.close();
  await rig?.close();
  rig = undefined;
});

function expectErr(reply: ServerMessage, code: string, field?: string): void {
  expect(reply.msg, JSON.stringify(reply.data)).toBe('err');
  expect(reply.data.code).toBe(code);
  if (field !== undefined) expect(reply.data.field).toBe(field);
}

/** Opens `count` WebSocket connections that never authenticate, from `addresses` in turn; resolves once each opened or was closed. */
async function idleWebSockets(url: string, count: number, addresses: readonly string[]): Promise<{ closedByDevice: () => number }> {
  let closed = 0;
  for (let start = 0; start < count; start += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, count - start) }, (_, i) => {
        const ws = new WebSocket(url, { perMessageDeflate: false, localAddress: addresses[(start + i) % addresses.length] });
        held.push({ close: () => ws.terminate() });
        ws.on('close', () => closed++);
        ws.on('error', () => undefined);
        return new Promise<void>((resolve) => {
          ws.once('open', () => resolve());
          ws.once('close', () => resolve());
        });
      }),
    );
  }
  return { closedByDevice: () => closed };
}

/** Opens `count` raw TCP connections that never send a byte. */
async function idleTcpSockets(port: number, count: number): Promise<void> {
  await Promise.all(
    Array.from({ length: count }, () => {
      const socket: Socket = connect({ host: '127.0.0.1', port });
      held.push({ close: () => socket.destroy() });
      socket.on('error', () => undefined);
      return new Promise<void>((resolve) => {
        socket.once('connect', () => resolve());
        socket.once('close', () => resolve());
      });
    }),
  );
}

/** The platform connects and authenticates; fails when that takes longer than the bound. */
async function platformWithinBound(url: string): Promise<PlatformClient> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the platform was not authenticated within ${RECONNECT_BOUND_MS} ms`)), RECONNECT_BOUND_MS);
  });
  try {
    return await Promise.race([PlatformClient.session(url, PLATFORM), bound]);
  } finally {
    clearTimeout(timer);
  }
}

describe('host API admission', () => {
  it('the platform authenticates within 2 s while 1,000 idle unauthenticated WebSockets are held from its own address', async () => {
    const r = (rig = await HotRig.create({ coldRunning: false }));
    const first = await r.client();
    first.drop();
    const idle = await idleWebSockets(r.url, 1_000, ['127.0.0.1']);
    // The device keeps at most its per-address share of them and closes the rest.
    await eventually(() => idle.closedByDevice() >= 1_000 - r.hot.config.api.maxPendingPerAddress, 'the device closed the idle sockets past its share');
    const platform = await platformWithinBound(r.url);
    expect((await platform.op('device_status', {})).msg).toBe('ack');
    platform.drop();
  }, 120_000);

  it('the platform authenticates within 2 s while 1,000 idle WebSockets from 100 addresses and 300 silent TCP sockets are held', async () => {
    const r = (rig = await HotRig.create({ coldRunning: false }));
    const addresses = Array.from({ length: 100 }, (_, i) => `127.0.${1 + Math.floor(i / 200)}.${(i % 200) + 2}`);
    await idleWebSockets(r.url, 1_000, addresses);
    await idleTcpSockets(Number(new URL(r.url).port), 300);
    const platform = await platformWithinBound(r.url);
    expect((await platform.op('device_status', {})).msg).toBe('ack');
  }, 120_000);
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

/**
 * A raw WebSocket client (RFC 6455 §4.1, §5.2) that announces a text frame of `total` bytes and
 * keeps sending its payload in 64 KiB pieces while it reads; resolves with the close code the
 * device sent, or `reset` when the connection was cut without one (what a client reports as 1006).
 */
async function sendOversizeFrameSlowly(port: number, total: number): Promise<{ closeCode: number | null; reset: boolean }> {
  const socket = connect({ host: '127.0.0.1', port });
  held.push({ close: () => socket.destroy() });
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  let buffer = Buffer.alloc(0);
  let upgraded = false;
  let closeCode: number | null = null;
  let reset = false;
  const pump = (sent: number): void => {
    if (socket.destroyed || sent >= total) return;
    const piece = Buffer.alloc(Math.min(65_536, total - sent), 0x41);
    socket.write(piece);
    setTimeout(() => pump(sent + piece.length), 1);
  };
  await new Promise<void>((resolve) => {
    socket.on('data', (data: Buffer) => {
      buffer = Buffer.concat([buffer, data]);
      if (!upgraded) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        upgraded = true;
        buffer = buffer.subarray(end + 4);
        // FIN + text, masked, 64-bit length, masking key.
        const header = Buffer.alloc(14);
        header[0] = 0x81;
        header[1] = 0x80 | 127;
        header.writeBigUInt64BE(BigInt(total), 2);
        randomBytes(4).copy(header, 10);
        socket.write(header);
        pump(0);
      }
      while (buffer.length >= 2) {
        const opcode = (buffer[0] as number) & 0x0f;
        let length = (buffer[1] as number) & 0x7f;
        let offset = 2;
        if (length === 126) {
          if (buffer.length < 4) return;
          length = buffer.readUInt16BE(2);
          offset = 4;
        }
        if (buffer.length < offset + length) return;
        const payload = buffer.subarray(offset, offset + length);
        buffer = buffer.subarray(offset + length);
        if (opcode === 0x8) {
          closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
          socket.destroy();
          resolve();
          return;
        }
      }
    });
    socket.on('error', () => (reset = true));
    socket.on('close', () => resolve());
  });
  return { closeCode, reset };
}
