/**
 * What HSM-Cold keeps in its store, one collection per kind of record. Secrets (the cold seed,
 * channel private keys) are not here: they are sealed in the vault under the names below.
 * @module
 */
import { z } from 'zod';
import { accountXpubSchema, channelSummarySchema } from '../shared/link/messages.ts';
import { COINS } from '../shared/crypto/networks.ts';
import { defineCollection } from '../shared/store/collection.ts';
import { coldConfigSchema } from './config.ts';

export const COLD_SEED_SECRET = 'cold.seed';
export const channelKeySecret = (cId: number): string => `channel.${cId}`;

const upperKeyHex = z.string().regex(/^(02|03)[0-9A-F]{64}$/);
const amount = z.string().regex(/^(0|[1-9][0-9]{0,24})$/);

export const deviceSchema = z.strictObject({
  provisionedAt: z.number().int(),
  coldAccounts: z.array(accountXpubSchema),
  /** HSM-Hot's account xpubs, pinned at pairing. */
  hotAccounts: z.array(accountXpubSchema).optional(),
  /** Whether a channel was ever opened (the first-channel allowance is then used up). */
  hadChannel: z.boolean(),
});

export const channelRecordSchema = channelSummarySchema.extend({
  hId: z.number().int().nonnegative(),
  /** The V-Device's channel key. */
  qh: upperKeyHex,
  /** HSM-Cold's channel key. */
  qc: upperKeyHex,
  /** The V-Device number the request came from (replies go there). */
  vDevice: z.string().max(16),
  retiredAt: z.number().int().optional(),
});
export type ChannelRecord = z.infer<typeof channelRecordSchema>;

export const channelStateSchema = z.strictObject({
  lastCId: z.number().int().nonnegative(),
  /** An operator opened the window until this time (Unix ms). */
  operatorWindowUntil: z.number().int().optional(),
  /** CHANNEL_OK messages naming no pending channel, since the last alert. */
  badChannelOks: z.number().int().nonnegative(),
  /** Channel requests in the current window, to flag a second requester. */
  windowRequests: z.strictObject({ windowStart: z.number().int(), count: z.number().int().nonnegative() }).optional(),
  /** A forged vc_code closed channel `cId`: only a window an operator opens admits the next one. */
  operatorRequired: z.strictObject({ cId: z.number().int().nonnegative(), at: z.number().int(), reason: z.string().max(200) }).optional(),
  /** Channel requests refused (no answer goes out), for the operator. */
  refusedRequests: z.strictObject({ count: z.number().int().nonnegative(), lastAt: z.number().int(), lastReason: z.string().max(200) }).optional(),
});

export const approvalRecordSchema = z.strictObject({
  userTxNo: z.string(),
  requestHash: z.string().regex(/^[0-9a-f]{64}$/),
  kind: z.enum(['spend', 'ping']),
  coin: z.enum(COINS),
  amount,
  cId: z.number().int().nonnegative(),
  approvedAt: z.number().int(),
  signature: z.string(),
});
export type ApprovalRecord = z.infer<typeof approvalRecordSchema>;

export const refusalRecordSchema = z.strictObject({
  userTxNo: z.string(),
  code: z.string(),
  message: z.string(),
  cId: z.number().int().nonnegative(),
  at: z.number().int(),
});

export const spendSchema = z.strictObject({ coin: z.enum(COINS), amount, userTxNo: z.string(), at: z.number().int() });

export const countersSchema = z.strictObject({ refusalRun: z.number().int().nonnegative(), refusalSeq: z.number().int().nonnegative() });

export const timeSampleSchema = z.strictObject({ offsetMs: z.number(), at: z.number().int(), value: z.number().int() });

export const COLD_RECORDS = {
  config: defineCollection('cold.config', coldConfigSchema),
  device: defineCollection('cold.device', deviceSchema),
  channels: defineCollection('cold.channels', channelRecordSchema),
  channelState: defineCollection('cold.channel-state', channelStateSchema),
  approvals: defineCollection('cold.approvals', approvalRecordSchema),
  refusals: defineCollection('cold.refusals', refusalRecordSchema),
  spends: defineCollection('cold.spends', spendSchema),
  counters: defineCollection('cold.counters', countersSchema),
  timeSamples: defineCollection('cold.time-samples', timeSampleSchema),
  timeAlert: defineCollection('cold.time-alert', z.strictObject({ alerted: z.boolean(), at: z.number().int() })),
} as const;

export const SINGLETON = 'current';
