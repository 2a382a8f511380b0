/**
 * Quirk profiles of the emulated modem, as data: what a real module of each kind says about
 * itself and where it departs from 3GPP TS 27.005/27.007 (notes/gsm-modems.md §4). Each
 * behaviour that is a module's own names its public source in `evidence`; docs/modems.md lists
 * what is modelled and what is not.
 *
 * The neutral `default` avoids vendor names in its identity, because Gammu switches on
 * vendor-specific behaviour when it finds one (Huawei, ZTE, ... anywhere in `AT+CGMI`).
 * @module
 */
import { HsmError } from '../../../shared/errors.ts';
import type { TeCharset } from './te-charset.ts';

export type ModemProfileName = 'default' | 'sim800c' | 'e3372' | 'ec25';

/** An unsolicited signal report: its line (`{rssi}`, `{ber}` replaced) and when it comes. */
export interface SignalUrc {
  readonly template: string;
  /** `periodic`: every `intervalMs` while on; `on-change`: when rssi or ber changes. */
  readonly trigger: { readonly kind: 'periodic'; readonly intervalMs: number } | { readonly kind: 'on-change' };
  /** On after power-on (Huawei `^RSSI`), or off until the host asks (Quectel `+QIND: "csq"`). */
  readonly onAtBoot: boolean;
}

export interface ModemProfile {
  readonly name: ModemProfileName;
  /** `AT+CGMI`, `AT+CGMM`, `AT+CGMR` (27.007 §5.1-5.3). */
  readonly manufacturer: string;
  readonly model: string;
  readonly revision: string;
  /** Type allocation code: the first 8 digits of the IMEI. */
  readonly tac: string;
  /** `ATI` (V.250 §6.1.3) lines; `{manufacturer}`, `{model}`, `{revision}`, `{imei}`, `{gcap}` are filled in. */
  readonly ati: readonly string[];
  /** `AT+GCAP` (V.250 §6.1.9): the capability list after `+GCAP: `. */
  readonly gcap: string;
  /** Which of the module's ports the emulated tty is, for commands that send URCs to one of them. */
  readonly atPort: string;
  /** Printed after power-on and after `AT+CFUN=1,1`, in order, once boot is done. */
  readonly bootUrcs: readonly string[];
  /** Until boot is done, SMS commands fail with `+CMS ERROR: 314` (SIM busy). */
  readonly bootDelayMs: number;
  /** First storage location: 1 per 27.005, 0 on Huawei and Quectel modules. */
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
  /** `AT+CSCS=?` offers these (27.007 §5.5); the first is the one after power-on. */
  readonly charsets: readonly TeCharset[];
  /** `AT+CCLK=` takes `yy/…` (27.007 §8.15), and also `yyyy/…` where listed. */
  readonly cclkYearDigits: readonly (2 | 4)[];
  /** USSD strings in the TE character set (27.007 §7.15), or as GSM 7-bit packed hex. */
  readonly ussdStrings: 'te-charset' | 'packed-hex';
  /**
   * A submitted PDU with octets after the user data TP-UDL covers (what node-pdu 1 writes):
   * `ignore`: the module sends the message as TP-UDL says; `refuse`: `+CMS ERROR: 304`.
   */
  readonly trailingOctets: 'ignore' | 'refuse';
  readonly signalUrc?: SignalUrc;
  /** Printed when a message cannot be stored because the memory is full (on after power-on or not). */
  readonly memoryFullUrc?: { readonly line: string; readonly onAtBoot: boolean };
  /** `AT+CCID` reply: bare digits, or with a `+CCID: ` / `^ICCID: ` prefix. */
  readonly ccidPrefix: string;
  /** `AT+CPBS=?` phonebook memories (27.007 §8.11). */
  readonly phonebooks: readonly string[];
  /** Vendor commands this module knows; each has a handler that does what it says. */
  readonly vendorCommands: readonly string[];
  /** Public sources of the module-specific behaviours above, by field name. */
  readonly evidence: Readonly<Partial<Record<keyof ModemProfile, string>>>;
}

