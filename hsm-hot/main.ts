/**
 * HSM-Hot, wired: the machine (machine.ts) with its effects, over an injected link port,
 * clock, random source, store directory and host API address. The simulated rig constructs it
 * in-process; `hsm hot --profile ...` will construct it from a hardware profile.
 *
 *   const hot = await HsmHot.start({ stateDir, clock, random, openLinkPort: () => wire.open('a'),
 *                                    listen: { host: '127.0.0.1', port: 0 }, config });
 *   await hot.provision({ pin, mnemonic: { generate: 24 }, platformKeys, pairing });  // once
 *   await hot.unlock(pin);                                                             // later boots
 *   hot.hostUrl  // ws://127.0.0.1:<port>
 *   await hot.stop();
 * @module
 */
import { createActor, fromCallback, fromPromise, waitFor, type ActorRefFrom, type SnapshotFrom } from 'xstate';
import type { Clock } from '../shared/clock.ts';
import { HsmError } from '../shared/errors.ts';
import { LINK_COLLECTIONS, LinkEndpoint } from '../shared/link/endpoint.ts';
import { AuditWitness, DEVICE_APPS } from '../shared/link/audit-witness.ts';
import { DEVICE_MESSAGES } from '../shared/link/messages.ts';
import { pairingCollection, pairingRecord } from '../shared/link/pairing.ts';
import { RPC_COLLECTIONS } from '../shared/link/rpc.ts';
import type { LinkTimings } from '../shared/link/session.ts';
import type { Logger } from '../shared/log.ts';
import { silentLogger } from '../shared/log.ts';
import type { Port } from '../shared/port.ts';
import type { RandomSource } from '../shared/random.ts';
import { CONSOLE_COLLECTIONS } from '../shared/console/collections.ts';
import { sealAuditWithIdentity } from '../shared/store/audit-seal.ts';
import { identityPublicKey, identitySigner } from '../shared/store/identity.ts';
import type { CollectionDef } from '../shared/store/collection.ts';
import { DeviceStore } from '../shared/store/store.ts';
import { META_KEYS, SYSTEM_COLLECTIONS } from '../shared/store/system-collections.ts';
import { Vault, type KdfCost, type VaultState } from '../shared/store/vault.ts';
import { AccountBook, coldAccountsCollection, fingerprintHex, hotAccountsCollection } from './accounts.ts';
import { AddressLists } from './addresses.ts';
import { apiKeysCollection, nonceCollection } from './api-keys.ts';
import { ColdLink, coldEventCollection, coldStatusCollection } from './cold-link.ts';
import { DEFAULT_HOT_CONFIG, parseHotConfig, type HotConfig, type HotConfigInput } from './config.ts';
import { HostApi } from './host-api.ts';
import { Journal, journalCollection, journalCounterCollection, type JsonData } from './journal.ts';
import { hotMachine, toHotError, type DeviceCheck, type HotError } from './machine.ts';
import { hostOperations } from './operations.ts';
import { pairWithCold, provisionKeys, type PairingInput, type ProvisionedKeys, type ProvisioningInput } from './provisioning.ts';
import { apiTime } from './api-wire.ts';
import { HotSendRequests, failPendingRequests, pendingRequestsCollection, requestCounterCollection, requestsCollection, unsignedTxCollection } from './requests.ts';
import { formatPath } from './signer.ts';

export const HOT_APP = DEVICE_APPS.hot;
export const HOT_SCHEMA_VERSION = 1;

export const HOT_COLLECTIONS = [
  ...LINK_COLLECTIONS,
  hotAccountsCollection,
  coldAccountsCollection,
  apiKeysCollection,
  nonceCollection,
  journalCollection,
  journalCounterCollection,
  requestsCollection,
  pendingRequestsCollection,
  requestCounterCollection,
  unsignedTxCollection,
  coldStatusCollection,
  coldEventCollection,
  ...CONSOLE_COLLECTIONS,
];

