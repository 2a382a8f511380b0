/**
 * Withdrawals end to end: how many withdrawals the pair signs per minute and how long one
 * takes, from the host API request to the signed transaction, on the simulated world
 * (pair-world.ts): real firmware, real stores committing durably, the real link stack over the
 * emulated UART, the real signer. World time follows real time while anything works and jumps
 * over idle waits (warp-clock.ts), so the line's timing is exact and the CPU's and the disk's
 * are what they cost on this machine.
 *
 * Each figure is read against two bounds measured in the same run:
 * - the wire: the bytes each withdrawal puts on the busier direction of the link (its approval
 *   request and reply as framed, first transmissions), over the line rate (10 bits a byte);
 * - HSM-Cold: the time it spends per approval (signature recovery, policy, its commit),
 *   measured on its store's transactions during the run.
 * @module
 */
import type { DeviceStore } from '../../shared/store/store.ts';
import { PairWorld, type PreparedWithdrawal } from './pair-world.ts';
import { tallyDelta, type Direction, type DirectionTally } from './wire-tally.ts';

/** Real time spent in a store's outermost transactions (callback and durable commit). */
class TransactionTimer {
  ms = 0;
  count = 0;
  private depth = 0;
  private readonly original: DeviceStore['transact'];

  constructor(private readonly store: DeviceStore) {
    this.original = store.transact.bind(store);
    store.transact = <T>(fn: Parameters<DeviceStore['transact']>[0]): T => {
      if (this.depth > 0) return this.original(fn) as T;
      this.depth++;
      const t0 = performance.now();
      try {
        return this.original(fn) as T;
      } finally {
        this.ms += performance.now() - t0;
        this.count++;
        this.depth--;
      }
    };
  }

  snapshot(): { ms: number; count: number } {
    return { ms: this.ms, count: this.count };
  }

  restore(): void {
    this.store.transact = this.original;
  }
}

interface RunResult {
  count: number;
  outputs: number;
  /** World ms from the first request sent to the last signed transaction received. */
  durationMs: number;
  latenciesMs: number[];
  wire: Record<Direction, DirectionTally>;
  coldMs: number;
  coldTransactions: number;
  hotMs: number;
  hotTransactions: number;
  retransmissions: number;
}

/** Sends `prepared` on the schedule `sendAt(i)` (world ms after the start); waits for every signed transaction. */
async function run(world: PairWorld, prepared: PreparedWithdrawal[], outputs: number, sendAt: (i: number) => number): Promise<RunResult> {
  const { clock, client } = world;
  const pending = new Map(prepared.map((p, i) => [p.userTxNo, i]));
  const sentAt: number[] = [];
  const doneAt: number[] = [];
  const statuses = new Map<string, number[]>();
  let failure: string | undefined;
  const off = client.onMessage((message, at) => {
    if (message.msg !== 'tx_status') return;
    const userTxNo = message.data.send_request?.user_tx_no ?? '';
    const status = message.data.hot_wallet_tx_status ?? -1;
    const i = pending.get(userTxNo);
    if (i === undefined) return;
    statuses.set(userTxNo, [...(statuses.get(userTxNo) ?? []), status]);
    if (status === 1 && doneAt[i] === undefined) doneAt[i] = at;
    if (status === 9) failure ??= `${userTxNo}: ${JSON.stringify(message.data)}`;
  });
  const coldTimer = new TransactionTimer(world.cold.store);
  const hotTimer = new TransactionTimer(world.hot.store);
  const wireBefore = world.tally.snapshot();
  const retransmissionsBefore = retransmissions(world);
  const start = clock.worldMs;
  // Requests due at the same moment leave together, as a platform queueing them at once sends them.
  const due = new Map<number, number[]>();
  prepared.forEach((_, i) => due.set(sendAt(i), [...(due.get(sendAt(i)) ?? []), i]));
  for (const [at, indices] of due) {
    clock.setTimeout(() => {
      for (const i of indices) {
        sentAt[i] = clock.worldMs;
        client.send((prepared[i] as PreparedWithdrawal).text);
      }
    }, at);
  }
  try {
    await world.until(() => failure !== undefined || doneAt.filter((t) => t !== undefined).length === prepared.length, 'every withdrawal to be signed', 3_600_000);
  } finally {
    off();
    coldTimer.restore();
    hotTimer.restore();
  }
  if (failure !== undefined) throw new Error(`a withdrawal failed: ${failure}`);
  for (const p of prepared) {
    const seen = statuses.get(p.userTxNo) ?? [];
    if (seen.filter((s) => s === 1).length !== 1) throw new Error(`${p.userTxNo} was reported signed ${seen.filter((s) => s === 1).length} times`);
  }
  const end = Math.max(...doneAt);
  return {
    count: prepared.length,
    outputs,
    durationMs: end - start,
    latenciesMs: prepared.map((_, i) => (doneAt[i] as number) - (sentAt[i] as number)),
    wire: tallyDelta(world.tally.snapshot(), wireBefore),
    coldMs: coldTimer.ms,
    coldTransactions: coldTimer.count,
    hotMs: hotTimer.ms,
    hotTransactions: hotTimer.count,
    retransmissions: retransmissions(world) - retransmissionsBefore,
  };
}

