/**
 * A small benchmark harness: warm up, then run until both a minimum count and a minimum time
 * are reached; report the median. Peers run in the same process, interleaved round by round,
 * so machine noise hits every contender alike.
 * @module
 */
export interface Contender {
  name: string;
  run: () => unknown;
}

export interface Timing {
  name: string;
  medianMs: number;
  runs: number;
}

export interface MeasureOptions {
  warmup?: number;
  minRuns?: number;
  minTimeMs?: number;
  maxRuns?: number;
}

/** Times each contender round-robin; returns the median milliseconds per call. */
export function measure(contenders: readonly Contender[], options: MeasureOptions = {}): Timing[] {
  const { warmup = 2, minRuns = 5, minTimeMs = 1500, maxRuns = 200 } = options;
  for (const c of contenders) for (let i = 0; i < warmup; i++) c.run();
  const samples = contenders.map(() => [] as number[]);
  const start = performance.now();
  let rounds = 0;
  while (rounds < maxRuns && (rounds < minRuns || performance.now() - start < minTimeMs)) {
    contenders.forEach((c, i) => {
      const t0 = performance.now();
      c.run();
      samples[i]?.push(performance.now() - t0);
    });
    rounds++;
  }
  return contenders.map((c, i) => ({ name: c.name, medianMs: median(samples[i] ?? []), runs: rounds }));
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

export interface Figure {
  name: string;
  unit: 'ms';
  ours: number;
  peers: Record<string, number>;
  /** peer time / our time: above 1 means ours is faster. */
  speedup: Record<string, number>;
  runs: number;
  [extra: string]: unknown;
}

export function figure(name: string, timings: Timing[], extra: Record<string, unknown> = {}): Figure {
  const [ours, ...peers] = timings;
  if (ours === undefined) throw new Error('no timings');
  const round = (n: number): number => Math.round(n * 1000) / 1000;
  return {
    name,
    unit: 'ms',
    ours: round(ours.medianMs),
    peers: Object.fromEntries(peers.map((p) => [p.name, round(p.medianMs)])),
    speedup: Object.fromEntries(peers.map((p) => [p.name, Math.round((p.medianMs / ours.medianMs) * 100) / 100])),
    runs: ours.runs,
    ...extra,
  };
}
