/**
 * HSM-Hot and the HSM-Cold stand-in on an emulated UART pair, on one simulated clock, with
 * the host API on a loopback port: the in-process wiring the simulated rig will use.
 */
import { SimulatedClock } from '../../shared/clock.ts';
import { createPairingFile } from '../../shared/link/pairing.ts';
import { SeededRandom } from '../../shared/random.ts';
import { VirtualSerialPair } from '../../hw-profiles/sim/uart/virtual-pair.ts';
import type { HotConfigInput } from '../../hsm-hot/config.ts';
import { HsmHot } from '../../hsm-hot/main.ts';
import { tempDir } from '../helpers/temp.ts';
import { until } from '../link/harness.ts';
import { PlatformClient, type ClientKey } from './client.ts';
import { ColdStandIn } from './cold-standin.ts';
import { CHANNEL_ID, HOT_MNEMONIC, PIN, PLATFORM, READER, TEST_CONFIG, TEST_KDF, VDEVICE } from './wallet-fixture.ts';

export interface RigOptions {
  seed?: string;
  config?: HotConfigInput;
  /** Start the HSM-Cold stand-in's link (default true). */
  coldRunning?: boolean;
  maxPerTx?: bigint;
}

export class HotRig {
  readonly clock = new SimulatedClock();
  readonly random: SeededRandom;
  readonly wire: VirtualSerialPair;
  readonly hotDir = tempDir('hsm-hot-');
  readonly coldDir = tempDir('hsm-cold-');
  readonly cold: ColdStandIn;
  hot!: HsmHot;
  private readonly config: HotConfigInput;
  private readonly clients: PlatformClient[] = [];

  private constructor(options: RigOptions) {
    this.random = new SeededRandom(options.seed ?? 'hot-rig');
    this.wire = new VirtualSerialPair({ clock: this.clock, baudRate: 115_200, random: this.random.fork('wire') });
    this.config = options.config ?? TEST_CONFIG;
    this.cold = new ColdStandIn({
      dir: this.coldDir,
      clock: this.clock,
      random: this.random.fork('cold'),
      openPort: () => this.wire.open('b'),
      ...(options.maxPerTx === undefined ? {} : { maxPerTx: options.maxPerTx }),
    });
  }

  /** Both devices provisioned and paired by file; HSM-Hot running; the stand-in's channel open. */
  static async create(options: RigOptions = {}): Promise<HotRig> {
    const rig = new HotRig(options);
    const coldIdentity = rig.cold.provision();
    rig.cold.openChannel(CHANNEL_ID, VDEVICE.publicKey);
    rig.hot = await rig.startHot();
    await rig.hot.provision({
      pin: PIN,
      mnemonic: { restore: HOT_MNEMONIC },
      platformKeys: [
        { key: PLATFORM.publicKey, scopes: ['address:read', 'tx:create', 'tx:read', 'events:read'], label: 'platform' },
        { key: READER.publicKey, scopes: ['address:read'], label: 'reader' },
      ],
      pairing: {
        method: 'file',
        file: (hotIdentity) => {
          const file = createPairingFile(hotIdentity, coldIdentity, rig.random.fork('pairing'));
          rig.cold.importPairing(file);
          return file;
        },
      },
    });
    if (options.coldRunning ?? true) rig.cold.boot();
    return rig;
  }

  startHot(): Promise<HsmHot> {
    return HsmHot.start({
      stateDir: this.hotDir,
      clock: this.clock,
      random: this.random.fork(`hot-${this.clock.monotonic()}`),
      openLinkPort: () => this.wire.open('a'),
      listen: { host: '127.0.0.1', port: 0 },
      config: this.config,
      kdf: TEST_KDF,
    });
  }

  /** Powers HSM-Hot off and on again, then unlocks it. */
  async restartHot(): Promise<void> {
    await this.hot.stop();
    this.hot = await this.startHot();
    await this.hot.unlock(PIN);
  }

  get url(): string {
    const url = this.hot.hostUrl;
    if (url === undefined) throw new Error('the host API is not listening');
    return url;
  }

  async client(key: ClientKey = PLATFORM): Promise<PlatformClient> {
    const client = await PlatformClient.session(this.url, key);
    this.clients.push(client);
    return client;
  }

  /** Advances simulated time until `predicate` holds. */
  until(predicate: () => boolean, limitMs = 120_000): Promise<void> {
    return until(this.clock, predicate, limitMs, 5);
  }

  async close(): Promise<void> {
    for (const client of this.clients) client.drop();
    await this.hot.stop();
    if (this.cold.endpoint !== undefined) await this.cold.shutdown();
    else await this.cold.store.close();
  }
}
