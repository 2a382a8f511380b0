/**
 * Two (or more) modems, two SIMs on two carriers, as one SMS service for HSM-Cold.
 *
 * Outbound: `enqueue` checks the number and the text, then stores the message in the device
 * store (`gsm.outbox`) before anything else happens. A worker sends one message at a time
 * through the healthiest modem, preferring the first (SIM1) while it is healthy; an error, a
 * timeout or lost registration moves the same attempt on to the next modem at once, so a dead
 * carrier costs at most one send timeout. When every modem failed, the message waits with
 * exponential backoff. A message is marked `sending` before it is handed to a modem; after a
 * crash in that window it is sent again (at least once: the network may have taken it).
 *
 * Inbound: both modems hand their messages to the pool, which stores each one durably (the
 * modem deletes it from the SIM only afterwards) and de-duplicates by content and SMSC time
 * stamp, across modems and across re-reads after a crash. Parts of a concatenated message are
 * stored until the last one arrives (23.040 §9.2.3.24.1). Status reports are matched to the
 * outbox by modem and TP-MR.
 * @module
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Clock, TimerHandle } from '../clock.ts';
import { HsmError } from '../errors.ts';
import { silentLogger, type Logger } from '../log.ts';
import { systemRandom, type RandomSource } from '../random.ts';
import { defineCollection, type CollectionDef, type DeviceStore, type WriteTx } from '../store/store.ts';
import { concatGroupKey, joinParts } from './concat.ts';
import { isTransientSendError, type InboundSms, type Modem, type ModemHealth } from './modem.ts';
import { parsePhoneNumber, planSms, statusReportOutcome, type AlphabetPolicy } from './pdu.ts';

// ---------------------------------------------------------------------------------------------
// Persistence

const outboxSchema = z.strictObject({
  id: z.number().int().positive(),
  to: z.string().max(21),
  text: z.string().max(2_000),
  alphabet: z.enum(['gsm7', 'ucs2', 'auto']),
  statusReport: z.boolean(),
  concatReference: z.number().int().min(0).max(255),
  state: z.enum(['queued', 'sending', 'sent', 'failed']),
  attempts: z.number().int().nonnegative(),
  createdAt: z.number(),
  nextAttemptAt: z.number(),
  /** The message was `sending` when the process stopped: the network may already have it. */
  uncertain: z.boolean(),
  lastError: z.string().max(300).optional(),
  sentVia: z.string().max(32).optional(),
  sentImsi: z.string().max(15).optional(),
  sentAt: z.number().optional(),
  messageReferences: z.array(z.number().int().min(0).max(255)).optional(),
  delivery: z.enum(['delivered', 'pending', 'failed']).optional(),
});
export type OutboxRecord = z.infer<typeof outboxSchema>;

const inboxSchema = z.strictObject({
  id: z.number().int().positive(),
  kind: z.enum(['sms', 'undecodable']),
  from: z.string().max(40),
  text: z.string().max(40_000),
  /** SMSC time stamp of the (first) part. */
  timestamp: z.number(),
  receivedAt: z.number(),
  via: z.string().max(32),
  viaImsi: z.string().max(15).optional(),
  parts: z.number().int().positive(),
  handled: z.boolean(),
  /** Undecodable: the raw PDU and why it failed. */
  pdu: z.string().max(400).optional(),
  error: z.string().max(100).optional(),
});
export type InboxRecord = z.infer<typeof inboxSchema>;

const partSchema = z.strictObject({
  group: z.string().max(80),
  from: z.string().max(40),
  total: z.number().int().min(2).max(255),
  sequence: z.number().int().min(1).max(255),
  text: z.string().max(200),
  timestamp: z.number(),
  receivedAt: z.number(),
  via: z.string().max(32),
});

const seenSchema = z.strictObject({ at: z.number() });

const counterSchema = z.number().int().nonnegative();

export const GSM_OUTBOX = defineCollection('gsm.outbox', outboxSchema);
export const GSM_INBOX = defineCollection('gsm.inbox', inboxSchema);
export const GSM_INBOX_PARTS = defineCollection('gsm.inbox-parts', partSchema);
export const GSM_SEEN = defineCollection('gsm.seen', seenSchema);
export const GSM_COUNTERS = defineCollection('gsm.counters', counterSchema);

