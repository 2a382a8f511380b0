/**
 * The simulated GSM network: carriers, each with an SMSC, and the phone numbers (MSISDNs)
 * attached to them. Emulated modems (HSM-Cold's two SIMs, the V-Device, an administrator's
 * phone) attach by MSISDN; numbers nobody attached are the outside world, where deliveries
 * simply land and are recorded.
 *
 * An SMS-SUBMIT handed over by a modem becomes an SMS-DELIVER to its destination carrying the
 * same TP-PID/TP-DCS/TP-UD (3GPP TS 23.040 §9.2.2.1), after a delay drawn per carrier; it may be
 * lost, duplicated or overtaken by a later one (seeded, on the shared clock). A destination
 * that is detached, out of service or full is retried until the validity period ends. When the
 * sender asked for one (TP-SRR), a status report (23.040 §9.2.2.3) follows the final outcome.
 * A carrier outage takes its subscribers out of service and refuses their submissions
 * (`+CMS ERROR: 331`) until it recovers. Each carrier answers USSD requests for a subscriber's
 * balance (which every SMS sent lowers) and own number.
 *
 * The carriers use the test network codes of ITU-T E.212 (MCC 001) and names of their own, so
 * no AT client mistakes them for a real operator.
 * @module
 */
import type { Clock, TimerHandle } from '../../../shared/clock.ts';
import { HsmError } from '../../../shared/errors.ts';
import { CMS } from '../../../shared/gsm/at-codes.ts';
import {
  decodePdu,
  encodeDeliver,
  encodeDeliverRaw,
  encodeStatusReport,
  parsePhoneNumber,
  type ConcatInfo,
  type DecodedSubmit,
  type EncodedPdu,
} from '../../../shared/gsm/pdu.ts';
import { SeededRandom } from '../../../shared/random.ts';

export interface CarrierFaults {
  /** Delivery delay range in ms. Default [500, 3000]. */
  delayMs?: readonly [number, number];
  /** Probability that a message silently disappears. */
  lossRate?: number;
  /** Probability that a message is delivered twice. */
  duplicateRate?: number;
  /** Probability that a message is held back long enough for later ones to overtake it. */
  reorderRate?: number;
}

export interface CarrierSpec extends CarrierFaults {
  /** Short id used everywhere else (`A`, `B`). */
  id: string;
  /** Operator name in long alphanumeric format (`AT+COPS?` with format 0). */
  name: string;
  /** MCC+MNC (`AT+COPS?` with format 2, the IMSI prefix). */
  mccMnc: string;
  /** The carrier's SMSC number (`AT+CSCA?`). */
  smsc: string;
}

export interface SimCard {
  msisdn: string;
  imsi: string;
  iccid: string;
  carrierId: string;
  /** SIM PIN; undefined when the PIN is disabled. */
  pin?: string;
}

export type DeliveryOutcome = 'stored' | 'memory-full' | 'unavailable';

/** A USSD answer (27.007 §7.15 `+CUSD: <m>[,<str>]`): 0 done, 1 further action, 2 ended, 4 not supported. */
export interface UssdAnswer {
  status: 0 | 1 | 2 | 4;
  text?: string;
}

/** The USSD codes every carrier answers. */
export const USSD_CODES = { balance: '*100#', ownNumber: '*#100#' } as const;
/** Credit of a new subscriber, and what one SMS costs, in hundredths. */
const STARTING_CREDIT = 2_500;
const SMS_PRICE = 10;

export interface NetworkEndpoint {
  readonly msisdn: string;
  /** Hands over one SMS-DELIVER (SMSC address + TPDU). */
  deliverSms(pdu: EncodedPdu): DeliveryOutcome;
  /** Hands over one SMS-STATUS-REPORT. */
  deliverStatusReport(pdu: EncodedPdu): DeliveryOutcome;
  /** The carrier's service for this number came or went. */
  serviceChanged?(inService: boolean): void;
}

export interface Submission {
  id: number;
  from: string;
  to: string;
  carrierId: string;
  messageReference: number;
  text: string;
  concat: ConcatInfo | undefined;
  statusReportRequest: boolean;
  at: number;
}

export interface Delivery {
  submissionId: number;
  from: string;
  to: string;
  text: string;
  concat: ConcatInfo | undefined;
  /** SMSC address + TPDU of the SMS-DELIVER. */
  pdu: string;
  at: number;
  /** Delivered to a number no emulated device attached (the outside world). */
  external: boolean;
  duplicate: boolean;
}