const DEFAULT: ModemProfile = {
  name: 'default',
  manufacturer: 'ChainCloud',
  model: 'GSM-EMU-1',
  revision: 'EMU 1.0.0',
  tac: '35209900',
  ati: ['{manufacturer}', '{model}', 'Revision: {revision}'],
  gcap: '+CGSM',
  atPort: 'uart',
  bootUrcs: [],
  bootDelayMs: 0,
  storageIndexBase: 1,
  memories: { SM: 30 },
  prompt: 'space',
  unknownCommand: 'ERROR',
  emptyRead: 'cms-321',
  cpinWithoutOk: false,
  charsets: ['IRA', 'GSM', 'UCS2'],
  cclkYearDigits: [2],
  ussdStrings: 'te-charset',
  trailingOctets: 'refuse',
  ccidPrefix: '',
  phonebooks: ['SM', 'ON'],
  vendorCommands: [],
  evidence: {
    trailingOctets: 'the strict reading: TP-UDL fixes where the TPDU ends (23.040 §9.2.3.16), so octets after it are a bad PDU (27.005 §3.2.5, 304)',
  },
};

const SIM800C: ModemProfile = {
  name: 'sim800c',
  manufacturer: 'SIMCOM_Ltd',
  model: 'SIMCOM_SIM800C',
  revision: 'Revision:1418B04SIM800C24',
  tac: '86777003',
  ati: ['SIM800 R14.18'],
  gcap: '+CGSM',
  atPort: 'uart',
  bootUrcs: ['RDY', '+CFUN: 1', '+CPIN: READY', 'Call Ready', 'SMS Ready'],
  bootDelayMs: 3_000,
  storageIndexBase: 1,
  memories: { SM: 30, ME: 50 },
  prompt: 'space',
  unknownCommand: 'ERROR',
  emptyRead: 'ok',
  cpinWithoutOk: false,
  charsets: ['IRA', 'GSM', 'UCS2', 'HEX', '8859-1'],
  cclkYearDigits: [2],
  ussdStrings: 'te-charset',
  trailingOctets: 'ignore',
  ccidPrefix: '',
  phonebooks: ['SM', 'ON', 'FD', 'LD', 'MC', 'RC'],
  vendorCommands: ['+CSCLK', '+CIURC', '+CLTS'],
  evidence: {
    ati: 'SIM800 Series AT Command Manual V1.09, ATI (one line "SIM800 R13.08" in its example); R14.18 for firmware 1418B04 is inferred, not from a capture',
    gcap: 'SIM800 Series AT Command Manual V1.09, AT+GCAP (+CGSM); not checked against a capture',
    bootUrcs: 'SIM800 Series AT Command Manual V1.09 (RDY, +CFUN: 1, +CPIN: READY, Call Ready, SMS Ready)',
    emptyRead: 'field reports collected in notes/gsm-modems.md §1 (SIM800 answers an empty +CMGR with OK)',
    charsets: 'SIM800 Series AT Command Manual V1.09, AT+CSCS ("GSM","UCS2","IRA","HEX","PCCP","PCDN","8859-1", "IRA" after power-on; PCCP and PCDN are not modelled)',
    trailingOctets: 'serialport-gsm #66: a SIM800L (firmware 1418B04SIM800L24) sends ~440-character serialport-gsm messages, every part of which carries one octet after TP-UD; the +CMS ERROR: 325 the same report shows for 142-148 characters is not modelled',
    vendorCommands: 'SIM800 Series AT Command Manual V1.09: AT+CSCLK (mode 2: sleep after 5 s idle, woken by serial data, first byte lost), AT+CIURC, AT+CLTS (*PSUTTZ and DST URCs, saved with AT&W)',
  },
};

