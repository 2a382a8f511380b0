/**
 * Attackers' sockets for the host API admission tests: WebSocket connections that never
 * authenticate and raw TCP connections that never send a byte, all closed by `releaseAll()`;
 * and the platform's session, held to the world clock.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { expect } from 'vitest';
import WebSocket from 'ws';
import type { Clock } from '../../shared/clock.ts';
import { PlatformClient } from './client.ts';
import { PLATFORM } from './wallet-fixture.ts';

const held: Array<{ close(): void }> = [];

export function releaseAll(): void {
  for (const socket of held.splice(0)) socket.close();
}

/** Opens `count` WebSocket connections that never authenticate, from `addresses` in turn; resolves once each opened or was closed. */
export async function idleWebSockets(url: string, count: number, addresses: readonly string[]): Promise<{ closedByDevice: () => number }> {
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
export async function idleTcpSockets(port: number, count: number): Promise<void> {
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

/**
 * The platform connects and authenticates while the world clock stands still. Every deadline of
 * the device (the auth deadline included) runs on that clock, so the platform got in without
 * waiting for any idle socket to time out: within a round trip and a signature, on any machine.
 */
export async function platformGetsIn(url: string, clock: Clock): Promise<PlatformClient> {
  const before = clock.now();
  const platform = await PlatformClient.session(url, PLATFORM);
  expect(clock.now(), 'the world clock moved while the platform connected').toBe(before);
  return platform;
}

/**
 * A raw WebSocket client (RFC 6455 §4.1, §5.2) that announces a text frame of `total` bytes and
 * keeps sending its payload in 64 KiB pieces while it reads; resolves with the close code the
 * device sent, or `reset` when the connection was cut without one (what a client reports as 1006).
 */
export async function sendOversizeFrameSlowly(port: number, total: number): Promise<{ closeCode: number | null; reset: boolean }> {
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
