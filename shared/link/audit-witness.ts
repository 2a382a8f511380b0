/**
 * Cross-witnessing of the audit logs. Each device sends its newest signed audit head (index,
 * hash, time, signature by its identity key; nothing secret) to its peer over the link
 * (`audit.witness`); the peer checks the signature with the identity it pinned at pairing and
 * records the head in its own audit log as an `audit.peer-head` entry. A log later cut back or
 * rewritten past a witnessed head contradicts a signature its owner's store cannot remove:
 * `hsm audit verify <dir> <peer-dir>` (audit.ts, `verifyAudit` with `witnessedHeads`).
 *
 * When: after every transaction that appends entries of the device's own, when the link comes
 * up (every boot), and on demand (`audit checkpoint` on the console). Recording the peer's
 * head is not an entry of its own, so the exchange never echoes. One head is in flight at a
 * time: heads signed meanwhile wait for the answer, and the newest then goes out. Requests are
 * exactly-once (rpc.ts), so a head is recorded once however often the link drops.
 *
 * A head that goes back (a lower index than the last one recorded for that identity, or the
 * same index with another hash) is recorded too, with an `alert.peer-audit-rollback` entry.
 * @module
 */
import { z } from 'zod';
import { verifyMessageWithPublicKey } from '../crypto/message-signature.ts';
import { hexToBytesOrUndefined } from '../crypto/hash.ts';
import type { Logger } from '../log.ts';
import { silentLogger } from '../log.ts';
import { checkpointStatement, lastCheckpoint, type SignedHead } from '../store/audit.ts';
import { PEER_HEAD_KIND, peerHeadDetails } from '../store/audit-witnesses.ts';
import { defineCollection } from '../store/collection.ts';
import type { DeviceStore, ReadView, WriteTx } from '../store/store.ts';
import type { LinkRole } from './link-crypto.ts';
import { RPC_COLLECTIONS, refuse, type Outcome, type Refusal, type RpcEndpoint } from './rpc.ts';

const hex32 = z.string().regex(/^[0-9a-f]{64}$/);

/** What this device sent and what its peer confirmed; and the last head recorded per peer identity. */
export const WITNESS_COLLECTIONS = {
  sent: defineCollection(
    'link.witness-sent',
    z.strictObject({
      /** The newest entry of this device's own (not a recorded peer head). */
      ownSeq: z.number().int().nonnegative(),
      sentSeq: z.number().int().nonnegative(),
      witnessedSeq: z.number().int().nonnegative(),
    }),
  ),
  peerHeads: defineCollection('link.peer-heads', z.strictObject({ seq: z.number().int().positive(), hash: hex32, at: z.number() })),
} as const;

const STATE = 'state';

/** The store app of each device, named in its signed heads. */
export const DEVICE_APPS = { hot: 'hsm-hot', cold: 'hsm-cold' } as const satisfies Record<LinkRole, string>;
export const WITNESS_MESSAGE = 'audit.witness';

export interface WitnessStatus {
  /** The newest entry of the device's own (recorded peer heads do not count). */
  ownSeq: number;
  /** The newest head handed to the link (0: none yet). */
  sentSeq: number;
  /** The newest head the peer has recorded. */
  witnessedSeq: number;
}

const NOTHING_SENT: WitnessStatus = { ownSeq: 0, sentSeq: 0, witnessedSeq: 0 };

export function witnessStatus(view: ReadView): WitnessStatus {
  return view.get(WITNESS_COLLECTIONS.sent, STATE) ?? NOTHING_SENT;
}

export interface AuditWitnessOptions {
  store: DeviceStore;
  /** Which device this is; the peer is the other one. */
  role: LinkRole;
  log?: Logger;
}

export class AuditWitness {
  private readonly store: DeviceStore;
  private readonly app: string;
  private readonly peerApp: string;
  private readonly log: Logger;
  private rpc: RpcEndpoint | undefined;
  private readonly offs: Array<() => void> = [];

  /** Follows the store's audited transactions from now on (register after the sealing hook). */
  constructor(options: AuditWitnessOptions) {
    this.store = options.store;
    this.app = DEVICE_APPS[options.role];
    this.peerApp = DEVICE_APPS[options.role === 'hot' ? 'cold' : 'hot'];
    this.log = options.log ?? silentLogger;
    this.store.onAuditAppended((tx, appended) => {
      const own = appended.filter((entry) => entry.kind !== PEER_HEAD_KIND).at(-1);
      if (own === undefined) return;
      tx.put(WITNESS_COLLECTIONS.sent, STATE, { ...witnessStatus(tx), ownSeq: own.seq });
      this.offer(tx);
    });
  }

