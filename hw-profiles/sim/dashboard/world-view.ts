/**
 * The dashboard's picture of the whole simulated world, read from the rig's own objects (the
 * devices through `RigDevices.view`, the GSM network, vweb, the platform's ledger, the chain,
 * the event stream) and never written to: `GET /dashboard/view` on the control server.
 *
 *   worldTime, timeScale, processes, stopping
 *   devices     both DeviceViews (device-view.ts) and `states`, exactly what /status shows
 *   link        the injected noise; whether `kill` is available (--processes)
 *   gsm         carriers (up, SMS loss), HSM-Cold's SIMs (number, carrier, plugged), modems
 *   channel     current / previous / pending channels, the rotation window on a 24-hour
 *               ring in the world's time zone, the next window and the next rotation
 *   withdrawals one row per request: queued → V-Device → platform → approved (HSM-Cold) →
 *               signed (HSM-Hot) → broadcast → confirmed, or the refusal and who refused
 *   batches     the address batches vweb handed the V-Device to check
 * @module
 */
import type { Clock } from '../../../shared/clock.ts';
import { localMinuteOfDay, nextDailyOccurrence, parseTimeOfDay, type TimeOfDay } from '../../../shared/time-zone.ts';
import type { RigDevices } from '../devices.ts';
import type { EventBus, WorldEvent } from '../events.ts';
import type { SimulatedGsmNetwork } from '../gsm/network.ts';
import type { SimulatedChain } from '../host/chain.ts';
import type { GatewayLedger } from '../host/gateway-ledger.ts';
import type { Vweb } from '../host/vweb.ts';
import type { VDevice } from '../phone/v-device.ts';
import type { DeviceView } from './device-view.ts';

/** What the dashboard reads; the rig passes itself (rig.ts). */
export interface DashboardWorld {
  readonly clock: Clock;
  readonly events: EventBus;
  readonly devices: RigDevices;
  readonly network: SimulatedGsmNetwork;
  readonly vweb: Vweb;
  readonly ledger: GatewayLedger;
  readonly chain: SimulatedChain;
  readonly vDevice: VDevice | undefined;
  readonly timeScale: number | 'manual';
  readonly processes: boolean;
  /** HSM-Cold's SIMs, the V-Device's and the administrator's numbers. */
  readonly numbers: { coldSim1: string; coldSim2: string; vDevice: string; admin: string };
  readonly sims: ReadonlyArray<{ sim: 1 | 2; msisdn: string; carrierId: string }>;
  readonly rotation: { from: string; to: string; vDeviceAt: string; timeZone: string };
}

export type WithdrawalStage = 'queued' | 'handedOut' | 'requested' | 'approved' | 'signed' | 'broadcast' | 'confirmed' | 'reported';

export interface WithdrawalRow {
  userTxNo: string;
  vtestId: number | null;
  outs: string;
  /** Total paid out (smallest unit), when `outs` parses as payments. */
  total: string | null;
  dynamic: boolean | null;
  /** The furthest stage reached, or `refused`. */
  status: WithdrawalStage | 'refused';
  /** World time (ISO) each stage was reached; empty when reached at a time no longer known. */
  stages: Partial<Record<WithdrawalStage, string>>;
  cId: number | null;
  txHash: string | null;
  confirmations: number;
  refusal: { by: string; code: string; message: string } | null;
}

/** Faults the control server injected, as the dashboard's switches show them. */
interface FaultState {
  linkNoise: number;
  smsLoss: Record<string, number>;
  unplugged: Set<1 | 2>;
}

const STAGE_ORDER: readonly WithdrawalStage[] = ['queued', 'handedOut', 'requested', 'approved', 'signed', 'broadcast', 'confirmed'];

function iso(ms: number | null | undefined): string | undefined {
  return ms === null || ms === undefined ? undefined : new Date(ms).toISOString();
}

function minutes(t: TimeOfDay): number {
  return t.hour * 60 + t.minute;
}

function sumOuts(outs: string): string | null {
  let total = 0n;
  for (const entry of outs.split(';')) {
    const value = entry.split(',')[1] ?? '';
    if (!/^[1-9][0-9]{0,19}$/.test(value)) return null;
    total += BigInt(value);
  }
  return total.toString();
}

