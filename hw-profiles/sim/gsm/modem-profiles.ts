/**
 * Quirk profiles of the emulated modem, as data: what a real module of each kind says about
 * itself and where it departs from 3GPP TS 27.005/27.007 (notes/gsm-modems.md §4).
 *
 * The neutral `default` avoids vendor names in its identity, because Gammu switches on
 * vendor-specific behaviour when it finds one (Huawei, ZTE, ... anywhere in `AT+CGMI`).
 * @module
 */
import { HsmError } from '../../../shared/errors.ts';

export type ModemProfileName = 'default' | 'sim800c' | 'e3372' | 'ec25';

export interface ModemProfile {
  readonly name: ModemProfileName;
  /** `AT+CGMI`, `AT+CGMM`, `AT+CGMR` (27.007 §5.1-5.3). */
  readonly manufacturer: string;
  readonly model: string;
  readonly revision: string;
  /** Type allocation code: the first 8 digits of the IMEI. */
  readonly tac: string;
  /** Printed after power-on and after `AT+CFUN=1,1`, in order, once boot is done. */
  readonly bootUrcs: readonly string[];
  /** Until boot is done, SMS commands fail with `+CMS ERROR: 314` (SIM busy). */
  readonly bootDelayMs: number;
  /** First storage location: 1 per 27.005, 0 on Huawei sticks (Gammu F_SMS_LOCATION_0). */
  readonly storageIndexBase: 0 | 1;
  /** Memories offered by `AT+CPMS` and their capacities. */
  readonly memories: Readonly<Record<string, number>>;
  /** `> ` (27.005 §3.5.1) or a bare `>` line (SIMCom SIM7670G, gammu #1176). */
  readonly prompt: 'space' | 'bare-line';
  /** Final result for an unknown command: `ERROR` or Huawei's `COMMAND NOT SUPPORT`. */
  readonly unknownCommand: 'ERROR' | 'COMMAND NOT SUPPORT';
  /** Reading an empty location: `+CMS ERROR: 321`, or a bare `OK` (SIM800). */
  readonly emptyRead: 'cms-321' | 'ok';
  /** `AT+CPIN?` answers `+CPIN: READY` without a final OK (Gammu F_CPIN_NO_OK). */
  readonly cpinWithoutOk: boolean;
  /** Unsolicited signal reports and how often they come; `{rssi}` is replaced. */
  readonly signalUrc?: { readonly template: string; readonly intervalMs: number };
  /** Printed when a message cannot be stored because the memory is full. */
  readonly memoryFullUrc?: string;
  /** `AT+CCID` reply: bare digits, or with a `+CCID: ` / `+ICCID: ` prefix. */
  readonly ccidPrefix: string;
  /** Extra commands this modem knows (answered with OK). */
  readonly vendorCommands: readonly string[];
}

const DEFAULT: ModemProfile = {
  name: 'default',
  manufacturer: 'ChainCloud',
  model: 'GSM-EMU-1',
  revision: 'EMU 1.0.0',
  tac: '35209900',
  bootUrcs: [],
  bootDelayMs: 0,
  storageIndexBase: 1,
  memories: { SM: 30 },
  prompt: 'space',
  unknownCommand: 'ERROR',
  emptyRead: 'cms-321',
  cpinWithoutOk: false,
  ccidPrefix: '',
  vendorCommands: [],
};

const SIM800C: ModemProfile = {
  name: 'sim800c',
  manufacturer: 'SIMCOM_Ltd',
  model: 'SIMCOM_SIM800C',
  revision: 'Revision:1418B04SIM800C24',
  tac: '86777003',
  bootUrcs: ['RDY', '+CFUN: 1', '+CPIN: READY', 'Call Ready', 'SMS Ready'],
  bootDelayMs: 3_000,
  storageIndexBase: 1,
  memories: { SM: 30, ME: 50 },
  prompt: 'space',
  unknownCommand: 'ERROR',
  emptyRead: 'ok',
  cpinWithoutOk: false,
  memoryFullUrc: undefined,
  ccidPrefix: '',
  vendorCommands: ['+CSCLK', '+CIURC', '+CLTS'],
};

const E3372: ModemProfile = {
  name: 'e3372',
  manufacturer: 'huawei',
  model: 'E3372',
  revision: '22.328.62.00.00',
  tac: '86734102',
  bootUrcs: ['^SIMST: 1', '^SRVST: 2', '^MODE: 5,4'],
  bootDelayMs: 2_000,
  storageIndexBase: 0,
  memories: { SM: 50, ME: 255 },
  prompt: 'space',
  unknownCommand: 'COMMAND NOT SUPPORT',
  emptyRead: 'cms-321',
  cpinWithoutOk: false,
  signalUrc: { template: '^RSSI: {rssi}', intervalMs: 5_000 },
  memoryFullUrc: '^SMMEMFULL: "SM"',
  ccidPrefix: '^ICCID: ',
  vendorCommands: ['^CURC', '^PORTSEL', '^SYSCFG'],
};

const EC25: ModemProfile = {
  name: 'ec25',
  manufacturer: 'Quectel',
  model: 'EC25',
  revision: 'EC25EFAR06A06M4G',
  tac: '86280704',
  bootUrcs: ['RDY', '+CFUN: 1', '+CPIN: READY', '+QUSIM: 1', '+QIND: SMS DONE'],
  bootDelayMs: 5_000,
  storageIndexBase: 0,
  memories: { SM: 30, ME: 255 },
  prompt: 'space',
  unknownCommand: 'ERROR',
  emptyRead: 'cms-321',
  cpinWithoutOk: false,
  signalUrc: { template: '+QIND: "csq",{rssi},99', intervalMs: 10_000 },
  ccidPrefix: '+CCID: ',
  vendorCommands: ['+QINDCFG', '+QURCCFG', '+QCFG'],
};

export const MODEM_PROFILES: Readonly<Record<ModemProfileName, ModemProfile>> = Object.freeze({
  default: DEFAULT,
  sim800c: SIM800C,
  e3372: E3372,
  ec25: EC25,
});

export const MODEM_PROFILE_NAMES = Object.keys(MODEM_PROFILES) as ModemProfileName[];

export function modemProfile(name: string, field = 'profile'): ModemProfile {
  if (!(MODEM_PROFILE_NAMES as string[]).includes(name)) {
    throw new HsmError('MODEM_BAD_PROFILE', `unknown modem profile "${name}" (known: ${MODEM_PROFILE_NAMES.join(', ')})`, { field });
  }
  return MODEM_PROFILES[name as ModemProfileName];
}
