/**
 * HSM-Cold, wired: the store and vault, the machine with its effects, the link to HSM-Hot, the
 * modem pool, and the domain modules. Wiring only; the behaviour lives in the modules.
 *
 * The same class runs on a Raspberry Pi (real serial ports, real modems) and in the simulated
 * rig (emulated ports and modems on a simulated network): it takes its ports, modems, clock and
 * randomness as arguments.
 * @module
 */
import { createActor, fromCallback, fromPromise, type Actor, type SnapshotFrom } from 'xstate';
import type { Clock, TimerHandle } from '../shared/clock.ts';
import { CONSOLE_COLLECTIONS } from '../shared/console/collections.ts';
import { HsmError } from '../shared/errors.ts';
import { Modem, type ModemOptions } from '../shared/gsm/modem.ts';
import { MODEM_POOL_COLLECTIONS, ModemPool, type RetryPolicy } from '../shared/gsm/modem-pool.ts';
import { LINK_COLLECTIONS, LinkEndpoint, type LinkStatus } from '../shared/link/endpoint.ts';
import { importPairingFile, pairingCollection, pairingRecord, runPairingExchange, type PairingOutcome } from '../shared/link/pairing.ts';
import { AuditWitness, DEVICE_APPS } from '../shared/link/audit-witness.ts';
import { DEVICE_MESSAGES, type AccountXpub } from '../shared/link/messages.ts';
import type { LinkTimings } from '../shared/link/session.ts';
import { silentLogger, type Logger } from '../shared/log.ts';
import type { Coin } from '../shared/crypto/networks.ts';
import type { Port } from '../shared/port.ts';
import type { RandomSource } from '../shared/random.ts';
import { sealAuditWithIdentity } from '../shared/store/audit-seal.ts';
import { identitySigner } from '../shared/store/identity.ts';
import { DeviceStore, type WriteTx } from '../shared/store/store.ts';
import { Vault, type KdfCost } from '../shared/store/vault.ts';
import { approve, type ApproveRequest } from './approvals.ts';
import { channelRequestRefusals, closeOperatorWindow, currentChannel, openOperatorWindow, pendingChannel, recentChannels, sweepChannels, windowState } from './channel.ts';
import { coldMachine, type ChannelPhase, type ColdEvent } from './machine.ts';
import { pinHotXpubs } from './pairing.ts';
import { parseColdConfig, type CoinPolicy } from './config.ts';
import { isProvisioned, loadColdConfig, provisionCold, type ColdProvisioned, type ColdProvisioning } from './provisioning.ts';
import { COLD_RECORDS, SINGLETON } from './records.ts';
import type { ColdServices } from './services.ts';
import { applySms, prepareSms, triageSms } from './sms-router.ts';
import { recordTimeSample, timeTrust, watchTimeTrust } from './time-trust.ts';

export const COLD_APP = DEVICE_APPS.cold;
export const COLD_SCHEMA_VERSION = 1;
export const COLD_COLLECTIONS = [...Object.values(COLD_RECORDS), ...LINK_COLLECTIONS, ...MODEM_POOL_COLLECTIONS, ...CONSOLE_COLLECTIONS];
/** How often HSM-Hot's and the modems' clocks are sampled. */
const TIME_SAMPLE_EVERY_MS = 10 * 60_000;
/**
 * A time sample is read against the midpoint of its round trip, and one whose round trip took
 * longer than this tells nothing and is dropped (the on-wire rule of RFC 5905 §8).
 */
const MAX_TIME_SAMPLE_ROUND_TRIP_MS = 10_000;

export interface ColdModemSpec extends Omit<ModemOptions, 'clock' | 'random' | 'log'> {}

export interface ColdDeviceOptions {
  stateDir: string;
  clock: Clock;
  random: RandomSource;
  link: { openPort: () => Promise<Port> | Port; baudRate: number; timings?: Partial<LinkTimings> };
  /** SIM1 first. */
  modems: readonly ColdModemSpec[];
  smsRetry?: RetryPolicy;
  /**
   * Timings on the wire (link retransmission and keepalive); default `clock`. The
   * simulated rig's device processes keep them in real time: their bytes cross real ptys in
   * real time while world time may be advanced by hand.
   */
  wireClock?: Clock;
  log?: Logger;
}

