/**
 * The app's database on the emulated phone (its ORMLite tables `channel` and `address_batch`,
 * and the `lastUserTxNo` preference), kept in one JSON file written atomically with mode 0600:
 * it holds the channel private keys.
 *
 * Channels keep the app's semantics: `channelId` (the H_ID) is an auto-increment id; the "last"
 * channel is the highest id, the "OK" channel the highest id whose status is OK; a channel is
 * found by cId without ordering (the first match), which is why cIds must never repeat.
 * @module
 */
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { HsmError } from '../../../shared/errors.ts';

const channelSchema = z.strictObject({
  channelId: z.number().int().positive(),
  qh: z.string(),
  /** The channel private key (hex); it never leaves the phone. */
  dh: z.string(),
  qc: z.string().optional(),
  cId: z.number().int().optional(),
  status: z.enum(['creating', 'ok']),
  requestAt: z.number(),
  createAt: z.number().optional(),
});
export type AppChannel = z.infer<typeof channelSchema>;

const batchSchema = z.strictObject({
  batchNo: z.number().int().nonnegative(),
  /** 1 hot send, 2 cold receive (the seed's address types). */
  type: z.union([z.literal(1), z.literal(2)]),
  coin: z.string(),
  /** In index order, as the app's DAO returns them. */
  addresses: z.array(z.string()),
  status: z.enum(['null', 'ok', 'error']),
});
export type AppAddressBatch = z.infer<typeof batchSchema>;

const recordsSchema = z.strictObject({
  lastChannelId: z.number().int().nonnegative(),
  channels: z.array(channelSchema),
  batches: z.array(batchSchema),
  lastUserTxNo: z.string().nullable(),
});
type Records = z.infer<typeof recordsSchema>;

/** Channels and batches kept at most (the phone's database is not a log). */
const KEEP_CHANNELS = 20;
const KEEP_BATCHES = 50;

export class AppRecords {
  private records: Records;

  constructor(private readonly file: string | undefined) {
    this.records = this.load();
  }

  get channels(): readonly AppChannel[] {
    return this.records.channels;
  }

  lastChannel(): AppChannel | undefined {
    return this.records.channels.at(-1);
  }

  okChannel(): AppChannel | undefined {
    return [...this.records.channels].reverse().find((c) => c.status === 'ok');
  }

  channelById(channelId: number): AppChannel | undefined {
    return this.records.channels.find((c) => c.channelId === channelId);
  }

  channelByCId(cId: number): AppChannel | undefined {
    return this.records.channels.find((c) => c.cId === cId);
  }

  /** A new channel in state creating; its id is the next auto-increment id. */
  createChannel(qh: string, dh: string, now: number): AppChannel {
    const channel: AppChannel = { channelId: this.records.lastChannelId + 1, qh, dh, status: 'creating', requestAt: now };
    this.records.lastChannelId = channel.channelId;
    this.records.channels = [...this.records.channels, channel].slice(-KEEP_CHANNELS);
    this.save();
    return channel;
  }

  /** The app's `updateChannel`: QC and cId set, status OK. */
  confirmChannel(channelId: number, qc: string, cId: number, now: number): AppChannel {
    const channel = this.channelById(channelId);
    if (channel === undefined) throw new Error(`invariant failed: no channel ${channelId}`);
    Object.assign(channel, { qc, cId, status: 'ok', createAt: now });
    this.save();
    return channel;
  }

  batch(batchNo: number, type: 1 | 2, coin: string): AppAddressBatch | undefined {
    return this.records.batches.find((b) => b.batchNo === batchNo && b.type === type && b.coin === coin);
  }

  /** Stores a batch pulled from vweb, replacing an older copy of it. */
  saveBatch(batch: AppAddressBatch): void {
    const others = this.records.batches.filter((b) => !(b.batchNo === batch.batchNo && b.type === batch.type && b.coin === batch.coin));
    this.records.batches = [...others, batch].slice(-KEEP_BATCHES);
    this.save();
  }

  setBatchStatus(batch: AppAddressBatch, status: 'ok' | 'error'): void {
    batch.status = status;
    this.save();
  }

  get lastUserTxNo(): string | null {
    return this.records.lastUserTxNo;
  }

  set lastUserTxNo(value: string | null) {
    this.records.lastUserTxNo = value;
    this.save();
  }

  private load(): Records {
    const empty: Records = { lastChannelId: 0, channels: [], batches: [], lastUserTxNo: null };
    if (this.file === undefined || !existsSync(this.file)) return empty;
    chmodSync(this.file, 0o600); // a file an older version left readable
    const parsed = recordsSchema.safeParse(JSON.parse(readFileSync(this.file, 'utf8')));
    if (!parsed.success) {
      throw new HsmError('V_DEVICE_STATE', `${this.file} is not the V-Device app's records: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}`, { field: 'stateFile' });
    }
    return parsed.data;
  }

  private save(): void {
    if (this.file === undefined) return;
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.records), { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.file);
  }
}
