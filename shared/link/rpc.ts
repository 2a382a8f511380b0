/**
 * Requests with exactly-once effects across reboots of either device (layer 4; DESIGN.md
 * rule 5; notes/serial-link.md §1, "Never applying a request twice").
 *
 * Requester: `call()` writes {rid, type, body} to a durable outbox, in one transaction with
 * the rid counter, before anything is sent. Every outbox entry is (re)sent on every new
 * session, with the same rid, until its reply arrives; the reply's effect (`onReply` hooks) and
 * the removal from the outbox commit together.
 *
 * Responder: a request is applied inside one transaction that also records {rid → reply};
 * a duplicate rid gets the recorded reply again and is not applied twice. Each request names
 * the requester's lowest unanswered rid (`w`); recorded replies below it can no longer be asked
 * for and are deleted, and a request below that mark is refused as STALE, never applied.
 *
 * Group commit: requests (and replies) that arrive while a commit is under way are applied
 * (settled) together in the next transaction, one durable commit for all of them; each reply
 * leaves, and each caller hears of its reply, only after that commit. If the group's
 * transaction fails, each member is tried again alone, so one failing request is refused
 * without holding back the others (docs/link-protocol.md, "Group commit").
 *
 * Both devices run one endpoint that is requester and responder at once.
 * @module
 */
import { z } from 'zod';
import type { Clock, TimerHandle } from '../clock.ts';
import { HsmError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { silentLogger } from '../log.ts';
import { defineCollection } from '../store/collection.ts';
import type { DeviceStore, WriteTx } from '../store/store.ts';
import type { LinkRole } from './link-crypto.ts';
import {
  checkBody,
  decodeEnvelope,
  encodeEnvelope,
  packBody,
  unpackBody,
  type MessageRegistry,
  type ReplyEnvelope,
  type RequestEnvelope,
  type WireError,
} from './messages.ts';
import type { LinkSession } from './session.ts';

const bytes = z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'expected bytes');

export const RPC_COLLECTIONS = {
  outbox: defineCollection('rpc.outbox', z.strictObject({ type: z.string(), body: bytes, createdAt: z.number() })),
  applied: defineCollection('rpc.applied', z.strictObject({ type: z.string(), reply: bytes, at: z.number() })),
  counters: defineCollection('rpc.counters', z.strictObject({ value: z.number().int().nonnegative() })),
} as const;

const NEXT_RID = 'nextRid';
const LOW_WATER = 'peerLowWater';
/** Outbox entries unanswered this long are sent again even if the link never went down. */
const RESEND_AFTER_MS = 30_000;

/** A deterministic refusal: recorded like a reply, so a duplicate gets the same answer. */
export class Refusal {
  constructor(readonly error: WireError) {}
}

export function refuse(code: string, message: string, field?: string): Refusal {
  return new Refusal(field === undefined ? { code, message } : { code, message, field });
}

export interface HandlerContext {
  tx: WriteTx;
  rid: number;
}

export type Outcome<Reply> = { ok: true; body: Reply } | { ok: false; error: WireError; recorded: boolean };

export interface RpcEndpointOptions {
  store: DeviceStore;
  session: LinkSession;
  clock: Clock;
  role: LinkRole;
  messages: MessageRegistry;
  log?: Logger;
}

export interface RpcStats {
  requestsSent: number;
  repliesReceived: number;
  requestsApplied: number;
  duplicatesReplayed: number;
  staleRefused: number;
  badMessages: number;
  outbox: number;
}

type Handler = (body: unknown, ctx: HandlerContext) => unknown;
type ReplyHook = (request: unknown, outcome: Outcome<unknown>, ctx: HandlerContext) => void;

export class RpcEndpoint {
  private readonly store: DeviceStore;
  private readonly session: LinkSession;
  private readonly clock: Clock;
  private readonly role: LinkRole;
  private readonly messages: MessageRegistry;
  private readonly log: Logger;
  private readonly handlers = new Map<string, Handler>();
  private readonly replyHooks = new Map<string, ReplyHook[]>();
  private readonly waiting = new Map<number, { resolve: (body: unknown) => void; reject: (error: HsmError) => void }>();
  private readonly lastSentAt = new Map<number, number>();
  private readonly unsubscribe: Array<() => void> = [];
  private resendTimer: TimerHandle | undefined;
  /** Requests checked and waiting for the next group commit, in arrival order. */
  private toApply: Array<{ request: RequestEnvelope; body: unknown }> = [];
  /** Replies checked and waiting for the next group commit, in arrival order. */
  private toSettle: Array<{ reply: ReplyEnvelope; outcome: Outcome<unknown> }> = [];
  private groupTimer: TimerHandle | undefined;
  private stopped = false;
  private readonly counters = { requestsSent: 0, repliesReceived: 0, requestsApplied: 0, duplicatesReplayed: 0, staleRefused: 0, badMessages: 0 };

