/**
 * HSM-Hot's configuration: which coins it holds keys for (network, address types, account),
 * the fee policy of each coin, and the limits of the host API. It is data, given at start-up
 * (a hardware profile or the simulated rig); nothing here is secret.
 *
 * Fee policy (per coin), checked on every PSBT before HSM-Cold is asked and again on the
 * signed transaction:
 *   is_dynamic_fee = 1  fee / vsize <= dynamic.maxRate (sat/vB)
 *   is_dynamic_fee = 0  fee == fixed.fee, or fixed.minRate <= fee / vsize <= fixed.maxRate
 *   always              fee <= maxFee (smallest unit) and fee / vsize >= minRelayRate
 * @module
 */
import { z } from 'zod';
import { HsmError } from '../shared/errors.ts';
import { getNetwork, NETWORK_IDS, type AddressType, type Coin, type NetworkParams } from '../shared/crypto/networks.ts';
import { COINS } from '../shared/crypto/networks.ts';

const rate = z.number().positive().max(1_000_000);
const amount = z.union([z.bigint(), z.number().int()]).transform((v) => BigInt(v)).pipe(z.bigint().nonnegative());

const feePolicySchema = z.strictObject({
  /** Lowest fee rate any transaction may pay (sat/vB); below it nodes do not relay it. */
  minRelayRate: rate.default(1),
  /** Absolute cap on the fee, in the coin's smallest unit. */
  maxFee: amount,
  dynamic: z.strictObject({ maxRate: rate }),
  fixed: z.union([z.strictObject({ fee: amount }), z.strictObject({ minRate: rate, maxRate: rate })]),
});

const coinSchema = z.strictObject({
  coin: z.enum(COINS),
  network: z.enum(NETWORK_IDS),
  /** One account per address type: BIP44 (p2pkh) and/or BIP84 (p2wpkh). The first is the default. */
  types: z.array(z.enum(['p2pkh', 'p2wpkh'])).min(1).max(2),
  account: z.number().int().min(0).max(0x7fffffff).default(0),
  fee: feePolicySchema,
});

const apiLimitsSchema = z.strictObject({
  /** Largest WebSocket text message handled (bytes); larger ones get MESSAGE_TOO_LARGE. */
  maxMessageBytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(1024 * 1024),
  /** Messages above this are not even read: the connection is closed (1009). */
  hardMessageBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(4 * 1024 * 1024),
  /** Authenticated connections at most; unauthenticated ones are admitted apart (connection-gate.ts). */
  maxConnections: z.number().int().min(1).max(1024).default(32),
  /** Unauthenticated connections at most, from all addresses; the oldest gives way to a new one. */
  maxPendingConnections: z.number().int().min(1).max(65_536).default(256),
  /** Unauthenticated connections at most from one remote address; its oldest gives way to a new one. */
  maxPendingPerAddress: z.number().int().min(1).max(1024).default(16),
  /** A connection that has not authenticated by then is closed (the platform needs one round trip). */
  authTimeoutMs: z.number().int().min(100).max(60_000).default(5_000),
  /** Token bucket per registered key, for operations. */
  keyBurst: z.number().int().min(1).default(30),
  keyPerSecond: z.number().positive().default(10),
  /** Token bucket per connection, for every message (malformed ones included). */
  connectionBurst: z.number().int().min(1).default(60),
  connectionPerSecond: z.number().positive().default(20),
  /** Messages `history` returns at most per operation. */
  historyPage: z.number().int().min(1).max(10_000).default(500),
  /** How long `channel_status` waits for HSM-Cold before it answers from its cache. */
  coldStatusWaitMs: z.number().int().min(0).default(5_000),
});

export const hotConfigSchema = z.strictObject({
  coins: z.array(coinSchema).min(1).max(8),
  api: apiLimitsSchema.default(apiLimitsSchema.parse({})),
});

export type HotConfigInput = z.input<typeof hotConfigSchema>;
export type HotConfig = z.output<typeof hotConfigSchema>;
export type CoinConfig = HotConfig['coins'][number];
export type FeePolicy = CoinConfig['fee'];
export type ApiLimits = HotConfig['api'];

export const DEFAULT_HOT_CONFIG: HotConfigInput = {
  coins: [
    {
      coin: 'BTC',
      network: 'btc-main',
      types: ['p2pkh', 'p2wpkh'],
      fee: { maxFee: 1_000_000, dynamic: { maxRate: 500 }, fixed: { minRate: 1, maxRate: 100 } },
    },
    {
      coin: 'LTC',
      network: 'ltc-main',
      types: ['p2pkh', 'p2wpkh'],
      fee: { maxFee: 10_000_000, dynamic: { maxRate: 1000 }, fixed: { minRate: 1, maxRate: 200 } },
    },
    {
      coin: 'DOGE',
      network: 'doge-main',
      types: ['p2pkh'],
      fee: { minRelayRate: 1000, maxFee: 10_000_000_000, dynamic: { maxRate: 100_000 }, fixed: { minRate: 1000, maxRate: 50_000 } },
    },
  ],
};

/** Validates a configuration; errors name the field. */
export function parseHotConfig(input: unknown): HotConfig {
  const parsed = hotConfigSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join('.') ?? '';
    throw new HsmError('CONFIG_INVALID', `configuration ${field}: ${issue?.message ?? 'invalid'}`, { field });
  }
  const config = parsed.data;
  const seen = new Set<Coin>();
  for (const [i, coin] of config.coins.entries()) {
    if (seen.has(coin.coin)) throw new HsmError('CONFIG_INVALID', `coin ${coin.coin} is configured twice`, { field: `coins.${i}.coin` });
    seen.add(coin.coin);
    const network = getNetwork(coin.network);
    if (network.coin !== coin.coin) {
      throw new HsmError('CONFIG_INVALID', `network ${coin.network} is not a ${coin.coin} network`, { field: `coins.${i}.network` });
    }
    if (new Set(coin.types).size !== coin.types.length) {
      throw new HsmError('CONFIG_INVALID', 'an address type is listed twice', { field: `coins.${i}.types` });
    }
    for (const type of coin.types) {
      if (type === 'p2wpkh' && network.bech32Hrp === undefined) {
        throw new HsmError('CONFIG_INVALID', `${coin.coin} has no SegWit addresses`, { field: `coins.${i}.types` });
      }
    }
    const fixed = coin.fee.fixed;
    if ('minRate' in fixed && fixed.minRate > fixed.maxRate) {
      throw new HsmError('CONFIG_INVALID', 'fixed.minRate is above fixed.maxRate', { field: `coins.${i}.fee.fixed` });
    }
  }
  if (config.api.maxPendingPerAddress > config.api.maxPendingConnections) {
    throw new HsmError('CONFIG_INVALID', 'api.maxPendingPerAddress must be at most api.maxPendingConnections', { field: 'api.maxPendingPerAddress' });
  }
  if (config.api.hardMessageBytes < config.api.maxMessageBytes) {
    throw new HsmError('CONFIG_INVALID', 'api.hardMessageBytes must be at least api.maxMessageBytes', { field: 'api.hardMessageBytes' });
  }
  return config;
}

export function coinConfig(config: HotConfig, coin: string): CoinConfig {
  const found = config.coins.find((c) => c.coin === coin);
  if (found === undefined) {
    throw new HsmError('COIN_NOT_CONFIGURED', `this device holds no ${coin} keys`, { field: 'coin_code' });
  }
  return found;
}

export function networkOf(coin: CoinConfig): NetworkParams {
  return getNetwork(coin.network);
}

export function defaultAddressType(coin: CoinConfig): AddressType {
  return coin.types[0] as AddressType;
}
