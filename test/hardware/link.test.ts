/**
 * Link conformance: the link layers (frames, session, the keyless probe) over a real serial
 * line with the real serialport bindings: a socat pty pair, and the two ports HSM_TEST_LINK
 * names, wired to each other (two USB-serial adapters crossed, or a Pi's PL011 to an adapter:
 * TX to RX, RX to TX, GND to GND).
 *
 *   HSM_TEST_LINK=/dev/ttyAMA0,/dev/ttyUSB0 [HSM_TEST_LINK_BAUD=115200] npx vitest run test/hardware/link.test.ts
 */
import { afterAll, describe, expect, it } from 'vitest';
import { RealClock } from '../../shared/clock.ts';
import type { LinkRole } from '../../shared/link/link-crypto.ts';
import { probeLinkPeer } from '../../shared/link/probe.ts';
import { FRAGMENT_SIZE, LinkSession } from '../../shared/link/session.ts';
import { openSerialPort, type Port } from '../../shared/port.ts';
import { SeededRandom } from '../../shared/random.ts';
import { eventually } from '../helpers/eventually.ts';
import { emulatedLine, hardwareTarget, realLine, skipUnlessDevice, type Line, type Target } from './target.ts';

const clock = new RealClock();
const real = hardwareTarget('HSM_TEST_LINK', 'the two ends of one serial line, e.g. /dev/ttyAMA0,/dev/ttyUSB0', { min: 2, max: 2 });

const emulated = emulatedLine(['link-hot', 'link-cold']);
const device = realLine(real, 'HSM_TEST_LINK_BAUD');

function received(port: Port, count: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const off = port.onData((chunk) => {
      chunks.push(Buffer.from(chunk));
      total += chunk.length;
      if (total >= count) {
        off();
        resolve(Buffer.concat(chunks));
      }
    });
  });
}

function session(port: Port, role: LinkRole, key: Uint8Array, epoch: number, baudRate: number): { session: LinkSession; messages: Uint8Array[] } {
  const s = new LinkSession({ port, clock, random: new SeededRandom(`${role}/${epoch}`), role, linkKey: key, epoch, baudRate });
  const messages: Uint8Array[] = [];
  s.onMessage((m) => messages.push(m));
  s.start();
  return { session: s, messages };
}

function conformance(name: string, target: Target<Line>): void {
  describe(name, () => {
    let line: Promise<Line> | undefined;
    const ports: Port[] = [];
    const sessions: LinkSession[] = [];
    const open = async (path: string, baudRate: number): Promise<Port> => {
      const port = await openSerialPort({ path, baudRate });
      ports.push(port);
      return port;
    };
    afterAll(async () => {
      for (const s of sessions) s.stop();
      for (const p of ports) await p.close().catch(() => undefined);
      if (line !== undefined) await (await line).close();
    });

    it('carries bytes both ways at once, every one of them', async (ctx) => {
      skipUnlessDevice(ctx, target);
      const { a, b, baudRate } = await (line ??= target.open());
      const [pa, pb] = [await open(a, baudRate), await open(b, baudRate)];
      const forth = Buffer.from(Array.from({ length: 8192 }, (_, i) => (i * 7) & 0xff));
      const back = Buffer.from(Array.from({ length: 8192 }, (_, i) => (255 - i) & 0xff));
      const gotB = received(pb, forth.length);
      const gotA = received(pa, back.length);
      pa.write(forth);
      pb.write(back);
      expect((await gotB).equals(forth)).toBe(true);
      expect((await gotA).equals(back)).toBe(true);
      await pa.close();
      await pb.close();
    }, 30_000);

    it('two sessions handshake and exchange messages both ways, fragmented ones too; the probe finds the session; a restarted end comes back with a new epoch', async (ctx) => {
      skipUnlessDevice(ctx, target);
      const { a, b, baudRate } = await (line ??= target.open());
      const key = new SeededRandom('link-conformance-key').bytes(32);
      const hotPort = await open(a, baudRate);
      const coldPort = await open(b, baudRate);
      const hot = session(hotPort, 'hot', key, 1, baudRate);
      const cold = session(coldPort, 'cold', key, 1, baudRate);
      sessions.push(hot.session, cold.session);
      await eventually(() => hot.session.isUp && cold.session.isUp, 'the handshake over the line', 15_000);

      const sizes = [1, 64, 700, FRAGMENT_SIZE, FRAGMENT_SIZE + 1, 3 * FRAGMENT_SIZE + 17];
      const random = new SeededRandom('link-conformance-payloads');
      const toCold = sizes.map((n) => random.bytes(n));
      const toHot = sizes.map((n) => random.bytes(n));
      for (const m of toCold) expect(hot.session.send(m)).toBe(true);
      for (const m of toHot) expect(cold.session.send(m)).toBe(true);
      await eventually(() => cold.messages.length === sizes.length && hot.messages.length === sizes.length, 'every message', 60_000);
      expect(cold.messages.map((m) => Buffer.from(m).toString('hex'))).toEqual(toCold.map((m) => Buffer.from(m).toString('hex')));
      expect(hot.messages.map((m) => Buffer.from(m).toString('hex'))).toEqual(toHot.map((m) => Buffer.from(m).toString('hex')));
      expect(cold.session.stats().authFailures).toBe(0);

      // HSM-Hot's end goes quiet; the keyless probe from it finds HSM-Cold's session.
      hot.session.stop();
      const probe = await probeLinkPeer(hotPort, { clock, timeoutMs: 3_000 });
      expect(probe).toMatchObject({ answered: true, peerEpoch: 1, echoed: false });

      // HSM-Hot restarts: its port closes and opens again, it boots with a new epoch.
      await hotPort.close();
      const reopened = await open(a, baudRate);
      const hot2 = session(reopened, 'hot', key, 2, baudRate);
      sessions.push(hot2.session);
      await eventually(() => hot2.session.isUp && cold.session.stats().peerEpoch === 2, 'a new session after the restart', 20_000);
      expect(cold.session.send(Uint8Array.of(1, 2, 3))).toBe(true);
      await eventually(() => hot2.messages.length === 1, 'a message in the new session');
    }, 120_000);
  });
}

conformance('link conformance: a socat pty pair', emulated);
conformance('link conformance: the line HSM_TEST_LINK names', device);
