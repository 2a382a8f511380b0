/**
 * The simulated world's configuration: what the rig provisions the two devices with, how the
 * V-Device app is set up, and what the platform serves. One place, so the devices, the app
 * and the gateway agree (coins, address types, numbers, the rotation window).
 * @module
 */
import type { ColdConfigInput } from '../../hsm-cold/config.ts';
import type { HotConfigInput } from '../../hsm-hot/config.ts';
import { WORLD_NUMBERS } from './world-keys.ts';

export const WORLD_TIME_ZONE = 'Asia/Shanghai';

/**
 * HSM-Cold accepts new channels 23:00-04:00 Shanghai time (UTC+8, the phone's zone too): the
 * app's own reply window (23:00-01:59) and its daily channel alarm at 03:00 UTC+8, with an
 * hour for a late alarm or a slow SMS. `vDeviceAt` is that alarm in the world's zone (the app
 * sets it in UTC+8 whatever the phone's zone: phone/v-device.ts APP_CHANNEL_ALARM).
 */
export const ROTATION = { from: '23:00', to: '04:00', vDeviceAt: '03:00' } as const;

/**
 * The app's settings on the emulated phone, as a person types them: HSM-Cold's two numbers
 * and the administrator's, national (the app matches senders against `+86` + these).
 */
export const APP_SETTINGS = {
  hsmPhone1: WORLD_NUMBERS.coldSim1.replace(/^\+86/, ''),
  hsmPhone2: WORLD_NUMBERS.coldSim2.replace(/^\+86/, ''),
  adminPhone: WORLD_NUMBERS.admin.replace(/^\+86/, ''),
} as const;

/** The app sends a `Token` header to vweb too; the simulated vweb does not check it. */
export const APP_VWEB_TOKEN = 'vweb';

/** With the SIM2 failover extension: how long the V-Device waits for SIM1's answer. */
export const SIM2_FAILOVER_MS = 3 * 60_000;

export const LINK_BAUD_RATE = 115_200;

/**
 * The world times the firmware can represent: SMS time stamps carry a two-digit year read as
 * 2000-2089 (3GPP TS 23.040 §9.2.3.11, shared/gsm/pdu.ts), in local time up to 14 h off UTC,
 * so a world runs from the second day of 2000 to the start of the last day of 2089.
 */
export const WORLD_TIME_RANGE = { first: Date.UTC(2000, 0, 2), last: Date.UTC(2089, 11, 31) } as const;

/** Whether the firmware can represent world time `at` (WORLD_TIME_RANGE). */
export function representableWorldTime(at: number): boolean {
  return at >= WORLD_TIME_RANGE.first && at <= WORLD_TIME_RANGE.last;
}

/** WORLD_TIME_RANGE as text, for errors. */
export const WORLD_TIME_RANGE_TEXT = `${new Date(WORLD_TIME_RANGE.first).toISOString()}..${new Date(WORLD_TIME_RANGE.last).toISOString()}`;

/** The hot wallet's deposits when a world is created (satoshis). */
export const INITIAL_FUNDING = [100_000_000n, 50_000_000n, 25_000_000n] as const;

export function coldConfig(): ColdConfigInput {
  return {
    vDeviceNumbers: [WORLD_NUMBERS.vDevice],
    adminNumbers: [WORLD_NUMBERS.admin],
    coins: {
      BTC: {
        network: 'btc-main',
        addressType: 'p2pkh',
        account: 0,
        policy: { maxPerTx: '100000000', maxPerPeriod: '500000000', maxCountPerPeriod: 100, periodHours: 24, allowList: [] },
      },
    },
    rotation: { from: ROTATION.from, to: ROTATION.to, timeZone: WORLD_TIME_ZONE, maxAgeHours: 26, pendingMinutes: 30, firstChannelAnytime: true },
  };
}

export function hotConfig(): HotConfigInput {
  return {
    coins: [
      {
        coin: 'BTC',
        network: 'btc-main',
        types: ['p2pkh', 'p2wpkh'],
        fee: { maxFee: 1_000_000, dynamic: { maxRate: 500 }, fixed: { minRate: 1, maxRate: 100 } },
      },
    ],
  };
}

/** What the platform serves: coin → the address types of its hot and cold accounts. */
export const GATEWAY_COINS = { BTC: { hotAddressType: 'p2pkh', coldAddressType: 'p2pkh' } } as const;

export const FEES = { dynamicRate: 12, fixedRate: 5 } as const;

/** The scopes each Open API credential and the platform's host-API key get. */
export const PLATFORM_KEY_SCOPES = ['address:read', 'tx:create', 'tx:read', 'events:read'] as const;