/** Declare these when opening the store of a firmware that uses a `ModemPool`. */
export const MODEM_POOL_COLLECTIONS: ReadonlyArray<CollectionDef<unknown>> = [
  GSM_OUTBOX,
  GSM_INBOX,
  GSM_INBOX_PARTS,
  GSM_SEEN,
  GSM_COUNTERS,
] as ReadonlyArray<CollectionDef<unknown>>;

// ---------------------------------------------------------------------------------------------
// Health

/**
 * 0 = cannot send (not ready or not registered); otherwise 1-100 from signal strength and
 * recent failures (`penalty`).
 */
export function healthScore(health: ModemHealth, penalty: number): number {
  if (health.state !== 'ready' || !health.registered) return 0;
  let score = 100;
  if (health.rssi === 99) score -= 10;
  else if (health.rssi < 5) score -= 30;
  else if (health.rssi < 10) score -= 10;
  return Math.max(1, score - penalty);
}

/** A modem is preferred in configuration order while its score is at least this. */
export const HEALTHY_SCORE = 50;

export interface PoolModemStatus {
  name: string;
  imsi: string | undefined;
  iccid: string | undefined;
  score: number;
  health: ModemHealth;
}

export type PoolEvent =
  | { type: 'queued'; id: number; to: string }
  | { type: 'sent'; id: number; via: string; messageReferences: number[] }
  | { type: 'failover'; id: number; from: string; reason: string }
  | { type: 'retry'; id: number; attempts: number; nextAttemptAt: number; reason: string }
  | { type: 'failed'; id: number; reason: string }
  | { type: 'inbound'; message: InboxRecord }
  | { type: 'delivery'; id: number; status: number; outcome: 'delivered' | 'pending' | 'failed' }
  | { type: 'multipart-expired'; group: string };

export interface RetryPolicy {
  /** First backoff. Default 10 s. */
  initialMs?: number;
  /** Longest backoff. Default 10 min. */
  maxMs?: number;
  /** Attempts before a message is given up. Default 20. */
  maxAttempts?: number;
}

export interface ModemPoolOptions {
  store: DeviceStore;
  clock: Clock;
  /** In order of preference: SIM1 first. */
  modems: readonly Modem[];
  retry?: RetryPolicy;
  /** Added to a modem's penalty per failed send; decays over `penaltyDecayMs`. Default 60. */
  failurePenalty?: number;
  penaltyDecayMs?: number;
  /** Incomplete multipart messages are dropped after this long. Default 1 h. */
  multipartTimeoutMs?: number;
  /** De-duplication keys are kept this long. Default 7 days. */
  seenRetentionMs?: number;
  random?: RandomSource;
  log?: Logger;
}

export interface EnqueueOptions {
  statusReport?: boolean;
  alphabet?: AlphabetPolicy;
}

interface ModemSlot {
  modem: Modem;
  penalty: number;
  penaltyAt: number;
}

const MAX_PARTS = 6;

export class ModemPool {
  private readonly store: DeviceStore;
  private readonly clock: Clock;
  private readonly slots: ModemSlot[];
  private readonly log: Logger;
  private readonly random: RandomSource;
  private readonly options: ModemPoolOptions;
  private readonly listeners = new Set<(event: PoolEvent) => void>();
  private readonly unsubscribe: Array<() => void> = [];
  private wakeTimer: TimerHandle | undefined;
  private housekeeping: TimerHandle | undefined;
  private pumping = false;
  private pumpAgain = false;
  private running = false;

  constructor(options: ModemPoolOptions) {
    if (options.modems.length === 0) throw new HsmError('POOL_BAD_OPTION', 'a modem pool needs at least one modem', { field: 'modems' });
    const names = new Set(options.modems.map((m) => m.name));
    if (names.size !== options.modems.length) throw new HsmError('POOL_BAD_OPTION', 'modem names must be unique', { field: 'modems' });
    this.store = options.store;
    this.clock = options.clock;
    this.options = options;
    this.slots = options.modems.map((modem) => ({ modem, penalty: 0, penaltyAt: 0 }));
    this.log = (options.log ?? silentLogger).child({ component: 'gsm.pool' });
    this.random = options.random ?? systemRandom;
  }

