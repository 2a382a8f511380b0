/**
 * The audit-head exchange (shared/link/audit-witness.ts) between two stores with identity keys,
 * over a real session and RPC endpoint on an emulated UART: each device's own entries reach the
 * peer's log, exactly once; recording them is never sent back (no echo); a head that is not
 * signed by the paired peer, or names another device, is refused and changes nothing; a head
 * that goes back is recorded with an alert.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SeededRandom } from '../../shared/random.ts';
import { AuditWitness, DEVICE_APPS, witnessStatus } from '../../shared/link/audit-witness.ts';
import { LINK_COLLECTIONS } from '../../shared/link/endpoint.ts';
import { nextBootEpoch } from '../../shared/link/epoch.ts';
import type { LinkRole } from '../../shared/link/link-crypto.ts';
import { DEVICE_MESSAGES } from '../../shared/link/messages.ts';
import { RpcEndpoint } from '../../shared/link/rpc.ts';
import type { Port } from '../../shared/port.ts';
import type { SimulatedClock } from '../../shared/clock.ts';
import { auditHead, auditTail, verifyAudit, type AuditCheckpoint } from '../../shared/store/audit.ts';
import { sealAuditWithIdentity } from '../../shared/store/audit-seal.ts';
import { PEER_HEAD_KIND, witnessedHeads } from '../../shared/store/audit-witnesses.ts';
import { createIdentity } from '../../shared/store/identity.ts';
import { DeviceStore } from '../../shared/store/store.ts';
import { SYSTEM_COLLECTIONS } from '../../shared/store/system-collections.ts';
import { Vault } from '../../shared/store/vault.ts';
import { tempDir } from '../helpers/temp.ts';
import { directRig, makeSession, until } from './harness.ts';

interface Device {
  role: LinkRole;
  store: DeviceStore;
  identity: string;
  rpc: RpcEndpoint;
  stop(): Promise<void>;
}

const running: Device[] = [];
afterEach(async () => {
  for (const d of running.splice(0)) await d.stop();
});

function device(role: LinkRole, clock: SimulatedClock): { store: DeviceStore; identity: string; connect(port: Port, peerIdentity: string): Device } {
  const random = new SeededRandom(`witness-${role}`);
  const store = DeviceStore.open(tempDir(), { app: DEVICE_APPS[role], schemaVersion: 1, clock, collections: LINK_COLLECTIONS });
  const vault = new Vault(store, random);
  sealAuditWithIdentity(store, vault, DEVICE_APPS[role]);
  const witness = new AuditWitness({ store, role });
  const identity = store.transact((tx) => {
    vault.initialise('2468', { kdf: { N: 1024, r: 8, p: 1 } }, tx);
    return createIdentity(tx, vault, random, clock.now());
  });
  return {
    store,
    identity,
    connect: (port, peerIdentity) => {
      const session = makeSession(clock, port, role, nextBootEpoch(store));
      const rpc = new RpcEndpoint({ store, session, clock, role, messages: DEVICE_MESSAGES });
      witness.attach(rpc, peerIdentity, session);
      rpc.start();
      session.start();
      const d: Device = {
        role,
        store,
        identity,
        rpc,
        stop: async () => {
          witness.detach();
          rpc.stop();
          session.stop();
          await port.close();
          await store.close();
        },
      };
      running.push(d);
      return d;
    },
  };
}

async function pair(): Promise<{ clock: SimulatedClock; hot: Device; cold: Device }> {
  const { clock, hotPort, coldPort } = directRig({ seed: 'witness' });
  const h = device('hot', clock);
  const c = device('cold', clock);
  const hot = h.connect(hotPort, c.identity);
  const cold = c.connect(coldPort, h.identity);
  return { clock, hot, cold };
}

const peerHeads = (d: Device): number => auditTail(d.store, 10_000).filter((e) => e.kind === PEER_HEAD_KIND).length;

describe('audit-head exchange', () => {
  it("records each device's own heads in the peer's log once, and never echoes (3 + 2 own entries)", async () => {
    const { clock, hot, cold } = await pair();
    const ownHead = (d: Device): number => witnessStatus(d.store).ownSeq;
    await until(clock, () => witnessStatus(hot.store).witnessedSeq >= ownHead(hot) && witnessStatus(cold.store).witnessedSeq >= ownHead(cold));
    for (let i = 0; i < 3; i++) hot.store.transact((tx) => tx.audit('tx.signed', { n: i }));
    for (let i = 0; i < 2; i++) cold.store.transact((tx) => tx.audit('approval.granted', { n: i }));
    await until(clock, () => witnessStatus(hot.store).witnessedSeq >= ownHead(hot) && witnessStatus(cold.store).witnessedSeq >= ownHead(cold));
    const settled = { hot: auditHead(hot.store).seq, cold: auditHead(cold.store).seq, sent: hot.rpc.stats().requestsSent + cold.rpc.stats().requestsSent };
    // Quiet afterwards: recording the peer's head is not news to send back.
    await clock.advance(120_000);
    expect({ hot: auditHead(hot.store).seq, cold: auditHead(cold.store).seq, sent: hot.rpc.stats().requestsSent + cold.rpc.stats().requestsSent }).toEqual(settled);

    const hotHeads = witnessedHeads(cold.store, DEVICE_APPS.hot);
    expect(hotHeads.at(-1)?.seq).toBe(witnessStatus(hot.store).witnessedSeq);
    expect(new Set(hotHeads.map((h) => h.seq)).size).toBe(hotHeads.length); // each head once
    for (const [d, peer] of [
      [hot, cold],
      [cold, hot],
    ] as const) {
      const report = verifyAudit(d.store, DEVICE_APPS[d.role], d.identity, witnessedHeads(peer.store, DEVICE_APPS[d.role]));
      expect(report.problems, d.role).toEqual([]);
      expect(report.lastWitnessedSeq, d.role).toBe(witnessStatus(d.store).witnessedSeq);
    }
  });

  it('refuses a head not signed by the paired peer or naming another device, and records one that goes back with an alert', async () => {
    const { clock, hot, cold } = await pair();
    hot.store.transact((tx) => tx.audit('tx.signed', { n: 1 }));
    await until(clock, () => witnessStatus(hot.store).witnessedSeq === witnessStatus(hot.store).ownSeq);
    // The newest head cold recorded is hot's last head with an entry of its own; heads that only
    // add recorded cold heads are not sent.
    const recorded = witnessStatus(hot.store).witnessedSeq;
    const checkpoints = [...hot.store.range(SYSTEM_COLLECTIONS.auditCheckpoints)].map((e) => e.value as AuditCheckpoint);
    const newest = checkpoints.find((cp) => cp.seq === recorded) as AuditCheckpoint;
    const older = checkpoints.filter((cp) => cp.seq < recorded).at(-1) as AuditCheckpoint;
    expect(newest).toBeDefined();
    expect(older).toBeDefined();
    const head = (cp: AuditCheckpoint) => ({ app: DEVICE_APPS.hot, seq: cp.seq, hash: cp.hash, at: cp.at, signature: cp.signature });

    const before = peerHeads(cold);
    const coldHead = auditHead(cold.store);
    const ask = async (body: unknown): Promise<unknown> => {
      let outcome: { ok: boolean; value: unknown } | undefined;
      hot.rpc.call('audit.witness', body).then(
        (value) => (outcome = { ok: true, value }),
        (error: unknown) => (outcome = { ok: false, value: error }),
      );
      await until(clock, () => outcome !== undefined);
      if (!outcome!.ok) throw outcome!.value;
      return outcome!.value;
    };
    await expect(ask({ ...head(newest), hash: 'ab'.repeat(32) })).rejects.toMatchObject({ code: 'WITNESS_SIGNATURE' });
    await expect(ask({ ...head(newest), app: DEVICE_APPS.cold })).rejects.toMatchObject({ code: 'WITNESS_APP' });
    expect(auditHead(cold.store)).toEqual(coldHead);

    await expect(ask(head(older))).resolves.toMatchObject({ entry: expect.any(Number) });
    expect(auditTail(cold.store, 5).find((e) => e.kind === 'alert.peer-audit-rollback')?.details).toEqual({ app: DEVICE_APPS.hot, seq: older.seq, previousSeq: newest.seq });
    expect(peerHeads(cold)).toBe(before + 1);
  });
});
