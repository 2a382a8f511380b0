/**
 * The whole simulated world, wired: HSM-Hot and HSM-Cold (one process, or separate processes
 * over socat ptys), HSM-Cold's two modems on a two-carrier GSM network, the V-Device app on
 * its phone (or an external AT client on a pty), the administrator's phone, the platform
 * gateway with its chain, and the customer's vweb, all on one world clock.
 *
 *   const rig = await Rig.start({ seed: 'demo', timeScale: 'manual' });
 *   rig.ready;                        // URLs, tokens, numbers, ptys, state directory
 *   await rig.waitFor(() => ..., 'what');
 *   await rig.stop();
 *
 * A new state directory gets a new world (devices provisioned and paired, the hot wallet
 * funded, batch 0 of both wallets queued on vweb for the V-Device to check); an existing one
 * is resumed at the world time it stopped.
 *
 * In one process the world needs nothing outside npm: the consoles are served on Unix sockets
 * (and on socat ptys as well when socat is installed). The options that need ptys (separate
 * device processes, an external V-Device or administrator's modem) need socat and are refused
 * before anything starts when it is missing. Nothing the rig starts or makes outlives it, even
 * when it is killed (lifeline.ts), and a state directory is held by one rig at a time
 * (state-lock.ts).
 * @module
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { RealClock, SimulatedClock } from '../../shared/clock.ts';
import { randomBytes } from 'node:crypto';
import { HsmError } from '../../shared/errors.ts';
import { CHAIN } from '../../shared/crypto/hd.ts';
import { NETWORKS, networkFor, parseCoin } from '../../shared/crypto/networks.ts';
import { parseOuts } from '../../shared/crypto/request-string.ts';
import { Modem } from '../../shared/gsm/modem.ts';
import { silentLogger, type Logger } from '../../shared/log.ts';
import type { LogFormat } from '../../shared/log-format.ts';
import { SeededRandom } from '../../shared/random.ts';
import type { KdfCost } from '../../shared/store/vault.ts';
import { ControlServer, type Fault } from './control-server.ts';
import { dashboardRoutes } from './dashboard/routes.ts';
import { DashboardView } from './dashboard/world-view.ts';
import { InProcessDevices, type DevicesContext, type RigDevices } from './devices.ts';
import { ProcessDevices } from './devices-processes.ts';
import { EventBus, describeSms } from './events.ts';
import { channelSummary, type ChannelSummary } from './channel-summary.ts';
import { bridgeConsoleSocket } from './console-socket.ts';
import { tieDirectory } from './lifeline.ts';
import { consolePassword, consoleSocketPath, serveRigConsoles } from './rig-consoles.ts';
import { claimStateDir } from './state-lock.ts';
import { requireSocat } from './uart/pty-pair.ts';
import { EmulatedModem } from './gsm/emulated-modem.ts';
import { EmulatedModemDevice } from './gsm/modem-device.ts';
import { serveModemOnPty, type ServedModem } from './gsm/modem-pty.ts';
import { SimulatedGsmNetwork, defaultCarriers, type NetworkEvent, type SimCard } from './gsm/network.ts';
import { SimFileStore } from './gsm/sim-store.ts';
import { SimulatedChain } from './host/chain.ts';
import { Gateway } from './host/gateway.ts';
import { signRequest } from './host/gateway-auth.ts';
import { LEDGER_RECORDS, GatewayLedger } from './host/gateway-ledger.ts';
import { HotClient } from './host/hot-client.ts';
import { Vweb } from './host/vweb.ts';
import { VDevice } from './phone/v-device.ts';
import { APP_SETTINGS, APP_VWEB_TOKEN, FEES, GATEWAY_COINS, INITIAL_FUNDING, ROTATION, SIM2_FAILOVER_MS, WORLD_TIME_RANGE_TEXT, WORLD_TIME_ZONE, representableWorldTime } from './world-config.ts';
import { WORLD_COUNTRY_CODE, WORLD_NUMBERS, worldKeys, type WorldKeys } from './world-keys.ts';
import { WorldStore } from './world-store.ts';

export interface RigOptions {
  /** Default: a fresh temporary directory, removed at stop. An existing world is resumed. */
  stateDir?: string;
  /** Seed of keys and randomness (new worlds). Default: random. */
  seed?: string;
  /** World start time of a new world (Unix ms). Default: now. */
  start?: number;
  /** World time runs this many times faster than real time; `manual`: only when advanced. */
  timeScale?: number | 'manual';
  host?: string;
  /** Open API port; 0 (default) picks a free one. */
  apiPort?: number;
  controlPort?: number;
  /** Run the two devices as separate processes over socat ptys. */
  processes?: boolean;
  /**
   * `emulated` (default): the released app as it behaves; `emulated+sim2-failover`: the same
   * with our extension that resends to HSM-Cold's SIM2 when SIM1 does not answer; or an
   * external AT client on a pty at this path (a real app's phone, Gammu, a person).
   */
  vDevice?: 'emulated' | 'emulated+sim2-failover' | { external: string };
  /** Serve the administrator's phone as an emulated modem on a pty at this path. */
  adminModem?: string;
  /** Where to write the ready information (JSON). */
  readyFile?: string;
  /** PIN key-derivation cost (lower only in tests). */
  kdf?: KdfCost;
  log?: Logger;
  /** The format of `log`, for the device processes' own logs. Default json. */
  logFormat?: LogFormat;
}