  // -------------------------------------------------------------------------------------------
  // Lifecycle

  /** Takes over inbound handling, starts the modems and resumes the outbox. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.resumeInterrupted();
    for (const slot of this.slots) {
      slot.modem.setInboundHandler((sms) => this.receive(slot.modem, sms));
      this.unsubscribe.push(
        slot.modem.onEvent((event) => {
          if (event.type === 'registration' && event.registered) slot.penalty = 0;
          const usable = slot.modem.state === 'ready' && slot.modem.health.registered;
          if (usable && ((event.type === 'state' && event.state === 'ready') || (event.type === 'registration' && event.registered))) this.kick();
        }),
      );
    }
    await Promise.all(this.slots.map((slot) => slot.modem.start()));
    this.housekeeping = this.clock.setInterval(() => this.houseKeep(), 60_000);
    this.kick();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.clock.clearTimeout(this.wakeTimer);
    this.clock.clearInterval(this.housekeeping);
    for (const off of this.unsubscribe.splice(0)) off();
    await Promise.all(this.slots.map((slot) => slot.modem.stop()));
  }

  onEvent(listener: (event: PoolEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // -------------------------------------------------------------------------------------------
  // Outbound

  /**
   * Stores an SMS for sending and returns its id. The number and the text are checked first
   * (the text must fit in 6 parts without any character changed); a bad one stores nothing.
   */
  enqueue(to: string, text: string, options: EnqueueOptions = {}): number {
    parsePhoneNumber(to, 'to');
    const alphabet = options.alphabet ?? 'auto';
    planSms(text, { alphabet, maxParts: MAX_PARTS });
    const now = this.clock.now();
    const id = this.store.transact((tx) => {
      const next = this.nextId(tx, 'outbox');
      tx.put(GSM_OUTBOX, next, {
        id: next,
        to,
        text,
        alphabet,
        statusReport: options.statusReport ?? false,
        concatReference: this.random.bytes(1)[0] as number,
        state: 'queued',
        attempts: 0,
        createdAt: now,
        nextAttemptAt: now,
        uncertain: false,
      });
      tx.audit('gsm.sms.queued', { id: next, to });
      // Inside a caller's transaction this joins it: nothing is announced or sent unless the
      // caller's change commits too.
      tx.afterCommit(() => {
        this.emit({ type: 'queued', id: next, to });
        this.kick();
      });
      return next;
    });
    return id;
  }

  message(id: number): OutboxRecord | undefined {
    return this.store.get(GSM_OUTBOX, id);
  }

  outbox(state?: OutboxRecord['state']): OutboxRecord[] {
    return [...this.store.range(GSM_OUTBOX)].map((e) => e.value).filter((r) => state === undefined || r.state === state);
  }

  /** Modems with their scores, best first. */
  status(): PoolModemStatus[] {
    return this.ranked().map(({ slot, score }) => ({
      name: slot.modem.name,
      imsi: slot.modem.identity?.imsi,
      iccid: slot.modem.identity?.iccid,
      score,
      health: slot.modem.health,
    }));
  }

  private ranked(): Array<{ slot: ModemSlot; score: number }> {
    const scored = this.slots.map((slot, order) => ({ slot, order, score: healthScore(slot.modem.health, this.penaltyOf(slot)) }));
    return scored
      .sort((a, b) => {
        const aHealthy = a.score >= HEALTHY_SCORE;
        const bHealthy = b.score >= HEALTHY_SCORE;
        if (aHealthy !== bHealthy) return aHealthy ? -1 : 1;
        if (aHealthy) return a.order - b.order;
        return b.score - a.score || a.order - b.order;
      })
      .map(({ slot, score }) => ({ slot, score }));
  }

  private penaltyOf(slot: ModemSlot): number {
    const decay = this.options.penaltyDecayMs ?? 300_000;
    const elapsed = this.clock.monotonic() - slot.penaltyAt;
    return Math.max(0, slot.penalty * (1 - elapsed / decay));
  }

