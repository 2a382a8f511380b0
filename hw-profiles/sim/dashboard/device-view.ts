/**
 * What the dashboard shows of one HSM, read where the device runs: in the rig's process
 * (InProcessDevices) or in its own process (device-process.ts answers the rig's `view`
 * request with it). Plain JSON, read-only, nothing secret: the machine state, uptime, boot
 * epoch, vault and store, the device clock and (HSM-Cold) its time trust, the serial link's
 * statistics, HSM-Cold's modems, channels, approvals and refusals, and the audit log's tail
 * with the chain's verification.
 * @module
 */
import { stateText } from '../../../shared/console/device-views.ts';
import { linkEpochCollection } from '../../../shared/link/epoch.ts';
import type { LinkStatus } from '../../../shared/link/endpoint.ts';
import { auditHead, auditTail, verifyAudit, type AuditEntry, type AuditReport } from '../../../shared/store/audit.ts';
import { STORE_FORMAT, type DeviceStore } from '../../../shared/store/store.ts';
import { recentApprovals, recentRefusals } from '../../../hsm-cold/console-views.ts';
import { COLD_APP, COLD_SCHEMA_VERSION, type ColdDevice } from '../../../hsm-cold/main.ts';
import { HOT_APP, HOT_SCHEMA_VERSION, type HsmHot } from '../../../hsm-hot/main.ts';
import { pendingRequestsCollection, requestsCollection } from '../../../hsm-hot/requests.ts';
import type { Clock } from '../../../shared/clock.ts';

/** Audit entries shown per device. */
export const AUDIT_TAIL = 12;
/** Channels, approvals and refusals shown. */
const RECENT = 20;

export interface AuditView {
  head: { seq: number; hash: string };
  tail: AuditEntry[];
  /** The whole chain checked (shared/store/audit.ts), up to `verification.lastSeq`. */
  verification: Pick<AuditReport, 'ok' | 'entries' | 'lastSeq' | 'checkpoints' | 'lastCheckpointSeq' | 'uncoveredEntries' | 'firstBadSeq'> & {
    problems: AuditReport['problems'];
  };
}

export interface DeviceView {
  device: typeof HOT_APP | typeof COLD_APP;
  /** Top-level machine state: `running`, `locked`, `provisioning`... */
  state: string;
  /** The machine state in full (xstate value) and as the console writes it. */
  machine: unknown;
  stateText: string;
  uptimeMs: number;
  bootEpoch: number | null;
  /** The device's own clock (ISO). */
  clock: string;
  vault: { state: string; attemptsLeft?: number } | null;
  store: { format: number; schema: number };
  /** HSM-Cold: whether it trusts its clock (modem network time, HSM-Hot's clock); HSM-Hot: null. */
  timeTrust: { trusted: boolean; reason?: string; samples: Array<{ source: string; offsetMs: number; ageMs: number }> } | null;
  lastError: { code: string; message: string } | null;
  link: LinkStatus | null;
  audit: AuditView | null;
  /** HSM-Hot: its requests. */
  requests?: { pending: number; total: number };
  /** HSM-Cold: modems, outbound queue, channels, approvals, refusals, the rotation window. */
  modems?: unknown[];
  outbox?: { queued: number; sending: number; failed: number };
  channels?: Array<{ cId: number; hId: number; status: string; createdAt: number; openedAt?: number; expiresAt?: number; closedAt?: number; closeReason?: string; retiredAt?: number }>;
  window?: { open: boolean; reason: string } | null;
  approvals?: Array<{ userTxNo: string; kind: string; amount: string; cId: number; approvedAt: number }>;
  refusals?: Array<{ userTxNo: string; code: string; message: string; cId: number; at: number }>;
}

/**
 * The last verification per store, redone when the chain's head moved but at most every few
 * seconds (real time): a long-lived world's chain is long, and the page asks every second.
 */