export interface ReadyInfo {
  api: {
    url: string;
    tokens: { hotSending: { token: string }; coldReceiving: { token: string; secret: string } };
  };
  hostApi: { url: string; identity: string };
  control: string;
  /** The live dashboard, on the control server. */
  dashboard: string;
  events: string;
  vweb: string;
  numbers: { coldSim1: string; coldSim2: string; vDevice: string; admin: string };
  /**
   * What a person types into the released app to use this world (its settings screens):
   * HSM-Cold's numbers and the administrator's without +86, the transfer (vweb) password, the
   * tokens, vweb's domain; the platform domain is built into the app (README).
   */
  app: {
    hsmPhone1: string;
    hsmPhone2: string;
    adminPhone: string;
    transferPassword: string;
    hotSendToken: string;
    hotSendAltToken: string;
    vwebDomain: string;
    platformDomain: string;
  };
  vDevice: { mode: 'emulated'; sim2Failover: boolean } | { mode: 'external'; pty: string };
  adminModem: { pty: string } | null;
  /** Terminal ends of the devices' console ptys (`hot`, `cold`), for picocom, tio or screen; empty without socat. */
  consoles: Record<string, string>;
  /** The devices' console sockets (`hot`, `cold`), always: `hsm console hot --socket <path>`. */
  consoleSockets: Record<string, string>;
  /** The operator password the rig set on consoles without an operator (rig-consoles.ts). */
  consolePassword: string | null;
  stateDir: string;
  seed: string;
  resumed: boolean;
  processes: boolean;
  timeScale: number | 'manual';
  worldTime: string;
  /** The SMS channel at READY, and the window in which a new one may open. */
  channel: ChannelSummary;
}

export class Rig {
  readonly events: EventBus;
  readonly clock: SimulatedClock;
  readonly keys: WorldKeys;
  network!: SimulatedGsmNetwork;
  chain!: SimulatedChain;
  vweb!: Vweb;
  gateway!: Gateway;
  hotClient!: HotClient;
  devices!: RigDevices;
  vDevice: VDevice | undefined;
  ready!: ReadyInfo;
  private readonly o: RigOptions;
  private readonly log: Logger;
  private readonly stateDir: string;
  /** The SIMs' files (their message references), so a resumed world goes on where it stopped. */
  private readonly simStore: SimFileStore;
  private readonly temporary: boolean;
  private readonly releaseStateDir: () => void;
  private readonly forgetTemporary: () => void;
  private readonly world: WorldStore;
  private readonly random: SeededRandom;
  private readonly seed: string;
  private readonly resumed: boolean;
  private readonly cleanups: Array<() => Promise<void> | void> = [];
  private stopScaled: (() => void) | undefined;
  private control: ControlServer | undefined;
  private stopping: Promise<void> | undefined;
  private apiUrl: string | undefined;