  constructor(options: RpcEndpointOptions) {
    this.store = options.store;
    this.session = options.session;
    this.clock = options.clock;
    this.role = options.role;
    this.messages = options.messages;
    this.log = options.log ?? silentLogger;
  }

  /** Serves requests of `type`. The handler runs inside the transaction that records its reply. */
  handle<Request, Reply>(type: string, handler: (body: Request, ctx: HandlerContext) => Reply | Refusal): void {
    if (this.messages[type] === undefined) throw new Error(`invariant failed: no message type "${type}"`);
    this.handlers.set(type, handler as Handler);
  }

  /** Runs `hook` in the transaction that settles a reply of `type` (also after a reboot). */
  onReply<Request, Reply>(type: string, hook: (request: Request, outcome: Outcome<Reply>, ctx: HandlerContext) => void): void {
    const hooks = this.replyHooks.get(type) ?? [];
    hooks.push(hook as ReplyHook);
    this.replyHooks.set(type, hooks);
  }

  start(): void {
    this.unsubscribe.push(this.session.onMessage((bytes) => this.onMessage(bytes)));
    this.unsubscribe.push(this.session.onUp(() => this.resendAll()));
    this.unsubscribe.push(this.session.onReady(() => this.onSessionDrained()));
    if (this.session.isUp) this.resendAll();
    this.armResendTimer();
  }

  stop(): void {
    this.stopped = true;
    for (const off of this.unsubscribe.splice(0)) off();
    this.clock.clearTimeout(this.resendTimer);
    this.clock.clearTimeout(this.groupTimer);
    this.toApply = [];
    this.toSettle = [];
    for (const [, waiter] of this.waiting) waiter.reject(new HsmError('RPC_STOPPED', 'the link endpoint stopped before the reply came'));
    this.waiting.clear();
  }

  /**
   * Sends a request; resolves with the reply body, rejects with an HsmError carrying the
   * refusal's code. The request is durable from the moment this returns: after a reboot it is
   * sent again and its reply settles through the `onReply` hooks.
   */
  call<Reply = unknown>(type: string, body: unknown): Promise<Reply> {
    const def = this.messages[type];
    if (def === undefined) throw new HsmError('MSG_UNKNOWN_TYPE', `unknown message type "${type}"`, { field: 'type' });
    if (def.from !== 'either' && def.from !== this.role) {
      throw new HsmError('RPC_DIRECTION', `${this.role} may not send ${type}`, { field: 'type' });
    }
    const checked = checkBody(this.messages, type, 'request', body);
    let waiter!: { resolve: (body: unknown) => void; reject: (error: HsmError) => void };
    const promise = new Promise<Reply>((resolve, reject) => (waiter = { resolve: resolve as (body: unknown) => void, reject }));
    // Inside a caller's transaction this joins it: the request exists, and is sent, only once
    // that transaction commits (if it aborts, the returned promise never settles).
    this.store.transact((tx) => {
      const next = tx.get(RPC_COLLECTIONS.counters, NEXT_RID)?.value ?? 1;
      tx.put(RPC_COLLECTIONS.counters, NEXT_RID, { value: next + 1 });
      tx.put(RPC_COLLECTIONS.outbox, next, { type, body: packBody(checked), createdAt: this.clock.now() });
      tx.afterCommit(() => {
        this.waiting.set(next, waiter);
        this.sendRequest(next);
      });
    });
    return promise;
  }

  /** Requests written but not yet answered, oldest first. */
  pending(): Array<{ rid: number; type: string; createdAt: number }> {
    return [...this.store.range(RPC_COLLECTIONS.outbox)].map(({ key, value }) => ({ rid: key as number, type: value.type, createdAt: value.createdAt }));
  }

  stats(): RpcStats {
    return { ...this.counters, outbox: this.store.count(RPC_COLLECTIONS.outbox) };
  }

  // ---------------------------------------------------------------------------------------

  private lowestUnanswered(): number {
    for (const { key } of this.store.range(RPC_COLLECTIONS.outbox, { limit: 1 })) return key as number;
    return this.store.get(RPC_COLLECTIONS.counters, NEXT_RID)?.value ?? 1;
  }

  private sendRequest(rid: number): void {
    if (this.stopped || !this.session.isUp) return;
    const entry = this.store.get(RPC_COLLECTIONS.outbox, rid);
    if (entry === undefined) return;
    const envelope: RequestEnvelope = { k: 'req', rid, t: entry.type, w: this.lowestUnanswered(), b: unpackBody(entry.body) };
    if (this.session.send(encodeEnvelope(envelope))) {
      this.counters.requestsSent++;
      this.lastSentAt.set(rid, this.clock.monotonic());
    }
  }

