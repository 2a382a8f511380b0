/**
 * The demo story (`hsm demo` = `npm run demo`): the simulated system doing, step by step,
 * what it exists for, with the V-Device behaving as the released app does. Each step checks its
 * outcome and the story stops at the first one that fails. Runs in manual world time (as fast
 * as the machine allows) unless told otherwise.
 *
 *   1 rig up                     both HSMs provisioned and paired, the world ready
 *   2 channel                    the app's user presses Create: the SMS channel opens
 *   3 address batches            cold batch 0 and hot batch 0 verified by the V-Device
 *   4 withdrawal                 queued on vweb, approved, signed, broadcast, confirmed
 *   5 PING                       the administrator's CC:PING, answered "ping is ok"
 *   6 nightly rotation           the app's 03:00 UTC+8 alarm: a new channel; a withdrawal on it
 *   7 forged vc_code             the channel closes, the administrator is alerted, the next
 *                                withdrawal fails; a new channel request, though inside the
 *                                nightly window, is refused until the operator opens the window
 *                                at HSM-Cold's console (2FA); the app's Create then succeeds
 *   8 carrier A outage           what it does to the app: withdrawals go on (no SMS needed),
 *                                the app's SMS to SIM1 wait in the network until A is back
 *   9 clean shutdown             everything stops; both devices' audit logs verify
 * @module
 */
import { APP_TEXTS } from '../../shared/chaincloud/sms.ts';
import { signMessage } from '../../shared/crypto/message-signature.ts';
import { requestString } from '../../shared/crypto/request-string.ts';
import { HsmError } from '../../shared/errors.ts';
import { SeededRandom } from '../../shared/random.ts';
import { verifyAudit } from '../../shared/store/audit.ts';
import { DeviceStore } from '../../shared/store/store.ts';
import { nextDailyOccurrence, parseTimeOfDay } from '../../shared/time-zone.ts';
import { Rig, type RigOptions } from '../../hw-profiles/sim/rig.ts';
import { APP_CHANNEL_ALARM } from '../../hw-profiles/sim/phone/v-device.ts';
import { ConsoleOperator } from './console-operator.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Two outside addresses the withdrawals pay (the seed's vtest_info example). */
const PAYEES = ['1NbbvxBYxGGCBhaM8mow1HFWA7dB5yukmY', '1MCs9SZwLg9JvLo6pzvVBWtmSV1dakwyM1'] as const;

export interface StepResult {
  step: number;
  name: string;
  ok: boolean;
  /** World time when the step ended. */
  worldTime: string;
  realMs: number;
  details: Record<string, unknown>;
  error?: string;
}

export interface DemoSummary {
  ok: boolean;
  seed: string;
  processes: boolean;
  steps: StepResult[];
  realMs: number;
}

export interface DemoOptions extends Pick<RigOptions, 'processes' | 'kdf' | 'log' | 'stateDir'> {
  seed?: string;
  /** World start (Unix ms). Default: 2026-03-10 15:00 Shanghai time. */
  start?: number;
  progress?: (line: string) => void;
}

type Step = { name: string; run: (rig: Rig) => Promise<Record<string, unknown>> };

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new HsmError('DEMO_CHECK', message);
}

async function api<T>(rig: Rig, path: string, init: { method?: string; form?: Record<string, string> } = {}): Promise<{ status: number; body: T }> {
  const response = await fetch(`${rig.ready.api.url}${path}`, {
    method: init.method ?? 'GET',
    headers: { token: rig.ready.api.tokens.hotSending.token, ...(init.form === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }) },
    ...(init.form === undefined ? {} : { body: new URLSearchParams(init.form).toString() }),
  });
  return { status: response.status, body: (await response.json()) as T };
}

