/**
 * A watch-only view of one BIP44/BIP84 account, from its account xpub: what the platform
 * knows about the hot wallet and the cold receiving wallet without holding a key. It derives
 * addresses of the external (0) and change (1) chains on demand, in 1,000-address batches
 * (spec §"Batch content string"), and answers which address is ours and where it sits.
 * @module
 */
import { deriveAddressBatch } from '../../../shared/crypto/batch-derivation.ts';
import { CHAIN, accountSpec, derivePublicKey, importAccountXpub, type AccountSpec, type Chain, type HDKey } from '../../../shared/crypto/hd.ts';
import type { AddressType, NetworkParams } from '../../../shared/crypto/networks.ts';
import type { WalletKey } from './chain.ts';

const BATCH = 1000;
const HARDENED = 0x80000000;

export interface AddressPosition {
  chain: Chain;
  index: number;
}

export class WatchWallet {
  readonly spec: AccountSpec;
  readonly type: AddressType;
  private readonly node: HDKey;
  /** Derived addresses per chain, in index order. */
  private readonly lists: [string[], string[]] = [[], []];
  private readonly positions = new Map<string, AddressPosition>();

  constructor(
    readonly xpub: string,
    network: NetworkParams,
    type: AddressType,
    account: number,
    /** Master key fingerprint (for PSBT bip32Derivation); 0 when unknown (cold wallet). */
    readonly fingerprint = 0,
  ) {
    this.type = type;
    this.spec = accountSpec(network, type, account);
    this.node = importAccountXpub(xpub, this.spec);
  }

  get network(): NetworkParams {
    return this.spec.network;
  }

  /** Address `index` of `chain`. */
  address(chain: Chain, index: number): string {
    this.ensure(chain, index + 1);
    return this.lists[chain][index] as string;
  }

  /** Addresses `from .. from+count-1` of `chain`. */
  range(chain: Chain, from: number, count: number): string[] {
    this.ensure(chain, from + count);
    return this.lists[chain].slice(from, from + count);
  }

  /** Derives at least the first `count` addresses of `chain`, a whole batch at a time. */
  ensure(chain: Chain, count: number): void {
    const list = this.lists[chain];
    while (list.length < count) {
      const from = list.length;
      const batch = deriveAddressBatch(this.node, this.spec, chain, from, BATCH);
      batch.forEach((address, k) => {
        list.push(address);
        this.positions.set(address, { chain, index: from + k });
      });
    }
  }

  /** Where `address` sits, among the addresses derived so far. */
  position(address: string): AddressPosition | undefined {
    return this.positions.get(address);
  }

  isMine(address: string): boolean {
    return this.positions.has(address);
  }

  /** Every address derived so far (both chains). */
  addresses(): string[] {
    return [...this.lists[CHAIN.external], ...this.lists[CHAIN.change]];
  }

  /** The key data a PSBT input or change output needs for `address`. */
  walletKey(address: string): WalletKey | undefined {
    const at = this.positions.get(address);
    if (at === undefined) return undefined;
    return {
      address,
      publicKey: derivePublicKey(this.node, at.chain, at.index),
      path: [this.spec.purpose + HARDENED, this.spec.network.coinType + HARDENED, this.spec.account + HARDENED, at.chain, at.index],
    };
  }
}