export interface HsmHotOptions {
  /** Directory of the device store (created if missing). */
  stateDir: string;
  clock: Clock;
  random: RandomSource;
  /** Opens the serial port to HSM-Cold; called again after the port is lost. */
  openLinkPort(): Port | Promise<Port>;
  baudRate?: number;
  /** Host API address; port 0 picks a free port. Default 127.0.0.1:0. */
  listen?: { host?: string; port?: number };
  config?: HotConfigInput;
  /** PIN key-derivation cost (lower only in tests). */
  kdf?: KdfCost;
  linkTimings?: Partial<LinkTimings>;
  /**
   * Timings on the wire (link retransmission and keepalive); default `clock`. The
   * simulated rig's device processes keep them in real time: their bytes cross real ptys in
   * real time while world time may be advanced by hand.
   */
  wireClock?: Clock;
  log?: Logger;
}

export type HsmHotState =
  | 'booting'
  | 'checking'
  | 'routing'
  | 'uninitialised'
  | 'provisioning'
  | 'locked'
  | 'unlocking'
  | 'unpaired'
  | 'pairing'
  | 'running'
  | 'erased'
  | 'failed'
  | 'stopped';

/** What exists while the device runs (vault unlocked, paired). */
interface Runtime {
  journal: Journal;
  accounts: AccountBook;
  requests: HotSendRequests;
  coldLink: ColdLink;
  addresses: AddressLists;
  sign(text: string): string;
  link: LinkEndpoint | undefined;
}

type HotActor = ActorRefFrom<typeof hotMachine>;

export interface ProvisioningResult extends ProvisionedKeys {
  paired: boolean;
  pairingError?: HotError;
}

function settledState(snapshot: SnapshotFrom<typeof hotMachine>): boolean {
  if (snapshot.status !== 'active') return true;
  if (snapshot.matches('running')) return !snapshot.matches({ running: { host: 'starting' } });
  return ['uninitialised', 'locked', 'unpaired', 'erased', 'failed'].some((s) => snapshot.matches(s as never));
}

export class HsmHot {
  readonly config: HotConfig;
  private readonly options: HsmHotOptions;
  private readonly log: Logger;
  private actor: HotActor;
  private storeValue: DeviceStore | undefined;
  private vaultValue: Vault | undefined;
  private runtime: Runtime | undefined;
  /** Sends this log's signed heads to HSM-Cold and records HSM-Cold's. */
  private witness: AuditWitness | undefined;
  private lastProvisioned: ProvisionedKeys | undefined;
  /** The port the host API first got when asked for any free one (port 0); kept while it runs again. */
  private boundHostPort: number | undefined;
  /** Monotonic time of the last boot (start, restart or zeroize). */
  private startedAt: number;
  private readonly closing = new Set<Promise<unknown>>();

  /** Boots the device; resolves once it waits for provisioning, the PIN or pairing (or runs). */
  static async start(options: HsmHotOptions): Promise<HsmHot> {
    const hot = new HsmHot(options);
    await hot.settle();
    if (hot.state === 'failed') throw hot.lastError();
    return hot;
  }

  private constructor(options: HsmHotOptions) {
    this.options = options;
    this.log = options.log ?? silentLogger;
    this.config = parseHotConfig(options.config ?? DEFAULT_HOT_CONFIG);
    this.startedAt = options.clock.monotonic();
    this.actor = this.bootMachine();
  }

  private bootMachine(): HotActor {
    this.startedAt = this.options.clock.monotonic();
    const actor = createActor(this.machine(), { clock: this.options.clock });
    actor.start();
    return actor;
  }

  /** The machine's state in full (`{ running: { link: 'up', host: 'listening' } }`), for the console. */
  get machineState(): unknown {
    return this.actor.getSnapshot().value;
  }

  /** Milliseconds since this device last booted (start, restart or zeroize). */
  uptimeMs(): number {
    return this.options.clock.monotonic() - this.startedAt;
  }

