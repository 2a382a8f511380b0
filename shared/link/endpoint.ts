/**
 * A device's whole link endpoint: the stored pairing and link key, this boot's epoch, the
 * session over the link port, and the RPC endpoint over the session. Firmware opens one at
 * start-up (vault unlocked) and reads `status()` for the console and the status API.
 * @module
 */
import type { Clock } from '../clock.ts';
import type { Logger } from '../log.ts';
import type { Port } from '../port.ts';
import type { RandomSource } from '../random.ts';
import type { DeviceStore } from '../store/store.ts';
import type { Vault } from '../store/vault.ts';
import { WITNESS_COLLECTIONS } from './audit-witness.ts';
import { linkEpochCollection, nextBootEpoch } from './epoch.ts';
import type { MessageRegistry } from './messages.ts';
import { loadPairing, pairingCollection } from './pairing.ts';
import { RPC_COLLECTIONS, RpcEndpoint, type RpcStats } from './rpc.ts';
import { LinkSession, type LinkStats, type LinkTimings } from './session.ts';

/** Collections the link needs; firmware declares them when it opens its store. */
export const LINK_COLLECTIONS = [linkEpochCollection, pairingCollection, ...Object.values(RPC_COLLECTIONS), ...Object.values(WITNESS_COLLECTIONS)];

export interface LinkEndpointOptions {
  store: DeviceStore;
  vault: Vault;
  port: Port;
  clock: Clock;
  random: RandomSource;
  baudRate: number;
  messages: MessageRegistry;
  timings?: Partial<LinkTimings>;
  /**
   * Timings on the wire (link retransmission and keepalive); default `clock`. The
   * simulated rig's device processes keep them in real time: their bytes cross real ptys in
   * real time while world time may be advanced by hand.
   */
  wireClock?: Clock;
  log?: Logger;
}

export interface LinkStatus extends LinkStats {
  port: string;
  peerIdentity: string;
  rpc: RpcStats;
}

export class LinkEndpoint {
  readonly session: LinkSession;
  readonly rpc: RpcEndpoint;
  readonly peerIdentity: string;
  private readonly port: Port;

  constructor(options: LinkEndpointOptions) {
    const pairing = loadPairing(options.store, options.vault);
    const epoch = nextBootEpoch(options.store);
    this.port = options.port;
    this.peerIdentity = pairing.peerIdentity;
    this.session = new LinkSession({
      port: options.port,
      clock: options.wireClock ?? options.clock,
      random: options.random,
      role: pairing.role,
      linkKey: pairing.linkKey,
      epoch,
      baudRate: options.baudRate,
      timings: options.timings,
      log: options.log,
    });
    pairing.linkKey.fill(0);
    this.rpc = new RpcEndpoint({ store: options.store, session: this.session, clock: options.clock, role: pairing.role, messages: options.messages, log: options.log });
  }

  /** Starts serving: register `rpc.handle` / `rpc.onReply` first. */
  start(): void {
    this.rpc.start();
    this.session.start();
  }

  stop(): void {
    this.rpc.stop();
    this.session.stop();
  }

  status(): LinkStatus {
    return { ...this.session.stats(), port: this.port.path, peerIdentity: this.peerIdentity, rpc: this.rpc.stats() };
  }
}
