/**
 * The device's signed messages. Every result is a JSON message signed by the identity key
 * (api-wire.ts); the ones worth catching up on (request status changes, HSM-Cold's events) are
 * journal messages: numbered 1, 2, 3 ..., stored in the same transaction as the change they
 * report, and pushed to connected clients after it commits. `history` replays them by id.
 * @module
 */
import { z } from 'zod';
import type { Clock } from '../shared/clock.ts';
import { defineCollection } from '../shared/store/collection.ts';
import type { ReadView, WriteTx } from '../shared/store/store.ts';
import { messageSigningString, type Topic } from './api-wire.ts';

export const journalCollection = defineCollection(
  'hot.journal',
  z.strictObject({
    msg: z.string().min(1).max(64),
    topic: z.enum(['tx', 'events']),
    /** The key whose operation the message reports (its results reach it without a subscription). */
    owner: z.string().optional(),
    at: z.number(),
    /** The message exactly as sent. */
    wire: z.string(),
  }),
);
export type JournalRecord = z.infer<typeof journalCollection.schema>;
export interface JournalEntry extends JournalRecord {
  id: number;
}

export const journalCounterCollection = defineCollection('hot.journal-head', z.strictObject({ lastId: z.number().int().nonnegative() }));
const HEAD = 'head';

export type JsonData = Record<string, unknown>;

/** Signs result messages with the device identity key (BIP-137, base64). */
export type MessageSigner = (text: string) => string;

export function signedMessage(sign: MessageSigner, message: Record<string, unknown>): string {
  return JSON.stringify({ ...message, signed: sign(messageSigningString(message)) });
}

export class Journal {
  private readonly listeners = new Set<(entry: JournalEntry) => void>();

  constructor(
    private readonly sign: MessageSigner,
    private readonly clock: Clock,
  ) {}

  /** Appends a signed message in `tx`; listeners hear of it once `tx` has committed. */
  append(tx: WriteTx, message: { msg: string; topic: Topic; owner?: string; data: JsonData }): JournalEntry {
    const id = (tx.get(journalCounterCollection, HEAD)?.lastId ?? 0) + 1;
    tx.put(journalCounterCollection, HEAD, { lastId: id });
    const wire = signedMessage(this.sign, { msg: message.msg, id, data: message.data });
    const record: JournalRecord = { msg: message.msg, topic: message.topic, at: this.clock.now(), wire };
    if (message.owner !== undefined) record.owner = message.owner;
    tx.put(journalCollection, id, record);
    const entry = { ...record, id };
    tx.afterCommit(() => {
      for (const listener of [...this.listeners]) listener(entry);
    });
    return entry;
  }

  onAppend(listener: (entry: JournalEntry) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  lastId(view: ReadView): number {
    return view.get(journalCounterCollection, HEAD)?.lastId ?? 0;
  }

  /** Up to `limit` entries after `since` that `visible` lets through, in id order. */
  since(view: ReadView, since: number, limit: number, visible: (entry: JournalEntry) => boolean): { entries: JournalEntry[]; more: boolean } {
    const entries: JournalEntry[] = [];
    for (const { key, value } of view.range(journalCollection, { start: since + 1 })) {
      const entry = { ...value, id: key as number };
      if (!visible(entry)) continue;
      if (entries.length === limit) return { entries, more: true };
      entries.push(entry);
    }
    return { entries, more: false };
  }
}