export type NetworkEvent =
  | { type: 'submitted'; at: number; submission: Submission }
  | { type: 'refused'; at: number; from: string; to: string; cms: number; reason: string }
  | { type: 'delivered'; at: number; delivery: Delivery }
  | { type: 'lost'; at: number; submissionId: number; to: string }
  | { type: 'duplicated'; at: number; submissionId: number; to: string }
  | { type: 'retrying'; at: number; submissionId: number; to: string; reason: string }
  | { type: 'expired'; at: number; submissionId: number; to: string }
  | { type: 'status-report'; at: number; submissionId: number; to: string; status: number }
  | { type: 'carrier'; at: number; carrierId: string; up: boolean }
  | { type: 'attached'; at: number; msisdn: string; carrierId: string }
  | { type: 'detached'; at: number; msisdn: string };

export interface SimulatedGsmNetworkOptions {
  clock: Clock;
  carriers: readonly CarrierSpec[];
  random?: SeededRandom;
  /** Interval between delivery attempts to an unreachable destination. Default 30 s. */
  retryIntervalMs?: number;
  /** How long the SMSC keeps trying (validity period). Default 24 h. */
  validityMs?: number;
  /** Network time zone, minutes east of UTC, for SCTS and `AT+CCLK?`. Default 0. */
  timeZoneMinutes?: number;
  /**
   * Country code of the home numbering plan (digits, e.g. `86`): a destination dialled without
   * `+` is routed as `+<code><number>`, as a phone's network does for a number dialled at home.
   * Default: none (such a number is the outside world).
   */
  homeCountryCode?: string;
}

/** TP-ST values the network reports (23.040 §9.2.3.15). */
export const TP_STATUS = {
  delivered: 0x00,
  validityExpired: 0x46,
} as const;

interface Carrier {
  spec: CarrierSpec;
  up: boolean;
  faults: CarrierFaults;
}

interface PendingStatusReport {
  submissionId: number;
  to: string;
  pdu: EncodedPdu;
  expiresAt: number;
}

function networkError(code: string, message: string, field: string): HsmError {
  return new HsmError(code, message, { field });
}

function checkRate(value: number | undefined, field: string): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) throw networkError('NETWORK_BAD_ARGUMENT', `${field} must be a probability 0-1`, field);
}

function checkFaults(faults: CarrierFaults): void {
  checkRate(faults.lossRate, 'lossRate');
  checkRate(faults.duplicateRate, 'duplicateRate');
  checkRate(faults.reorderRate, 'reorderRate');
  if (faults.delayMs !== undefined) {
    const [min, max] = faults.delayMs;
    if (!Number.isFinite(min) || !Number.isFinite(max) || min < 0 || max < min) {
      throw networkError('NETWORK_BAD_ARGUMENT', 'delayMs must be [min, max] with 0 <= min <= max', 'delayMs');
    }
  }
}

export class SimulatedGsmNetwork {
  readonly clock: Clock;
  private readonly random: SeededRandom;
  private readonly carriers = new Map<string, Carrier>();
  /** MSISDN → carrier id of every known subscriber. */
  private readonly subscribers = new Map<string, string>();
  private readonly endpoints = new Map<string, NetworkEndpoint>();
  private readonly listeners = new Set<(event: NetworkEvent) => void>();
  private readonly timers = new Set<TimerHandle>();
  private readonly namedTimers = new Map<string, TimerHandle>();
  private readonly pendingReports: PendingStatusReport[] = [];
  private readonly submissionLog: Submission[] = [];
  private readonly deliveryLog: Delivery[] = [];
  /** Credit per MSISDN in hundredths, lowered by each SMS sent. */
  private readonly credits = new Map<string, number>();
  private readonly retryIntervalMs: number;
  private readonly validityMs: number;
  private timeOffsetMs = 0;
  private nextSubmissionId = 1;
  private simSerial = 0;
  readonly timeZoneMinutes: number;
  private readonly homeCountryCode: string | undefined;