export class DashboardView {
  private readonly faults: FaultState = { linkNoise: 0, smsLoss: {}, unplugged: new Set() };
  private stopping = false;

  constructor(private readonly world: DashboardWorld) {
    for (const event of world.events.since(0)) this.note(event);
    world.events.subscribe((event) => this.note(event));
  }

  /** The whole picture, as `GET /dashboard/view` serves it. */
  async snapshot(): Promise<Record<string, unknown>> {
    const { world } = this;
    const [hot, cold] = await Promise.all([world.devices.view('hot'), world.devices.view('cold')]);
    const now = world.clock.now();
    return {
      worldTime: new Date(now).toISOString(),
      timeScale: world.timeScale,
      processes: world.processes,
      stopping: this.stopping,
      lastEventSeq: world.events.lastSeq,
      devices: { hot, cold, states: world.devices.states() },
      link: { noise: this.faults.linkNoise, killable: world.devices.kill !== undefined },
      gsm: this.gsm(cold),
      channel: this.channel(cold, now),
      withdrawals: this.withdrawals(cold),
      batches: world.vweb.batches.map((b) => ({ batchNo: b.batchNo, wallet: b.addressType === 1 ? 'hot' : 'cold', state: b.state, addresses: b.addresses.length })),
      chain: { height: world.chain.tipHeight },
    };
  }

  private note(event: WorldEvent): void {
    if (event.type === 'rig.stopping') this.stopping = true;
    if (event.type !== 'fault.injected') return;
    if (event.fault === 'link-noise') this.faults.linkNoise = Number(event.bitFlipRate);
    if (event.fault === 'sms-loss') this.faults.smsLoss[String(event.carrier)] = Number(event.lossRate);
    if (event.fault === 'modem') {
      const sim = event.sim === 2 ? 2 : 1;
      if (event.plugged === true) this.faults.unplugged.delete(sim);
      else this.faults.unplugged.add(sim);
    }
  }

  private gsm(cold: DeviceView | null): Record<string, unknown> {
    const { network, numbers, sims } = this.world;
    return {
      carriers: network.carrierIds.map((id) => ({ id, up: network.isCarrierUp(id), smsLoss: this.faults.smsLoss[id] ?? 0 })),
      sims: sims.map((s) => ({ ...s, plugged: !this.faults.unplugged.has(s.sim) })),
      modems: cold?.modems ?? [],
      outbox: cold?.outbox ?? null,
      numbers,
    };
  }

  private channel(cold: DeviceView | null, now: number): Record<string, unknown> {
    const { rotation } = this.world;
    const from = parseTimeOfDay(rotation.from);
    const to = parseTimeOfDay(rotation.to);
    const vDeviceAt = parseTimeOfDay(rotation.vDeviceAt);
    const channels = cold?.channels ?? [];
    const current = channels.find((c) => c.status === 'open') ?? null;
    const pending = channels.find((c) => c.status === 'pending') ?? null;
    const previous = channels.find((c) => c !== current && c !== pending) ?? null;
    return {
      current,
      previous,
      pending,
      recent: channels,
      window: cold?.window ?? null,
      vDeviceChannel: this.world.vDevice?.currentChannel()?.cId ?? null,
      ring: {
        timeZone: rotation.timeZone,
        now: localMinuteOfDay(now, rotation.timeZone),
        from: minutes(from),
        to: minutes(to),
        vDeviceAt: minutes(vDeviceAt),
      },
      rotation,
      nextWindow: iso(nextDailyOccurrence(now, from, rotation.timeZone)),
      nextRotation: iso(nextDailyOccurrence(now, vDeviceAt, rotation.timeZone)),
    };
  }