  private resendAll(): void {
    for (const { rid } of this.pending()) this.sendRequest(rid);
  }

  /**
   * Every request queued in the session has gone onto the line: the wait for its reply starts
   * now, not when it was queued behind the others (at 9600 baud a long queue takes minutes).
   */
  private onSessionDrained(): void {
    const now = this.clock.monotonic();
    for (const rid of this.lastSentAt.keys()) this.lastSentAt.set(rid, now);
  }

  private armResendTimer(): void {
    this.resendTimer = this.clock.setTimeout(() => {
      if (this.stopped) return;
      if (this.session.backlog > 0) {
        // Requests still queued behind others are not lost; sending them again would only
        // lengthen the queue.
        this.armResendTimer();
        return;
      }
      const now = this.clock.monotonic();
      for (const { rid } of this.pending()) {
        if (now - (this.lastSentAt.get(rid) ?? -Infinity) >= RESEND_AFTER_MS) this.sendRequest(rid);
      }
      this.armResendTimer();
    }, RESEND_AFTER_MS);
  }

  private onMessage(bytes: Uint8Array): void {
    if (this.stopped) return;
    let envelope;
    try {
      envelope = decodeEnvelope(bytes);
    } catch (error) {
      this.counters.badMessages++;
      this.log.warn({ code: (error as HsmError).code, err: (error as Error).message }, 'dropped a malformed link message');
      return;
    }
    if (envelope.k === 'req') this.onRequest(envelope);
    else this.onReplyEnvelope(envelope);
  }

  private onRequest(request: RequestEnvelope): void {
    const def = this.messages[request.t];
    const refuseNow = (code: string, message: string, field?: string): void => this.refuseUnrecorded(request, code, message, field);
    if (def === undefined || this.handlers.get(request.t) === undefined) {
      this.counters.badMessages++;
      return refuseNow('MSG_UNKNOWN_TYPE', `this device does not serve "${request.t}"`, 't');
    }
    if (def.from !== 'either' && def.from === this.role) {
      this.counters.badMessages++;
      return refuseNow('RPC_DIRECTION', `${this.role} does not accept ${request.t} from its peer`, 't');
    }
    let body: unknown;
    try {
      body = checkBody(this.messages, request.t, 'request', request.b);
    } catch (error) {
      this.counters.badMessages++;
      const e = error as HsmError;
      return refuseNow(e.code, e.message, e.field);
    }
    this.toApply.push({ request, body });
    this.scheduleGroup();
  }

  /** The next group commit runs once the messages already arrived have been read. */
  private scheduleGroup(): void {
    this.groupTimer ??= this.clock.setTimeout(() => this.commitGroup(), 0);
  }

  /** Applies the queued requests and settles the queued replies in one durable transaction. */
  private commitGroup(): void {
    this.groupTimer = undefined;
    const requests = this.toApply;
    const replies = this.toSettle;
    this.toApply = [];
    this.toSettle = [];
    if (this.stopped || requests.length + replies.length === 0) return;
    if (requests.length + replies.length === 1) {
      for (const r of requests) this.applyAlone(r.request, r.body);
      for (const r of replies) this.settleAlone(r.reply, r.outcome);
      return;
    }
    let sent: Uint8Array[];
    let settled: Array<{ reply: ReplyEnvelope; outcome: Outcome<unknown> }>;
    try {
      [sent, settled] = this.store.transact((tx) => [requests.map((r) => this.apply(tx, r.request, r.body)), replies.filter((r) => this.settle(tx, r.reply, r.outcome))]);
    } catch (error) {
      // Nothing of the group committed: each goes again alone, in its own turn (a device that
      // lost power inside the group runs none of them).
      this.log.warn({ requests: requests.length, replies: replies.length, err: (error as Error).message }, 'group commit failed; applying one by one');
      for (const r of requests) this.clock.setTimeout(() => this.applyAlone(r.request, r.body), 0);
      for (const r of replies) this.clock.setTimeout(() => this.settleAlone(r.reply, r.outcome), 0);
      return;
    }
    for (const reply of sent) this.session.send(reply);
    for (const r of settled) this.settled(r.reply, r.outcome);
  }

  private applyAlone(request: RequestEnvelope, body: unknown): void {
    if (this.stopped) return;
    let reply: Uint8Array;
    try {
      reply = this.store.transact((tx) => this.apply(tx, request, body));
    } catch (error) {
      const e = error instanceof HsmError ? error : new HsmError('RPC_HANDLER_FAILED', 'the request could not be applied');
      this.log.error({ type: request.t, rid: request.rid, code: e.code, err: (error as Error).message }, 'request handler failed; nothing applied');
      this.refuseUnrecorded(request, e.code, e.message, e.field);
      return;
    }
    this.session.send(reply);
  }