const verified = new WeakMap<DeviceStore, { hash: string; at: number; report: AuditReport }>();
const VERIFY_EVERY_MS = 5_000;

function auditView(store: DeviceStore, app: string, identity: string | undefined): AuditView {
  const head = auditHead(store);
  let cached = verified.get(store);
  if (cached === undefined || (cached.hash !== head.hash && performance.now() - cached.at >= VERIFY_EVERY_MS)) {
    cached = { hash: head.hash, at: performance.now(), report: verifyAudit(store, app, identity) };
    verified.set(store, cached);
  }
  const { ok, entries, lastSeq, checkpoints, lastCheckpointSeq, uncoveredEntries, firstBadSeq, problems } = cached.report;
  return { head, tail: auditTail(store, AUDIT_TAIL), verification: { ok, entries, lastSeq, checkpoints, lastCheckpointSeq, uncoveredEntries, firstBadSeq, problems: problems.slice(0, 5) } };
}

function topState(value: unknown): string {
  return typeof value === 'string' ? value : (Object.keys(value as object)[0] ?? 'unknown');
}

/** What both devices show alike: machine state, uptime, boot epoch, clock, store format. */
function machineView(device: DeviceView['device'], machine: unknown, uptimeMs: number, store: DeviceStore | undefined, schema: number, clock: Clock) {
  return {
    device,
    state: topState(machine),
    machine,
    stateText: stateText(machine),
    uptimeMs,
    bootEpoch: store?.get(linkEpochCollection, 'boot')?.epoch ?? null,
    clock: new Date(clock.now()).toISOString(),
    store: { format: STORE_FORMAT, schema },
  };
}

export function hotView(hot: HsmHot, clock: Clock): DeviceView {
  let store: DeviceStore | undefined;
  try {
    store = hot.store;
  } catch {
    store = undefined; // not open yet
  }
  const error = hot.error;
  const vault = hot.vaultState;
  return {
    ...machineView(HOT_APP, hot.machineState, hot.uptimeMs(), store, HOT_SCHEMA_VERSION, clock),
    vault: vault === undefined ? null : { state: vault.state, attemptsLeft: vault.attemptsLeft },
    timeTrust: null,
    lastError: error === null ? null : { code: error.code, message: error.message },
    link: hot.link?.status() ?? null,
    audit: store === undefined ? null : auditView(store, HOT_APP, hot.identity),
    requests: store === undefined ? { pending: 0, total: 0 } : { pending: store.count(pendingRequestsCollection), total: store.count(requestsCollection) },
  };
}

export function coldView(cold: ColdDevice, clock: Clock): DeviceView {
  const status = cold.status();
  return {
    ...machineView(COLD_APP, status.state, cold.uptimeMs(), cold.store, COLD_SCHEMA_VERSION, clock),
    vault: { state: cold.vault.state },
    timeTrust: status.time ?? null,
    lastError: status.lastError ?? null,
    link: status.link ?? null,
    audit: auditView(cold.store, COLD_APP, undefined),
    modems: status.modems,
    outbox: status.outbox,
    channels: cold.recentChannels(RECENT).map(({ cId, hId, status: s, createdAt, openedAt, expiresAt, closedAt, closeReason, retiredAt }) => ({
      cId,
      hId,
      status: s,
      createdAt,
      ...(openedAt === undefined ? {} : { openedAt }),
      ...(expiresAt === undefined ? {} : { expiresAt }),
      ...(closedAt === undefined ? {} : { closedAt }),
      ...(closeReason === undefined ? {} : { closeReason }),
      ...(retiredAt === undefined ? {} : { retiredAt }),
    })),
    window: status.window ?? null,
    approvals: recentApprovals(cold.store, RECENT).map(({ userTxNo, kind, amount, cId, approvedAt }) => ({ userTxNo, kind, amount, cId, approvedAt })),
    refusals: recentRefusals(cold.store, RECENT),
  };
}