/** Queues a withdrawal on vweb and waits until the V-Device reports it. */
async function withdraw(rig: Rig, outs: string): Promise<{ vtestId: number; state: string; txHash: string | undefined }> {
  const vtestId = rig.vweb.queueWithdrawal({ outs, dynamic: 1 });
  await rig.waitFor(() => ['done', 'failed'].includes(rig.vweb.withdrawal(vtestId)?.state ?? ''), `withdrawal ${vtestId} to be reported to vweb`, 3_600_000);
  const w = rig.vweb.withdrawal(vtestId);
  return { vtestId, state: w?.state ?? 'unknown', txHash: w?.txHash };
}

function vDeviceChannel(rig: Rig): number | undefined {
  return rig.vDevice?.currentChannel()?.cId;
}

/** World time of the app's next daily channel alarm (03:00 UTC+8). */
function nextRotation(rig: Rig): number {
  return nextDailyOccurrence(rig.clock.now(), parseTimeOfDay(APP_CHANNEL_ALARM.at), APP_CHANNEL_ALARM.timeZone);
}

async function rotate(rig: Rig, before: number | undefined): Promise<number> {
  await rig.clock.advanceTo(nextRotation(rig));
  await rig.waitFor(() => (vDeviceChannel(rig) ?? 0) > (before ?? 0) && rig.events.find((e) => e.type === 'cold.channel.opened' && e.cId === vDeviceChannel(rig)) !== undefined, 'the new channel', 1_800_000);
  return vDeviceChannel(rig) as number;
}