  /** The vault's state and the PIN attempts left; undefined before the store is open. */
  get vaultState(): { state: VaultState; attemptsLeft: number } | undefined {
    const vault = this.vaultValue;
    return vault === undefined ? undefined : { state: vault.state, attemptsLeft: vault.attemptsLeft };
  }

  get state(): HsmHotState {
    const value = this.actor.getSnapshot().value;
    return (typeof value === 'string' ? value : Object.keys(value)[0]) as HsmHotState;
  }

  /** The last error the device reported (wrong PIN, failed pairing, port...), if any. */
  get error(): HotError | null {
    return this.actor.getSnapshot().context.error;
  }

  get hostAddress(): { host: string; port: number } | undefined {
    return this.actor.getSnapshot().context.host ?? undefined;
  }

  get hostUrl(): string | undefined {
    const address = this.hostAddress;
    return address === undefined ? undefined : `ws://${address.host}:${address.port}`;
  }

  get linkUp(): boolean {
    return this.actor.getSnapshot().context.linkUp;
  }

  get identity(): string | undefined {
    return this.storeValue === undefined ? undefined : identityPublicKey(this.storeValue);
  }

  /** The device store, read-only use (status, tests, the console). */
  get store(): DeviceStore {
    if (this.storeValue === undefined) throw new HsmError('STORE_CLOSED', 'the device store is not open');
    return this.storeValue;
  }

  get link(): LinkEndpoint | undefined {
    return this.runtime?.link;
  }

  /**
   * Provisions a new device and pairs it. Throws when nothing was created; once the keys exist
   * it resolves, with a generated mnemonic (shown once), also when pairing then failed: the
   * device waits in `unpaired` and `pairingError` says why.
   */
  async provision(input: ProvisioningInput): Promise<ProvisioningResult> {
    this.expectState('uninitialised', 'provision');
    this.lastProvisioned = undefined;
    this.actor.send({ type: 'PROVISION', input });
    await this.settle();
    const keys = this.lastProvisioned as ProvisionedKeys | undefined;
    this.lastProvisioned = undefined;
    if (keys === undefined) throw this.lastError();
    if (this.state === 'running') return { ...keys, paired: true };
    return { ...keys, paired: false, pairingError: this.lastError().toJSON() };
  }

  /** Unlocks with the PIN; resolves when the device runs (or waits for pairing). */
  async unlock(pin: string): Promise<void> {
    this.expectState('locked', 'unlock');
    this.actor.send({ type: 'UNLOCK', pin });
    await this.settle();
    if (this.state !== 'running' && this.state !== 'unpaired') throw this.lastError();
  }

  async pair(input: PairingInput): Promise<void> {
    this.expectState('unpaired', 'pair');
    this.actor.send({ type: 'PAIR', input });
    await this.settle();
    if (this.state !== 'running') throw this.lastError();
  }

  async lock(): Promise<void> {
    this.expectState('running', 'lock');
    this.actor.send({ type: 'LOCK' });
    await this.settle();
    await this.drainClosing();
  }

  /** Stops everything and closes the store (a clean power-off). */
  async stop(): Promise<void> {
    await this.stopMachine();
    this.vaultValue?.lock();
    await this.storeValue?.close();
  }

  /**
   * Reboots in place: the link and the host API stop, the vault forgets its key, and the
   * machine boots again; resolves once it waits for the PIN (or provisioning). After the next
   * unlock the host API listens on the port it had, as the host keeps reconnecting to that URL.
   */
  async restart(): Promise<void> {
    await this.stopMachine();
    this.vaultValue?.lock();
    this.actor = this.bootMachine();
    await this.settle();
  }

