/**
 * Reassembly of concatenated SMS (3GPP TS 23.040 §9.2.3.24.1): parts of one message share the
 * originator, the reference (8 or 16 bits: the two are different references) and the part
 * count; they arrive separately, out of order, duplicated or interleaved with other messages.
 *
 * `ConcatAssembler` keeps the parts in memory with a time limit (Gammu waits 600 s). Callers
 * that must survive a restart (the modem pool) persist parts themselves and use `concatGroupKey`
 * and `joinParts` for the same rules.
 * @module
 */
import type { Clock } from '../clock.ts';
import type { ConcatInfo } from './pdu.ts';

export interface SmsPart {
  originator: string;
  text: string;
  concat: ConcatInfo | undefined;
  /** TP-SCTS of the part (Unix ms). */
  timestamp: number;
}

export interface AssembledSms {
  originator: string;
  text: string;
  /** SCTS of the first part. */
  timestamp: number;
  partCount: number;
}

export function concatGroupKey(originator: string, concat: ConcatInfo): string {
  return `${originator}|${concat.referenceBits}|${concat.reference}|${concat.total}`;
}

/** The text of a complete group, parts ordered by sequence number; undefined while incomplete. */
export function joinParts(total: number, parts: ReadonlyMap<number, string>): string | undefined {
  if (parts.size < total) return undefined;
  let text = '';
  for (let sequence = 1; sequence <= total; sequence++) {
    const part = parts.get(sequence);
    if (part === undefined) return undefined;
    text += part;
  }
  return text;
}

interface Group {
  originator: string;
  total: number;
  parts: Map<number, string>;
  firstTimestamp: number;
  firstSeenAt: number;
}

export interface ConcatAssemblerOptions {
  clock: Clock;
  /** Parts of an incomplete message are dropped after this long. Default 600 s. */
  timeoutMs?: number;
  /** Most incomplete messages kept; the oldest is dropped beyond it. Default 64. */
  maxGroups?: number;
}

export class ConcatAssembler {
  private readonly groups = new Map<string, Group>();
  private readonly clock: Clock;
  private readonly timeoutMs: number;
  private readonly maxGroups: number;

  constructor(options: ConcatAssemblerOptions) {
    this.clock = options.clock;
    this.timeoutMs = options.timeoutMs ?? 600_000;
    this.maxGroups = options.maxGroups ?? 64;
  }

  /** Adds a part; returns the whole message once its last part is in. Duplicate parts are ignored. */
  add(part: SmsPart): AssembledSms | undefined {
    this.expire();
    if (part.concat === undefined || part.concat.total === 1) {
      return { originator: part.originator, text: part.text, timestamp: part.timestamp, partCount: 1 };
    }
    const key = concatGroupKey(part.originator, part.concat);
    let group = this.groups.get(key);
    if (group === undefined) {
      if (this.groups.size >= this.maxGroups) this.dropOldest();
      group = { originator: part.originator, total: part.concat.total, parts: new Map(), firstTimestamp: part.timestamp, firstSeenAt: this.clock.monotonic() };
      this.groups.set(key, group);
    }
    if (!group.parts.has(part.concat.sequence)) group.parts.set(part.concat.sequence, part.text);
    if (part.concat.sequence === 1) group.firstTimestamp = part.timestamp;
    const text = joinParts(group.total, group.parts);
    if (text === undefined) return undefined;
    this.groups.delete(key);
    return { originator: group.originator, text, timestamp: group.firstTimestamp, partCount: group.total };
  }

  /** Incomplete messages waiting for parts. */
  get pending(): number {
    this.expire();
    return this.groups.size;
  }

  private expire(): void {
    const now = this.clock.monotonic();
    for (const [key, group] of this.groups) if (now - group.firstSeenAt >= this.timeoutMs) this.groups.delete(key);
  }

  private dropOldest(): void {
    let oldestKey: string | undefined;
    let oldest = Infinity;
    for (const [key, group] of this.groups) {
      if (group.firstSeenAt < oldest) {
        oldest = group.firstSeenAt;
        oldestKey = key;
      }
    }
    if (oldestKey !== undefined) this.groups.delete(oldestKey);
  }
}