  constructor(options: SimulatedGsmNetworkOptions) {
    this.clock = options.clock;
    this.random = options.random ?? new SeededRandom('gsm-network');
    this.retryIntervalMs = options.retryIntervalMs ?? 30_000;
    this.validityMs = options.validityMs ?? 86_400_000;
    this.timeZoneMinutes = options.timeZoneMinutes ?? 0;
    if (options.homeCountryCode !== undefined && !/^[1-9][0-9]{0,2}$/.test(options.homeCountryCode)) {
      throw networkError('NETWORK_BAD_ARGUMENT', 'homeCountryCode must be 1-3 digits without +', 'homeCountryCode');
    }
    this.homeCountryCode = options.homeCountryCode;
    if (options.carriers.length === 0) throw networkError('NETWORK_BAD_ARGUMENT', 'a network needs at least one carrier', 'carriers');
    for (const spec of options.carriers) {
      if (this.carriers.has(spec.id)) throw networkError('NETWORK_BAD_ARGUMENT', `carrier "${spec.id}" is defined twice`, 'carriers');
      if (!/^[0-9]{5,6}$/.test(spec.mccMnc)) throw networkError('NETWORK_BAD_ARGUMENT', `carrier "${spec.id}" needs a 5-6 digit MCC+MNC`, 'mccMnc');
      parsePhoneNumber(spec.smsc, 'smsc');
      checkFaults(spec);
      this.carriers.set(spec.id, { spec, up: true, faults: { ...spec } });
    }
  }

  // -------------------------------------------------------------------------------------------
  // Carriers and subscribers

  carrier(id: string): CarrierSpec {
    return this.requireCarrier(id).spec;
  }

  get carrierIds(): string[] {
    return [...this.carriers.keys()];
  }

  isCarrierUp(id: string): boolean {
    return this.requireCarrier(id).up;
  }

  /** Takes a carrier down (`up: false`) or brings it back; its subscribers follow. */
  setCarrierUp(id: string, up: boolean): void {
    const carrier = this.requireCarrier(id);
    if (carrier.up === up) return;
    carrier.up = up;
    this.emit({ type: 'carrier', at: this.clock.now(), carrierId: id, up });
    for (const [msisdn, endpoint] of this.endpoints) {
      if (this.subscribers.get(msisdn) === id) endpoint.serviceChanged?.(up);
    }
    if (up) this.flushStatusReports();
  }

  setFaults(carrierId: string, faults: CarrierFaults): void {
    checkFaults(faults);
    const carrier = this.requireCarrier(carrierId);
    carrier.faults = { ...carrier.faults, ...faults };
  }

  /** Issues a SIM on `carrierId`: IMSI = MCC+MNC+MSIN, ICCID with its Luhn check digit. */
  issueSim(options: { carrierId: string; msisdn: string; pin?: string; imsi?: string; iccid?: string }): SimCard {
    const carrier = this.requireCarrier(options.carrierId);
    parsePhoneNumber(options.msisdn, 'msisdn');
    if (options.pin !== undefined && !/^[0-9]{4,8}$/.test(options.pin)) throw networkError('NETWORK_BAD_ARGUMENT', 'a SIM PIN is 4-8 digits', 'pin');
    const serial = ++this.simSerial;
    const msin = String(this.random.fork(`imsi/${options.msisdn}`).int(10 ** 9)).padStart(9, '0');
    const imsi = options.imsi ?? `${carrier.spec.mccMnc}${msin}`.slice(0, 15).padEnd(15, '0');
    if (!/^[0-9]{6,15}$/.test(imsi)) throw networkError('NETWORK_BAD_ARGUMENT', 'an IMSI is 6-15 digits', 'imsi');
    // ICCID (ITU-T E.118): 89, the MCC, the MNC, a serial and MSIN digits, then the Luhn digit.
    const iccidBody = `89${carrier.spec.mccMnc.padEnd(6, '0')}${String(serial).padStart(4, '0')}${msin}`.slice(0, 18);
    const iccid = options.iccid ?? `${iccidBody}${luhnDigit(iccidBody)}`;
    if (!/^[0-9]{18,20}$/.test(iccid)) throw networkError('NETWORK_BAD_ARGUMENT', 'an ICCID is 18-20 digits', 'iccid');
    this.subscribers.set(options.msisdn, options.carrierId);
    const sim: SimCard = { msisdn: options.msisdn, imsi, iccid, carrierId: options.carrierId };
    if (options.pin !== undefined) sim.pin = options.pin;
    return sim;
  }