  /**
   * Zeroize: erases the vault (hot seed, identity key, link key) and forgets the provisioning
   * (identity record, hot and cold account xpubs, platform keys and their nonces, the pairing,
   * what HSM-Cold last reported, messages queued for it), in one transaction; requests still
   * waiting for HSM-Cold fail. Then boots again, `uninitialised`, to be provisioned anew. The
   * audit log, the journal and the requests' history stay.
   */
  async zeroize(reason: string): Promise<void> {
    await this.stopMachine();
    const { store, vault } = this.openStore();
    const now = this.options.clock.now();
    store.transact((tx) => {
      const failed = failPendingRequests(tx, 'DEVICE_ZEROIZED', 'HSM-Hot was zeroized before HSM-Cold answered', now);
      tx.audit('hot.zeroized', { reason, failedRequests: failed });
      // The erase signs the audit head first, while the identity key still exists.
      vault.erase(reason);
      const forgotten: Array<CollectionDef<unknown>> = [hotAccountsCollection, coldAccountsCollection, apiKeysCollection, nonceCollection, pairingCollection, coldStatusCollection, coldEventCollection, RPC_COLLECTIONS.outbox];
      for (const collection of forgotten) {
        for (const { key } of [...tx.range(collection)]) tx.del(collection, key);
      }
      tx.del(SYSTEM_COLLECTIONS.identity, META_KEYS.identity);
    });
    this.actor = this.bootMachine();
    await this.settle();
  }

  /** The `device_status` data. */
  deviceStatus(): JsonData {
    const store = this.store;
    const runtime = this.requireRuntime();
    const link = runtime.link;
    return {
      identity: this.identity ?? null,
      state: this.state,
      link: {
        state: link?.session.state ?? 'detached',
        peer_identity: pairingRecord(store)?.peerIdentity ?? null,
        epoch: link?.session.epoch ?? null,
        outbox: link?.rpc.pending().length ?? null,
      },
      accounts: runtime.accounts.hotAccounts().map((a) => ({
        coin_code: a.record.coin,
        network: a.record.network,
        address_type: a.type,
        account: a.record.account,
        path: formatPath(a.path),
        xpub: a.record.xpub,
        master_fingerprint: fingerprintHex(a.masterFingerprint),
      })),
      cold_accounts: runtime.accounts.coldAccounts().map((a) => ({
        coin_code: a.coin,
        network: a.network,
        address_type: a.type,
        account: a.account,
        xpub: a.xpub,
      })),
      requests: runtime.requests.counts(store),
      journal_last_id: runtime.journal.lastId(store),
      now: apiTime(this.options.clock.now()),
    };
  }

  // ---------------------------------------------------------------------------------------

  private async settle(): Promise<void> {
    await waitFor(this.actor, settledState);
  }

  private expectState(state: HsmHotState, action: string): void {
    if (this.state !== state) throw new HsmError('DEVICE_STATE', `cannot ${action} while the device is ${this.state}`);
  }

  private lastError(): HsmError {
    const error = this.error ?? { code: 'DEVICE_STATE', message: `the device is ${this.state}` };
    return new HsmError(error.code, error.message, error.field === undefined ? {} : { field: error.field });
  }

  /** Stops the machine: its exit stops the link and the host API; waits until both closed. */
  private async stopMachine(): Promise<void> {
    this.actor.send({ type: 'SHUTDOWN' });
    this.actor.stop();
    await this.drainClosing();
  }

  private async drainClosing(): Promise<void> {
    while (this.closing.size > 0) await Promise.allSettled([...this.closing]);
  }

  private track(promise: Promise<unknown>): void {
    const tracked = promise.catch((error: unknown) => this.log.warn({ err: (error as Error)?.message }, 'shutdown step failed'));
    this.closing.add(tracked);
    void tracked.finally(() => this.closing.delete(tracked));
  }

  private requireRuntime(): Runtime {
    if (this.runtime === undefined) throw new HsmError('DEVICE_STATE', `the device is ${this.state}, not running`);
    return this.runtime;
  }

