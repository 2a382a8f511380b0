/**
 * AT wire constants, imported by the driver (shared/gsm) and the modem emulator
 * (hw-profiles/sim/gsm) alike (DESIGN.md, rule 8): final result codes (ITU-T V.250 §5.7.1),
 * `+CME ERROR` codes (3GPP TS 27.007 §9.2), `+CMS ERROR` codes (3GPP TS 27.005 §3.2.5), message
 * status values (27.005 §3.1), registration states (27.007 §7.2) and the control bytes of the
 * SMS prompt (27.005 §3.5.1).
 * @module
 */

/** Line terminator S3 and response formatting character S4 (V.250 §6.2.1, §6.2.2). */
export const CR = 0x0d;
export const LF = 0x0a;
/** Ends the PDU or text after the `> ` prompt and sends it (27.005 §3.5.1). */
export const CTRL_Z = 0x1a;
/** Aborts the PDU or text after the prompt, nothing is sent (27.005 §3.5.1). */
export const ESC = 0x1b;

/** The prompt printed after `AT+CMGS=<n>`: `\r\n> ` (27.005 §3.5.1). */
export const SMS_PROMPT = '> ';

/** Verbose final result codes (V.250 §5.7.1), plus the non-standard ones real modems send. */
export const FINAL_RESULTS = {
  ok: 'OK',
  error: 'ERROR',
  noCarrier: 'NO CARRIER',
  busy: 'BUSY',
  noAnswer: 'NO ANSWER',
  noDialtone: 'NO DIALTONE',
  /** Huawei sticks answer unknown commands with this instead of ERROR. */
  commandNotSupport: 'COMMAND NOT SUPPORT',
  /** Huawei, for commands with too many parameters. */
  tooManyParameters: 'TOO MANY PARAMETERS',
} as const;

export const CME_ERROR_PREFIX = '+CME ERROR:';
export const CMS_ERROR_PREFIX = '+CMS ERROR:';

/** `+CME ERROR: <err>` values (27.007 §9.2.1) that modems send in the SMS path. */
export const CME = {
  phoneFailure: 0,
  operationNotAllowed: 3,
  operationNotSupported: 4,
  simNotInserted: 10,
  simPinRequired: 11,
  simPukRequired: 12,
  simFailure: 13,
  simBusy: 14,
  incorrectPassword: 16,
  memoryFull: 20,
  invalidIndex: 21,
  notFound: 22,
  textStringTooLong: 24,
  invalidCharacters: 25,
  noNetworkService: 30,
  networkTimeout: 31,
  unknown: 100,
  /** Vendor specific: "device busy" for a while after CFUN (SIMCom, Quectel). */
  deviceBusy: 515,
} as const;

/** `+CMS ERROR: <err>` values (27.005 §3.2.5). 1-127 are RP/TP causes from the network. */
export const CMS = {
  /** RP cause 38 (24.011 §8.2.5.4): network out of order. */
  networkOutOfOrder: 38,
  /** RP cause 41: temporary failure. */
  temporaryFailure: 41,
  /** RP cause 42: congestion. */
  congestion: 42,
  meFailure: 300,
  smsServiceReserved: 301,
  operationNotAllowed: 302,
  operationNotSupported: 303,
  invalidPduParameter: 304,
  invalidTextParameter: 305,
  simNotInserted: 310,
  simPinRequired: 311,
  simFailure: 313,
  simBusy: 314,
  simWrong: 315,
  memoryFailure: 320,
  invalidMemoryIndex: 321,
  memoryFull: 322,
  smscAddressUnknown: 330,
  noNetworkService: 331,
  networkTimeout: 332,
  noCnmaExpected: 340,
  unknown: 500,
} as const;

export type CmsCode = number;
export type CmeCode = number;

/**
 * CMS codes after which the same PDU may succeed later or through another SIM: network-side
 * trouble, not a fault of the message. Anything else (304 bad PDU, 305...) is permanent.
 */
export function isTransientCms(code: CmsCode): boolean {
  if (code >= 1 && code <= 127) return true;
  return (
    code === CMS.meFailure ||
    code === CMS.simBusy ||
    code === CMS.noNetworkService ||
    code === CMS.networkTimeout ||
    code === CMS.unknown ||
    code === CMS.memoryFailure ||
    code === CMS.smscAddressUnknown ||
    code === CMS.operationNotAllowed
  );
}

/** `<stat>` of a stored message in PDU mode and its text-mode name (27.005 §3.1). */
export const SMS_STAT = {
  recUnread: 0,
  recRead: 1,
  stoUnsent: 2,
  stoSent: 3,
  all: 4,
} as const;
export type SmsStat = 0 | 1 | 2 | 3;

export const SMS_STAT_TEXT: Readonly<Record<number, string>> = {
  0: 'REC UNREAD',
  1: 'REC READ',
  2: 'STO UNSENT',
  3: 'STO SENT',
  4: 'ALL',
};

/** `<stat>` of `+CREG`/`+CGREG` (27.007 §7.2, §10.1.19). */
export const REG_STAT = {
  notRegistered: 0,
  home: 1,
  searching: 2,
  denied: 3,
  unknown: 4,
  roaming: 5,
} as const;
export type RegStat = 0 | 1 | 2 | 3 | 4 | 5;

export function isRegistered(stat: number): boolean {
  return stat === REG_STAT.home || stat === REG_STAT.roaming;
}

/** `+CSQ: <rssi>,<ber>` (27.007 §8.5): rssi 0-31 (dBm = 2·rssi − 113), 99 = unknown. */
export const RSSI_UNKNOWN = 99;
export const BER_UNKNOWN = 99;

/** `+CNMI` parameters the driver asks for (27.005 §3.4.1): buffer URCs in data mode, `+CMTI`
 *  for stored SMS-DELIVERs, `+CDS` for routed SMS-STATUS-REPORTs. */
export const DRIVER_CNMI = { mode: 2, mt: 1, bm: 0, ds: 1, bfr: 0 } as const;
