/**
 * A phone's SMS side as a small AT client written here from 3GPP TS 27.005 (text mode), over
 * the real serialport bindings, for the modem `hsm sim --v-device external:<pty>` serves. It
 * knows nothing of the project's own modem driver:
 *
 *   AT+CMGF=1            text mode (§3.2.3)
 *   AT+CSCS="IRA"        text as ASCII (27.007 §5.5)
 *   AT+CNMI=2,2,0,0,0    new messages routed to the terminal as +CMT (§3.4.1)
 *   AT+CMGS="<da>"<CR>   then the text and Ctrl-Z after the "> " prompt (§3.5.1)
 *   +CMT: "<oa>",,"<scts>"<CR><LF><data>     a received SMS (§3.4.1, +CSDH=0)
 */
import { SerialPort } from 'serialport';

export interface ReceivedSms {
  from: string;
  text: string;
  /** Real time of arrival. */
  at: number;
}

export class AtPhone {
  readonly inbox: ReceivedSms[] = [];
  private buffer = '';
  private pendingCmt: string | undefined;
  private reply: { resolve: (text: string) => void; reject: (e: Error) => void; until: RegExp; text: string } | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(private readonly port: SerialPort) {
    port.on('data', (chunk: Buffer) => this.onData(chunk.toString('latin1')));
  }

  static async open(path: string): Promise<AtPhone> {
    const port = await new Promise<SerialPort>((resolve, reject) => {
      const p = new SerialPort({ path, baudRate: 115_200 }, (error) => (error === null ? resolve(p) : reject(error)));
    });
    const phone = new AtPhone(port);
    for (const command of ['ATE0', 'AT+CMEE=1', 'AT+CMGF=1', 'AT+CSCS="IRA"', 'AT+CSDH=0', 'AT+CNMI=2,2,0,0,0']) await phone.command(command);
    return phone;
  }

  /** Runs one command; resolves with its response up to OK, rejects on ERROR. */
  command(line: string, limitMs = 30_000): Promise<string> {
    return this.exclusive(() => this.exchange(`${line}\r`, /\r\n(OK|ERROR|\+CM[ES] ERROR: [^\r]*)\r\n$/, limitMs));
  }

  /** Sends one SMS (one PDU: the modem refuses nothing shorter than 160 characters here). */
  sendSms(to: string, text: string): Promise<void> {
    return this.exclusive(async () => {
      await this.exchange(`AT+CMGS="${to}"\r`, /\r\n> $/, 30_000);
      await this.exchange(`${text}\x1a`, /\r\n(OK|ERROR|\+CMS ERROR: [^\r]*)\r\n$/, 60_000);
    });
  }

  /** Waits (real time) for an SMS matching `predicate` that arrived after `since`. */
  async waitSms(predicate: (sms: ReceivedSms) => boolean, what: string, limitMs = 60_000, since = 0): Promise<ReceivedSms> {
    const deadline = Date.now() + limitMs;
    for (;;) {
      const found = this.inbox.find((s) => s.at >= since && predicate(s));
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`no SMS ${what} within ${limitMs} ms; inbox: ${JSON.stringify(this.inbox.map((s) => `${s.from}: ${s.text}`))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => (this.port.isOpen ? this.port.close(() => resolve()) : resolve()));
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private exchange(data: string, until: RegExp, limitMs: number): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.reply = undefined;
        reject(new Error(`no answer to ${JSON.stringify(data.slice(0, 40))} within ${limitMs} ms`));
      }, limitMs);
      this.reply = {
        until,
        text: '',
        resolve: (text) => (clearTimeout(timer), resolve(text)),
        reject: (error) => (clearTimeout(timer), reject(error)),
      };
      this.port.write(Buffer.from(data, 'latin1'));
    }).then((text) => {
      if (/\r\n(ERROR|\+CM[ES] ERROR: [^\r]*)\r\n$/.test(text)) throw new Error(`${data.trim()} answered ${text.trim()}`);
      return text;
    });
  }

  /** Splits URCs (+CMT and its data line) from command responses. */
  private onData(chunk: string): void {
    this.buffer += chunk;
    if (this.reply !== undefined && this.buffer.endsWith('> ')) {
      const reply = this.reply;
      this.reply = undefined;
      reply.resolve(`${reply.text}${this.takeAll()}`);
      return;
    }
    let end: number;
    while ((end = this.buffer.indexOf('\r\n')) >= 0) {
      const line = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      if (this.pendingCmt !== undefined) {
        this.inbox.push({ from: this.pendingCmt, text: line, at: Date.now() });
        this.pendingCmt = undefined;
        continue;
      }
      const cmt = /^\+CMT: "([^"]*)",[^,]*,"[^"]*"$/.exec(line);
      if (cmt !== null) {
        this.pendingCmt = cmt[1] as string;
        continue;
      }
      const reply = this.reply;
      if (reply === undefined) continue;
      reply.text += `${line}\r\n`;
      if (reply.until.test(`\r\n${line}\r\n`) && /^(OK|ERROR|\+CM[ES] ERROR: .*)$/.test(line)) {
        this.reply = undefined;
        reply.resolve(`\r\n${reply.text}`);
      }
    }
  }

  private takeAll(): string {
    const all = this.buffer;
    this.buffer = '';
    return all;
  }
}