  /** Inside one transaction: settle old replies, replay a duplicate, or apply and record. */
  private apply(tx: WriteTx, request: RequestEnvelope, body: unknown): Uint8Array {
    const lowWater = tx.get(RPC_COLLECTIONS.counters, LOW_WATER)?.value ?? 1;
    if (request.w > lowWater) {
      for (const { key } of [...tx.range(RPC_COLLECTIONS.applied, { end: request.w })]) tx.del(RPC_COLLECTIONS.applied, key);
      tx.put(RPC_COLLECTIONS.counters, LOW_WATER, { value: request.w });
    }
    const recorded = tx.get(RPC_COLLECTIONS.applied, request.rid);
    if (recorded !== undefined) {
      tx.afterCommit(() => this.counters.duplicatesReplayed++);
      return recorded.reply;
    }
    if (request.rid < Math.max(lowWater, request.w)) {
      tx.afterCommit(() => this.counters.staleRefused++);
      return encodeEnvelope({
        k: 'res',
        rid: request.rid,
        t: request.t,
        ok: false,
        e: { code: 'STALE', message: `request ${request.rid} was settled before; it is not applied again` },
        r: 0,
      });
    }
    const handler = this.handlers.get(request.t) as Handler;
    const result = handler(body, { tx, rid: request.rid });
    let envelope: ReplyEnvelope;
    if (result instanceof Refusal) {
      envelope = { k: 'res', rid: request.rid, t: request.t, ok: false, e: result.error, r: 1 };
    } else {
      envelope = { k: 'res', rid: request.rid, t: request.t, ok: true, b: checkBody(this.messages, request.t, 'reply', result) };
    }
    const reply = encodeEnvelope(envelope);
    tx.put(RPC_COLLECTIONS.applied, request.rid, { type: request.t, reply, at: this.clock.now() });
    tx.afterCommit(() => this.counters.requestsApplied++);
    return reply;
  }

  /** A refusal that is not recorded (nothing was applied): a retry is checked and applied afresh. */
  private refuseUnrecorded(request: RequestEnvelope, code: string, message: string, field?: string): void {
    this.session.send(encodeEnvelope({ k: 'res', rid: request.rid, t: request.t, ok: false, e: field === undefined ? { code, message } : { code, message, field }, r: 0 }));
  }

  private onReplyEnvelope(reply: ReplyEnvelope): void {
    const entry = this.store.get(RPC_COLLECTIONS.outbox, reply.rid);
    if (entry === undefined || entry.type !== reply.t) return; // settled already (a duplicate reply)
    let outcome: Outcome<unknown>;
    if (reply.ok) {
      try {
        outcome = { ok: true, body: checkBody(this.messages, reply.t, 'reply', reply.b) };
      } catch (error) {
        this.counters.badMessages++;
        this.log.warn({ type: reply.t, err: (error as Error).message }, 'dropped a reply that does not match its schema');
        return;
      }
    } else {
      outcome = { ok: false, error: reply.e, recorded: reply.r === 1 };
    }
    this.toSettle.push({ reply, outcome });
    this.scheduleGroup();
  }

  /** Inside one transaction: runs the reply's hooks and removes its request from the outbox; false if settled already. */
  private settle(tx: WriteTx, reply: ReplyEnvelope, outcome: Outcome<unknown>): boolean {
    const entry = tx.get(RPC_COLLECTIONS.outbox, reply.rid);
    if (entry === undefined || entry.type !== reply.t) return false; // a duplicate of a reply settled before
    const request = unpackBody(entry.body);
    for (const hook of this.replyHooks.get(reply.t) ?? []) hook(request, outcome, { tx, rid: reply.rid });
    tx.del(RPC_COLLECTIONS.outbox, reply.rid);
    return true;
  }

  private settleAlone(reply: ReplyEnvelope, outcome: Outcome<unknown>): void {
    if (this.stopped) return;
    if (this.store.transact((tx) => this.settle(tx, reply, outcome))) this.settled(reply, outcome);
  }

  /** After the commit that settled `reply`: its caller hears of it. */
  private settled(reply: ReplyEnvelope, outcome: Outcome<unknown>): void {
    this.counters.repliesReceived++;
    this.lastSentAt.delete(reply.rid);
    const waiter = this.waiting.get(reply.rid);
    this.waiting.delete(reply.rid);
    if (waiter === undefined) return;
    if (outcome.ok) waiter.resolve(outcome.body);
    else waiter.reject(new HsmError(outcome.error.code, outcome.error.message, { field: outcome.error.field }));
  }
}
