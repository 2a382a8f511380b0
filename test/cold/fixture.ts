/**
 * HSM-Cold's domain modules with emulated outlets: a store, a vault, a simulated clock, a
 * captured SMS outbox and event list, and a V-Device key pair to sign vc_codes with.
 */
import { SimulatedClock } from '../../shared/clock.ts';
import { bytesToHex } from '../../shared/crypto/hash.ts';
import { NETWORKS } from '../../shared/crypto/networks.ts';
import { requestString, type HotSendRequest } from '../../shared/crypto/request-string.ts';
import { secp } from '../../shared/crypto/secp.ts';
import { silentLogger } from '../../shared/log.ts';
import { SeededRandom } from '../../shared/random.ts';
import { DeviceStore } from '../../shared/store/store.ts';
import { Vault } from '../../shared/store/vault.ts';
import { zonedToEpoch } from '../../shared/time-zone.ts';
import type { ColdConfigInput } from '../../hsm-cold/config.ts';
import { provisionCold } from '../../hsm-cold/provisioning.ts';
import { COLD_RECORDS } from '../../hsm-cold/records.ts';
import type { ColdServices, EventDetails } from '../../hsm-cold/services.ts';
import { recordTimeSample } from '../../hsm-cold/time-trust.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { bitcoinMessage } from '../oracle/bitcoinjs.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const V_DEVICE = '+8613800000001';
export const ADMIN = '+8613900000002';
export const TZ = 'Asia/Shanghai';
export const MNEMONIC = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about';
export const FAST_KDF = { N: 1024, r: 8, p: 1 };

export function baseConfig(overrides: Partial<ColdConfigInput> = {}): ColdConfigInput {
  return {
    vDeviceNumbers: [V_DEVICE],
    adminNumbers: [ADMIN],
    coins: {
      BTC: {
        network: 'btc-main',
        addressType: 'p2pkh',
        account: 0,
        policy: { maxPerTx: '100000000', maxPerPeriod: '300000000', maxCountPerPeriod: 5, periodHours: 24, allowList: [] },
      },
    },
    rotation: { from: '23:00', to: '02:00', timeZone: TZ, maxAgeHours: 26, pendingMinutes: 30, firstChannelAnytime: false },
    ...overrides,
  };
}

/** Local time in Shanghai on 2026-03-10 (+ days), as Unix ms. */
export function at(hour: number, minute = 0, days = 0): number {
  return zonedToEpoch({ year: 2026, month: 3, day: 10 + days, hour, minute }, TZ);
}

export class VDeviceKeys {
  private n = 0;
  constructor(private readonly random = new SeededRandom('v-device')) {}
  next(): { secret: Uint8Array; qh: string; hId: number } {
    const secret = this.random.bytes(32);
    return { secret, qh: bytesToHex(secp.getPublicKey(secret, true)).toUpperCase(), hId: ++this.n };
  }
}

/** The V-Device's vc_code over the request string, signed by the oracle library (bitcoinjs-message), not by our signer. */
export function vcCode(request: HotSendRequest, channelSecret: Uint8Array): string {
  return bitcoinMessage.sign(requestString(request), Buffer.from(channelSecret), true, NETWORKS['btc-main'].messagePrefix).toString('base64');
}

export interface ColdFixture {
  svc: ColdServices;
  clock: SimulatedClock;
  sent: Array<{ to: string; text: string }>;
  events: Array<{ kind: string; details: EventDetails }>;
  identity: string;
  /** Records a time sample from both sources that agrees with the local clock. */
  trustTime(): void;
  close(): Promise<void>;
}

export function coldFixture(options: { start?: number; config?: ColdConfigInput; seed?: string } = {}): ColdFixture {
  const clock = new SimulatedClock({ start: options.start ?? at(23, 30) });
  const random = new SeededRandom(options.seed ?? 'cold-fixture');
  const dir = mkdtempSync(join(tmpdir(), 'cold-fixture-'));
  const store = DeviceStore.open(dir, { app: 'hsm-cold', schemaVersion: 1, clock, collections: Object.values(COLD_RECORDS) });
  const vault = new Vault(store, random);
  const provisioned = provisionCold(store, vault, random, clock.now(), { pin: '2468', mnemonic: MNEMONIC, config: options.config ?? baseConfig(), kdf: FAST_KDF });
  const sent: ColdFixture['sent'] = [];
  const events: ColdFixture['events'] = [];
  const svc: ColdServices = {
    store,
    vault,
    clock,
    random,
    config: provisioned.config,
    sms: {
      enqueue: (to, text) => {
        sent.push({ to, text });
        return sent.length;
      },
    },
    events: { emit: (kind, details) => void events.push({ kind, details }) },
    log: silentLogger,
  };
  const fixture: ColdFixture = {
    svc,
    clock,
    sent,
    events,
    identity: provisioned.identity,
    trustTime: () => store.transact((tx) => (recordTimeSample(tx, 'modem', clock.now(), clock.now()), recordTimeSample(tx, 'hot', clock.now(), clock.now()))),
    close: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  fixture.trustTime();
  return fixture;
}