export interface ColdStatus {
  state: unknown;
  lastError: { code: string; message: string } | undefined;
  link: LinkStatus | undefined;
  modems: Array<{
    name: string;
    imsiTail: string | undefined;
    state: string;
    registered: boolean;
    /** `+CREG` stat (27.007 §7.2), -1 before the first reading. */
    regStat: number;
    operator: string | undefined;
    rssi: number;
    score: number;
    lastError: string | undefined;
  }>;
  outbox: { queued: number; sending: number; failed: number };
  channel: ReturnType<typeof currentChannel>;
  pendingChannel: ReturnType<typeof pendingChannel>;
  window: { open: boolean; reason: string } | undefined;
  /** Channel requests refused without an answer (outside the window, waiting for an operator). */
  refusedChannelRequests: ReturnType<typeof channelRequestRefusals>;
  time: ReturnType<typeof timeTrust> | undefined;
}

interface Running {
  /** Absent until the device is paired with HSM-Hot. */
  link: LinkEndpoint | undefined;
  /** The port under `link`; closed when the services stop, so the next start can open it again. */
  linkPort: Port | undefined;
  pool: ModemPool;
  modems: Modem[];
  svc: ColdServices;
  timers: TimerHandle[];
  /** When the pending `link.time` request left (local clock); none after a reboot. */
  hotTimeAskedAt: number | undefined;
  inboxBusy: boolean;
  inboxAgain: boolean;
  channelListeners: Set<() => void>;
  linkListeners: Set<() => void>;
}

export class ColdDevice {
  readonly store: DeviceStore;
  readonly vault: Vault;
  /** Sends this log's signed heads to HSM-Hot and records HSM-Hot's. */
  private readonly witness: AuditWitness;
  private readonly options: ColdDeviceOptions;
  private readonly log: Logger;
  private actor: Actor<typeof coldMachine>;
  private running: Running | undefined;
  private readonly changeListeners = new Set<(snapshot: SnapshotFrom<typeof coldMachine>) => void>();
  private actorSubscription: { unsubscribe(): void } | undefined;
  /** Monotonic time of the last (re)start of the machine. */
  private startedAt = 0;
  private provisionResult: { resolve: (r: ColdProvisioned) => void; reject: (e: unknown) => void } | undefined;
  private readonly eventListeners = new Set<(kind: string, details: Record<string, unknown>) => void>();

  constructor(options: ColdDeviceOptions) {
    this.options = options;
    this.log = options.log ?? silentLogger;
    this.store = DeviceStore.open(options.stateDir, { app: COLD_APP, schemaVersion: COLD_SCHEMA_VERSION, clock: options.clock, collections: COLD_COLLECTIONS });
    this.vault = new Vault(this.store, options.random);
    sealAuditWithIdentity(this.store, this.vault, COLD_APP);
    this.witness = new AuditWitness({ store: this.store, role: 'cold', log: this.log.child({ part: 'audit-witness' }) });
    this.actor = this.createMachineActor();
  }

  private createMachineActor(): Actor<typeof coldMachine> {
    return createActor(
      coldMachine.provide({
        actors: {
          inspectDevice: fromPromise(async () => ({ provisioned: isProvisioned(this.store), vault: this.vault.state })),
          unlockVault: fromPromise(async ({ input }: { input: { pin: string } }) => this.vault.unlock(input.pin)),
          provisionDevice: fromPromise(async ({ input }: { input: { input: unknown } }) => this.runProvisioning(input.input as ColdProvisioning)),
          startServices: fromPromise(() => this.startServices()),
          stopServices: fromPromise(() => this.stopServices()),
          watchLink: fromCallback<ColdEvent>(({ sendBack }) => this.watchLink(sendBack)),
          watchModems: fromCallback<ColdEvent>(({ sendBack }) => this.watchModems(sendBack)),
          watchChannel: fromCallback<ColdEvent>(({ sendBack }) => this.watchChannel(sendBack)),
          serveInbox: fromCallback<ColdEvent>(() => this.serveInbox()),
        },
        actions: { sweep: () => this.sweep() },
      }),
      { clock: this.options.clock },
    );
  }

  /** Boots the machine (it waits for a PIN, or for provisioning). */
  start(): void {
    this.startedAt = this.options.clock.monotonic();
    this.actorSubscription = this.actor.subscribe((snapshot) => this.changeListeners.forEach((l) => l(snapshot)));
    this.actor.start();
  }