  private openStore(): { store: DeviceStore; vault: Vault } {
    const { stateDir, clock, random } = this.options;
    this.storeValue ??= DeviceStore.open(stateDir, { app: HOT_APP, schemaVersion: HOT_SCHEMA_VERSION, clock, collections: HOT_COLLECTIONS });
    if (this.vaultValue === undefined) {
      this.vaultValue = new Vault(this.storeValue, random);
      sealAuditWithIdentity(this.storeValue, this.vaultValue, HOT_APP);
      this.witness = new AuditWitness({ store: this.storeValue, role: 'hot', log: this.log.child({ part: 'audit-witness' }) });
    }
    return { store: this.storeValue, vault: this.vaultValue };
  }

  private inspect(): DeviceCheck {
    const { store, vault } = this.openStore();
    const state = vault.state;
    // A zeroized device has an erased vault but no identity: it is provisioned anew. One whose
    // vault erased itself after too many wrong PINs keeps its identity and stays `erased`.
    const provisioned = state !== 'uninitialised' && identityPublicKey(store) !== undefined;
    return {
      provisioned,
      unlocked: state === 'unlocked',
      paired: pairingRecord(store) !== undefined,
      erased: provisioned && state === 'erased',
      attemptsLeft: vault.attemptsLeft,
    };
  }

  private openRuntime(): void {
    const { store, vault } = this.openStore();
    const { clock } = this.options;
    const pairing = pairingRecord(store);
    if (pairing === undefined) throw new Error('invariant failed: running without a pairing');
    const signer = identitySigner(store, vault);
    const sign = (text: string): string => signer.signMessage(text);
    const journal = new Journal(sign, clock);
    const accounts = new AccountBook(store);
    this.runtime = {
      journal,
      accounts,
      sign,
      requests: new HotSendRequests({ store, vault, accounts, config: this.config, journal, clock, coldIdentity: pairing.peerIdentity, log: this.log }),
      coldLink: new ColdLink({ store, journal, clock, log: this.log }),
      addresses: new AddressLists(),
      link: undefined,
    };
  }

  /** The link region's actor: opens the port and runs the link endpoint until it exits. */
  private runLink(sendBack: (event: { type: 'LINK_ATTACHED' | 'LINK_UP' | 'LINK_DOWN' } | { type: 'LINK_FAILED'; error: HotError }) => void): () => void {
    const runtime = this.requireRuntime();
    const { store, vault } = this.openStore();
    const { clock, random } = this.options;
    let stopped = false;
    let port: Port | undefined;
    let endpoint: LinkEndpoint | undefined;
    const offs: Array<() => void> = [];
    const attach = async (): Promise<void> => {
      port = await this.options.openLinkPort();
      if (stopped) return;
      endpoint = new LinkEndpoint({
        store,
        vault,
        port,
        clock,
        random,
        baudRate: this.options.baudRate ?? 115_200,
        messages: DEVICE_MESSAGES,
        ...(this.options.linkTimings === undefined ? {} : { timings: this.options.linkTimings }),
        ...(this.options.wireClock === undefined ? {} : { wireClock: this.options.wireClock }),
        log: this.log,
      });
      const session = endpoint.session;
      runtime.requests.attachLink(endpoint.rpc);
      runtime.coldLink.attachLink(endpoint.rpc, () => session.isUp);
      this.witness?.attach(endpoint.rpc, endpoint.peerIdentity, session);
      offs.push(session.onUp(() => sendBack({ type: 'LINK_UP' })));
      offs.push(session.onDown(() => sendBack({ type: 'LINK_DOWN' })));
      offs.push(
        port.onClose((info) => {
          if (!stopped) sendBack({ type: 'LINK_FAILED', error: { code: 'LINK_PORT_CLOSED', message: `the link port closed${info.reason === undefined ? '' : ` (${info.reason})`}` } });
        }),
      );
      endpoint.start();
      runtime.link = endpoint;
      sendBack({ type: 'LINK_ATTACHED' });
    };
    attach().catch((error: unknown) => {
      if (!stopped) sendBack({ type: 'LINK_FAILED', error: toHotError(error) });
    });
    return () => {
      stopped = true;
      for (const off of offs.splice(0)) off();
      if (endpoint !== undefined) {
        endpoint.stop();
        this.witness?.detach();
        runtime.requests.detachLink();
        runtime.coldLink.detachLink();
        runtime.link = undefined;
      }
      const open = port;
      if (open !== undefined) this.track(open.close());
    };
  }

