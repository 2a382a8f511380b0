/**
 * Confirmation ids for two-step destructive commands (Bit.ac's `valid_id`, which
 * `confirm-send` must repeat): the first call of a destructive command records what it would
 * do and returns a random id; `confirm <id>` runs exactly that, once, within `ttlMs`. Ids live
 * in the session's memory only: a logout, a reboot or the idle timeout forgets them.
 * @module
 */
import type { Clock } from '../clock.ts';
import { bytesToHex } from '../crypto/hash.ts';
import { HsmError } from '../errors.ts';
import type { RandomSource } from '../random.ts';
import type { Args } from './arguments.ts';

export const CONFIRMATION_TTL_MS = 120_000;
const MAX_PENDING = 4;
export const CONFIRMATION_ID = /^[0-9a-f]{8}$/;

export interface PendingAction {
  path: string;
  args: Args;
  /** Monotonic ms after which the id no longer works. */
  expiresAt: number;
}

export class ConfirmationBook {
  private readonly pending = new Map<string, PendingAction>();

  constructor(
    private readonly clock: Clock,
    private readonly random: RandomSource,
    private readonly ttlMs = CONFIRMATION_TTL_MS,
  ) {}

  /** Records `path` with `args`; returns the id to repeat. Replaces an older id for the same path. */
  issue(path: string, args: Args): string {
    this.prune();
    for (const [id, action] of this.pending) if (action.path === path) this.pending.delete(id);
    while (this.pending.size >= MAX_PENDING) this.pending.delete(this.pending.keys().next().value as string);
    let id = bytesToHex(this.random.bytes(4));
    while (this.pending.has(id)) id = bytesToHex(this.random.bytes(4));
    this.pending.set(id, { path, args, expiresAt: this.clock.monotonic() + this.ttlMs });
    return id;
  }

  /** The action behind `id`, still pending; throws CONSOLE_CONFIRMATION otherwise. Does not consume it. */
  peek(id: string): PendingAction {
    this.prune();
    const action = this.pending.get(id.toLowerCase());
    if (action === undefined) {
      throw new HsmError('CONSOLE_CONFIRMATION', `no pending action has confirmation id "${id.slice(0, 16)}" (ids expire after ${this.ttlMs / 1000} s and work once)`, { field: 'id' });
    }
    return action;
  }

  /** Removes `id` so it cannot be used again. */
  consume(id: string): void {
    this.pending.delete(id.toLowerCase());
  }

  clear(): void {
    this.pending.clear();
  }

  get size(): number {
    this.prune();
    return this.pending.size;
  }

  private prune(): void {
    const now = this.clock.monotonic();
    for (const [id, action] of this.pending) if (action.expiresAt <= now) this.pending.delete(id);
  }
}