  /**
   * Attaches a device to the network under `msisdn` (a registered modem with that SIM).
   * Returns the function that detaches it again.
   */
  attach(endpoint: NetworkEndpoint, carrierId: string): () => void {
    this.requireCarrier(carrierId);
    parsePhoneNumber(endpoint.msisdn, 'msisdn');
    const known = this.subscribers.get(endpoint.msisdn);
    if (known !== undefined && known !== carrierId) {
      throw networkError('NETWORK_BAD_ARGUMENT', `${endpoint.msisdn} belongs to carrier ${known}, not ${carrierId}`, 'carrierId');
    }
    const current = this.endpoints.get(endpoint.msisdn);
    if (current !== undefined && current !== endpoint) {
      throw networkError('NETWORK_NUMBER_IN_USE', `${endpoint.msisdn} is already attached`, 'msisdn');
    }
    this.subscribers.set(endpoint.msisdn, carrierId);
    this.endpoints.set(endpoint.msisdn, endpoint);
    this.emit({ type: 'attached', at: this.clock.now(), msisdn: endpoint.msisdn, carrierId });
    this.flushStatusReports();
    return () => {
      if (this.endpoints.get(endpoint.msisdn) !== endpoint) return;
      this.endpoints.delete(endpoint.msisdn);
      this.emit({ type: 'detached', at: this.clock.now(), msisdn: endpoint.msisdn });
    };
  }

  /** Whether `msisdn` is attached and its carrier is up. */
  inService(msisdn: string): boolean {
    const carrierId = this.subscribers.get(msisdn);
    return carrierId !== undefined && this.endpoints.has(msisdn) && this.requireCarrier(carrierId).up;
  }

  carrierOf(msisdn: string): string | undefined {
    return this.subscribers.get(msisdn);
  }

  // -------------------------------------------------------------------------------------------
  // Time (network time for SCTS and NITZ / AT+CCLK)

  now(): number {
    return this.clock.now() + this.timeOffsetMs;
  }

  /** Sets the network's time of day (the shared clock itself is not touched). */
  setTime(at: number): void {
    if (!Number.isFinite(at)) throw networkError('NETWORK_BAD_ARGUMENT', 'time must be Unix ms', 'at');
    this.timeOffsetMs = at - this.clock.now();
  }

  // -------------------------------------------------------------------------------------------
  // Traffic

  /**
   * An SMS-SUBMIT from an attached modem. Returns the submission, or the `+CMS ERROR` the
   * modem should report when the network refuses it.
   */
  submit(from: string, messageReference: number, tpdu: DecodedSubmit): { ok: true; submission: Submission } | { ok: false; cms: number } {
    const carrierId = this.subscribers.get(from);
    const dialled = tpdu.destination.number;
    const to = this.homeCountryCode !== undefined && /^[0-9]+$/.test(dialled) && tpdu.destination.kind !== 'international' ? `+${this.homeCountryCode}${dialled}` : dialled;
    if (carrierId === undefined || !this.endpoints.has(from)) return this.refuse(from, to, CMS.noNetworkService, 'sender not attached');
    const carrier = this.requireCarrier(carrierId);
    if (!carrier.up) return this.refuse(from, to, CMS.noNetworkService, `carrier ${carrierId} is down`);
    if (tpdu.destination.kind === 'alphanumeric' || !/^\+?[0-9]{1,20}$/.test(to)) return this.refuse(from, to, CMS.invalidPduParameter, 'bad destination');
    const at = this.now();
    let pdu: EncodedPdu;
    try {
      pdu = encodeDeliverRaw({
        from,
        timestamp: at,
        timeZoneMinutes: this.timeZoneMinutes,
        protocolId: tpdu.protocolId,
        dcs: tpdu.dcs,
        userData: tpdu.userData.raw,
        statusReportIndication: tpdu.statusReportRequest,
        smsc: carrier.spec.smsc,
      });
    } catch (error) {
      return this.refuse(from, to, CMS.networkOutOfOrder, unstampable(error));
    }
    const submission: Submission = {
      id: this.nextSubmissionId++,
      from,
      to,
      carrierId,
      messageReference,
      text: tpdu.userData.text,
      concat: tpdu.userData.concat,
      statusReportRequest: tpdu.statusReportRequest,
      at,
    };
    this.submissionLog.push(submission);
    this.credits.set(from, this.credit(from) - SMS_PRICE);
    this.emit({ type: 'submitted', at: submission.at, submission });
    this.route(submission, pdu, carrier);
    return { ok: true, submission };
  }