const STEPS: Step[] = [
  {
    name: 'channel established over SMS',
    async run(rig) {
      await rig.waitFor(() => vDeviceChannel(rig) !== undefined && rig.events.find((e) => e.type === 'cold.channel.opened') !== undefined, 'the first channel', 1_800_000);
      const sms = rig.events.since(0).filter((e) => e.type === 'sms.delivered').map((e) => e.kind);
      check(sms.includes('channel-request') && sms.includes('channel-reply') && sms.includes('channel-ok'), `the channel SMS exchange is incomplete: ${sms.join(', ')}`);
      return { cId: vDeviceChannel(rig), sms: ['CC:QH', 'CC:QC', 'CC:CHANNEL_OK'] };
    },
  },
  {
    name: 'cold batch 0 and hot batch 0 verified by the V-Device',
    async run(rig) {
      await rig.waitFor(() => rig.vweb.batches.length >= 2 && rig.vweb.batches.every((b) => b.state === 'passed' || b.state === 'failed'), 'the batch checks', 1_800_000);
      const batches = rig.vweb.batches.map((b) => ({ batchNo: b.batchNo, wallet: b.addressType === 1 ? 'hot' : 'cold', state: b.state, addresses: b.addresses.length }));
      check(batches.every((b) => b.state === 'passed' && b.addresses === 1000), `not every batch passed: ${JSON.stringify(batches)}`);
      return { batches };
    },
  },
  {
    name: 'a withdrawal is approved, signed, broadcast and confirmed',
    async run(rig) {
      const result = await withdraw(rig, `${PAYEES[0]},10000;${PAYEES[1]},20000`);
      check(result.state === 'done' && result.txHash !== undefined, `withdrawal ${result.vtestId} ended ${result.state}`);
      const txHash = result.txHash as string;
      await rig.waitFor(() => rig.chain.confirmations(rig.chain.transaction(txHash) as NonNullable<ReturnType<Rig['chain']['transaction']>>) >= 1, 'a confirmation', 1_800_000);
      const detail = await api<{ hot_wallet_tx_status: number; tx_hash: string; c_id: number }>(rig, `/tx/${result.vtestId}`);
      check(detail.status === 200 && detail.body.hot_wallet_tx_status === 1 && detail.body.tx_hash === txHash, `GET tx/${result.vtestId} says ${JSON.stringify(detail.body)}`);
      const onChain = await api<{ confirmation: number; value: number }>(rig, `/tx/detail/${txHash}`);
      check(onChain.status === 200 && onChain.body.confirmation >= 1, `GET tx/detail says ${JSON.stringify(onChain.body)}`);
      return { userTxNo: String(result.vtestId), txHash, cId: detail.body.c_id, confirmations: onChain.body.confirmation, walletDelta: onChain.body.value };
    },
  },
  {
    name: "the administrator's PING is answered",
    async run(rig) {
      const from = rig.network.deliveries({ to: rig.ready.numbers.admin }).length;
      rig.network.sendFromOutside({ from: rig.ready.numbers.admin, to: rig.ready.numbers.vDevice, text: 'CC:PING' });
      await rig.waitFor(() => rig.network.deliveries({ to: rig.ready.numbers.admin }).length > from, 'the PING answer', 1_800_000);
      const answer = rig.network.deliveries({ to: rig.ready.numbers.admin }).slice(from)[0]?.text;
      check(answer === APP_TEXTS.pingOk, `the V-Device answered ${answer}`);
      return { answer };
    },
  },
  {
    name: 'nightly rotation; a withdrawal on the new channel',
    async run(rig) {
      const before = vDeviceChannel(rig);
      const cId = await rotate(rig, before);
      check(rig.events.find((e) => e.type === 'cold.channel.retired' && e.cId === before) !== undefined, `channel ${before} was not retired`);
      const result = await withdraw(rig, `${PAYEES[0]},15000`);
      check(result.state === 'done', `withdrawal ${result.vtestId} on channel ${cId} ended ${result.state}`);
      const detail = await api<{ c_id: number }>(rig, `/tx/${result.vtestId}`);
      check(detail.body.c_id === cId, `the withdrawal was signed on channel ${detail.body.c_id}, not ${cId}`);
      return { retired: before, cId, userTxNo: String(result.vtestId), txHash: result.txHash };
    },
  },
  {
    name: 'a forged vc_code closes the channel; only the operator reopens the window',
    async run(rig) {
      const cId = vDeviceChannel(rig) as number;
      const alertsBefore = rig.network.deliveries({ to: rig.ready.numbers.admin }).length;
      const forger = new SeededRandom('forger').bytes(32);
      const request = { coinCode: 'BTC' as const, userTxNo: 'forged-1', outs: `${PAYEES[1]},5000000`, isDynamicFee: 1 as const };
      const posted = await api<{ result?: boolean }>(rig, '/BTC/tx/request', {
        method: 'POST',
        form: { coin_code: 'BTC', user_tx_no: request.userTxNo, outs: request.outs, vc_code: signMessage(requestString(request), forger), is_dynamic_fee: '1', only_confirmed: '0', c_id: String(cId), out_type: '0' },
      });
      check(posted.status === 200, `the platform did not take the request: ${JSON.stringify(posted.body)}`);
      await rig.waitFor(() => rig.gateway.ledger.get(request.userTxNo)?.state === 'failed', 'the forged request to fail', 600_000);
      await rig.waitFor(() => rig.events.find((e) => e.type === 'cold.channel.closed' && e.cId === cId) !== undefined, 'the channel to close', 600_000);
      await rig.waitFor(() => rig.network.deliveries({ to: rig.ready.numbers.admin }).slice(alertsBefore).some((d) => d.text.startsWith('HSM-COLD ALERT')), 'the administrator alert', 600_000);
      const alert = rig.network.deliveries({ to: rig.ready.numbers.admin }).slice(alertsBefore).find((d) => d.text.startsWith('HSM-COLD ALERT'))?.text;
      check(alert?.includes('channel open-window') === true, `the alert does not tell the operator what to do: ${alert}`);
      const refused = await withdraw(rig, `${PAYEES[0]},12000`);
      check(refused.state === 'failed', `a withdrawal on the closed channel ended ${refused.state}`);
      const reason = rig.gateway.ledger.get(String(refused.vtestId))?.reason?.code;

      // Still inside the nightly window, the app's user presses Create: whoever asks may be the
      // forger, so HSM-Cold refuses, and says why.
      const seq = rig.events.lastSeq;
      await rig.settle(rig.vDevice?.createChannel({ byHand: true }) ?? Promise.reject(new HsmError('DEMO_CHECK', 'no emulated V-Device')), 'the channel request');
      await rig.waitFor(() => rig.events.since(seq).some((e) => e.type === 'cold.channel.request-refused'), 'the refused channel request', 1_800_000);
      const refusal = rig.events.since(seq).find((e) => e.type === 'cold.channel.request-refused');
      check(vDeviceChannel(rig) === cId, 'the app got a new channel without the operator');

      // The operator opens the window at HSM-Cold's console (a privileged command: 2FA), and the
      // app's user presses Create.
      const password = rig.ready.consolePassword;
      check(password !== null, 'the rig set no console password');
      const operator = await ConsoleOperator.login(rig.ready.consoles.cold ?? (rig.ready.consoleSockets.cold as string), password, 'hsm-cold');
      try {
        await operator.enableTotp(password, () => rig.clock.now());
        await rig.advance(30_000); // the next code is a fresh one
        const opened = await operator.privileged('channel open-window 60', () => rig.clock.now());
        check(opened.includes('rotation window open until'), `channel open-window answered: ${opened.trim()}`);
      } finally {
        await operator.close();
      }
      await rig.settle(rig.vDevice?.createChannel({ byHand: true }) ?? Promise.reject(new HsmError('DEMO_CHECK', 'no emulated V-Device')), 'the channel request');
      await rig.waitFor(() => (vDeviceChannel(rig) ?? 0) > cId && rig.events.find((e) => e.type === 'cold.channel.opened' && e.cId === vDeviceChannel(rig)) !== undefined, 'the new channel', 1_800_000);
      const after = await withdraw(rig, `${PAYEES[0]},12000`);
      check(after.state === 'done', `after the operator's window the withdrawal ended ${after.state}`);
      return {
        forged: { userTxNo: request.userTxNo, status: 9, reason: rig.gateway.ledger.get(request.userTxNo)?.reason?.code },
        closed: cId,
        alert,
        refused: { userTxNo: String(refused.vtestId), reason },
        requestRefused: refusal?.reason,
        reopened: { cId: vDeviceChannel(rig), userTxNo: String(after.vtestId), txHash: after.txHash },
      };
    },
  },
  {
    name: 'carrier A outage: withdrawals go on, the app reaches HSM-Cold only when A is back',
    async run(rig) {
      const { coldSim1 } = rig.ready.numbers;
      await rig.inject({ fault: 'carrier', carrier: 'A', up: false });
      const seq = rig.events.lastSeq;
      const downAt = rig.clock.now();
      // A withdrawal needs no SMS: the app signs it with its channel key.
      const withdrawal = await withdraw(rig, `${PAYEES[1]},11000`);
      check(withdrawal.state === 'done', `a withdrawal during the outage ended ${withdrawal.state}`);
      // A batch check needs HSM-Cold: the app sends to SIM1 only, so its request waits in the network.
      await rig.queueBatchCheck('cold', 1);
      await rig.waitFor(() => rig.events.since(seq).some((e) => e.type === 'v-device.sms.out' && String(e.text).startsWith('CC:VERIFY_COLD_ADDRESSES:1:')), 'the V-Device to ask for batch 1', 1_800_000);
      await rig.advance(30 * 60_000);
      const batch = (): string | undefined => rig.vweb.batches.find((b) => b.batchNo === 1)?.state;
      check(batch() !== 'passed' && batch() !== 'failed', `cold batch 1 was checked during the outage: ${batch()}`);
      const waiting = rig.events.since(seq).filter((e) => e.type === 'sms.retrying' && e.to === coldSim1).length;
      check(waiting > 0, 'the network did not hold the SMS to SIM1');
      await rig.inject({ fault: 'carrier', carrier: 'A', up: true });
      const upAt = rig.clock.now();
      await rig.waitFor(() => batch() === 'passed' || batch() === 'failed', 'cold batch 1 to be checked after the outage', 3_600_000);
      check(batch() === 'passed', `cold batch 1 ended ${batch()}`);
      const delivered = rig.events.since(seq).find((e) => e.type === 'sms.delivered' && e.to === coldSim1 && e.kind === 'verify-addresses');
      return {
        userTxNo: String(withdrawal.vtestId),
        txHash: withdrawal.txHash,
        verifyHeldMinutes: Math.round((upAt - downAt) / 60_000),
        verifyDeliveredTo: delivered?.to,
        networkRetries: waiting,
        batch: 1,
      };
    },
  },
];

