/**
 * Coin and network parameters: the single source of version bytes, HRPs, BIP44 coin types,
 * extended-key versions and message prefixes for every coin the devices handle.
 *
 * Sources: Bitcoin Core `chainparams.cpp`; Litecoin Core and Dogecoin Core `chainparams.cpp`;
 * SLIP-0044 (coin types); SLIP-0132 and Trezor `common/defs/bitcoin/*.json` (extended-key
 * versions: `xpub_magic`, `xpub_magic_segwit_native`).
 * @module
 */
import { HsmError } from '../errors.ts';

/** Coin codes as they appear on the wire (`coin_code`, SMS `<coin>` fields). */
export const COINS = ['BTC', 'LTC', 'DOGE'] as const;
export type Coin = (typeof COINS)[number];

export const NETWORK_KINDS = ['mainnet', 'testnet', 'regtest'] as const;
export type NetworkKind = (typeof NETWORK_KINDS)[number];

/** BIP44 (legacy P2PKH) or BIP84 (native SegWit P2WPKH) account layout. */
export type Purpose = 44 | 84;
export type AddressType = 'p2pkh' | 'p2wpkh';

export interface ExtendedKeyVersions {
  /** 4-byte version of serialized public extended keys (xpub, tpub, zpub, Ltub, dgub...). */
  public: number;
  private: number;
}

export interface NetworkParams {
  /** Stable identifier, e.g. `btc-main`. */
  readonly id: string;
  readonly coin: Coin;
  readonly kind: NetworkKind;
  /** SLIP-0044 coin type used in `m/purpose'/coin_type'/account'`. */
  readonly coinType: number;
  readonly p2pkhVersion: number;
  readonly p2shVersion: number;
  readonly wifVersion: number;
  /** Bech32 human-readable part; absent when the coin has no SegWit. */
  readonly bech32Hrp: string | undefined;
  /** `'\x18Bitcoin Signed Message:\n'` and the coins' equivalents (length byte included). */
  readonly messagePrefix: string;
  readonly extendedKeyVersions: Readonly<Partial<Record<Purpose, ExtendedKeyVersions>>>;
  /** Largest amount in the smallest unit (MAX_MONEY of the coin's consensus code). */
  readonly maxMoney: bigint;
  /** Digits after the decimal point of one coin (1 BTC = 10^8 satoshi). */
  readonly decimals: number;
}

const XPUB = { public: 0x0488b21e, private: 0x0488ade4 }; // xpub / xprv
const ZPUB = { public: 0x04b24746, private: 0x04b2430c }; // zpub / zprv (SLIP-0132)
const TPUB = { public: 0x043587cf, private: 0x04358394 }; // tpub / tprv
const VPUB = { public: 0x045f1cf6, private: 0x045f18bc }; // vpub / vprv (SLIP-0132)

const BTC_MESSAGE_PREFIX = '\x18Bitcoin Signed Message:\n';

export const NETWORK_IDS = ['btc-main', 'btc-test', 'btc-regtest', 'ltc-main', 'doge-main'] as const;
export type NetworkId = (typeof NETWORK_IDS)[number];

export const NETWORKS: Readonly<Record<NetworkId, NetworkParams>> = {
  'btc-main': {
    id: 'btc-main',
    coin: 'BTC',
    kind: 'mainnet',
    coinType: 0,
    p2pkhVersion: 0x00,
    p2shVersion: 0x05,
    wifVersion: 0x80,
    bech32Hrp: 'bc',
    messagePrefix: BTC_MESSAGE_PREFIX,
    extendedKeyVersions: { 44: XPUB, 84: ZPUB },
    maxMoney: 21_000_000n * 100_000_000n,
    decimals: 8,
  },
  'btc-test': {
    id: 'btc-test',
    coin: 'BTC',
    kind: 'testnet',
    coinType: 1,
    p2pkhVersion: 0x6f,
    p2shVersion: 0xc4,
    wifVersion: 0xef,
    bech32Hrp: 'tb',
    messagePrefix: BTC_MESSAGE_PREFIX,
    extendedKeyVersions: { 44: TPUB, 84: VPUB },
    maxMoney: 21_000_000n * 100_000_000n,
    decimals: 8,
  },
  'btc-regtest': {
    id: 'btc-regtest',
    coin: 'BTC',
    kind: 'regtest',
    coinType: 1,
    p2pkhVersion: 0x6f,
    p2shVersion: 0xc4,
    wifVersion: 0xef,
    bech32Hrp: 'bcrt',
    messagePrefix: BTC_MESSAGE_PREFIX,
    extendedKeyVersions: { 44: TPUB, 84: VPUB },
    maxMoney: 21_000_000n * 100_000_000n,
    decimals: 8,
  },
  'ltc-main': {
    id: 'ltc-main',
    coin: 'LTC',
    kind: 'mainnet',
    coinType: 2,
    p2pkhVersion: 0x30,
    p2shVersion: 0x32,
    wifVersion: 0xb0,
    bech32Hrp: 'ltc',
    messagePrefix: '\x19Litecoin Signed Message:\n',
    // Ltub / Ltpv for BIP44; native SegWit uses zpub as in Trezor's litecoin definition.
    extendedKeyVersions: { 44: { public: 0x019da462, private: 0x019d9cfe }, 84: ZPUB },
    maxMoney: 84_000_000n * 100_000_000n,
    decimals: 8,
  },
  'doge-main': {
    id: 'doge-main',
    coin: 'DOGE',
    kind: 'mainnet',
    coinType: 3,
    p2pkhVersion: 0x1e,
    p2shVersion: 0x16,
    wifVersion: 0x9e,
    bech32Hrp: undefined,
    messagePrefix: '\x19Dogecoin Signed Message:\n',
    extendedKeyVersions: { 44: { public: 0x02facafd, private: 0x02fac398 } }, // dgub / dgpv
    // Dogecoin Core amount.h: MAX_MONEY = 10,000,000,000 DOGE.
    maxMoney: 10_000_000_000n * 100_000_000n,
    decimals: 8,
  },
};

export function isCoin(value: string): value is Coin {
  return (COINS as readonly string[]).includes(value);
}

export function parseCoin(value: string, field = 'coin'): Coin {
  if (!isCoin(value)) {
    throw new HsmError('UNKNOWN_COIN', `${field} must be one of ${COINS.join(', ')}, got "${value}"`, { field });
  }
  return value;
}

export function getNetwork(id: string): NetworkParams {
  if (!(id in NETWORKS)) {
    throw new HsmError('UNKNOWN_NETWORK', `network must be one of ${NETWORK_IDS.join(', ')}, got "${id}"`, { field: 'network' });
  }
  return NETWORKS[id as NetworkId];
}

/** The network of `coin` on `kind` (LTC and DOGE are mainnet only). */
export function networkFor(coin: Coin, kind: NetworkKind = 'mainnet'): NetworkParams {
  const match = Object.values(NETWORKS).find((n) => n.coin === coin && n.kind === kind);
  if (match === undefined) {
    throw new HsmError('UNKNOWN_NETWORK', `${coin} is not supported on ${kind}`, { field: 'network' });
  }
  return match;
}

export function supportedAddressTypes(network: NetworkParams): AddressType[] {
  return network.bech32Hrp === undefined ? ['p2pkh'] : ['p2pkh', 'p2wpkh'];
}

export function purposeOf(type: AddressType): Purpose {
  return type === 'p2pkh' ? 44 : 84;
}