  /**
   * An SMS from the outside world (a phone no emulated modem stands for) to `to`; multipart
   * when the text needs it. Returns the submission ids, one per part.
   */
  sendFromOutside(options: { from: string; to: string; text: string; referenceBits?: 8 | 16; concatReference?: number }): number[] {
    parsePhoneNumber(options.from, 'from');
    parsePhoneNumber(options.to, 'to');
    const carrierId = this.subscribers.get(options.to) ?? this.carrierIds[0];
    const carrier = this.requireCarrier(carrierId as string);
    const at = this.now();
    const parts = encodeDeliver({
      from: options.from,
      text: options.text,
      timestamp: at,
      timeZoneMinutes: this.timeZoneMinutes,
      referenceBits: options.referenceBits ?? 8,
      concatReference: options.concatReference ?? this.random.int(options.referenceBits === 16 ? 0x10000 : 0x100),
      maxParts: 16,
      smsc: carrier.spec.smsc,
    });
    return parts.map((pdu) => {
      const decoded = decodePdu(pdu.hex);
      const userData = decoded.type === 'deliver' ? decoded.userData : undefined;
      const submission: Submission = {
        id: this.nextSubmissionId++,
        from: options.from,
        to: options.to,
        carrierId: carrier.spec.id,
        messageReference: 0,
        text: userData?.text ?? '',
        concat: userData?.concat,
        statusReportRequest: false,
        at,
      };
      this.submissionLog.push(submission);
      this.emit({ type: 'submitted', at, submission });
      this.route(submission, pdu, carrier);
      return submission.id;
    });
  }

  /** A USSD request from `msisdn` (27.007 §7.15), answered by its carrier. */
  ussd(msisdn: string, request: string): UssdAnswer {
    const carrierId = this.subscribers.get(msisdn);
    if (carrierId === undefined || !this.inService(msisdn)) return { status: 4 };
    const name = this.requireCarrier(carrierId).spec.name;
    if (request === USSD_CODES.balance) return { status: 0, text: `${name}: balance ${(this.credit(msisdn) / 100).toFixed(2)}` };
    if (request === USSD_CODES.ownNumber) return { status: 0, text: `${name}: your number is ${msisdn}` };
    return { status: 4 };
  }

  private credit(msisdn: string): number {
    return this.credits.get(msisdn) ?? STARTING_CREDIT;
  }

  submissions(filter: { from?: string; to?: string } = {}): Submission[] {
    return this.submissionLog.filter((s) => (filter.from === undefined || s.from === filter.from) && (filter.to === undefined || s.to === filter.to));
  }

  deliveries(filter: { from?: string; to?: string } = {}): Delivery[] {
    return this.deliveryLog.filter((d) => (filter.from === undefined || d.from === filter.from) && (filter.to === undefined || d.to === filter.to));
  }

