/**
 * Group commit in the RPC layer: messages that arrive together are applied (or settled) in one
 * durable transaction, each exactly once, and one failing request does not hold back the rest.
 * The endpoint runs over a stand-in session that hands it several messages in one turn, as a
 * busy device reads what queued on its line while it was committing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../shared/clock.ts';
import { decodeEnvelope, encodeEnvelope, type ReplyEnvelope } from '../../shared/link/messages.ts';
import { RpcEndpoint } from '../../shared/link/rpc.ts';
import type { LinkSession } from '../../shared/link/session.ts';
import { DeviceStore } from '../../shared/store/store.ts';
import { countCommits } from '../helpers/commits.ts';
import { tempDir } from '../helpers/temp.ts';
import { TEST_COLLECTIONS, TEST_MESSAGES, applyAdd, effects, results } from './harness.ts';

/** The part of a session the endpoint uses; `deliver` hands it messages in the current turn. */
class LineStandIn {
  readonly sent: Uint8Array[] = [];
  private readonly listeners = new Set<(m: Uint8Array) => void>();
  readonly isUp = true;
  onMessage(listener: (m: Uint8Array) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  onUp(): () => void {
    return () => undefined;
  }
  onReady(): () => void {
    return () => undefined;
  }
  readonly backlog = 0;
  send(message: Uint8Array): boolean {
    this.sent.push(message);
    return true;
  }
  deliver(...messages: Uint8Array[]): void {
    for (const m of messages) for (const l of this.listeners) l(m);
  }
}

const stores: DeviceStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
});

/** An endpoint on a fresh store, counting its outermost transactions. */
function endpoint(role: 'hot' | 'cold'): { rpc: RpcEndpoint; line: LineStandIn; store: DeviceStore; clock: SimulatedClock; commits: () => number } {
  const clock = new SimulatedClock();
  const store = DeviceStore.open(tempDir(), { app: `test-${role}`, schemaVersion: 1, clock, collections: TEST_COLLECTIONS });
  stores.push(store);
  const commits = countCommits(store);
  const line = new LineStandIn();
  const rpc = new RpcEndpoint({ store, session: line as unknown as LinkSession, clock, role, messages: TEST_MESSAGES });
  rpc.start();
  return { rpc, line, store, clock, commits };
}

const addRequest = (rid: number, amount = 1): Uint8Array => encodeEnvelope({ k: 'req', rid, t: 'test.add', w: 1, b: { key: 'k', amount } });

describe('rpc: group commit', () => {
  it('8 requests read in one turn (one of them twice) are applied once each in one commit; the replies leave after it, in order', async () => {
    const cold = endpoint('cold');
    cold.rpc.handle('test.add', (body: { key: string; amount: number }, { tx, rid }) => applyAdd(tx, rid, body));
    const rids = [1, 2, 3, 4, 5, 6, 7, 8];
    cold.line.deliver(...rids.map((rid) => addRequest(rid)), addRequest(3));
    expect(cold.line.sent).toHaveLength(0); // nothing leaves before the commit
    await cold.clock.advance(1);
    expect(cold.commits()).toBe(1);
    const replies = cold.line.sent.map((m) => decodeEnvelope(m) as ReplyEnvelope);
    expect(replies.map((r) => r.rid)).toEqual([...rids, 3]);
    expect(replies.every((r) => r.ok)).toBe(true);
    expect(rids.map((rid) => cold.store.get(effects, rid)?.count)).toEqual(rids.map(() => 1));
    expect(cold.rpc.stats()).toMatchObject({ requestsApplied: 8, duplicatesReplayed: 1 });
  });

  it('a request whose handler fails inside a group is refused alone; the others are applied', async () => {
    const cold = endpoint('cold');
    cold.rpc.handle('test.add', (body: { key: string; amount: number }, { tx, rid }) => {
      if (body.amount === 13) throw new Error('handler failed');
      return applyAdd(tx, rid, body);
    });
    cold.line.deliver(addRequest(1), addRequest(2, 13), addRequest(3));
    await cold.clock.advance(1);
    const replies = cold.line.sent.map((m) => decodeEnvelope(m) as ReplyEnvelope);
    expect(replies.map((r) => [r.rid, r.ok])).toEqual([
      [1, true],
      [2, false],
      [3, true],
    ]);
    expect(replies[1]).toMatchObject({ e: { code: 'RPC_HANDLER_FAILED' }, r: 0 });
    expect([1, 2, 3].map((rid) => cold.store.get(effects, rid)?.count)).toEqual([1, undefined, 1]);
  });

  it('6 replies read in one turn (one of them twice) are settled once each in one commit', async () => {
    const hot = endpoint('hot');
    hot.rpc.onReply('test.add', (request: { amount: number }, outcome, { tx, rid }) => {
      const handled = (tx.get(results, rid)?.handled ?? 0) + 1;
      tx.put(results, rid, { ok: outcome.ok, amount: request.amount, handled });
    });
    hot.rpc.handle('test.notify', () => ({ seen: true }));
    const calls = [1, 2, 3, 4, 5, 6].map((amount) => hot.rpc.call<{ total: number }>('test.add', { key: 'k', amount }));
    const answered: number[] = [];
    calls.forEach((c) => void c.then((r) => answered.push(r.total)));
    const before = hot.commits();
    const reply = (rid: number): Uint8Array => encodeEnvelope({ k: 'res', rid, t: 'test.add', ok: true, b: { total: rid * 10, appliedAt: rid } });
    hot.line.deliver(reply(1), reply(2), reply(3), reply(3), reply(4), reply(5), reply(6));
    await hot.clock.advance(1);
    expect(hot.commits() - before).toBe(1);
    expect([1, 2, 3, 4, 5, 6].map((rid) => hot.store.get(results, rid)?.handled)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(answered).toEqual([10, 20, 30, 40, 50, 60]);
    expect(hot.rpc.pending()).toEqual([]);
  });
});