  /** The host region's actor: the WebSocket server, for as long as the device runs. */
  private runHostApi(sendBack: (event: { type: 'HOST_LISTENING'; host: string; port: number } | { type: 'HOST_FAILED'; error: HotError }) => void): () => void {
    const runtime = this.requireRuntime();
    const { store } = this.openStore();
    const { clock, random } = this.options;
    const api = new HostApi({
      store,
      clock,
      random,
      limits: this.config.api,
      // Port 0 means any free port the first time; afterwards (unlocked again after a lock) the
      // same one, as the host was told that URL and keeps reconnecting to it.
      listen: { host: this.options.listen?.host ?? '127.0.0.1', port: this.options.listen?.port || (this.boundHostPort ?? 0) },
      sign: runtime.sign,
      journal: runtime.journal,
      operations: hostOperations({
        store,
        config: this.config,
        accounts: runtime.accounts,
        addresses: runtime.addresses,
        requests: runtime.requests,
        coldLink: runtime.coldLink,
        journal: runtime.journal,
        deviceStatus: () => this.deviceStatus(),
      }),
      log: this.log,
    });
    let stopped = false;
    const started = api.start().then(
      (address) => {
        this.boundHostPort = address.port;
        if (!stopped) sendBack({ type: 'HOST_LISTENING', ...address });
      },
      (error: unknown) => {
        if (!stopped) sendBack({ type: 'HOST_FAILED', error: toHotError(error) });
      },
    );
    return () => {
      stopped = true;
      this.track(started.then(() => api.stop()));
    };
  }

  private machine(): typeof hotMachine {
    const { clock, random } = this.options;
    return hotMachine.provide({
      actors: {
        inspect: fromPromise(async () => this.inspect()),
        unlock: fromPromise<void, { pin: string }>(async ({ input }) => {
          this.openStore().vault.unlock(input.pin);
        }),
        provision: fromPromise<void, { input: ProvisioningInput }>(async ({ input }) => {
          const { store, vault } = this.openStore();
          const keys = provisionKeys({ store, vault, random, clock, config: this.config, ...(this.options.kdf === undefined ? {} : { kdf: this.options.kdf }) }, input.input);
          this.lastProvisioned = keys;
          await pairWithCold({ store, vault, random, clock, identity: keys.identity, openPort: () => this.options.openLinkPort() }, input.input.pairing);
        }),
        pair: fromPromise<void, { input: PairingInput }>(async ({ input }) => {
          const { store, vault } = this.openStore();
          const identity = identityPublicKey(store);
          if (identity === undefined) throw new HsmError('NO_IDENTITY', 'the device has no identity key');
          await pairWithCold({ store, vault, random, clock, identity, openPort: () => this.options.openLinkPort() }, input.input);
        }),
        link: fromCallback(({ sendBack }) => this.runLink(sendBack)),
        hostApi: fromCallback(({ sendBack }) => this.runHostApi(sendBack)),
      },
      actions: {
        openRuntime: () => this.openRuntime(),
        closeRuntime: () => {
          this.runtime = undefined;
        },
        lockVault: () => this.vaultValue?.lock(),
        resume: () => {
          const runtime = this.requireRuntime();
          const asked = runtime.requests.resume();
          runtime.coldLink.resume();
          if (asked > 0) this.log.info({ asked }, 'asked HSM-Cold again for requests left pending');
        },
      },
    });
  }
}
