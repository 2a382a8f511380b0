/**
 * The HSM pair as the simulated rig runs it, for end-to-end benchmarks: HSM-Hot and HSM-Cold
 * (the real firmware, real LMDB stores committing durably) over an emulated UART at a chosen
 * baud rate, HSM-Cold's two modems on the simulated GSM network, the V-Device app (which opens
 * the SMS channel and whose channel key signs each vc_code), and the platform: a simulated
 * chain that funds the hot wallet and builds each withdrawal's PSBT from HSM-Hot's xpub, and a
 * host API client that speaks to HSM-Hot over a real WebSocket on loopback.
 *
 * Everything runs on one `WatchedClock` driven by a `WarpDriver` (warp-clock.ts): world time
 * follows real time while anything works and jumps over idle waits.
 * @module
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { ColdDevice } from '../../hsm-cold/main.ts';
import type { ColdConfigInput } from '../../hsm-cold/config.ts';
import { API_VERSION, authSigningString, operationSigningString } from '../../hsm-hot/api-wire.ts';
import type { HotConfigInput } from '../../hsm-hot/config.ts';
import { HsmHot } from '../../hsm-hot/main.ts';
import { worldHotProvisioning } from '../../hw-profiles/sim/devices.ts';
import { EmulatedModemDevice } from '../../hw-profiles/sim/gsm/modem-device.ts';
import { SimulatedGsmNetwork, defaultCarriers } from '../../hw-profiles/sim/gsm/network.ts';
import { SimulatedChain } from '../../hw-profiles/sim/host/chain.ts';
import { WatchWallet } from '../../hw-profiles/sim/host/watch-wallet.ts';
import { VDevice } from '../../hw-profiles/sim/phone/v-device.ts';
import { VirtualSerialPair } from '../../hw-profiles/sim/uart/virtual-pair.ts';
import { APP_SETTINGS, APP_VWEB_TOKEN, WORLD_TIME_ZONE, coldConfig, hotConfig } from '../../hw-profiles/sim/world-config.ts';
import { WORLD_COUNTRY_CODE, WORLD_NUMBERS, worldKeys } from '../../hw-profiles/sim/world-keys.ts';
import { encodeBase58Address } from '../../shared/crypto/address.ts';
import { CHAIN } from '../../shared/crypto/hd.ts';
import { signMessage } from '../../shared/crypto/message-signature.ts';
import { NETWORKS, getNetwork, type AddressType } from '../../shared/crypto/networks.ts';
import { formatOuts, requestString } from '../../shared/crypto/request-string.ts';
import { Modem } from '../../shared/gsm/modem.ts';
import { SeededRandom } from '../../shared/random.ts';
import { WarpClock } from './warp-clock.ts';
import { WireTally } from './wire-tally.ts';

const KDF = { N: 2 ** 10, r: 8, p: 1 };
/** A weekday at 10:00 in the world's zone: far from the nightly channel rotation. */
const WORLD_START = Date.UTC(2026, 2, 3, 2, 0, 0);
const FUNDING = 1_000_000n;
const PAYMENT = 10_000n;
const FEE_RATE = 10;

export interface PairWorldOptions {
  baudRate: number;
  /** false: the devices' work costs no world time (see WarpClock). Default true. */
  chargeWork?: boolean;
  seed?: string;
}

/** A withdrawal as the platform sends it, already signed for the host API. */
export interface PreparedWithdrawal {
  userTxNo: string;
  text: string;
  nonce: number;
}

/** One line of a message the device sent, as the client saw it. */
interface Received {
  msg: string;
  data: { nonce?: number; hot_wallet_tx_status?: number; send_request?: { user_tx_no: string }; code?: string };
  nonce?: number;
}

export class PairWorld {
  readonly clock: WarpClock;
  readonly wire: VirtualSerialPair;
  /** What crossed the link, per direction. */
  readonly tally = new WireTally();
  readonly cold: ColdDevice;
  hot!: HsmHot;
  client!: HostClient;
  private readonly random: SeededRandom;
  private readonly keys: ReturnType<typeof worldKeys>;
  private readonly dirs: string[] = [];
  private readonly stops: Array<() => Promise<void> | void> = [];
  private readonly network: SimulatedGsmNetwork;
  private channel: { cId: number; dh: string } | undefined;
  private wallet: WatchWallet | undefined;
  private readonly chain: SimulatedChain;
  private nextIndex = 0;

