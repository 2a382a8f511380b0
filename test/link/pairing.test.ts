import { describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../shared/clock.ts';
import { FRAME_TYPE, encodeFrame } from '../../shared/link/frame.ts';
import { packBody, unpackBody } from '../../shared/link/messages.ts';
import {
  createPairingFile,
  importPairingFile,
  loadPairing,
  pairingCollection,
  pairingRecord,
  runPairingExchange,
  type PairingOutcome,
} from '../../shared/link/pairing.ts';
import { SeededRandom } from '../../shared/random.ts';
import { createIdentity, identitySigner } from '../../shared/store/identity.ts';
import { DeviceStore } from '../../shared/store/store.ts';
import { Vault } from '../../shared/store/vault.ts';
import { VirtualSerialPair } from '../../hw-profiles/sim/uart/virtual-pair.ts';
import { expectHsmError } from '../helpers/errors.ts';
import { tempDir } from '../helpers/temp.ts';
import { BAUD, FrameRelay, collectMessages, makeSession, until } from './harness.ts';
import type { Port } from '../../shared/port.ts';
import type { LinkRole } from '../../shared/link/link-crypto.ts';

interface Device {
  role: LinkRole;
  store: DeviceStore;
  vault: Vault;
  identity: string;
}

function device(role: LinkRole, clock: SimulatedClock, seed: string): Device {
  const store = DeviceStore.open(tempDir(), { app: `test-${role}`, schemaVersion: 1, clock, collections: [pairingCollection] });
  const random = new SeededRandom(`${seed}/${role}`);
  const vault = new Vault(store, random);
  vault.initialise('1234', { kdf: { N: 1024, r: 8, p: 1 } });
  const identity = store.transact((tx) => createIdentity(tx, vault, random, clock.now()));
  return { role, store, vault, identity };
}

function exchange(d: Device, port: Port, clock: SimulatedClock, seed: string, timeoutMs?: number): Promise<PairingOutcome> {
  return runPairingExchange({
    port,
    clock,
    random: new SeededRandom(`${seed}/${d.role}/exchange`),
    role: d.role,
    store: d.store,
    vault: d.vault,
    signDigest: (digest) => identitySigner(d.store, d.vault).signDigest(digest),
    timeoutMs,
  });
}

async function settle<T>(clock: SimulatedClock, promise: Promise<T>, limitMs = 60_000): Promise<T> {
  let done = false;
  let value: T | undefined;
  let error: unknown;
  promise.then(
    (v) => ((done = true), (value = v)),
    (e) => ((done = true), (error = e)),
  );
  await until(clock, () => done, limitMs, 20);
  if (error !== undefined) throw error;
  return value as T;
}

describe('interactive pairing', () => {
  it('over a noisy line both sides show the same code, learn each other, and sessions come up with the stored key', async () => {
    const clock = new SimulatedClock();
    const wire = new VirtualSerialPair({ clock, baudRate: BAUD, random: new SeededRandom('pair-wire'), faults: { bitFlipRate: 0.005 } });
    const hot = device('hot', clock, 'p1');
    const cold = device('cold', clock, 'p1');
    const hotPort = wire.open('a');
    const coldPort = wire.open('b');
    const [a, b] = await settle(clock, Promise.all([exchange(hot, hotPort, clock, 'p1'), exchange(cold, coldPort, clock, 'p1')]));
    expect(a.code).toMatch(/^\d{6}$/);
    expect(a.code).toBe(b.code);
    expect(a.peerIdentity).toBe(cold.identity);
    expect(b.peerIdentity).toBe(hot.identity);
    expect(pairingRecord(hot.store)).toBeUndefined(); // nothing stored before the operators confirm
    a.confirm();
    b.confirm();
    const hotPairing = loadPairing(hot.store, hot.vault);
    const coldPairing = loadPairing(cold.store, cold.vault);
    expect(Buffer.from(hotPairing.linkKey).equals(Buffer.from(coldPairing.linkKey))).toBe(true);
    expect(hotPairing.peerIdentity).toBe(cold.identity);
    await clock.advance(5000); // the exchange's trailing repeats end
    wire.setFaults({});
    const hs = makeSession(clock, hotPort, 'hot', 1, { linkKey: hotPairing.linkKey });
    const cs = makeSession(clock, coldPort, 'cold', 1, { linkKey: coldPairing.linkKey });
    const atCold = collectMessages(cs);
    hs.start();
    cs.start();
    await until(clock, () => hs.isUp && cs.isUp);
    hs.send(Uint8Array.of(1, 2, 3));
    await until(clock, () => atCold.length === 1);
  });

  it('a device in the middle gets two different codes, so the operators see the mismatch', async () => {
    const clock = new SimulatedClock();
    const left = new VirtualSerialPair({ clock, baudRate: BAUD, name: 'left' });
    const right = new VirtualSerialPair({ clock, baudRate: BAUD, name: 'right' });
    const hot = device('hot', clock, 'mitm');
    const cold = device('cold', clock, 'mitm');
    const fakeCold = device('cold', clock, 'mitm-fake');
    const fakeHot = device('hot', clock, 'mitm-fake');
    const results = await settle(
      clock,
      Promise.all([
        exchange(hot, left.open('a'), clock, 'mitm'),
        exchange(fakeCold, left.open('b'), clock, 'mitm-x'),
        exchange(fakeHot, right.open('a'), clock, 'mitm-y'),
        exchange(cold, right.open('b'), clock, 'mitm'),
      ]),
    );
    const [atHot, , , atCold] = results;
    expect(atHot!.code).not.toBe(atCold!.code);
    expect(atHot!.peerIdentity).not.toBe(cold.identity);
    expect(atCold!.peerIdentity).not.toBe(hot.identity);
  });

  it('keys revealed that do not match the commitment abort the pairing', async () => {
    const relay = new FrameRelay();
    const hot = device('hot', relay.clock, 'commit');
    const cold = device('cold', relay.clock, 'commit');
    relay.filter = (dir, frame) => {
      if (dir !== 'hot>cold' || frame.type !== FRAME_TYPE.PAIR) return 'forward';
      const message = unpackBody(frame.payload) as { s: number; eph?: Uint8Array };
      if (message.s !== 3) return 'forward';
      const eph = Uint8Array.from(message.eph!);
      eph[0] = (eph[0] ?? 0) ^ 1;
      return encodeFrame({ ...frame, payload: packBody({ ...message, eph }) });
    };
    const coldSide = exchange(cold, relay.coldPort, relay.clock, 'commit', 20_000);
    void exchange(hot, relay.hotPort, relay.clock, 'commit', 20_000).catch(() => undefined);
    await expect(settle(relay.clock, coldSide)).rejects.toMatchObject({ code: 'PAIR_COMMITMENT' });
    expect(pairingRecord(cold.store)).toBeUndefined();
  });

  it('times out when no peer answers', async () => {
    const clock = new SimulatedClock();
    const wire = new VirtualSerialPair({ clock, baudRate: BAUD });
    const hot = device('hot', clock, 'alone');
    await expect(settle(clock, exchange(hot, wire.open('a'), clock, 'alone', 10_000))).rejects.toMatchObject({ code: 'PAIR_TIMEOUT' });
  });
});

describe('pairing file', () => {
  it('pairs both devices from one file and refuses a file naming another device', () => {
    const clock = new SimulatedClock();
    const hot = device('hot', clock, 'file');
    const cold = device('cold', clock, 'file');
    const file = createPairingFile(hot.identity, cold.identity, new SeededRandom('file-key'));
    expect(importPairingFile(hot.store, hot.vault, 'hot', file, clock.now())).toMatchObject({ role: 'hot', peerIdentity: cold.identity, method: 'file' });
    importPairingFile(cold.store, cold.vault, 'cold', file, clock.now());
    expect(Buffer.from(loadPairing(hot.store, hot.vault).linkKey).toString('hex')).toBe(file.linkKey);
    const other = device('cold', clock, 'other');
    expectHsmError(() => importPairingFile(other.store, other.vault, 'cold', file, clock.now()), 'PAIRING_FILE', 'cold.identity');
    expectHsmError(() => importPairingFile(other.store, other.vault, 'cold', { ...file, linkKey: 'zz' }, clock.now()), 'PAIRING_FILE', 'linkKey');
    expectHsmError(() => importPairingFile(other.store, other.vault, 'cold', { ...file, extra: 1 }, clock.now()), 'PAIRING_FILE');
    expectHsmError(() => loadPairing(other.store, other.vault), 'LINK_UNPAIRED');
  });
});

describe('link endpoint', () => {
  it('opens from the stored pairing with a fresh epoch and reports its status', async () => {
    const { LinkEndpoint, LINK_COLLECTIONS } = await import('../../shared/link/endpoint.ts');
    const { DEVICE_MESSAGES } = await import('../../shared/link/messages.ts');
    const clock = new SimulatedClock();
    const wire = new VirtualSerialPair({ clock, baudRate: BAUD });
    const open = (role: LinkRole, seed: string): Device => {
      const store = DeviceStore.open(tempDir(), { app: `ep-${role}`, schemaVersion: 1, clock, collections: LINK_COLLECTIONS });
      const random = new SeededRandom(seed);
      const vault = new Vault(store, random);
      vault.initialise('1234', { kdf: { N: 1024, r: 8, p: 1 } });
      const identity = store.transact((tx) => createIdentity(tx, vault, random, clock.now()));
      return { role, store, vault, identity };
    };
    const hot = open('hot', 'ep-h');
    const cold = open('cold', 'ep-c');
    const file = createPairingFile(hot.identity, cold.identity, new SeededRandom('ep-key'));
    importPairingFile(hot.store, hot.vault, 'hot', file, clock.now());
    importPairingFile(cold.store, cold.vault, 'cold', file, clock.now());
    const make = (d: Device, end: 'a' | 'b') =>
      new LinkEndpoint({ store: d.store, vault: d.vault, port: wire.open(end), clock, random: new SeededRandom(`ep-${d.role}`), baudRate: BAUD, messages: DEVICE_MESSAGES });
    const hotEp = make(hot, 'a');
    const coldEp = make(cold, 'b');
    coldEp.rpc.handle('link.time', () => ({ now: clock.now() }));
    hotEp.start();
    coldEp.start();
    await until(clock, () => hotEp.session.isUp && coldEp.session.isUp);
    let time: unknown;
    void hotEp.rpc.call('link.time', {}).then((r) => (time = r));
    await until(clock, () => time !== undefined);
    const status = hotEp.status();
    expect(status).toMatchObject({ state: 'up', epoch: 1, peerEpoch: 1, peerIdentity: cold.identity, port: 'virtual/a' });
    expect(status.rpc.repliesReceived).toBe(1);
    expect(status.rttMs.last).toBeGreaterThan(0);
    expect(status.framesSent).toBeGreaterThan(0);
    for (const key of ['retransmissions', 'crcFailures', 'authFailures', 'resyncs', 'decodeFailures'] as const) expect(status[key]).toBe(0);
    hotEp.stop();
    coldEp.stop();
  });
});
