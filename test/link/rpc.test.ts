import { describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../shared/clock.ts';
import { encodeEnvelope } from '../../shared/link/messages.ts';
import { RPC_COLLECTIONS } from '../../shared/link/rpc.ts';
import { VirtualSerialPair } from '../../hw-profiles/sim/uart/virtual-pair.ts';
import { SeededRandom } from '../../shared/random.ts';
import { tempDir } from '../helpers/temp.ts';
import { BAUD, LinkNode, PowerCut, effects, results, totals, until } from './harness.ts';

function pairOfNodes(seed = 'rpc'): { clock: SimulatedClock; wire: VirtualSerialPair; hot: LinkNode; cold: LinkNode } {
  const clock = new SimulatedClock();
  const wire = new VirtualSerialPair({ clock, baudRate: BAUD, random: new SeededRandom(seed) });
  const hot = new LinkNode('hot', tempDir(), clock, () => wire.open('a'), { seed });
  const cold = new LinkNode('cold', tempDir(), clock, () => wire.open('b'), { seed });
  return { clock, wire, hot: hot.boot(), cold: cold.boot() };
}

describe('rpc: requests and replies', () => {
  it('a call resolves with the reply and its effect is applied once', async () => {
    const { clock, hot, cold } = pairOfNodes();
    await until(clock, () => hot.session.isUp && cold.session.isUp);
    const reply = hot.rpc.call<{ total: number }>('test.add', { key: 'k', amount: 5 });
    let settled: { total: number } | undefined;
    void reply.then((r) => (settled = r));
    await until(clock, () => settled !== undefined);
    expect(settled).toEqual({ total: 5, appliedAt: 1 });
    expect(cold.store.get(effects, 1)).toEqual({ count: 1 });
    expect(hot.store.get(results, 1)).toEqual({ ok: true, total: 5, amount: 5, handled: 1 });
    expect(hot.rpc.pending()).toEqual([]);
  });

  it('a refusal is recorded, reaches the caller with its code and field, and is replayed to a duplicate', async () => {
    const { clock, hot, cold } = pairOfNodes();
    await until(clock, () => hot.session.isUp && cold.session.isUp);
    let caught: unknown;
    void hot.rpc.call('test.refuse', { n: 7 }).catch((e) => (caught = e));
    await until(clock, () => caught !== undefined);
    expect(caught).toMatchObject({ code: 'TEST_REFUSED', field: 'n', message: 'refused 7' });
    expect(cold.rpc.stats().requestsApplied).toBe(1);
    // Send the same request again, as a requester that lost the reply would.
    const sent = hot.session.send(encodeEnvelope({ k: 'req', rid: 1, t: 'test.refuse', w: 1, b: { n: 7 } }));
    expect(sent).toBe(true);
    await until(clock, () => cold.rpc.stats().duplicatesReplayed === 1);
    expect(cold.rpc.stats().requestsApplied).toBe(1);
  });

  it('rejects bad requests before they are written, and refuses them on the responder without applying', async () => {
    const { clock, hot, cold } = pairOfNodes();
    await until(clock, () => hot.session.isUp && cold.session.isUp);
    expect(() => hot.rpc.call('test.add', { key: 'k', amount: 1.5 })).toThrow(/amount/);
    expect(() => hot.rpc.call('test.unknown', {})).toThrow(/unknown message type/);
    expect(() => hot.rpc.call('test.notify', { text: 'x' })).toThrow(/hot may not send/);
    expect(hot.rpc.pending()).toEqual([]);
    // A peer that sends a body violating the schema, or a type in the wrong direction:
    hot.session.send(encodeEnvelope({ k: 'req', rid: 50, t: 'test.add', w: 50, b: { key: 'k', amount: 'lots' } }));
    cold.session.send(encodeEnvelope({ k: 'req', rid: 60, t: 'test.add', w: 60, b: { key: 'k', amount: 1 } }));
    hot.session.send(Uint8Array.of(0xc1));
    await until(clock, () => cold.rpc.stats().badMessages >= 2 && hot.rpc.stats().badMessages >= 1);
    expect(cold.store.count(effects)).toBe(0);
    expect(hot.store.count(effects)).toBe(0);
  });

  it('both directions work on one endpoint', async () => {
    const { clock, hot, cold } = pairOfNodes();
    await until(clock, () => hot.session.isUp && cold.session.isUp);
    let seen: unknown;
    void cold.rpc.call('test.notify', { text: 'channel opened' }).then((r) => (seen = r));
    await until(clock, () => seen !== undefined);
    expect(seen).toEqual({ seen: true });
  });

  it('replies larger than one frame are split and reassembled', async () => {
    const { clock, hot, cold } = pairOfNodes();
    await until(clock, () => hot.session.isUp && cold.session.isUp);
    const data = new SeededRandom('echo').bytes(20_000);
    let echoed: { data: Uint8Array } | undefined;
    void hot.rpc.call<{ data: Uint8Array }>('link.echo', { data }).then((r) => (echoed = r));
    await until(clock, () => echoed !== undefined, 120_000);
    expect(Buffer.from(echoed!.data).equals(Buffer.from(data))).toBe(true);
    expect(hot.session.stats().framesSent).toBeGreaterThan(20);
  });
});

describe('rpc: exactly once across reboots', () => {
  it('the requester reboots before the reply: the same rid is sent again and settles through the hook', async () => {
    const { clock, wire, hot, cold } = pairOfNodes();
    await until(clock, () => hot.session.isUp && cold.session.isUp);
    wire.setFaults({ dropRate: 1 }); // nothing gets through for now
    void hot.rpc.call('test.add', { key: 'k', amount: 3 }).catch(() => undefined);
    await clock.advance(100);
    await hot.reboot();
    expect(hot.rpc.pending().map((p) => p.rid)).toEqual([1]);
    wire.setFaults({});
    await until(clock, () => hot.store.get(results, 1) !== undefined, 120_000);
    expect(hot.store.get(results, 1)).toEqual({ ok: true, total: 3, amount: 3, handled: 1 });
    expect(cold.store.get(effects, 1)).toEqual({ count: 1 });
  });

  it('the responder applies, then reboots before the reply leaves: the retry gets the recorded reply', async () => {
    const { clock, wire, hot, cold } = pairOfNodes();
    await until(clock, () => hot.session.isUp && cold.session.isUp);
    void hot.rpc.call('test.add', { key: 'k', amount: 4 });
    await until(clock, () => cold.store.get(effects, 1) !== undefined, 10_000, 0.5);
    wire.unplug('b'); // the reply on the wire is lost with the power
    await cold.shutdown();
    wire.replug('b');
    cold.boot();
    await until(clock, () => hot.store.get(results, 1) !== undefined, 120_000);
    expect(hot.store.get(results, 1)).toEqual({ ok: true, total: 4, amount: 4, handled: 1 });
    expect(cold.store.get(effects, 1)).toEqual({ count: 1 });
    expect(cold.store.get(totals, 'k')).toEqual({ total: 4 });
    expect(cold.rpc.stats().duplicatesReplayed).toBe(1);
  });

  it('recorded replies the requester has settled are deleted; an old duplicate is refused as STALE', async () => {
    const { clock, hot, cold } = pairOfNodes();
    await until(clock, () => hot.session.isUp && cold.session.isUp);
    for (let i = 0; i < 5; i++) void hot.rpc.call('test.add', { key: 'k', amount: 1 });
    await until(clock, () => hot.store.count(results) === 5);
    void hot.rpc.call('test.add', { key: 'k', amount: 1 }); // carries w = 6
    await until(clock, () => hot.store.count(results) === 6);
    expect([...cold.store.range(RPC_COLLECTIONS.applied)].map((e) => e.key)).toEqual([6]);
    hot.session.send(encodeEnvelope({ k: 'req', rid: 2, t: 'test.add', w: 2, b: { key: 'k', amount: 1 } }));
    await until(clock, () => cold.rpc.stats().staleRefused === 1);
    expect(cold.store.get(totals, 'k')).toEqual({ total: 6 });
    expect(cold.store.get(effects, 2)).toEqual({ count: 1 });
  });

  it('450 requests of 1.9 KB queued at once (75 s of line time): none is sent again while it waits its turn', async () => {
    const { clock, hot, cold } = pairOfNodes('backlog');
    await until(clock, () => hot.session.isUp && cold.session.isUp);
    const key = 'k'.repeat(1900); // (an LMDB key: at most 1978 bytes)
    for (let i = 0; i < 450; i++) void hot.rpc.call('test.add', { key, amount: 1 });
    await until(clock, () => hot.settled === 450, 600_000, 50);
    expect(clock.monotonic()).toBeGreaterThan(65_000); // past two rounds of the 30-s resend
    expect(cold.rpc.stats()).toMatchObject({ requestsApplied: 450, duplicatesReplayed: 0 });
    expect(hot.rpc.stats().requestsSent).toBe(450);
  });

  it('a link that stays down keeps requests in the outbox; they complete when it returns', async () => {
    const { clock, wire, hot, cold } = pairOfNodes();
    await until(clock, () => hot.session.isUp && cold.session.isUp);
    wire.unplug('b');
    for (let i = 0; i < 3; i++) void hot.rpc.call('test.add', { key: 'k', amount: 10 });
    await clock.advance(60_000);
    expect(hot.rpc.pending()).toHaveLength(3);
    wire.replug('b');
    await cold.reboot(); // its port was closed by the unplug
    await until(clock, () => hot.store.count(results) === 3, 120_000);
    expect(cold.store.get(totals, 'k')).toEqual({ total: 30 });
    expect(hot.session.stats().linkDowns).toBeGreaterThanOrEqual(1);
  });

  it('the requester loses power right after the commit that settles a reply: after the reboot the reply is not handled again', async () => {
    const { clock, hot, cold } = pairOfNodes();
    await until(clock, () => hot.session.isUp && cold.session.isUp);
    void hot.rpc.call('test.add', { key: 'k', amount: 2 }).catch(() => undefined);
    hot.armPowerCut(1, 'after-commit'); // the next commit is the one that settles the reply
    await until(clock, () => hot.isPoweredOff);
    expect(hot.store.get(results, 1)).toMatchObject({ ok: true, handled: 1 });
    await hot.restoreAfterPowerCut();
    await until(clock, () => hot.session.isUp && cold.session.isUp);
    await clock.advance(60_000); // resend timers, keepalives: any second handling would happen now
    expect(hot.store.get(results, 1)).toEqual({ ok: true, total: 2, amount: 2, handled: 1 });
    expect(hot.rpc.pending()).toEqual([]);
    expect(cold.store.get(effects, 1)).toEqual({ count: 1 });
  });

  it('the responder loses power right after applying, before its reply leaves: the retry gets the recorded reply', async () => {
    const { clock, hot, cold } = pairOfNodes();
    await until(clock, () => hot.session.isUp && cold.session.isUp);
    cold.armPowerCut(1, 'after-commit');
    void hot.rpc.call('test.add', { key: 'k', amount: 6 }).catch(() => undefined);
    await until(clock, () => cold.isPoweredOff);
    expect(cold.store.get(effects, 1)).toEqual({ count: 1 });
    await cold.restoreAfterPowerCut();
    await until(clock, () => hot.store.get(results, 1) !== undefined, 120_000);
    expect(hot.store.get(results, 1)).toEqual({ ok: true, total: 6, amount: 6, handled: 1 });
    expect(cold.store.get(effects, 1)).toEqual({ count: 1 });
    expect(cold.rpc.stats().duplicatesReplayed).toBe(1);
  });

  it('power lost inside the transaction that writes a request: the request never existed, nothing is sent or applied', async () => {
    const { clock, hot, cold } = pairOfNodes();
    await until(clock, () => hot.session.isUp && cold.session.isUp);
    hot.armPowerCut(1, 'before-commit');
    expect(() => hot.rpc.call('test.add', { key: 'k', amount: 9 })).toThrow(PowerCut);
    await hot.restoreAfterPowerCut();
    await until(clock, () => hot.session.isUp && cold.session.isUp);
    await clock.advance(60_000);
    expect(hot.rpc.pending()).toEqual([]);
    expect(cold.store.count(effects)).toBe(0);
    void hot.rpc.call('test.add', { key: 'k', amount: 1 });
    await until(clock, () => hot.store.count(results) === 1);
    expect([...hot.store.range(results)].map((e) => e.key)).toEqual([1]); // rid 1 was never taken
  });
});