  private constructor(readonly options: PairWorldOptions) {
    const seed = options.seed ?? 'bench-withdrawals';
    this.clock = new WarpClock({ start: WORLD_START, chargeWork: options.chargeWork ?? true });
    this.random = new SeededRandom(`bench/${seed}`);
    this.keys = worldKeys(seed);
    this.network = new SimulatedGsmNetwork({ clock: this.clock, carriers: defaultCarriers(), random: this.random.fork('network'), homeCountryCode: WORLD_COUNTRY_CODE });
    this.wire = new VirtualSerialPair({ clock: this.clock, baudRate: options.baudRate, random: this.random.fork('link-wire'), name: 'hsm-link' });
    const sims = [
      this.network.issueSim({ carrierId: 'A', msisdn: WORLD_NUMBERS.coldSim1 }),
      this.network.issueSim({ carrierId: 'B', msisdn: WORLD_NUMBERS.coldSim2 }),
    ] as const;
    const modems = [
      new EmulatedModemDevice({ clock: this.clock, network: this.network, sim: sims[0], profile: 'sim800c', random: this.random.fork('modem-sim1'), name: 'cold-sim1' }),
      new EmulatedModemDevice({ clock: this.clock, network: this.network, sim: sims[1], profile: 'e3372', random: this.random.fork('modem-sim2'), name: 'cold-sim2' }),
    ] as const;
    this.cold = new ColdDevice({
      stateDir: this.dir('bench-cold-'),
      clock: this.clock,
      random: this.random.fork('hsm-cold'),
      link: { openPort: () => this.tally.watch(this.wire.open('b'), 'hot>cold'), baudRate: options.baudRate },
      modems: [
        { name: 'sim1', openPort: () => modems[0].openHostPort(), expect: { imsi: sims[0].imsi } },
        { name: 'sim2', openPort: () => modems[1].openHostPort(), expect: { imsi: sims[1].imsi } },
      ],
    });
    this.chain = new SimulatedChain({ clock: this.clock, network: NETWORKS['btc-main'], random: this.random.fork('chain') });
  }

  /** Boots, provisions and pairs both devices, opens the channel, connects the platform. */
  static async start(options: PairWorldOptions): Promise<PairWorld> {
    const world = new PairWorld(options);
    world.clock.start();
    try {
      await world.boot();
    } catch (error) {
      await world.stop();
      throw error;
    }
    return world;
  }