  /** vweb's withdrawals, and requests the platform saw from elsewhere (a test's, a forger's). */
  private withdrawals(cold: DeviceView | null): WithdrawalRow[] {
    const { vweb } = this.world;
    const events = new Map<string, WorldEvent[]>();
    for (const event of this.world.events.since(0)) {
      const id = event.userTxNo ?? (event.type.startsWith('v-device.withdrawal') || event.type.startsWith('vweb.withdrawal') ? event.vtestId : undefined);
      if (id === undefined || id === null) continue;
      const key = String(id);
      events.set(key, [...(events.get(key) ?? []), event]);
    }
    const rows = vweb.withdrawals.map((w) =>
      this.row(String(w.vtestId), { vtestId: w.vtestId, outs: w.payload.outs, dynamic: w.payload.dynamic === 1, queuedAt: w.queuedAt, handedOutAt: w.handedOutAt, reportedAt: w.reportedAt, failed: w.state === 'failed' }, events, cold),
    );
    const fromVweb = new Set(rows.map((r) => r.userTxNo));
    for (const [userTxNo, list] of events) {
      if (fromVweb.has(userTxNo) || !list.some((e) => e.type === 'gateway.request' || e.type === 'gateway.refused')) continue;
      const request = list.find((e) => e.type === 'gateway.request');
      rows.push(this.row(userTxNo, { vtestId: null, outs: String(request?.outs ?? ''), dynamic: null, queuedAt: undefined, handedOutAt: undefined, reportedAt: undefined, failed: false }, events, cold));
    }
    return rows;
  }

  private row(
    userTxNo: string,
    source: { vtestId: number | null; outs: string; dynamic: boolean | null; queuedAt: number | undefined; handedOutAt: number | undefined; reportedAt: number | undefined; failed: boolean },
    events: Map<string, WorldEvent[]>,
    cold: DeviceView | null,
  ): WithdrawalRow {
    const list = events.get(userTxNo) ?? [];
    const at = (type: string): string | undefined => list.find((e) => e.type === type)?.at;
    const record = this.world.ledger.get(userTxNo);
    const approval = cold?.approvals?.find((a) => a.userTxNo === userTxNo);
    const txHash = record?.txHash ?? (list.find((e) => e.type === 'hot.signed')?.txHash as string | undefined) ?? null;
    const tx = txHash === null ? undefined : this.world.chain.transaction(txHash);
    const confirmations = tx === undefined ? 0 : this.world.chain.confirmations(tx);
    const stages: WithdrawalRow['stages'] = {
      queued: iso(source.queuedAt),
      handedOut: iso(source.handedOutAt),
      requested: at('gateway.request') ?? iso(record?.createdAt),
      approved: iso(approval?.approvedAt),
      signed: at('hot.signed') ?? (record !== undefined && ['signed', 'done'].includes(record.state) ? '' : undefined),
      broadcast: at('chain.broadcast') ?? iso(tx?.seenAt),
      confirmed: confirmations > 0 ? iso(tx?.confirmedAt ?? null) : undefined,
      reported: iso(source.reportedAt),
    };
    for (const key of Object.keys(stages) as WithdrawalStage[]) if (stages[key] === undefined) delete stages[key];
    const refusal = this.refusal(userTxNo, list, record?.reason, cold, source.failed);
    const reached = [...STAGE_ORDER].reverse().find((s) => stages[s] !== undefined) ?? 'queued';
    return {
      userTxNo,
      vtestId: source.vtestId,
      outs: source.outs,
      total: sumOuts(source.outs),
      dynamic: source.dynamic,
      status: refusal === null ? reached : 'refused',
      stages,
      cId: record?.form.c_id ?? approval?.cId ?? null,
      txHash,
      confirmations,
      refusal,
    };
  }

  /** Who refused a request and why: HSM-Cold's record first, then HSM-Hot, the platform, the chain, the V-Device. */
  private refusal(userTxNo: string, list: WorldEvent[], reason: { code: string; message: string } | undefined, cold: DeviceView | null, failedOnVweb: boolean): WithdrawalRow['refusal'] {
    const byCold = cold?.refusals?.find((r) => r.userTxNo === userTxNo);
    if (byCold !== undefined) return { by: 'HSM-Cold', code: byCold.code, message: byCold.message };
    if (reason !== undefined) return { by: list.some((e) => e.type === 'chain.refused') ? 'chain' : 'HSM-Hot', code: reason.code, message: reason.message };
    const gateway = list.find((e) => e.type === 'gateway.refused');
    if (gateway !== undefined) return { by: 'platform', code: String(gateway.code), message: `the platform refused the request (${String(gateway.code)})` };
    const done = list.find((e) => e.type === 'v-device.withdrawal.done' && e.txHash === null);
    if (done !== undefined || failedOnVweb) {
      const why = typeof done?.reason === 'string' ? done.reason : 'the V-Device reported the withdrawal failed';
      return { by: 'V-Device', code: 'FAILED', message: why };
    }
    return null;
  }
}