  /** A modem command is waiting for its answer (the simulated rig keeps world time short meanwhile). */
  get modemsAwaitingReply(): boolean {
    return this.running?.modems.some((m) => m.awaitingReply) ?? false;
  }

  get snapshot(): SnapshotFrom<typeof coldMachine> {
    return this.actor.getSnapshot();
  }

  /** Follows the machine's snapshots, across `restart()`. */
  onChange(listener: (snapshot: SnapshotFrom<typeof coldMachine>) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** Milliseconds since the machine last booted (start or restart). */
  uptimeMs(): number {
    return this.options.clock.monotonic() - this.startedAt;
  }

  /** HSM-Cold's events (channel opened, closed, refusals, alerts), as reported to HSM-Hot. */
  onEvent(listener: (kind: string, details: Record<string, unknown>) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  unlock(pin: string): void {
    this.actor.send({ type: 'UNLOCK', pin });
  }

  lock(): void {
    this.actor.send({ type: 'LOCK' });
  }

  /** Provisions the device; resolves with the new mnemonic (shown once) when one was generated. */
  provision(input: ColdProvisioning): Promise<ColdProvisioned> {
    return new Promise<ColdProvisioned>((resolve, reject) => {
      this.provisionResult = { resolve, reject };
      this.actor.send({ type: 'PROVISION', input });
      if (!this.snapshot.matches({ provisioning: 'saving' })) {
        this.provisionResult = undefined;
        reject(new HsmError('NOT_PROVISIONABLE', `HSM-Cold cannot be provisioned now (state ${JSON.stringify(this.snapshot.value)})`));
      }
    });
  }

  /** An operator holds the rotation window open for `minutes`. */
  openWindow(minutes: number): number {
    const svc = this.requireRunning().svc;
    const until = this.store.transact((tx) => openOperatorWindow(svc, tx, minutes));
    return until;
  }

  closeWindow(): void {
    const svc = this.requireRunning().svc;
    this.store.transact((tx) => closeOperatorWindow(svc, tx));
  }

  /** Runs the upkeep sweep now (also runs every minute by itself). */
  sweepNow(): void {
    this.sweep();
  }

  status(): ColdStatus {
    const r = this.running;
    const now = this.options.clock.now();
    const config = r?.svc.config;
    return {
      state: this.snapshot.value,
      lastError: this.snapshot.context.lastError,
      link: r?.link?.status(),
      modems: (r?.pool.status() ?? []).map((m) => ({
        name: m.name,
        imsiTail: m.imsi?.slice(-4),
        state: m.health.state,
        registered: m.health.registered,
        regStat: m.health.regStat,
        operator: r?.modems.find((modem) => modem.name === m.name)?.operator,
        rssi: m.health.rssi,
        score: m.score,
        lastError: m.health.lastError,
      })),
      outbox: {
        queued: r?.pool.outbox('queued').length ?? 0,
        sending: r?.pool.outbox('sending').length ?? 0,
        failed: r?.pool.outbox('failed').length ?? 0,
      },
      channel: currentChannel(this.store),
      pendingChannel: pendingChannel(this.store),
      window: r === undefined ? undefined : windowState(r.svc, this.store, now),
      refusedChannelRequests: channelRequestRefusals(this.store),
      time: config === undefined ? undefined : timeTrust(this.store, config, now),
    };
  }

  recentChannels(limit?: number): ReturnType<typeof recentChannels> {
    return recentChannels(this.store, limit);
  }

  /** Sends `AT` to each modem (the console's self-test). */
  async pingModems(): Promise<Array<{ name: string; ok: boolean; detail: string }>> {
    const r = this.requireRunning();
    return Promise.all(
      r.modems.map(async (modem) => {
        try {
          await modem.command('AT');
          return { name: modem.name, ok: true, detail: 'OK' };
        } catch (error) {
          return { name: modem.name, ok: false, detail: (error as HsmError).code ?? 'failed' };
        }
      }),
    );
  }

  /** Sends `data` to HSM-Hot and back (`link.echo`); resolves with the round-trip time in ms. */
  async linkEcho(data: Uint8Array, timeoutMs: number): Promise<number> {
    const { clock } = this.options;
    const link = this.requireRunning().link;
    if (link === undefined) throw new HsmError('LINK_UNPAIRED', 'HSM-Cold is not paired with HSM-Hot');
    if (!link.session.isUp) throw new HsmError('LINK_DOWN', 'the link to HSM-Hot is down');
    const started = clock.monotonic();
    const abort = new AbortController();
    const timeout = clock.sleep(timeoutMs, abort.signal).then(
      () => Promise.reject(new HsmError('LINK_TIMEOUT', `no echo from HSM-Hot within ${timeoutMs} ms (the request stays queued)`)),
      () => undefined,
    );
    const echo = link.rpc.call<{ data: Uint8Array }>('link.echo', { data });
    echo.catch(() => undefined);
    try {
      const reply = (await Promise.race([echo, timeout])) as { data: Uint8Array };
      if (Buffer.compare(Buffer.from(reply.data), Buffer.from(data)) !== 0) throw new HsmError('LINK_ECHO_MISMATCH', 'HSM-Hot echoed different bytes');
      return clock.monotonic() - started;
    } finally {
      abort.abort();
    }
  }

  /**
   * Pairs interactively with HSM-Hot over the link port (only while unpaired): resolves with
   * the code both operators compare. `confirm()` stores the pairing and starts the link;
   * `cancel()` leaves the device unpaired.
   */
  async beginPairing(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<{ code: string; peerIdentity: string; confirm(): Promise<void>; cancel(): Promise<void> }> {
    const r = this.requireRunning();
    if (r.link !== undefined || pairingRecord(this.store) !== undefined) throw new HsmError('ALREADY_PAIRED', 'HSM-Cold is already paired');
    const { clock, random } = this.options;
    const port = await this.options.link.openPort();
    const exchange = runPairingExchange({
      port,
      clock,
      random,
      role: 'cold',
      store: this.store,
      vault: this.vault,
      signDigest: (digest) => identitySigner(this.store, this.vault).signDigest(digest),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    });
    exchange.catch(() => undefined);
    const aborted = new Promise<never>((_, reject) => {
      const onAbort = (): void => reject(options.signal?.reason ?? new HsmError('PAIR_CANCELLED', 'pairing cancelled'));
      if (options.signal?.aborted) onAbort();
      else options.signal?.addEventListener('abort', onAbort, { once: true });
    });
    aborted.catch(() => undefined);
    let outcome: PairingOutcome;
    try {
      outcome = await Promise.race([exchange, aborted]);
    } catch (error) {
      await port.close();
      throw error;
    }
    return {
      code: outcome.code,
      peerIdentity: outcome.peerIdentity,
      confirm: async () => {
        outcome.confirm();
        await port.close();
        if (this.running === r) await this.startLink(r);
      },
      cancel: () => port.close(),
    };
  }

  /** Replaces one coin's policy, checked with the whole configuration; effective at once. */
  setCoinPolicy(coin: Coin, policy: CoinPolicy): CoinPolicy {
    const current = loadColdConfig(this.store);
    const coinConfig = current.coins[coin];
    if (coinConfig === undefined) throw new HsmError('COIN_NOT_SERVED', `${coin} is not served by this device`, { field: 'coin' });
    const next = parseColdConfig({ ...current, coins: { ...current.coins, [coin]: { ...coinConfig, policy } } });
    const applied = next.coins[coin]!.policy;
    this.store.transact((tx) => {
      tx.put(COLD_RECORDS.config, SINGLETON, next);
      tx.audit('cold.policy-changed', {
        coin,
        maxPerTx: applied.maxPerTx,
        maxPerPeriod: applied.maxPerPeriod,
        maxCountPerPeriod: applied.maxCountPerPeriod,
        periodHours: applied.periodHours,
        allowList: applied.allowList.length,
      });
    });
    if (this.running !== undefined) this.running.svc.config = next;
    return applied;
  }

  /** Reboots in place: services stop, the vault locks, and the machine boots again (locked). */
  async restart(): Promise<void> {
    await this.stopMachine();
    this.vault.lock();
    this.actor = this.createMachineActor();
    this.start();
  }

  /**
   * Zeroize: erases every secret in the vault, the provisioning and the pairing (open channels
   * are closed, their keys go with the vault), then boots into provisioning. The audit log and
   * the history of channels and approvals stay.
   */
  async zeroize(reason: string): Promise<void> {
    await this.stopMachine();
    const now = this.options.clock.now();
    this.store.transact((tx) => {
      for (const channel of [currentChannel(tx), pendingChannel(tx)]) {
        if (channel !== undefined) tx.put(COLD_RECORDS.channels, channel.cId, { ...channel, status: 'closed', closedAt: now, closeReason: 'zeroized' });
      }
      tx.del(COLD_RECORDS.device, SINGLETON);
      tx.del(COLD_RECORDS.config, SINGLETON);
      for (const { key } of [...tx.range(pairingCollection)]) tx.del(pairingCollection, key);
      tx.audit('cold.zeroized', { reason });
      // The erase signs the audit head first, while the identity key still exists.
      this.vault.erase(reason);
    });
    this.actor = this.createMachineActor();
    this.start();
  }

  private async stopMachine(): Promise<void> {
    this.actorSubscription?.unsubscribe();
    this.actor.stop();
    await this.stopServices();
  }

  /** Stops everything and closes the store. */
  async shutdown(): Promise<void> {
    this.actorSubscription?.unsubscribe();
    this.actor.stop();
    await this.stopServices();
    this.vault.lock();
    await this.store.close();
  }

  // ---------------------------------------------------------------------------------------
  // Effects provided to the machine

  private runProvisioning(input: ColdProvisioning): void {
    const waiter = this.provisionResult;
    this.provisionResult = undefined;
    try {
      const result = provisionCold(this.store, this.vault, this.options.random, this.options.clock.now(), input);
      waiter?.resolve(result);
    } catch (error) {
      waiter?.reject(error);
      throw error;
    }
  }

  private async startServices(): Promise<void> {
    const { clock, random } = this.options;
    const config = loadColdConfig(this.store);
    const modems = this.options.modems.map((spec) => new Modem({ ...spec, clock, random, log: this.log.child({ modem: spec.name }) }));
    const pool = new ModemPool({ store: this.store, clock, modems, random, log: this.log.child({ part: 'modem-pool' }), ...(this.options.smsRetry ? { retry: this.options.smsRetry } : {}) });
    const running: Running = {
      link: undefined,
      linkPort: undefined,
      pool,
      modems,
      timers: [],
      hotTimeAskedAt: undefined,
      inboxBusy: false,
      inboxAgain: false,
      channelListeners: new Set(),
      linkListeners: new Set(),
      svc: {
        store: this.store,
        vault: this.vault,
        clock,
        random,
        config,
        sms: pool,
        events: {
          emit: (kind, details) => {
            for (const listener of this.eventListeners) listener(kind, details);
            void running.link?.rpc.call('hot.event', { kind, at: clock.now(), details }).catch(() => undefined);
          },
        },
        log: this.log,
      },
    };
    this.running = running;
    if (pairingRecord(this.store) !== undefined) await this.startLink(running);
    await pool.start();
    running.timers.push(clock.setInterval(() => this.sampleTime(running), TIME_SAMPLE_EVERY_MS));
    this.sampleTime(running);
    pool.onEvent((event) => {
      if (event.type === 'inbound') this.drainInbox(running);
    });
    this.log.info({ coins: Object.keys(config.coins) }, 'HSM-Cold running');
  }

  private async startLink(running: Running): Promise<void> {
    const { clock, random } = this.options;
    const port = await this.options.link.openPort();
    running.linkPort = port;
    const link = new LinkEndpoint({
      store: this.store,
      vault: this.vault,
      port,
      clock,
      random,
      baudRate: this.options.link.baudRate,
      messages: DEVICE_MESSAGES,
      timings: this.options.link.timings,
      ...(this.options.wireClock === undefined ? {} : { wireClock: this.options.wireClock }),
      log: this.log.child({ part: 'link' }),
    });
    const notifyAfterCommit = (tx: WriteTx): void => tx.afterCommit(() => running.channelListeners.forEach((l) => l()));
    link.rpc.handle('cold.approve', (body: ApproveRequest, { tx }) => {
      notifyAfterCommit(tx);
      return approve(running.svc, tx, body);
    });
    link.rpc.handle('cold.pin-xpubs', (body: { accounts: AccountXpub[] }, { tx }) => pinHotXpubs(running.svc, tx, body));
    link.rpc.handle('cold.status', () => this.linkStatusReply(running));
    link.rpc.handle('link.echo', (body: { data: Uint8Array }) => ({ data: body.data }));
    link.rpc.handle('link.time', () => ({ now: clock.now() }));
    link.rpc.onReply('hot.event', () => undefined);
    link.rpc.onReply('link.time', (_request, outcome: { ok: boolean; body?: { now: number } }, { tx }) => {
      const askedAt = running.hotTimeAskedAt;
      running.hotTimeAskedAt = undefined;
      if (outcome.ok && outcome.body !== undefined) this.recordRoundTrip(tx, 'hot', outcome.body.now, askedAt);
    });
    link.session.onUp(() => this.sampleTime(running));
    this.witness.attach(link.rpc, link.peerIdentity, link.session);
    running.link = link;
    running.linkListeners.forEach((l) => l());
    link.start();
  }

  /** Pairs with HSM-Hot from a pairing file (the simulated rig) and starts the link. */
  async importPairing(file: unknown): Promise<void> {
    const r = this.requireRunning();
    if (r.link !== undefined) throw new HsmError('ALREADY_PAIRED', 'HSM-Cold is already paired');
    importPairingFile(this.store, this.vault, 'cold', file, this.options.clock.now());
    await this.startLink(r);
  }

  private async stopServices(): Promise<void> {
    const r = this.running;
    if (r === undefined) return;
    this.running = undefined;
    for (const t of r.timers) this.options.clock.clearInterval(t);
    this.witness.detach();
    r.link?.stop();
    await r.linkPort?.close().catch((error: unknown) => this.log.warn({ err: (error as Error).message }, 'closing the link port failed'));
    await r.pool.stop();
  }

  private requireRunning(): Running {
    if (this.running === undefined) throw new HsmError('NOT_RUNNING', `HSM-Cold is not running (state ${JSON.stringify(this.snapshot.value)})`);
    return this.running;
  }

  private watchLink(sendBack: (e: ColdEvent) => void): () => void {
    const r = this.running;
    if (r === undefined) return () => undefined;
    const offs: Array<() => void> = [];
    const attach = (): void => {
      const link = r.link;
      if (link === undefined || offs.length > 0) return;
      if (link.session.isUp) sendBack({ type: 'LINK_UP', peerEpoch: link.session.stats().peerEpoch ?? 0 });
      offs.push(link.session.onUp(({ peerEpoch }) => sendBack({ type: 'LINK_UP', peerEpoch })));
      offs.push(link.session.onDown(({ reason }) => sendBack({ type: 'LINK_DOWN', reason })));
    };
    r.linkListeners.add(attach);
    attach();
    return () => {
      r.linkListeners.delete(attach);
      offs.forEach((off) => off());
    };
  }

  private watchModems(sendBack: (e: ColdEvent) => void): () => void {
    const r = this.running;
    if (r === undefined) return () => undefined;
    let usable: boolean | undefined;
    const check = (): void => {
      const now = r.modems.some((m) => m.health.state === 'ready' && m.health.registered);
      if (now === usable) return;
      usable = now;
      sendBack(now ? { type: 'MODEMS_USABLE' } : { type: 'MODEMS_DEGRADED', reason: 'no modem is ready and registered' });
    };
    const offs = r.modems.map((m) => m.onEvent(check));
    check();
    return () => offs.forEach((off) => off());
  }

  private watchChannel(sendBack: (e: ColdEvent) => void): () => void {
    const r = this.running;
    if (r === undefined) return () => undefined;
    let last = '';
    const report = (): void => {
      const open = currentChannel(this.store);
      const pending = pendingChannel(this.store);
      const latest = recentChannels(this.store, 1)[0];
      const phase: ChannelPhase = open !== undefined ? 'open' : pending !== undefined ? 'pending' : latest === undefined ? 'none' : 'closed';
      const cId = open?.cId ?? pending?.cId ?? latest?.cId;
      const key = `${phase}:${cId}`;
      if (key === last) return;
      last = key;
      sendBack(cId === undefined ? { type: 'CHANNEL', phase } : { type: 'CHANNEL', phase, cId });
    };
    r.channelListeners.add(report);
    report();
    return () => r.channelListeners.delete(report);
  }

  private serveInbox(): () => void {
    const r = this.running;
    if (r !== undefined) this.drainInbox(r);
    return () => undefined;
  }

  /** Works through stored inbound SMS one at a time; each is applied and marked handled together. */
  private drainInbox(r: Running): void {
    if (r.inboxBusy) {
      r.inboxAgain = true;
      return;
    }
    r.inboxBusy = true;
    void (async () => {
      try {
        do {
          r.inboxAgain = false;
          for (const message of r.pool.pendingInbound()) {
            if (this.running !== r) return;
            const sms = { id: message.id, from: message.from, text: message.text };
            const triage = message.kind === 'sms' ? triageSms(r.svc, sms) : ({ kind: 'ignore', code: 'UNDECODABLE', reason: message.error ?? 'undecodable PDU' } as const);
            const prepared = await prepareSms(r.svc, triage);
            this.store.transact((tx) => {
              applySms(r.svc, tx, sms, triage, prepared);
              r.pool.markHandled(message.id, tx);
            });
            for (const listener of r.channelListeners) listener();
          }
        } while (r.inboxAgain);
      } catch (error) {
        this.log.error({ err: (error as Error).message }, 'inbox processing failed');
      } finally {
        r.inboxBusy = false;
      }
    })();
  }

  private sweep(): void {
    const r = this.running;
    if (r === undefined) return;
    const now = this.options.clock.now();
    this.store.transact((tx) => {
      sweepChannels(r.svc, tx, now);
      watchTimeTrust(r.svc, tx, now);
    });
    for (const listener of r.channelListeners) listener();
  }

  private recordRoundTrip(tx: WriteTx, source: 'hot' | 'modem', value: number, askedAt: number | undefined): void {
    const now = this.options.clock.now();
    if (askedAt === undefined || now - askedAt > MAX_TIME_SAMPLE_ROUND_TRIP_MS) {
      this.log.debug({ source, roundTripMs: askedAt === undefined ? null : now - askedAt }, 'time sample dropped: round trip unknown or too long');
      return;
    }
    recordTimeSample(tx, source, value, askedAt + Math.floor((now - askedAt) / 2));
  }

  private sampleTime(r: Running): void {
    const { clock } = this.options;
    // One question at a time: a second one would move `hotTimeAskedAt` under the first answer.
    const asking = r.hotTimeAskedAt !== undefined && clock.now() - r.hotTimeAskedAt <= MAX_TIME_SAMPLE_ROUND_TRIP_MS;
    if (r.link?.session.isUp && !asking) {
      r.hotTimeAskedAt = clock.now();
      void r.link.rpc.call('link.time', {}).catch(() => undefined);
    }
    for (const modem of r.modems) {
      if (modem.health.state !== 'ready') continue;
      const askedAt = clock.now();
      void modem
        .networkTime()
        .then(({ at }) => this.store.transact((tx) => this.recordRoundTrip(tx, 'modem', at, askedAt)))
        .catch((error: unknown) => this.log.debug({ err: (error as Error).message }, 'no network time from modem'));
    }
  }

  private linkStatusReply(r: Running): unknown {
    const summary = (c: ReturnType<typeof currentChannel>) =>
      c === undefined
        ? null
        : {
            cId: c.cId,
            status: c.status,
            createdAt: c.createdAt,
            ...(c.openedAt !== undefined ? { openedAt: c.openedAt } : {}),
            ...(c.expiresAt !== undefined ? { expiresAt: c.expiresAt } : {}),
            ...(c.closedAt !== undefined ? { closedAt: c.closedAt } : {}),
            ...(c.closeReason !== undefined ? { closeReason: c.closeReason } : {}),
          };
    const queued = r.pool.outbox('queued').length + r.pool.outbox('sending').length;
    return {
      channel: summary(currentChannel(this.store)),
      pendingChannel: summary(pendingChannel(this.store)),
      modems: r.pool.status().map((m, i) => ({
        id: m.imsi?.slice(-4) ?? m.name,
        usable: m.health.state === 'ready' && m.health.registered,
        registered: m.health.registered,
        signal: m.health.rssi,
        queued: i === 0 ? queued : 0,
      })),
      timeTrusted: timeTrust(this.store, r.svc.config, this.options.clock.now()).trusted,
      refusedChannelRequests: channelRequestRefusals(this.store).count,
      now: this.options.clock.now(),
    };
  }
}

export type { KdfCost };