export async function runDemo(options: DemoOptions = {}): Promise<DemoSummary> {
  const progress = options.progress ?? (() => undefined);
  const seed = options.seed ?? 'chaincloud-demo';
  const t0 = performance.now();
  const steps: StepResult[] = [];
  const total = STEPS.length + 2;
  const record = (name: string, started: number, worldTime: number, outcome: { details: Record<string, unknown> } | { error: unknown }): StepResult => {
    const result: StepResult = {
      step: steps.length + 1,
      name,
      ok: 'details' in outcome,
      worldTime: new Date(worldTime).toISOString(),
      realMs: Math.round(performance.now() - started),
      details: 'details' in outcome ? outcome.details : {},
      ...('error' in outcome ? { error: (outcome.error as Error).message } : {}),
    };
    steps.push(result);
    progress(`[${result.step}/${total}] ${result.ok ? 'ok  ' : 'FAIL'} ${name} (${result.realMs} ms${result.ok ? '' : `: ${result.error}`})`);
    return result;
  };
  const summary = (): DemoSummary => ({ ok: steps.length === total && steps.every((s) => s.ok), seed, processes: options.processes === true, steps, realMs: Math.round(performance.now() - t0) });

  // The story keeps its own state directory (unless given one) so it can check the devices'
  // audit logs after the shutdown.
  const ownDir = options.stateDir === undefined;
  const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), 'hsm-demo-'));
  let started = performance.now();
  let rig: Rig;
  try {
    rig = await Rig.start({
      seed,
      start: options.start ?? Date.UTC(2026, 2, 10, 7, 0),
      timeScale: 'manual',
      stateDir,
      ...(options.processes === undefined ? {} : { processes: options.processes }),
      ...(options.kdf === undefined ? {} : { kdf: options.kdf }),
      ...(options.log === undefined ? {} : { log: options.log }),
    });
  } catch (error) {
    record('rig up', started, Date.now(), { error });
    if (ownDir) rmSync(stateDir, { recursive: true, force: true });
    return summary();
  }
  record('rig up', started, rig.clock.now(), { details: { api: rig.ready.api.url, hot: rig.ready.hostApi.identity, stateDir: rig.ready.stateDir } });
  let failed = false;
  for (const step of STEPS) {
    started = performance.now();
    try {
      const details = await step.run(rig);
      record(step.name, started, rig.clock.now(), { details });
    } catch (error) {
      record(step.name, started, rig.clock.now(), { error });
      failed = true;
      break;
    }
  }
  started = performance.now();
  try {
    await rig.stop();
    if (failed) return summary();
    const audits: Record<string, unknown> = {};
    for (const [device, identity] of [
      ['hsm-hot', rig.ready.hostApi.identity],
      ['hsm-cold', undefined],
    ] as const) {
      const store = DeviceStore.openForInspection(join(stateDir, device));
      try {
        const report = verifyAudit(store, store.meta.app, identity);
        if (!report.ok) throw new HsmError('DEMO_CHECK', `${device}'s audit log does not verify: ${report.problems[0]?.message ?? 'unknown'}`);
        audits[device] = { entries: report.entries, checkpoints: report.checkpoints };
      } finally {
        await store.close();
      }
    }
    record('clean shutdown', started, rig.clock.now(), { details: { audits } });
  } catch (error) {
    record('clean shutdown', started, rig.clock.now(), { error });
  } finally {
    if (ownDir) rmSync(stateDir, { recursive: true, force: true });
  }
  return summary();
}
