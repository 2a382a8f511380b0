/**
 * HSM-Cold's configuration, set at provisioning and kept in the store: who may talk to it by
 * SMS, which coins and accounts it serves, when it accepts new channels, and its spending
 * policy. Validated by a schema whose errors name the field.
 * @module
 */
import { z } from 'zod';
import { COINS, NETWORK_IDS, getNetwork, type Coin } from '../shared/crypto/networks.ts';
import { HsmError } from '../shared/errors.ts';
import { assertTimeZone, parseTimeOfDay } from '../shared/time-zone.ts';

const phoneNumber = z.string().regex(/^\+[1-9][0-9]{5,14}$/, 'an E.164 number such as +4917612345678');
const amount = z.string().regex(/^(0|[1-9][0-9]{0,19})$/, 'an integer amount in the smallest unit, as a string');
const timeOfDay = z.string().refine((t) => {
  try {
    parseTimeOfDay(t);
    return true;
  } catch {
    return false;
  }
}, 'a time of day HH:MM');

export const coinPolicySchema = z.strictObject({
  /** Largest single request (sum of its payments). */
  maxPerTx: amount,
  /** Largest sum of approved requests in any rolling period. */
  maxPerPeriod: amount,
  /** Most approved requests in any rolling period. */
  maxCountPerPeriod: z.number().int().min(1).max(1_000_000),
  /** Length of the rolling period. */
  periodHours: z.number().int().min(1).max(24 * 31),
  /** When not empty, every payment must go to one of these addresses. */
  allowList: z.array(z.string().min(1).max(90)).max(1000).default([]),
});
export type CoinPolicy = z.infer<typeof coinPolicySchema>;

export const coinConfigSchema = z.strictObject({
  network: z.enum(NETWORK_IDS),
  addressType: z.enum(['p2pkh', 'p2wpkh']),
  /** BIP44/BIP84 account of the cold (receiving) keys. */
  account: z.number().int().min(0).max(0x7fffffff).default(0),
  policy: coinPolicySchema,
});
export type CoinConfig = z.infer<typeof coinConfigSchema>;

export const coldConfigSchema = z
  .strictObject({
    vDeviceNumbers: z.array(phoneNumber).min(1).max(4),
    adminNumbers: z.array(phoneNumber).min(1).max(8),
    coins: z.partialRecord(z.enum(COINS), coinConfigSchema).refine((c) => Object.keys(c).length > 0, 'at least one coin'),
    rotation: z
      .strictObject({
        /**
         * Daily window in which new channels are accepted (wraps midnight when from > to). It
         * must hold the app's daily channel alarm, 03:00 UTC+8 (spec "What the released app
         * does"): the default covers the app's own reply window (23:00-01:59) and that alarm,
         * with an hour for a late alarm or a slow SMS.
         */
        from: timeOfDay.default('23:00'),
        to: timeOfDay.default('04:00'),
        timeZone: z.string().default('Asia/Shanghai'),
        /** An open channel expires this long after it was opened. */
        maxAgeHours: z.number().min(1).max(24 * 14).default(26),
        /** A requested channel not confirmed with CHANNEL_OK in this time is dropped. */
        pendingMinutes: z.number().min(1).max(240).default(30),
        /** Accept the very first channel after provisioning at any time of day. */
        firstChannelAnytime: z.boolean().default(false),
      })
      .default({ from: '23:00', to: '04:00', timeZone: 'Asia/Shanghai', maxAgeHours: 26, pendingMinutes: 30, firstChannelAnytime: false }),
    alerts: z
      .strictObject({
        /** Consecutive policy refusals that alert the administrators. */
        refusalRun: z.number().int().min(1).max(1000).default(3),
        /** Wrong CHANNEL_OK ids (a guessing attempt) that alert the administrators. */
        badChannelOks: z.number().int().min(1).max(100).default(3),
      })
      .default({ refusalRun: 3, badChannelOks: 3 }),
    time: z
      .strictObject({
        /** Time sources (modem network time, HSM-Hot) may disagree with the local clock by this much. */
        maxSkewSeconds: z.number().int().min(1).max(3600).default(120),
        /** Samples older than this no longer count. */
        sampleMaxAgeMinutes: z.number().int().min(1).max(24 * 60).default(60),
      })
      .default({ maxSkewSeconds: 120, sampleMaxAgeMinutes: 60 }),
  })
  .superRefine((config, ctx) => {
    try {
      assertTimeZone(config.rotation.timeZone);
    } catch {
      ctx.addIssue({ code: 'custom', path: ['rotation', 'timeZone'], message: `unknown time zone "${config.rotation.timeZone}"` });
    }
    for (const [coin, c] of Object.entries(config.coins)) {
      const network = getNetwork(c.network);
      if (network.coin !== coin) ctx.addIssue({ code: 'custom', path: ['coins', coin, 'network'], message: `${c.network} is not a ${coin} network` });
      if (c.addressType === 'p2wpkh' && network.bech32Hrp === undefined) {
        ctx.addIssue({ code: 'custom', path: ['coins', coin, 'addressType'], message: `${coin} has no P2WPKH addresses` });
      }
      if (BigInt(c.policy.maxPerTx) > BigInt(c.policy.maxPerPeriod)) {
        ctx.addIssue({ code: 'custom', path: ['coins', coin, 'policy', 'maxPerTx'], message: 'maxPerTx exceeds maxPerPeriod' });
      }
    }
  });

export type ColdConfig = z.infer<typeof coldConfigSchema>;
export type ColdConfigInput = z.input<typeof coldConfigSchema>;

/** Parses a configuration; the error names the first bad field. */
export function parseColdConfig(input: unknown): ColdConfig {
  const parsed = coldConfigSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.join('.') ?? '';
    throw new HsmError('COLD_CONFIG', `configuration ${path === '' ? '' : `${path}: `}${issue?.message ?? 'invalid'}`, { field: path || 'config' });
  }
  return parsed.data;
}

export function coinConfig(config: ColdConfig, coin: Coin): CoinConfig | undefined {
  return config.coins[coin];
}