  private kick(): void {
    if (!this.running) return;
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        for (;;) {
          if (!this.running) return;
          const due = this.nextDue();
          if (due === undefined || due.nextAttemptAt > this.clock.now()) break;
          await this.attempt(due);
        }
      } while (this.pumpAgain);
    } catch (error) {
      this.log.error({ error: String(error) }, 'outbox worker failed');
    } finally {
      this.pumping = false;
      this.scheduleWake();
    }
  }

  private nextDue(): OutboxRecord | undefined {
    let best: OutboxRecord | undefined;
    for (const { value } of this.store.range(GSM_OUTBOX)) {
      if (value.state !== 'queued') continue;
      if (best === undefined || value.nextAttemptAt < best.nextAttemptAt) best = value;
    }
    return best;
  }

  private scheduleWake(): void {
    this.clock.clearTimeout(this.wakeTimer);
    if (!this.running) return;
    const next = this.nextDue();
    if (next === undefined) return;
    this.wakeTimer = this.clock.setTimeout(() => this.kick(), Math.max(0, next.nextAttemptAt - this.clock.now()));
  }

  private async attempt(record: OutboxRecord): Promise<void> {
    const candidates = this.ranked().filter((c) => c.score > 0);
    const attempts = record.attempts + 1;
    if (candidates.length === 0) {
      this.retryLater(record, attempts, 'no modem can send');
      return;
    }
    this.update(record.id, { state: 'sending', attempts });
    let lastReason = '';
    for (const [i, { slot }] of candidates.entries()) {
      const modem = slot.modem;
      try {
        const result = await modem.sendSms(record.to, record.text, {
          statusReport: record.statusReport,
          alphabet: record.alphabet,
          maxParts: MAX_PARTS,
          concatReference: record.concatReference,
        });
        this.store.transact((tx) => {
          const current = tx.get(GSM_OUTBOX, record.id) as OutboxRecord;
          tx.put(GSM_OUTBOX, record.id, withDefined({
            ...current,
            state: 'sent' as const,
            sentVia: modem.name,
            sentImsi: modem.identity?.imsi,
            sentAt: this.clock.now(),
            messageReferences: result.messageReferences,
          }));
          tx.audit('gsm.sms.sent', { id: record.id, via: modem.name, imsi: modem.identity?.imsi ?? null, parts: result.messageReferences.length });
        });
        slot.penalty = 0;
        this.emit({ type: 'sent', id: record.id, via: modem.name, messageReferences: result.messageReferences });
        return;
      } catch (error) {
        lastReason = error instanceof Error ? error.message : String(error);
        if (!this.running) {
          // Stopping cut the send short: the record stays `sending`, so the next start sends it
          // again, flagged as possibly delivered (resumeInterrupted). Neither a failure nor a fault.
          this.log.debug({ id: record.id, modem: modem.name, reason: lastReason }, 'send cut short by stopping');
          return;
        }
        this.penalise(slot);
        this.log.warn({ id: record.id, modem: modem.name, reason: lastReason }, 'send failed');
        if (!isTransientSendError(error)) {
          this.fail(record.id, lastReason);
          return;
        }
        if (i < candidates.length - 1) this.emit({ type: 'failover', id: record.id, from: modem.name, reason: lastReason });
      }
    }
    this.retryLater(this.store.get(GSM_OUTBOX, record.id) as OutboxRecord, attempts, lastReason);
  }

  private penalise(slot: ModemSlot): void {
    slot.penalty = Math.min(100, this.penaltyOf(slot) + (this.options.failurePenalty ?? 60));
    slot.penaltyAt = this.clock.monotonic();
  }

  private retryLater(record: OutboxRecord, attempts: number, reason: string): void {
    const policy = this.options.retry ?? {};
    if (attempts >= (policy.maxAttempts ?? 20)) {
      this.fail(record.id, `gave up after ${attempts} attempts: ${reason}`);
      return;
    }
    const backoff = Math.min(policy.maxMs ?? 600_000, (policy.initialMs ?? 10_000) * 2 ** Math.max(0, attempts - 1));
    const nextAttemptAt = this.clock.now() + backoff;
    this.update(record.id, { state: 'queued', attempts, nextAttemptAt, lastError: reason.slice(0, 300) });
    this.emit({ type: 'retry', id: record.id, attempts, nextAttemptAt, reason });
  }

  private fail(id: number, reason: string): void {
    this.store.transact((tx) => {
      const current = tx.get(GSM_OUTBOX, id) as OutboxRecord;
      tx.put(GSM_OUTBOX, id, { ...current, state: 'failed', lastError: reason.slice(0, 300) });
      tx.audit('gsm.sms.failed', { id, reason: reason.slice(0, 200) });
    });
    this.emit({ type: 'failed', id, reason });
  }

  private update(id: number, change: Partial<OutboxRecord>): void {
    this.store.transact((tx) => {
      const current = tx.get(GSM_OUTBOX, id) as OutboxRecord;
      tx.put(GSM_OUTBOX, id, withDefined({ ...current, ...change }));
    });
  }

  /** Messages left `sending` by a stopped process go back to the queue, flagged. */
  private resumeInterrupted(): void {
    const interrupted = this.outbox('sending');
    if (interrupted.length === 0) return;
    this.store.transact((tx) => {
      for (const record of interrupted) {
        tx.put(GSM_OUTBOX, record.id, { ...record, state: 'queued', uncertain: true, nextAttemptAt: this.clock.now() });
        tx.audit('gsm.sms.resumed', { id: record.id });
      }
    });
  }

  // -------------------------------------------------------------------------------------------
  // Inbound

  /** Messages stored and not yet marked handled, oldest first. */
  pendingInbound(): InboxRecord[] {
    return [...this.store.range(GSM_INBOX)].map((e) => e.value).filter((r) => !r.handled);
  }

  /** Marks an inbound message handled, in the caller's transaction when given. */
  markHandled(id: number, tx?: WriteTx): void {
    const apply = (t: WriteTx): void => {
      const record = t.get(GSM_INBOX, id);
      if (record === undefined) throw new HsmError('POOL_UNKNOWN_MESSAGE', `no inbound message ${id}`, { field: 'id' });
      t.put(GSM_INBOX, id, { ...record, handled: true });
    };
    if (tx !== undefined) apply(tx);
    else this.store.transact(apply);
  }

  /** Called by a modem for each message; returns once it is stored (the modem then deletes it). */
  private receive(modem: Modem, sms: InboundSms): void {
    const now = this.clock.now();
    const via = modem.name;
    const viaImsi = modem.identity?.imsi;
    if (sms.kind === 'status-report') {
      this.matchStatusReport(via, sms.report.messageReference, sms.report.status, sms.pdu);
      return;
    }
    const events: PoolEvent[] = [];
    this.store.transact((tx) => {
      const key = dedupeKey(sms.pdu, sms.kind === 'deliver' ? sms : undefined);
      if (tx.has(GSM_SEEN, key)) return;
      tx.put(GSM_SEEN, key, { at: now });
      if (sms.kind === 'undecodable') {
        const id = this.nextId(tx, 'inbox');
        const record: InboxRecord = withDefined({
          id,
          kind: 'undecodable' as const,
          from: '',
          text: '',
          timestamp: now,
          receivedAt: now,
          via,
          viaImsi,
          parts: 1,
          handled: false,
          pdu: sms.pdu.slice(0, 400),
          error: sms.error.code.slice(0, 100),
        });
        tx.put(GSM_INBOX, id, record);
        tx.audit('gsm.sms.undecodable', { id, via, error: sms.error.code });
        events.push({ type: 'inbound', message: record });
        return;
      }
      const deliver = sms.sms;
      const from = deliver.originator.number;
      const concat = deliver.userData.concat;
      if (concat === undefined || concat.total === 1) {
        events.push(this.storeMessage(tx, { from, text: deliver.userData.text, timestamp: deliver.timestamp, via, viaImsi, parts: 1 }));
        return;
      }
      const group = concatGroupKey(from, concat);
      tx.put(GSM_INBOX_PARTS, [group, concat.sequence], {
        group,
        from,
        total: concat.total,
        sequence: concat.sequence,
        text: deliver.userData.text,
        timestamp: deliver.timestamp,
        receivedAt: now,
        via,
      });
      const parts = new Map<number, string>();
      let firstTimestamp = deliver.timestamp;
      for (const { value } of tx.range(GSM_INBOX_PARTS, { start: [group], end: [`${group}\u0000`] })) {
        parts.set(value.sequence, value.text);
        if (value.sequence === 1) firstTimestamp = value.timestamp;
      }
      const text = joinParts(concat.total, parts);
      if (text === undefined) return;
      for (const sequence of parts.keys()) tx.del(GSM_INBOX_PARTS, [group, sequence]);
      events.push(this.storeMessage(tx, { from, text, timestamp: firstTimestamp, via, viaImsi, parts: concat.total }));
    });
    for (const event of events) this.emit(event);
  }

  private storeMessage(tx: WriteTx, message: { from: string; text: string; timestamp: number; via: string; viaImsi: string | undefined; parts: number }): PoolEvent {
    const id = this.nextId(tx, 'inbox');
    const record: InboxRecord = withDefined({ id, kind: 'sms' as const, ...message, receivedAt: this.clock.now(), handled: false });
    tx.put(GSM_INBOX, id, record);
    tx.audit('gsm.sms.received', { id, from: message.from, via: message.via, parts: message.parts });
    return { type: 'inbound', message: record };
  }

  private matchStatusReport(via: string, messageReference: number, status: number, pdu: string): void {
    const outcome = statusReportOutcome(status);
    let matched: number | undefined;
    this.store.transact((tx) => {
      const key = dedupeKey(pdu, undefined);
      if (tx.has(GSM_SEEN, key)) return;
      tx.put(GSM_SEEN, key, { at: this.clock.now() });
      const candidates = [...tx.range(GSM_OUTBOX, { reverse: true })]
        .map((e) => e.value)
        .filter((r) => r.state === 'sent' && r.sentVia === via && r.messageReferences?.includes(messageReference));
      const record = candidates[0];
      if (record === undefined) return;
      matched = record.id;
      tx.put(GSM_OUTBOX, record.id, { ...record, delivery: outcome });
    });
    if (matched !== undefined) this.emit({ type: 'delivery', id: matched, status, outcome });
  }

  private houseKeep(): void {
    const now = this.clock.now();
    const multipartTimeout = this.options.multipartTimeoutMs ?? 3_600_000;
    const retention = this.options.seenRetentionMs ?? 7 * 86_400_000;
    const expiredParts = [...this.store.range(GSM_INBOX_PARTS)].filter((e) => now - e.value.receivedAt > multipartTimeout);
    const expiredSeen = [...this.store.range(GSM_SEEN)].filter((e) => now - e.value.at > retention);
    if (expiredParts.length === 0 && expiredSeen.length === 0) return;
    const expiredGroups = new Set(expiredParts.map((e) => e.value.group));
    this.store.transact((tx) => {
      for (const { key } of expiredParts) tx.del(GSM_INBOX_PARTS, key);
      for (const { key } of expiredSeen) tx.del(GSM_SEEN, key);
      for (const group of expiredGroups) tx.audit('gsm.sms.multipart-expired', { group: group.slice(0, 200) });
    });
    for (const group of expiredGroups) this.emit({ type: 'multipart-expired', group });
  }

  /** Next id: above both the counter and the highest key present (ids are never reused). */
  private nextId(tx: WriteTx, counter: 'outbox' | 'inbox'): number {
    const collection = counter === 'outbox' ? GSM_OUTBOX : GSM_INBOX;
    const [last] = [...tx.range(collection as CollectionDef<unknown>, { reverse: true, limit: 1 })];
    const next = Math.max(tx.get(GSM_COUNTERS, counter) ?? 0, typeof last?.key === 'number' ? last.key : 0) + 1;
    tx.put(GSM_COUNTERS, counter, next);
    return next;
  }

  private emit(event: PoolEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (error) {
        this.log.error({ error: String(error) }, 'pool event listener failed');
      }
    }
  }
}

/**
 * Same SMS = same PDU body after the SMSC address: originator, SCTS, user data header and text
 * are all in it. A network duplicate, a re-read after a crash and the same message seen by the
 * other modem all produce it.
 */
function dedupeKey(pdu: string, deliver: Extract<InboundSms, { kind: 'deliver' }> | undefined): string {
  const body = deliver === undefined ? pdu.toUpperCase() : tpduOf(pdu);
  return createHash('sha256').update(body).digest('hex').slice(0, 40);
}

function tpduOf(pdu: string): string {
  const scaOctets = parseInt(pdu.slice(0, 2), 16);
  return Number.isNaN(scaOctets) ? pdu.toUpperCase() : pdu.slice(2 + scaOctets * 2).toUpperCase();
}

function withDefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
