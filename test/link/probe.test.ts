/**
 * The keyless link probe: a running peer answers it without any pairing, the peer's session is
 * untouched, and a silent, garbled or looped-back line is told apart from a live one.
 */
import { describe, expect, it } from 'vitest';
import type { SimulatedClock } from '../../shared/clock.ts';
import { PROBE_EPOCH, probeLinkPeer, type LinkProbeResult } from '../../shared/link/probe.ts';
import { PortEvents, type Port } from '../../shared/port.ts';
import { directRig, makeSession, until } from './harness.ts';

async function probe(clock: SimulatedClock, port: Port, timeoutMs = 3_000): Promise<LinkProbeResult> {
  let result: LinkProbeResult | undefined;
  void probeLinkPeer(port, { clock, timeoutMs }).then((r) => (result = r));
  await until(clock, () => result !== undefined, timeoutMs + 1_000);
  return result as LinkProbeResult;
}

function loopbackPort(): Port {
  const events = new PortEvents();
  return {
    path: 'loopback',
    isOpen: true,
    write: (data) => queueMicrotask(() => events.emitData(data)),
    drain: async () => undefined,
    onData: (l) => events.onData(l),
    onClose: (l) => events.onClose(l),
    close: async () => undefined,
  };
}

describe('probeLinkPeer', () => {
  it('a peer with a session of its own answers ERR{UNKNOWN_SESSION}, and still pairs up with its partner afterwards', async () => {
    const { clock, hotPort, coldPort } = directRig();
    // HELLO only at start and then once a minute, so the answer can only be the ERR.
    const cold = makeSession(clock, coldPort, 'cold', 7, { timings: { helloIntervalMs: 60_000 } });
    cold.start();
    await clock.advance(50);
    const result = await probe(clock, hotPort);
    expect(result).toMatchObject({ answered: true, by: 'unknown-session', peerEpoch: 7, echoed: false, damaged: 0 });
    expect(result.elapsedMs).toBeLessThan(100);
    expect(cold.stats()).toMatchObject({ state: 'handshaking', peerEpoch: null, errorsSent: 1, authFailures: 0 });

    const hot = makeSession(clock, hotPort, 'hot', 3);
    hot.start();
    await until(clock, () => hot.isUp && cold.isUp);
    expect(cold.stats().peerEpoch).toBe(3);
  });

  it('a peer waiting for its partner is found by its HELLO', async () => {
    const { clock, hotPort, coldPort } = directRig();
    expect(await probe(clock, hotPort, 1_000)).toMatchObject({ answered: false, bytes: 0 }); // nothing on the line yet
    const cold = makeSession(clock, coldPort, 'cold', 12);
    cold.start(); // its first HELLO is on the wire before the probe reaches it
    expect(await probe(clock, hotPort)).toMatchObject({ answered: true, by: 'hello', peerEpoch: 12 });
  });

  it('an up session answers the probe without going down', async () => {
    const { clock, hotPort, coldPort } = directRig();
    const hot = makeSession(clock, hotPort, 'hot', 1);
    const cold = makeSession(clock, coldPort, 'cold', 1);
    cold.start();
    hot.start();
    await until(clock, () => hot.isUp && cold.isUp);
    hot.stop(); // the doctor takes over HSM-Hot's end of the line
    const result = await probe(clock, hotPort);
    expect(result).toMatchObject({ answered: true, by: 'unknown-session', peerEpoch: 1 });
    expect(cold.stats()).toMatchObject({ state: 'up', linkDowns: 0 });
  });

  it('silence, garbage and a looped-back line are reported as such', async () => {
    const silent = directRig();
    expect(await probe(silent.clock, silent.hotPort, 2_000)).toMatchObject({ answered: false, bytes: 0, frames: 0, elapsedMs: 2_000 });

    const noisy = directRig();
    noisy.clock.setInterval(() => noisy.coldPort.write(Buffer.from('\r\nraspberrypi login: ')), 400);
    const garbled = await probe(noisy.clock, noisy.hotPort, 2_000);
    expect(garbled.answered).toBe(false);
    expect(garbled.bytes).toBeGreaterThan(40);
    expect(garbled.frames).toBe(0);

    const looped = directRig();
    const port = loopbackPort();
    const echo = await probe(looped.clock, port, 1_000);
    expect(echo).toMatchObject({ answered: false, echoed: true });
    expect(echo.frames).toBeGreaterThan(0);
  });

  it('the probe epoch is one no boot can take', async () => {
    const { MAX_BOOT_EPOCH } = await import('../../shared/link/epoch.ts');
    expect(PROBE_EPOCH).toBe(0xffffffff);
    expect(MAX_BOOT_EPOCH).toBeLessThan(PROBE_EPOCH);
  });
});