  /** Waits (in world time, which the driver moves) until `condition` holds. */
  async until(condition: () => boolean, what: string, limitMs = 600_000): Promise<void> {
    const start = this.clock.worldMs;
    while (!this.clock.quietly(condition)) {
      if (this.clock.worldMs - start > limitMs) throw new Error(`bench world: timed out waiting for ${what}`);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /**
   * `count` withdrawals, each paying `outputs` payees from its own funded hot-wallet output,
   * signed by the V-Device's channel key and by the platform key, ready to send.
   */
  prepare(count: number, outputs: number, tag: string): PreparedWithdrawal[] {
    const wallet = this.wallet;
    const channel = this.channel;
    if (wallet === undefined || channel === undefined) throw new Error('invariant failed: the world is not started');
    const payees = this.payees(outputs);
    const out: PreparedWithdrawal[] = [];
    for (let i = 0; i < count; i++) {
      const index = this.nextIndex++;
      const address = wallet.address(CHAIN.external, index);
      this.chain.fund(address, FUNDING);
      const payments = payees.map((payee) => ({ address: payee, value: PAYMENT }));
      const built = this.chain.buildPsbt({
        payments,
        wallet: (a) => wallet.walletKey(a),
        walletAddresses: [address],
        change: wallet.walletKey(wallet.address(CHAIN.change, index)) as NonNullable<ReturnType<WatchWallet['walletKey']>>,
        fingerprint: wallet.fingerprint,
        feeRate: FEE_RATE,
      });
      const userTxNo = `${tag}-${i}`;
      const outs = formatOuts(payments);
      const request = { coinCode: 'BTC' as const, userTxNo, outs, isDynamicFee: 1 as const };
      const params = {
        coin_code: 'BTC',
        user_tx_no: userTxNo,
        outs,
        vc_code: signMessage(requestString(request), Buffer.from(channel.dh, 'hex')),
        is_dynamic_fee: 1,
        c_id: channel.cId,
        psbt: Buffer.from(built.psbt).toString('base64'),
      };
      out.push({ userTxNo, ...this.client.sign('tx_request', params) });
    }
    this.chain.mine();
    return out;
  }

  async stop(): Promise<void> {
    for (const stop of this.stops.reverse()) {
      try {
        await stop();
      } catch {
        // a part that never started
      }
    }
    await this.clock.stop();
    for (const dir of this.dirs) rmSync(dir, { recursive: true, force: true });
  }

  // ---------------------------------------------------------------------------------------

  private dir(prefix: string): string {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    this.dirs.push(dir);
    return dir;
  }

  /** Customers' addresses (P2PKH, from seeded hashes). */
  private payees(count: number): string[] {
    const random = this.random.fork('payees');
    const network = getNetwork('btc-main');
    return Array.from({ length: count }, () => encodeBase58Address(network.p2pkhVersion, random.bytes(20)));
  }

  private async boot(): Promise<void> {
    const { cold, keys, clock } = this;
    cold.start();
    this.stops.push(() => cold.shutdown());
    await this.until(() => cold.snapshot.matches('provisioning'), 'HSM-Cold to boot');
    await cold.provision({ pin: keys.coldPin, mnemonic: keys.coldMnemonic, config: benchColdConfig(), kdf: KDF });
    await this.until(() => cold.snapshot.matches('running'), 'HSM-Cold to run');

    this.hot = await HsmHot.start({
      stateDir: this.dir('bench-hot-'),
      clock,
      random: this.random.fork('hsm-hot'),
      openLinkPort: () => this.tally.watch(this.wire.open('a'), 'cold>hot'),
      baudRate: this.options.baudRate,
      listen: { host: '127.0.0.1', port: 0 },
      config: benchHotConfig(),
      kdf: KDF,
    });
    this.stops.push(() => this.hot.stop());
    const provisioned = await this.hot.provision(worldHotProvisioning(keys, cold, this.random.fork('pairing')));
    if (!provisioned.paired) throw new Error(`bench world: pairing failed: ${provisioned.pairingError?.message ?? 'unknown'}`);
    await this.until(() => this.hot.state === 'running' && this.hot.linkUp, 'the link to come up');
    await this.until(() => cold.snapshot.matches({ running: { modems: 'usable' } }), "HSM-Cold's modems");

    await this.openChannel();
    this.client = await HostClient.connect(this.hot.hostUrl as string, { privateKey: keys.platformKey, publicKey: keys.platformPublicKey }, this);
    this.stops.push(() => this.client.close());
    const status = await this.client.query('device_status', {});
    const account = (status.data as unknown as { accounts: Array<{ address_type: AddressType; xpub: string; network: string; account: number; master_fingerprint: string }> }).accounts.find(
      (a) => a.address_type === 'p2wpkh',
    );
    if (account === undefined) throw new Error('bench world: HSM-Hot reports no p2wpkh account');
    this.wallet = new WatchWallet(account.xpub, getNetwork(account.network), 'p2wpkh', account.account, Number.parseInt(account.master_fingerprint, 16));
  }

  /** The V-Device opens a channel over SMS, as the app does every night. */
  private async openChannel(): Promise<void> {
    const sim = this.network.issueSim({ carrierId: 'B', msisdn: WORLD_NUMBERS.vDevice });
    const phone = new EmulatedModemDevice({ clock: this.clock, network: this.network, sim, profile: 'default', random: this.random.fork('v-device-phone'), name: 'v-device-phone' });
    const modem = new Modem({ clock: this.clock, name: 'phone', openPort: () => phone.openHostPort(), random: this.random.fork('v-device-modem') });
    await modem.start();
    this.stops.push(() => modem.stop());
    const app = new VDevice({
      clock: this.clock,
      random: this.random.fork('v-device'),
      modem,
      settings: { ...APP_SETTINGS, vwebPassword: this.keys.vwebPassword },
      network: 'mainnet',
      // The bench's platform is its own WebSocket client: the app's HTTP side is never used here.
      api: { platform: { baseUrl: 'http://127.0.0.1:9', token: this.keys.hotSendingToken, altToken: this.keys.hotSendingToken }, vweb: { baseUrl: 'http://127.0.0.1:9', token: APP_VWEB_TOKEN } },
      timeZone: WORLD_TIME_ZONE,
      loop: { autoStart: false },
    });
    app.start();
    this.stops.push(() => app.stop());
    // The app's Create button: a first channel, which HSM-Cold takes at any hour in the simulated world.
    void app.createChannel({ byHand: true }).catch(() => undefined);
    await this.until(() => app.currentChannel()?.cId !== undefined && this.cold.status().channel?.cId === app.currentChannel()?.cId, 'the SMS channel to open');
    const channel = app.currentChannel();
    this.channel = { cId: channel?.cId as number, dh: channel?.dh as string };
  }
}

/** HSM-Cold as the world provisions it, with a policy that lets a benchmark's volume through. */
function benchColdConfig(): ColdConfigInput {
  const config = coldConfig();
  const btc = config.coins.BTC;
  if (btc === undefined) throw new Error('invariant failed: the world serves BTC');
  return {
    ...config,
    coins: { BTC: { ...btc, policy: { ...btc.policy, maxPerPeriod: '100000000000', maxCountPerPeriod: 100_000 } } },
  };
}

/** HSM-Hot as the world provisions it, its host API open to bursts of a thousand requests. */
function benchHotConfig(): HotConfigInput {
  return {
    ...hotConfig(),
    api: { keyBurst: 100_000, keyPerSecond: 100_000, connectionBurst: 100_000, connectionPerSecond: 100_000 },
  };
}

/**
 * The platform's side of the host API, reduced to what a benchmark needs: operations signed
 * ahead of time (the platform's own signing is not the pair's work), and every message
 * received kept with the world time it arrived at. Device signatures are checked afterwards.
 */
export class HostClient {
  readonly received: Array<{ at: number; message: Received; raw: string }> = [];
  private nonce = 1_000;
  private readonly waiters = new Set<() => void>();
  private readonly listeners = new Set<(message: Received, at: number) => void>();

  private readonly privateKey: Uint8Array;
  readonly publicKey: string;

  private constructor(
    private readonly ws: WebSocket,
    key: { privateKey: Uint8Array; publicKey: string },
    private readonly world: PairWorld,
  ) {
    this.privateKey = key.privateKey;
    this.publicKey = key.publicKey;
    ws.on('message', (data) => {
      const raw = data.toString();
      const message = JSON.parse(raw) as Received;
      const at = world.clock.worldMs;
      this.received.push({ at, message, raw });
      for (const l of this.listeners) l(message, at);
      for (const wake of [...this.waiters]) wake();
    });
  }

  static async connect(url: string, key: { privateKey: Uint8Array; publicKey: string }, world: PairWorld): Promise<HostClient> {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const client = new HostClient(ws, key, world);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const challenge = await client.next((m) => m.msg === 'challenge');
    const nonce = client.nonce++;
    const signed = signMessage(authSigningString(key.publicKey, nonce, challenge.data as unknown as string), key.privateKey);
    ws.send(JSON.stringify({ op: 'auth', data: { apiVersion: API_VERSION, key: key.publicKey, nonce, signed } }));
    await client.answer(nonce);
    await client.query('subscribe', { topics: ['tx'] });
    return client;
  }

  onMessage(listener: (message: Received, at: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A signed operation as text, with its nonce (nonces are taken in order). */
  sign(op: string, params: Record<string, unknown>): { text: string; nonce: number } {
    const key = this.publicKey;
    const nonce = this.nonce++;
    const signed = signMessage(operationSigningString(op, key, nonce, params), this.privateKey);
    return { text: JSON.stringify({ op, data: { apiVersion: API_VERSION, key, nonce, params, signed } }), nonce };
  }

  send(text: string): void {
    this.ws.send(text);
  }

  /** Sends an operation and waits for the device's reply that carries its nonce. */
  async query(op: string, params: Record<string, unknown>): Promise<Received> {
    const { text, nonce } = this.sign(op, params);
    this.send(text);
    await this.answer(nonce);
    return this.next((m) => m.msg !== 'ack' && m.nonce === nonce);
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }

  private async answer(nonce: number): Promise<void> {
    const reply = await this.next((m) => (m.msg === 'ack' || m.msg === 'err') && m.data.nonce === nonce);
    if (reply.msg === 'err') throw new Error(`bench client: the device refused nonce ${nonce}: ${reply.data.code ?? 'unknown'}`);
  }

  private next(predicate: (m: Received) => boolean): Promise<Received> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = this.received.find((r) => predicate(r.message));
        if (found === undefined) return false;
        this.waiters.delete(wake);
        resolve(found.message);
        return true;
      };
      const wake = (): void => void check();
      if (check()) return;
      this.waiters.add(wake);
      this.world.until(() => !this.waiters.has(wake), 'a host API reply', 120_000).catch((error: unknown) => {
        this.waiters.delete(wake);
        reject(error as Error);
      });
    });
  }
}
