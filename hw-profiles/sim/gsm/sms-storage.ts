/**
 * One message memory of the emulated modem ("SM" on the SIM, "ME" in the module), with the
 * invariants AT clients rely on (3GPP TS 27.005 §3.1, §3.4, notes/gsm-modems.md §8):
 * - the `+CPMS` used count equals the number of entries `+CMGL=4` lists;
 * - reading or listing a REC UNREAD message makes it REC READ;
 * - deleting frees the location, and new messages take the lowest free location;
 * - locations run from the profile's index base (1, or 0 on Huawei sticks).
 * @module
 */
import { SMS_STAT, type SmsStat } from '../../../shared/gsm/at-codes.ts';

export interface StoredMessage {
  index: number;
  stat: SmsStat;
  /** SMSC address + TPDU, upper-case hex. */
  pdu: string;
  /** TPDU octets (`<length>` in `+CMGL`/`+CMGR`). */
  tpduLength: number;
  /** The TPDU is an SMS-STATUS-REPORT. */
  statusReport: boolean;
}

export class SmsStorage {
  private readonly slots = new Map<number, StoredMessage>();

  constructor(
    readonly name: string,
    readonly capacity: number,
    readonly indexBase: 0 | 1,
  ) {}

  get used(): number {
    return this.slots.size;
  }

  get full(): boolean {
    return this.slots.size >= this.capacity;
  }

  isValidIndex(index: number): boolean {
    return Number.isInteger(index) && index >= this.indexBase && index < this.indexBase + this.capacity;
  }

  /** Stores at the lowest free location; undefined when the memory is full. */
  store(pdu: string, tpduLength: number, stat: SmsStat, statusReport = false): number | undefined {
    for (let index = this.indexBase; index < this.indexBase + this.capacity; index++) {
      if (!this.slots.has(index)) {
        this.slots.set(index, { index, stat, pdu, tpduLength, statusReport });
        return index;
      }
    }
    return undefined;
  }

  /** Reads a location; an unread received message becomes read. */
  read(index: number): StoredMessage | undefined {
    const message = this.slots.get(index);
    if (message === undefined) return undefined;
    const copy = { ...message };
    if (message.stat === SMS_STAT.recUnread) message.stat = SMS_STAT.recRead;
    return copy;
  }

  /** Lists messages with `stat` (4 = all) in location order, marking unread ones read. */
  list(stat: number): StoredMessage[] {
    const out: StoredMessage[] = [];
    for (const index of [...this.slots.keys()].sort((a, b) => a - b)) {
      const message = this.slots.get(index) as StoredMessage;
      if (stat === SMS_STAT.all || message.stat === stat) out.push(this.read(index) as StoredMessage);
    }
    return out;
  }

  delete(index: number): boolean {
    return this.slots.delete(index);
  }

  /**
   * `AT+CMGD=<index>,<delflag>` (27.005 §3.5.4): 1 all read, 2 read and sent, 3 read, sent and
   * unsent, 4 everything.
   */
  deleteByFlag(flag: 1 | 2 | 3 | 4): number {
    const doomed: SmsStat[] =
      flag === 1
        ? [SMS_STAT.recRead]
        : flag === 2
          ? [SMS_STAT.recRead, SMS_STAT.stoSent]
          : flag === 3
            ? [SMS_STAT.recRead, SMS_STAT.stoSent, SMS_STAT.stoUnsent]
            : [SMS_STAT.recRead, SMS_STAT.stoSent, SMS_STAT.stoUnsent, SMS_STAT.recUnread];
    let count = 0;
    for (const [index, message] of [...this.slots]) {
      if (doomed.includes(message.stat)) {
        this.slots.delete(index);
        count++;
      }
    }
    return count;
  }

  peek(index: number): StoredMessage | undefined {
    const message = this.slots.get(index);
    return message === undefined ? undefined : { ...message };
  }

  all(): StoredMessage[] {
    return [...this.slots.values()].sort((a, b) => a.index - b.index).map((m) => ({ ...m }));
  }

  clear(): void {
    this.slots.clear();
  }
}