function retransmissions(world: PairWorld): number {
  return (world.hot.link?.session.stats().retransmissions ?? 0) + (world.cold.status().link?.retransmissions ?? 0);
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

const r3 = (n: number): number => Math.round(n * 1000) / 1000;
const r1 = (n: number): number => Math.round(n * 10) / 10;

/** Wire bound of one run: line ms per withdrawal on the busier direction, and both directions' bytes. */
function wireBound(result: RunResult, baudRate: number): { msPerWithdrawal: number; roundTripMs: number; bytes: Record<Direction, number>; busier: Direction } {
  const byteMs = 10_000 / baudRate;
  const bytes = {
    'hot>cold': result.wire['hot>cold'].firstDataBytes / result.count,
    'cold>hot': result.wire['cold>hot'].firstDataBytes / result.count,
  };
  const busier: Direction = bytes['hot>cold'] >= bytes['cold>hot'] ? 'hot>cold' : 'cold>hot';
  return { msPerWithdrawal: bytes[busier] * byteMs, roundTripMs: (bytes['hot>cold'] + bytes['cold>hot']) * byteMs, bytes, busier };
}

/** One queued run read against its bounds: the wire, HSM-Cold's work per approval, HSM-Hot's per withdrawal. */
function throughputFigure(result: RunResult, baudRate: number, warp: unknown): Record<string, unknown> {
  const bound = wireBound(result, baudRate);
  const ms = result.durationMs / result.count;
  const coldMs = result.coldMs / result.count;
  const hotMs = result.hotMs / result.count;
  const limits = { wire: bound.msPerWithdrawal, 'hsm-cold': coldMs, 'hsm-hot': hotMs };
  // The largest of the bounds measured; HSM-Hot's work outside its transactions (the host API's
  // signature check, JSON, the socket) is in none of them.
  const largestBound = Object.entries(limits).sort((a, b) => b[1] - a[1])[0]?.[0];
  return {
    name: `${result.count} withdrawals queued at once, ${result.outputs} output${result.outputs === 1 ? '' : 's'}, ${baudRate} baud (fraction of the wire bound)`,
    baudRate,
    outputs: result.outputs,
    count: result.count,
    signedOnce: result.count,
    value: r3(bound.msPerWithdrawal / ms),
    perMinute: Math.round(60_000 / ms),
    msPerWithdrawal: r3(ms),
    wire: { msPerWithdrawal: r3(bound.msPerWithdrawal), fraction: r3(bound.msPerWithdrawal / ms), bytes: { 'hot>cold': r1(bound.bytes['hot>cold']), 'cold>hot': r1(bound.bytes['cold>hot']) }, busier: bound.busier },
    cold: { msPerApproval: r3(coldMs), fraction: r3(coldMs / ms), transactions: result.coldTransactions },
    hot: { msPerWithdrawal: r3(hotMs), fraction: r3(hotMs / ms), transactions: result.hotTransactions },
    largestBound,
    latencyMs: { p50: r1(percentile(result.latenciesMs, 50)), p99: r1(percentile(result.latenciesMs, 99)) },
    retransmissions: result.retransmissions,
    wireDetail: result.wire,
    warp,
  };
}

/** Latency of requests sent one by one on a schedule, against the floor: one approval's wire time, HSM-Cold's and HSM-Hot's work. */
function latencyFigure(result: RunResult, baudRate: number, rate: string): Record<string, unknown> {
  const bound = wireBound(result, baudRate);
  const floor = bound.roundTripMs + result.coldMs / result.count + result.hotMs / result.count;
  const p50 = percentile(result.latenciesMs, 50);
  return {
    name: `withdrawal latency at ${rate}, ${baudRate} baud (p50 / floor)`,
    baudRate,
    count: result.count,
    value: r3(p50 / floor),
    p50: r1(p50),
    p99: r1(percentile(result.latenciesMs, 99)),
    floorMs: r1(floor),
    floor: { wireMs: r1(bound.roundTripMs), coldMs: r1(result.coldMs / result.count), hotMs: r1(result.hotMs / result.count) },
  };
}

export interface WithdrawalRun {
  baudRate: number;
  /** Withdrawals queued at once, one output each. */
  queued: number;
  /** Withdrawals queued at once with ten outputs each (0: none). */
  queuedTenOutputs: number;
  /** Requests sent at 1 request/s, and at the saturation rate the queued run measured. */
  latencySamples: number;
}

export interface WithdrawalBenchOptions {
  runs: readonly WithdrawalRun[];
  log?: (line: string) => void;
}

export async function withdrawalFigures(options: WithdrawalBenchOptions): Promise<Record<string, unknown>[]> {
  const figures: Record<string, unknown>[] = [];
  const log = options.log ?? (() => undefined);
  const add = (figure: Record<string, unknown>): void => {
    figures.push(figure);
    log(`${String(figure.name)}: ${String(figure.value)}`);
  };
  for (const plan of options.runs) {
    const { baudRate } = plan;
    const world = await PairWorld.start({ baudRate });
    try {
      const one = await run(world, world.prepare(plan.queued, 1, `q1-${baudRate}`), 1, () => 0);
      add(throughputFigure(one, baudRate, world.clock.stats()));
      if (plan.queuedTenOutputs > 0) {
        const ten = await run(world, world.prepare(plan.queuedTenOutputs, 10, `q10-${baudRate}`), 10, () => 0);
        add(throughputFigure(ten, baudRate, world.clock.stats()));
      }
      const slow = await run(world, world.prepare(plan.latencySamples, 1, `r1-${baudRate}`), 1, (i) => i * 1000);
      add(latencyFigure(slow, baudRate, '1 request/s'));
      const interval = one.durationMs / one.count;
      const saturated = await run(world, world.prepare(plan.latencySamples, 1, `rs-${baudRate}`), 1, (i) => i * interval);
      add(latencyFigure(saturated, baudRate, `the saturation rate (${Math.round(60_000 / interval)}/min)`));
    } finally {
      await world.stop();
    }
  }
  return figures;
}

/** A short human table of the figures `withdrawalFigures` returns. */
export function withdrawalTable(figures: readonly Record<string, unknown>[]): string {
  const rows = figures.map((f) => {
    const name = String(f.name);
    if (f.msPerWithdrawal !== undefined) {
      const wire = f.wire as { fraction: number };
      const cold = f.cold as { fraction: number };
      const hot = f.hot as { fraction: number };
      const latency = f.latencyMs as { p50: number; p99: number };
      return `${name}\n    ${String(f.perMinute)}/min, ${String(f.msPerWithdrawal)} ms each; of the wire bound ${wire.fraction}, HSM-Cold ${cold.fraction}, HSM-Hot ${hot.fraction} (largest bound: ${String(f.largestBound)}); latency p50 ${latency.p50} ms, p99 ${latency.p99} ms`;
    }
    return `${name}\n    p50 ${String(f.p50)} ms, p99 ${String(f.p99)} ms, floor ${String(f.floorMs)} ms: p50 = ${String(f.value)} x floor`;
  });
  return rows.join('\n');
}