  private constructor(options: RigOptions) {
    this.o = options;
    this.log = options.log ?? silentLogger;
    this.temporary = options.stateDir === undefined;
    this.stateDir = options.stateDir === undefined ? mkdtempSync(join(tmpdir(), 'hsm-sim-')) : resolve(options.stateDir);
    this.forgetTemporary = this.temporary ? tieDirectory(this.stateDir) : () => undefined;
    mkdirSync(this.stateDir, { recursive: true, mode: 0o700 });
    this.releaseStateDir = claimStateDir(this.stateDir);
    this.simStore = new SimFileStore(join(this.stateDir, 'sims'));
    // The store's own header records when the file was made, in real time.
    this.world = WorldStore.open(join(this.stateDir, 'world'), new RealClock(), Object.values(LEDGER_RECORDS));
    const origin = this.world.origin();
    if (origin !== undefined && options.seed !== undefined && options.seed !== origin.seed) {
      void this.world.close();
      this.releaseStateDir();
      throw new HsmError('SEED_MISMATCH', `${this.stateDir} holds a world made from another seed; leave out --seed or use a new --state-dir`, { field: 'seed' });
    }
    this.resumed = origin !== undefined;
    this.seed = origin?.seed ?? options.seed ?? randomBytes(16).toString('hex');
    const start = this.world.lastTime() ?? origin?.start ?? options.start ?? Date.now();
    if (!representableWorldTime(start)) {
      const closed = this.world.close();
      if (this.temporary) void closed.then(() => rmSync(this.stateDir, { recursive: true, force: true }));
      const what = origin === undefined ? 'start' : `${this.stateDir} holds a world at`;
      throw new HsmError('WORLD_TIME', `${what} ${new Date(start).toISOString()}, outside ${WORLD_TIME_RANGE_TEXT}, the times the firmware can represent (SMS time stamps end in 2089); use a new --state-dir`, {
        field: 'start',
      });
    }
    if (origin === undefined) this.world.saveOrigin({ seed: this.seed, start, createdAt: start });
    this.clock = new SimulatedClock({ start });
    this.random = new SeededRandom(`hsm-sim/${this.seed}`);
    this.keys = worldKeys(this.seed);
    this.events = new EventBus(this.clock);
  }

  static async start(options: RigOptions = {}): Promise<Rig> {
    // Before anything starts: the options that need ptys need socat.
    if (options.processes === true) requireSocat('--processes (the devices as separate processes on ptys)', 'processes');
    if (typeof options.vDevice === 'object') requireSocat('--v-device external: (a modem on a pty)', 'v-device');
    if (options.adminModem !== undefined) requireSocat('--admin-modem (a modem on a pty)', 'admin-modem');
    const rig = new Rig(options);
    try {
      await rig.boot();
    } catch (error) {
      rig.log.error({ err: (error as Error).message }, 'the rig did not start');
      await rig.stop().catch(() => undefined);
      throw error;
    }
    return rig;
  }

  get timeScale(): number | 'manual' {
    return this.o.timeScale ?? 1;
  }

