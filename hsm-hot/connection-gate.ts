/**
 * Admission of host API connections before they authenticate. Every TCP connection starts
 * pending: it must authenticate within the deadline, and pending connections are capped per
 * remote address and in all. A new connection is never refused for want of room: the oldest
 * pending connection of its own address gives way (or, at the overall cap, the oldest of the
 * address holding the most), so idle sockets cannot keep the platform out; the platform
 * authenticates within a round trip of connecting. Authenticated connections leave the gate
 * and are counted by the host API on their own.
 * @module
 */
import type { Socket } from 'node:net';
import type { Clock, TimerHandle } from '../shared/clock.ts';

export interface GateLimits {
  /** Pending (not yet authenticated) connections at most, from all addresses. */
  maxPending: number;
  /** Pending connections at most from one remote address. */
  maxPendingPerAddress: number;
  /** A connection that has not authenticated by then is closed. */
  authTimeoutMs: number;
}

/** How a pending connection is closed: a raw socket is destroyed, a WebSocket closed with a code. */
export type Closer = (code: number, reason: string) => void;

/** WebSocket close codes (RFC 6455 §7.4.1; 1013 from the IANA registry). */
export const CLOSE = { policy: 1008, tryAgainLater: 1013 } as const;

interface Pending {
  socket: Socket;
  address: string;
  timer: TimerHandle;
  close: Closer;
}

/** `::ffff:127.0.0.1` and `127.0.0.1` are one address. */
export function addressOf(socket: Socket): string {
  const address = socket.remoteAddress ?? 'unknown';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

export class ConnectionGate {
  private readonly pending = new Map<Socket, Pending>();
  private readonly byAddress = new Map<string, Pending[]>();
  /** Connections closed to make room for newer ones (for status and tests). */
  evicted = 0;

  constructor(
    private readonly clock: Clock,
    private readonly limits: GateLimits,
  ) {}

  get pendingCount(): number {
    return this.pending.size;
  }

  /** A new TCP connection: pending from now, making room first if its address or the gate is full. */
  admit(socket: Socket): void {
    const address = addressOf(socket);
    const own = this.byAddress.get(address) ?? [];
    if (own.length >= this.limits.maxPendingPerAddress) this.evict(own[0] as Pending);
    else if (this.pending.size >= this.limits.maxPending) this.evict(this.oldestOfBusiestAddress());
    const entry: Pending = {
      socket,
      address,
      close: () => socket.destroy(),
      timer: this.clock.setTimeout(() => {
        if (this.pending.get(socket) === entry) this.drop(entry, CLOSE.policy, 'authentication timeout');
      }, this.limits.authTimeoutMs),
    };
    this.pending.set(socket, entry);
    this.byAddress.set(address, [...(this.byAddress.get(address) ?? []), entry]);
    socket.once('close', () => this.release(socket));
  }

  /** The connection became a WebSocket: it is closed through it from now on. */
  upgraded(socket: Socket, close: Closer): void {
    const entry = this.pending.get(socket);
    if (entry !== undefined) entry.close = close;
  }

  /** The connection authenticated: it leaves the gate. */
  authenticated(socket: Socket): void {
    this.release(socket);
  }

  isPending(socket: Socket): boolean {
    return this.pending.has(socket);
  }

  /** Forgets every pending connection (their sockets are closed by the caller). */
  clear(): void {
    for (const entry of this.pending.values()) this.clock.clearTimeout(entry.timer);
    this.pending.clear();
    this.byAddress.clear();
  }

  private evict(entry: Pending): void {
    this.evicted++;
    this.drop(entry, CLOSE.tryAgainLater, 'too many unauthenticated connections');
  }

  private drop(entry: Pending, code: number, reason: string): void {
    this.release(entry.socket);
    entry.close(code, reason);
  }

  private release(socket: Socket): void {
    const entry = this.pending.get(socket);
    if (entry === undefined) return;
    this.pending.delete(socket);
    this.clock.clearTimeout(entry.timer);
    const rest = (this.byAddress.get(entry.address) ?? []).filter((e) => e !== entry);
    if (rest.length === 0) this.byAddress.delete(entry.address);
    else this.byAddress.set(entry.address, rest);
  }

  private oldestOfBusiestAddress(): Pending {
    let busiest: Pending[] = [];
    for (const list of this.byAddress.values()) if (list.length > busiest.length) busiest = list;
    return busiest[0] as Pending;
  }
}