const E3372: ModemProfile = {
  name: 'e3372',
  manufacturer: 'huawei',
  model: 'E3372',
  revision: '22.328.62.00.00',
  tac: '86734102',
  ati: ['Manufacturer: {manufacturer}', 'Model: {model}', 'Revision: {revision}', 'IMEI: {imei}', '+GCAP: {gcap}'],
  gcap: '+CGSM,+DS,+ES',
  atPort: 'pcui',
  bootUrcs: ['^SIMST: 1', '^SRVST: 2', '^MODE: 5,4'],
  bootDelayMs: 2_000,
  storageIndexBase: 0,
  memories: { SM: 50, ME: 255 },
  prompt: 'space',
  unknownCommand: 'COMMAND NOT SUPPORT',
  emptyRead: 'cms-321',
  cpinWithoutOk: false,
  charsets: ['IRA', 'GSM', 'UCS2'],
  cclkYearDigits: [2, 4],
  ussdStrings: 'packed-hex',
  trailingOctets: 'refuse',
  signalUrc: { template: '^RSSI: {rssi}', trigger: { kind: 'periodic', intervalMs: 5_000 }, onAtBoot: true },
  memoryFullUrc: { line: '^SMMEMFULL: "SM"', onAtBoot: true },
  ccidPrefix: '^ICCID: ',
  phonebooks: ['SM', 'ON', 'EN', 'FD'],
  vendorCommands: ['^CURC', '^PORTSEL'],
  evidence: {
    ati: 'luci-app-3ginfo-lite #25 (an E3372 in stick mode: Manufacturer/Model/Revision/IMEI/+GCAP lines)',
    gcap: 'luci-app-3ginfo-lite #25 and #124 (+GCAP: +CGSM,+DS,+ES)',
    storageIndexBase: 'gammu libgammu/gsmphones.c: E3372 has F_SMS_LOCATION_0',
    cclkYearDigits: 'gammu libgammu/gsmphones.c: E3372 has F_FOUR_DIGIT_YEAR, so Gammu sends AT+CCLK="yyyy/MM/dd,..."',
    ussdStrings: 'gammu libgammu/gsmphones.c: E3372 has F_ENCODED_USSD; gammu tests/at-ussd/01-E160.dump and 02-E160.dump are Huawei replies in packed hex',
    unknownCommand: 'field reports collected in notes/gsm-modems.md §4 (COMMAND NOT SUPPORT)',
    signalUrc: 'gammu #111, #138 (^RSSI floods until AT^CURC=0)',
    vendorCommands: 'gammu libgammu/phone/at/atgen.c: F_HUAWEI_INIT sends AT^CURC=0 and AT^PORTSEL=1 and gives up on an error, so E3372 sticks accept both; ^PORTSEL 0/1 sends URCs to the modem or the PCUI port. The emulated tty is the PCUI port; that URCs come to it before any ^PORTSEL is assumed, not verified',
    trailingOctets: 'no public capture found; modelled as the strict reading (304). node-pdu #22 shows an unnamed module refusing such a part (+CMS ERROR: 513)',
  },
};

const EC25: ModemProfile = {
  name: 'ec25',
  manufacturer: 'Quectel',
  model: 'EC25',
  revision: 'EC25EFAR06A06M4G',
  tac: '86280704',
  ati: ['{manufacturer}', '{model}', 'Revision: {revision}'],
  gcap: '+CGSM',
  atPort: 'usbat',
  bootUrcs: ['RDY', '+CFUN: 1', '+CPIN: READY', '+QUSIM: 1', '+QIND: SMS DONE'],
  bootDelayMs: 5_000,
  storageIndexBase: 0,
  memories: { SM: 30, ME: 255 },
  prompt: 'space',
  unknownCommand: 'ERROR',
  emptyRead: 'cms-321',
  cpinWithoutOk: false,
  charsets: ['GSM', 'IRA', 'UCS2'],
  cclkYearDigits: [2],
  ussdStrings: 'te-charset',
  trailingOctets: 'refuse',
  signalUrc: { template: '+QIND: "csq",{rssi},{ber}', trigger: { kind: 'on-change' }, onAtBoot: false },
  memoryFullUrc: { line: '+QIND: "smsfull","SM"', onAtBoot: false },
  ccidPrefix: '+CCID: ',
  phonebooks: ['SM', 'ON', 'FD', 'LD', 'MC', 'RC', 'EN'],
  vendorCommands: ['+QINDCFG', '+QURCCFG'],
  evidence: {
    ati: 'Quectel EC25&EC21 AT Commands Manual V1.3, ATI (Quectel / EC25 / Revision: ...)',
    gcap: 'not checked: +CGSM only, as the 27.007 minimum; a real EC25 may list more',
    storageIndexBase: 'VoCat #121 (EC25 stores SMS at index 0), mbed-os PR #11249 (BG96 indexes from 0), asterisk-chan-quectel PR #75 (+CDSI: "SM",0 on EC25)',
    charsets: 'Quectel EC25&EC21 AT Commands Manual V1.3, AT+CSCS ("GSM","IRA","UCS2"; "GSM" after power-on)',
    signalUrc: 'Quectel EC25&EC21 AT Commands Manual V1.3 +QINDCFG ("csq" off by default); drivers turn it on with AT+QINDCFG="csq",1',
    vendorCommands: 'Quectel EC25&EC21 AT Commands Manual V1.3: +QINDCFG, +QURCCFG ("urcport": usbat, usbmodem, uart1)',
    trailingOctets: 'no public capture found; modelled as the strict reading (304)',
  },
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