  onEvent(listener: (event: NetworkEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Cancels every pending delivery and retry (end of a test or of the rig). */
  stop(): void {
    for (const handle of this.timers) this.clock.clearTimeout(handle);
    this.timers.clear();
    this.pendingReports.length = 0;
  }

  // -------------------------------------------------------------------------------------------
  // Routing

  private route(submission: Submission, pdu: EncodedPdu, carrier: Carrier): void {
    const faults = carrier.faults;
    const [min, max] = faults.delayMs ?? [500, 3_000];
    const delay = (): number => min + this.random.float() * (max - min);
    if (faults.lossRate !== undefined && this.random.chance(faults.lossRate)) {
      this.emit({ type: 'lost', at: this.now(), submissionId: submission.id, to: submission.to });
      return;
    }
    let first = delay();
    if (faults.reorderRate !== undefined && this.random.chance(faults.reorderRate)) first += max + this.random.float() * (max - min + 1_000);
    const expiresAt = this.clock.monotonic() + this.validityMs;
    this.schedule(first, () => this.attempt(submission, pdu, expiresAt, false));
    if (faults.duplicateRate !== undefined && this.random.chance(faults.duplicateRate)) {
      this.emit({ type: 'duplicated', at: this.now(), submissionId: submission.id, to: submission.to });
      this.schedule(first + delay(), () => this.attempt(submission, pdu, expiresAt, true));
    }
  }

  private attempt(submission: Submission, pdu: EncodedPdu, expiresAt: number, duplicate: boolean): void {
    const to = submission.to;
    const endpoint = this.endpoints.get(to);
    const known = this.subscribers.has(to);
    let outcome: DeliveryOutcome;
    if (!known) outcome = 'stored';
    else if (endpoint === undefined || !this.inService(to)) outcome = 'unavailable';
    else outcome = endpoint.deliverSms(pdu);

    if (outcome === 'stored') {
      const delivery: Delivery = {
        submissionId: submission.id,
        from: submission.from,
        to,
        text: submission.text,
        concat: submission.concat,
        pdu: pdu.hex,
        at: this.now(),
        external: !known,
        duplicate,
      };
      this.deliveryLog.push(delivery);
      this.emit({ type: 'delivered', at: delivery.at, delivery });
      if (!duplicate) this.reportStatus(submission, TP_STATUS.delivered);
      return;
    }
    if (this.clock.monotonic() + this.retryIntervalMs > expiresAt) {
      this.emit({ type: 'expired', at: this.now(), submissionId: submission.id, to });
      if (!duplicate) this.reportStatus(submission, TP_STATUS.validityExpired);
      return;
    }
    this.emit({ type: 'retrying', at: this.now(), submissionId: submission.id, to, reason: outcome });
    this.schedule(this.retryIntervalMs, () => this.attempt(submission, pdu, expiresAt, duplicate));
  }

  private reportStatus(submission: Submission, status: number): void {
    if (!submission.statusReportRequest) return;
    const carrier = this.requireCarrier(submission.carrierId);
    let pdu: EncodedPdu;
    try {
      pdu = encodeStatusReport({
        messageReference: submission.messageReference,
        recipient: submission.to,
        timestamp: submission.at,
        discharge: this.now(),
        timeZoneMinutes: this.timeZoneMinutes,
        status,
        smsc: carrier.spec.smsc,
      });
    } catch (error) {
      this.refuse(carrier.spec.smsc, submission.from, CMS.networkOutOfOrder, `status report: ${unstampable(error)}`);
      return;
    }
    this.pendingReports.push({ submissionId: submission.id, to: submission.from, pdu, expiresAt: this.clock.monotonic() + this.validityMs });
    this.emit({ type: 'status-report', at: this.now(), submissionId: submission.id, to: submission.from, status });
    this.flushStatusReports();
  }

  private flushStatusReports(): void {
    for (let i = 0; i < this.pendingReports.length; i++) {
      const report = this.pendingReports[i] as PendingStatusReport;
      const endpoint = this.endpoints.get(report.to);
      const expired = this.clock.monotonic() > report.expiresAt;
      if (!expired && (endpoint === undefined || !this.inService(report.to))) continue;
      if (!expired && endpoint?.deliverStatusReport(report.pdu) !== 'stored') continue;
      this.pendingReports.splice(i--, 1);
    }
    if (this.pendingReports.length > 0) this.schedule(this.retryIntervalMs, () => this.flushStatusReports(), 'status-reports');
  }

  private schedule(ms: number, fn: () => void, name?: string): void {
    if (name !== undefined && this.namedTimers.has(name)) return;
    const handle = this.clock.setTimeout(() => {
      this.timers.delete(handle);
      if (name !== undefined) this.namedTimers.delete(name);
      fn();
    }, ms);
    this.timers.add(handle);
    if (name !== undefined) this.namedTimers.set(name, handle);
  }

  private refuse(from: string, to: string, cms: number, reason: string): { ok: false; cms: number } {
    this.emit({ type: 'refused', at: this.now(), from, to, cms, reason });
    return { ok: false, cms };
  }

  private requireCarrier(id: string): Carrier {
    const carrier = this.carriers.get(id);
    if (carrier === undefined) throw networkError('NETWORK_UNKNOWN_CARRIER', `no carrier "${id}"`, 'carrierId');
    return carrier;
  }

  private emit(event: NetworkEvent): void {
    for (const listener of [...this.listeners]) listener(event);
  }
}

/** Why a PDU could not be built: the SMSC's clock is past what SMS time stamps cover (2000-2089). */
function unstampable(error: unknown): string {
  return `the SMSC cannot time-stamp the message (${(error as Error).message})`;
}

/** Luhn check digit, as ICCIDs (ITU-T E.118) and IMEIs (3GPP TS 23.003 §6.2.1) end with. */
export function luhnDigit(body: string): number {
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    let digit = Number(body[body.length - 1 - i]);
    if (i % 2 === 0) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return (10 - (sum % 10)) % 10;
}

/**
 * Two carriers with distinct SMSCs, MCC+MNCs and names: the default world of the rig. The
 * MCC+MNCs are the E.212 test network codes 001 01 and 001 02, the SMSC numbers are in the
 * NANP range kept for fiction (555-01xx).
 */
export function defaultCarriers(): CarrierSpec[] {
  return [
    { id: 'A', name: 'Carrier A', mccMnc: '00101', smsc: '+12025550100' },
    { id: 'B', name: 'Carrier B', mccMnc: '00102', smsc: '+12025550101' },
  ];
}