  /**
   * Serves `audit.witness` on `rpc` (register before the endpoint starts) and sends heads over
   * it, the newest one as soon as the link is up.
   */
  attach(rpc: RpcEndpoint, peerIdentity: string, session: { onUp(listener: () => void): () => void }): void {
    this.detach();
    this.rpc = rpc;
    rpc.handle<SignedHead, { entry: number } | Refusal>(WITNESS_MESSAGE, (head, { tx }) => this.record(tx, head, peerIdentity));
    rpc.onReply<SignedHead, { entry: number }>(WITNESS_MESSAGE, (head, outcome, { tx, rid }) => this.settled(tx, head, outcome, rid));
    this.offs.push(session.onUp(() => this.store.transact((tx) => this.offer(tx))));
  }

  detach(): void {
    for (const off of this.offs.splice(0)) off();
    this.rpc = undefined;
  }

  /**
   * Sends the newest signed head when the device wrote entries of its own since the last head
   * it sent (and none is in flight): a head that only adds recorded peer heads is not sent,
   * or the two devices would witness each other's witnessing for ever.
   */
  private offer(tx: WriteTx, settledRid?: number): void {
    const rpc = this.rpc;
    if (rpc === undefined) return;
    const head = lastCheckpoint(tx);
    const state = witnessStatus(tx);
    if (head === undefined || head.seq <= state.sentSeq || state.ownSeq <= state.sentSeq) return;
    for (const { key, value } of tx.range(RPC_COLLECTIONS.outbox)) {
      if (value.type === WITNESS_MESSAGE && key !== settledRid) return;
    }
    try {
      void rpc.call(WITNESS_MESSAGE, { app: this.app, seq: head.seq, hash: head.hash, at: head.at, signature: head.signature }).catch(() => undefined);
      tx.put(WITNESS_COLLECTIONS.sent, STATE, { ...state, sentSeq: head.seq });
    } catch (error) {
      // Never let witnessing abort the transaction it follows.
      this.log.error({ err: (error as Error).message }, 'could not queue the audit head for the peer');
    }
  }

  private settled(tx: WriteTx, head: SignedHead, outcome: Outcome<{ entry: number }>, rid: number): void {
    if (!outcome.ok) {
      this.log.warn({ code: outcome.error.code, seq: head.seq }, 'the peer refused to witness an audit head');
      return;
    }
    const state = witnessStatus(tx);
    tx.put(WITNESS_COLLECTIONS.sent, STATE, { ...state, witnessedSeq: Math.max(state.witnessedSeq, head.seq) });
    this.offer(tx, rid);
  }

  /** The peer's head: checked against its pinned identity, then recorded in this log. */
  private record(tx: WriteTx, head: SignedHead, peerIdentity: string): { entry: number } | Refusal {
    if (head.app !== this.peerApp) return refuse('WITNESS_APP', `the peer is ${this.peerApp}, not ${head.app}`, 'app');
    const key = hexToBytesOrUndefined(peerIdentity);
    if (key === undefined || !verifyMessageWithPublicKey(checkpointStatement(head.app, head.seq, head.hash, head.at), head.signature, key)) {
      return refuse('WITNESS_SIGNATURE', 'the head is not signed by the paired peer', 'signature');
    }
    const previous = tx.get(WITNESS_COLLECTIONS.peerHeads, peerIdentity);
    if (previous !== undefined && (head.seq < previous.seq || (head.seq === previous.seq && head.hash !== previous.hash))) {
      tx.audit('alert.peer-audit-rollback', { app: head.app, seq: head.seq, previousSeq: previous.seq });
      this.log.error({ app: head.app, seq: head.seq, previousSeq: previous.seq }, "the peer's audit log went back past a head it sent before");
    }
    const entry = tx.audit(PEER_HEAD_KIND, peerHeadDetails(head, peerIdentity));
    if (previous === undefined || head.seq >= previous.seq) tx.put(WITNESS_COLLECTIONS.peerHeads, peerIdentity, { seq: head.seq, hash: head.hash, at: head.at });
    return { entry: entry.seq };
  }
}