  /** Waits until `condition` holds, moving world time (manual mode) or following it. */
  async waitFor(condition: () => boolean, what: string, limitMs = 300_000): Promise<void> {
    const start = this.clock.monotonic();
    while (!condition()) {
      if (this.clock.monotonic() - start > limitMs) throw new HsmError('RIG_TIMEOUT', `timed out after ${limitMs / 1000} s of world time waiting for ${what}`);
      if (this.timeScale === 'manual') await this.clock.advance(50);
      else await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Waits for `promise`, moving world time in manual mode (for work that takes world time). */
  async settle<T>(promise: Promise<T>, what: string, limitMs = 300_000): Promise<T> {
    let outcome: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
    promise.then(
      (value) => (outcome = { ok: true, value }),
      (error: unknown) => (outcome = { ok: false, error }),
    );
    await this.waitFor(() => outcome !== undefined, what, limitMs);
    const done = outcome as unknown as { ok: true; value: T } | { ok: false; error: unknown };
    if (!done.ok) throw done.error;
    return done.value;
  }

  /**
   * Manual time stands still between advances, but work due now (zero-delay timers, a reply
   * scheduled for "immediately") still runs, as it would in any instant of real time.
   */
  private runDueTimers(): () => void {
    let busy = false;
    const timer = setInterval(() => {
      const due = this.clock.nextDue();
      if (busy || due === undefined || due > this.clock.monotonic()) return;
      busy = true;
      void this.clock.advance(0).finally(() => (busy = false));
    }, 2);
    return () => clearInterval(timer);
  }

  /** Moves world time forward by `ms` (any mode). */
  advance(ms: number): Promise<void> {
    return this.clock.advance(ms);
  }

  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  // ---------------------------------------------------------------------------------------

  private async boot(): Promise<void> {
    const { clock } = this;
    if (this.timeScale !== 'manual') this.stopScaled = clock.runScaled(this.timeScale);
    else this.cleanups.push(this.runDueTimers());
    this.cleanups.push(() => this.stopScaled?.());
    this.events.publish('rig.starting', { resumed: this.resumed, stateDir: this.stateDir, processes: this.o.processes === true });

    // The GSM network, its SIMs (the same numbers and IMSIs in every run of a world).
    // The world's numbers are Chinese, like the app's: a number dialled without +86 reaches them.
    this.network = new SimulatedGsmNetwork({ clock, carriers: defaultCarriers(), random: this.random.fork('network'), homeCountryCode: WORLD_COUNTRY_CODE });
    const sims = {
      cold1: this.network.issueSim({ carrierId: 'A', msisdn: WORLD_NUMBERS.coldSim1 }),
      cold2: this.network.issueSim({ carrierId: 'B', msisdn: WORLD_NUMBERS.coldSim2 }),
      vDevice: this.network.issueSim({ carrierId: 'B', msisdn: WORLD_NUMBERS.vDevice }),
    };
    // Without its own modem the administrator's phone is outside the simulated network: what
    // is sent to it is delivered at once and recorded (network.deliveries).
    const adminSim = this.o.adminModem === undefined ? undefined : this.network.issueSim({ carrierId: 'A', msisdn: WORLD_NUMBERS.admin });
    this.network.onEvent((event) => this.onNetworkEvent(event));
    this.cleanups.push(() => this.network.stop());

    // The devices.
    const ctx: DevicesContext = {
      clock,
      random: this.random,
      network: this.network,
      sims: [sims.cold1, sims.cold2],
      simStore: this.simStore,
      keys: this.keys,
      stateDir: (device) => join(this.stateDir, device === 'hot' ? 'hsm-hot' : 'hsm-cold'),
      waitFor: (condition, what, limitMs) => this.waitFor(condition, what, limitMs),
      settle: (promise, what, limitMs) => this.settle(promise, what, limitMs),
      consoles: { dir: join(this.stateDir, 'consoles'), password: consolePassword(this.seed) },
      publish: (type, details) => void this.events.publish(type, details),
      log: this.log,
      ...(this.o.logFormat === undefined ? {} : { logFormat: this.o.logFormat }),
      ...(this.o.kdf === undefined ? {} : { kdf: this.o.kdf }),
    };
    this.devices = this.o.processes === true ? await ProcessDevices.start(ctx) : await InProcessDevices.start(ctx);
    this.cleanups.push(() => this.devices.stop());
    this.events.publish('devices.up', { hot: this.devices.hotIdentity, cold: this.devices.coldIdentity });
    const consoles = await this.serveConsoles();

    // The platform: chain, host-API client, gateway.
    this.chain = new SimulatedChain({
      clock,
      network: NETWORKS['btc-main'],
      random: this.random.fork(`chain@${clock.now()}`),
      persistence: this.world.chainPersistence(),
      ...(this.world.loadChain() === undefined ? {} : { saved: this.world.loadChain() as NonNullable<ReturnType<WorldStore['loadChain']>> }),
    });
    this.chain.onEvent((event) => {
      if (event.type === 'chain.tx') this.events.publish('chain.tx', { txHash: event.tx.txid, deposit: event.deposit, outputs: event.tx.outputs.length });
      else this.events.publish('chain.block', { height: event.height, confirmed: event.confirmed });
    });
    this.chain.start();
    this.cleanups.push(() => this.chain.stop());
    this.hotClient = new HotClient({
      url: this.devices.hostUrl,
      identity: this.devices.hotIdentity,
      privateKey: this.keys.platformKey,
      clock,
      state: GatewayLedger.clientState(this.world.store),
      log: this.log.child({ part: 'hot-client' }),
    });
    this.hotClient.onJournal((message) => {
      if (message.msg === 'event') this.events.publish(`cold.${String(message.data?.kind)}`, { ...(message.data?.details as object), journalId: message.id });
      else if (message.msg === 'tx_status') {
        const d = message.data as { send_request: { user_tx_no: string }; hot_wallet_tx_status: number; tx_hash: string | null; reason: unknown };
        this.events.publish('hot.tx-status', { userTxNo: d.send_request.user_tx_no, status: d.hot_wallet_tx_status, txHash: d.tx_hash, reason: d.reason });
      }
    });
    this.gateway = new Gateway({
      clock,
      store: this.world.store,
      hot: this.hotClient,
      tokens: [
        { token: this.keys.hotSendingToken, kind: 'hot-sending', userId: 40000, userName: 'hot-sending-40000', scopes: ['user:read', 'address:read', 'tx:read', 'tx:create'] },
        {
          token: this.keys.coldReceivingToken,
          kind: 'cold-receiving',
          userId: 40001,
          userName: 'cold-receiving-40001',
          scopes: ['user:read', 'address:read', 'tx:read'],
          secret: this.keys.coldReceivingSecret,
        },
      ],
      coins: { BTC: { chain: this.chain, ...GATEWAY_COINS.BTC } },
      fees: FEES,
      registeredAt: this.world.origin()?.createdAt ?? clock.now(),
      log: this.log.child({ part: 'gateway' }),
    });
    this.gateway.onEvent((event) => this.events.publish(event.type, { ...event, type: undefined }));
    await this.hotClient.start();
    this.cleanups.push(() => this.hotClient.stop());
    const host = this.o.host ?? '127.0.0.1';
    const apiUrl = await this.gateway.listen(host, this.o.apiPort ?? 0);
    this.apiUrl = apiUrl;
    this.cleanups.push(() => this.gateway.close());
    // HSM-Cold's xpubs reach HSM-Hot over the link; the platform needs them for the cold wallet.
    await this.waitForWallets();

    // vweb and the phones.
    this.vweb = new Vweb({
      clock,
      random: this.random.fork(`vweb@${clock.now()}`),
      password: this.keys.vwebPassword,
      persistence: this.world.vwebPersistence(),
      saved: this.world.loadVweb(),
    });
    this.vweb.onEvent((event) => this.events.publish(event.type, { ...event, type: undefined }));
    const vwebUrl = await this.vweb.listen(host);
    this.cleanups.push(() => this.vweb.close());
    const vDeviceMode = await this.startVDevice(sims.vDevice, apiUrl, vwebUrl);
    const adminPty = this.o.adminModem === undefined || adminSim === undefined ? null : await this.servePhone(adminSim, this.o.adminModem, 'admin-phone');

    if (!this.resumed) await this.onboard();
    // The app's first channel: its user presses Create (HSM-Cold takes a first channel at any hour here).
    if (this.vDevice !== undefined && this.vDevice.currentChannel() === undefined) void this.vDevice.createChannel({ byHand: true }).catch(() => undefined);

    // World time survives a crash of the rig to within a minute.
    const saver = clock.setInterval(() => this.world.saveTime(clock.now()), 60_000);
    this.cleanups.push(() => clock.clearInterval(saver));
    this.watchDeviceStates();

    this.control = new ControlServer(this.events, {
      now: () => this.clock.now(),
      status: () => this.status(),
      advance: async (ms) => {
        await this.clock.advance(ms);
        return { now: new Date(this.clock.now()).toISOString() };
      },
      fault: (fault) => this.inject(fault),
      withdrawal: async (w) => {
        // The outs are checked as the platform will check them, so a bad one is named here and queues nothing.
        parseOuts(w.outs, networkFor(parseCoin(w.coin_code ?? 'BTC', 'coin_code')));
        return this.vweb.queueWithdrawal(w);
      },
      batch: (b) => this.queueBatchCheck(b.wallet, b.batch_no),
      sms: async (m) => void this.network.sendFromOutside(m),
    });
    this.control.extend(dashboardRoutes(this.dashboardView(sims)));
    const controlUrl = await this.control.listen(host, this.o.controlPort ?? 0);
    this.cleanups.push(() => this.control?.close());

    this.ready = {
      api: {
        url: `${apiUrl}/api/v1/open`,
        tokens: { hotSending: { token: this.keys.hotSendingToken }, coldReceiving: { token: this.keys.coldReceivingToken, secret: this.keys.coldReceivingSecret } },
      },
      hostApi: { url: this.devices.hostUrl, identity: this.devices.hotIdentity },
      control: controlUrl,
      dashboard: `${controlUrl}/dashboard/`,
      events: `${controlUrl}/events`,
      vweb: `${vwebUrl}/api/v1/open`,
      numbers: { ...WORLD_NUMBERS },
      app: {
        ...APP_SETTINGS,
        transferPassword: this.keys.vwebPassword,
        hotSendToken: this.keys.hotSendingToken,
        hotSendAltToken: this.keys.hotSendingToken,
        vwebDomain: vwebUrl,
        platformDomain: apiUrl,
      },
      vDevice: vDeviceMode,
      adminModem: adminPty === null ? null : { pty: adminPty },
      consoles: consoles.ptys,
      consoleSockets: consoles.sockets,
      consolePassword: consoles.password,
      stateDir: this.stateDir,
      seed: this.seed,
      resumed: this.resumed,
      processes: Boolean(this.o.processes),
      timeScale: this.timeScale,
      worldTime: new Date(clock.now()).toISOString(),
      channel: channelSummary(await this.channelStatus(), clock.now(), { newWorld: !this.resumed }),
    };
    if (this.o.readyFile !== undefined) {
      const file = resolve(this.o.readyFile);
      writeFileSync(`${file}.tmp`, `${JSON.stringify(this.ready, null, 2)}\n`, { mode: 0o600 });
      renameSync(`${file}.tmp`, file);
    }
    this.events.publish('rig.ready', { api: this.ready.api.url, control: controlUrl });
  }

  /** What the dashboard reads of the world (dashboard/world-view.ts). */
  private dashboardView(sims: { cold1: SimCard; cold2: SimCard }): DashboardView {
    const rig = this;
    return new DashboardView({
      clock: this.clock,
      events: this.events,
      devices: this.devices,
      network: this.network,
      vweb: this.vweb,
      ledger: this.gateway.ledger,
      chain: this.chain,
      get vDevice() {
        return rig.vDevice;
      },
      timeScale: this.timeScale,
      processes: this.o.processes === true,
      numbers: { ...WORLD_NUMBERS },
      sims: [
        { sim: 1, msisdn: sims.cold1.msisdn, carrierId: sims.cold1.carrierId },
        { sim: 2, msisdn: sims.cold2.msisdn, carrierId: sims.cold2.carrierId },
      ],
      rotation: { ...ROTATION, timeZone: WORLD_TIME_ZONE },
    });
  }

  /**
   * Both consoles in `<state dir>/consoles/`, on sockets and (with socat) on ptys: served here
   * when the devices run in this process; by the device processes themselves on their ptys
   * otherwise, with the sockets here in front of those ptys.
   */
  private async serveConsoles(): Promise<{ ptys: Record<string, string>; sockets: Record<string, string>; password: string }> {
    if (this.devices instanceof ProcessDevices) {
      const ptys = this.devices.consolePaths();
      const sockets: Record<string, string> = {};
      for (const name of ['hot', 'cold'] as const) {
        const socket = await bridgeConsoleSocket(consoleSocketPath(join(this.stateDir, 'consoles'), name), ptys[name], `hsm-${name}`);
        this.cleanups.push(() => socket.close());
        sockets[name] = socket.path;
      }
      return { ptys, sockets, password: consolePassword(this.seed) };
    }
    const devices = this.devices as InProcessDevices;
    const consoles = await serveRigConsoles({
      dir: join(this.stateDir, 'consoles'),
      seed: this.seed,
      clock: this.clock,
      random: this.random,
      hot: devices.hot,
      cold: devices.cold,
      log: this.log,
      ...(this.o.kdf === undefined ? {} : { kdf: this.o.kdf }),
    });
    this.cleanups.push(() => consoles.close());
    return consoles;
  }

  private async waitForWallets(): Promise<void> {
    const deadline = this.clock.monotonic() + 300_000;
    for (;;) {
      try {
        await this.gateway.wallet('BTC', 'hot');
        await this.gateway.wallet('BTC', 'cold');
        return;
      } catch (error) {
        if (this.clock.monotonic() > deadline) throw error;
        await this.waitFor(() => false, 'HSM-Cold xpubs', 2_000).catch(() => undefined);
      }
    }
  }

  /** A new world: the hot wallet funded, batch 0 of both wallets queued for the V-Device. */
  private async onboard(): Promise<void> {
    const hot = await this.gateway.wallet('BTC', 'hot');
    for (const [i, value] of INITIAL_FUNDING.entries()) this.chain.fund(hot.address(CHAIN.external, i), value);
    this.chain.mine();
    await this.queueBatchCheck('cold', 0);
    await this.queueBatchCheck('hot', 0);
  }

  /** vweb asks the V-Device to check batch `batchNo` of a wallet, as the platform hands it out. */
  async queueBatchCheck(wallet: 'hot' | 'cold', batchNo: number): Promise<void> {
    const response = await fetch(`${this.gatewayUrl()}/api/v1/open/address/batch/${batchNo}`, { headers: this.credentialHeaders(wallet, `/api/v1/open/address/batch/${batchNo}`) });
    if (response.status !== 200) throw new HsmError('RIG_BATCH', `the platform did not hand out ${wallet} batch ${batchNo}: HTTP ${response.status} ${await response.text()}`);
    const list = (await response.json()) as Array<{ index: number; address: string }>;
    this.vweb.queueBatchCheck(batchNo, list.map((a) => a.address), wallet, list[0]?.index ?? batchNo * 1000);
  }

  private gatewayUrl(): string {
    if (this.apiUrl === undefined) throw new Error('invariant failed: the gateway is not listening');
    return this.apiUrl;
  }

  /** Headers for the platform's own calls with a credential (signed for the cold one). */
  credentialHeaders(wallet: 'hot' | 'cold', path: string, method = 'GET', body = ''): Record<string, string> {
    if (wallet === 'hot') return { token: this.keys.hotSendingToken };
    const timestamp = Math.floor(this.clock.now() / 1000);
    return {
      token: this.keys.coldReceivingToken,
      'cc-access-timestamp': String(timestamp),
      'cc-access-signature': signRequest(this.keys.coldReceivingSecret, method, path, body, timestamp),
    };
  }

  private async startVDevice(sim: SimCard, apiUrl: string, vwebUrl: string): Promise<ReadyInfo['vDevice']> {
    const mode = this.o.vDevice ?? 'emulated';
    if (typeof mode !== 'string') return { mode: 'external', pty: await this.servePhone(sim, mode.external, 'v-device-phone') };
    const sim2Failover = mode === 'emulated+sim2-failover';
    const phone = new EmulatedModemDevice({ clock: this.clock, network: this.network, sim, profile: 'default', random: this.random.fork('v-device-phone'), name: 'v-device-phone', simStore: this.simStore });
    const modem = new Modem({ clock: this.clock, name: 'phone', openPort: () => phone.openHostPort(), random: this.random.fork(`v-device-modem@${this.clock.now()}`) });
    await this.settle(modem.start(), "the V-Device's modem to start");
    this.cleanups.push(() => modem.stop());
    const vDevice = new VDevice({
      clock: this.clock,
      random: this.random.fork(`v-device@${this.clock.now()}`),
      modem,
      settings: { ...APP_SETTINGS, vwebPassword: this.keys.vwebPassword },
      network: 'mainnet',
      api: { platform: { baseUrl: apiUrl, token: this.keys.hotSendingToken, altToken: this.keys.hotSendingToken }, vweb: { baseUrl: vwebUrl, token: APP_VWEB_TOKEN } },
      timeZone: WORLD_TIME_ZONE,
      loop: { autoStart: true },
      stateFile: join(this.stateDir, 'v-device.json'),
      ...(sim2Failover ? { extensions: { secondNumberFailover: { afterMs: SIM2_FAILOVER_MS } } } : {}),
      log: this.log.child({ part: 'v-device' }),
    });
    vDevice.onEvent((event) => this.events.publish(`v-device.${event.type}`, { ...event, type: undefined }));
    vDevice.start();
    this.cleanups.push(() => vDevice.stop());
    this.vDevice = vDevice;
    return { mode: 'emulated', sim2Failover };
  }

  /** A phone served as an emulated modem on a pty, for an AT client or a person. */
  private async servePhone(sim: SimCard, path: string, name: string): Promise<string> {
    const modem = new EmulatedModem({ clock: this.clock, network: this.network, sim, profile: 'default', random: this.random.fork(name), simStore: this.simStore });
    const served: ServedModem = await this.settle(serveModemOnPty(modem, resolve(path)), `the ${name} modem on ${path}`);
    this.cleanups.push(() => served.close());
    return served.path;
  }

  /** Injects a fault into the world (the control endpoint's `POST /control/fault`). */
  async inject(fault: Fault): Promise<void> {
    switch (fault.fault) {
      case 'carrier':
        this.network.setCarrierUp(fault.carrier, fault.up);
        break;
      case 'modem':
        if (fault.plugged) this.devices.replugModem(fault.sim === 1 ? 0 : 1);
        else this.devices.unplugModem(fault.sim === 1 ? 0 : 1);
        break;
      case 'link-noise':
        this.devices.linkNoise(fault.bitFlipRate);
        break;
      case 'sms-loss':
        this.network.setFaults(fault.carrier, { lossRate: fault.lossRate });
        break;
      case 'kill':
        if (this.devices.kill === undefined) throw new HsmError('CONTROL_INPUT', 'killing a device needs --processes', { field: 'fault' });
        await this.devices.kill(fault.device);
        break;
    }
    this.events.publish('fault.injected', { ...fault });
  }

  /** HSM-Cold's channel state as HSM-Hot reports it; undefined when it cannot say. */
  private async channelStatus(): Promise<unknown> {
    try {
      return (await this.settle(this.hotClient.query('channel_status', {}), 'the channel status', 60_000)).data;
    } catch {
      return undefined;
    }
  }

  private async status(): Promise<Record<string, unknown>> {
    let channel: unknown = null;
    try {
      channel = (await this.hotClient.query('channel_status', {})).data;
    } catch (error) {
      channel = { error: (error as HsmError).code };
    }
    const hot = await this.gateway.wallet('BTC', 'hot');
    return {
      worldTime: new Date(this.clock.now()).toISOString(),
      devices: this.devices.states(),
      supervision: this.devices.supervision?.() ?? null,
      hotApiConnected: this.hotClient.connected,
      channel,
      vDevice: this.vDevice === undefined ? 'external' : { channel: this.vDevice.currentChannel()?.cId ?? null, loop: this.vDevice.loopRunning },
      platform: { requests: this.gateway.ledger.counts() },
      carriers: Object.fromEntries(this.network.carrierIds.map((id) => [id, this.network.isCarrierUp(id)])),
      vweb: {
        withdrawals: countBy(this.vweb.withdrawals.map((w) => w.state)),
        batches: countBy(this.vweb.batches.map((b) => b.state)),
      },
      chain: { height: this.chain.tipHeight, hotBalance: Number(this.chain.balance(hot.addresses())) },
    };
  }

  private onNetworkEvent(event: NetworkEvent): void {
    switch (event.type) {
      case 'submitted':
        this.events.publish('sms.sent', { from: event.submission.from, to: event.submission.to, carrier: event.submission.carrierId, submissionId: event.submission.id, ...describeSms(event.submission.text) });
        break;
      case 'delivered':
        this.events.publish('sms.delivered', { from: event.delivery.from, to: event.delivery.to, duplicate: event.delivery.duplicate, submissionId: event.delivery.submissionId, ...describeSms(event.delivery.text) });
        break;
      case 'carrier':
        this.events.publish('network.carrier', { carrier: event.carrierId, up: event.up });
        break;
      case 'lost':
      case 'expired':
      case 'retrying':
        this.events.publish(`sms.${event.type}`, { submissionId: event.submissionId, to: event.to });
        break;
      case 'refused':
        this.events.publish('sms.refused', { from: event.from, to: event.to, cms: event.cms, reason: event.reason });
        break;
      default:
        break;
    }
  }

  private watchDeviceStates(): void {
    let last = '';
    const timer = this.clock.setInterval(() => {
      const states = this.devices.states();
      const text = JSON.stringify(states);
      if (text !== last) this.events.publish('devices.state', { ...states });
      last = text;
    }, 1_000);
    this.cleanups.push(() => this.clock.clearInterval(timer));
  }

  private async shutdown(): Promise<void> {
    this.events.publish('rig.stopping', {});
    // Parts finish their work in world time (a modem's last command, the link's goodbye):
    // let it flow while they stop, whatever the mode.
    if (this.stopScaled === undefined) this.stopScaled = this.clock.runScaled(1);
    for (const cleanup of this.cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        this.log.warn({ err: (error as Error).message }, 'a part of the rig did not stop cleanly');
      }
    }
    try {
      this.world.saveTime(this.clock.now());
      await this.world.close();
    } catch {
      // the store was never opened fully
    }
    this.releaseStateDir();
    if (this.temporary) {
      rmSync(this.stateDir, { recursive: true, force: true });
      this.forgetTemporary();
    }
  }
}

function countBy(values: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}
