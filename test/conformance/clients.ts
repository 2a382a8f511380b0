/**
 * The real SMS clients, run as their users run them, against a modem of a `ConformanceWorld`:
 * the gammu command line, gammu-smsd with the files backend, smstools3's smsd with its spool
 * directories, and serialport-gsm in a Node process of its own. Calls take the `AbortSignal` of
 * the world's `step` they run in: an overrun ends the client's process. Daemons must also stop
 * within a bound after SIGTERM.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { ConformanceWorld, ServedPhone } from './harness.ts';

const UTF8_ENV = { ...process.env, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' };

// ---------------------------------------------------------------------------------------------
// gammu

export interface Output {
  stdout: string;
  stderr: string;
}

/** Writes a gammurc for `phone` in `dir`; Gammu's own debug log goes next to it. */
export function gammuConfig(dir: string, phone: ServedPhone): string {
  const path = join(dir, 'gammurc');
  writeFileSync(path, `[gammu]\ndevice = ${phone.path}\nconnection = at115200\nlogfile = ${join(dir, 'gammu.log')}\nlogformat = textalldate\n`);
  return path;
}

/** Runs a program to its end; a non-zero exit is an error carrying its output. */
export function run(command: string, args: readonly string[], signal: AbortSignal): Promise<Output> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { signal, env: UTF8_ENV, maxBuffer: 4 << 20 }, (error, stdout, stderr) => {
      if (error !== null) reject(new Error(`${command} ${args.join(' ')}: exit ${String(error.code ?? error.signal)}\n${stdout}${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

/** One `gammu` command with `config`. */
export function gammu(config: string, args: readonly string[], signal: AbortSignal): Promise<Output> {
  return run('gammu', ['-c', config, ...args], signal);
}

/** One message of `gammu getallsms`: its header fields and its text. */
export interface GammuMessage {
  location: number;
  fields: Record<string, string>;
  text: string;
}

/** Splits `gammu getallsms` output into messages (the text is what follows the first blank line). */
export function parseGammuMessages(stdout: string): GammuMessage[] {
  return stdout
    .replace(/\n*\d+ SMS parts in \d+ SMS sequences\n*$/, '\n')
    .split(/^(?=Location \d+, folder)/m)
    .filter((block) => block.startsWith('Location '))
    .map((block) => {
      const [head, ...rest] = block.split('\n\n');
      const fields: Record<string, string> = {};
      for (const line of (head as string).split('\n').slice(1)) {
        const match = /^(.+?)\s+: (.*)$/.exec(line);
        if (match !== null) fields[(match[1] as string).trim()] = match[2] as string;
      }
      return { location: Number(/^Location (\d+)/.exec(block)?.[1]), fields, text: rest.join('\n\n').replace(/\n+$/, '') };
    });
}

// ---------------------------------------------------------------------------------------------
// Daemons

/** A daemon in its own process group, so it and its children go together. */
export class Daemon {
  private readonly child: ChildProcess;
  private exit: Promise<number | null>;
  output = '';

  constructor(command: string, args: readonly string[], cwd: string) {
    this.child = spawn(command, args, { cwd, env: UTF8_ENV, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    this.child.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
    this.exit = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGTERM to the group; fails when the daemon is still there after `timeoutMs` (then it is killed). */
  async stop(timeoutMs = 20_000): Promise<void> {
    if (!this.running) return;
    this.signal('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), timeoutMs)));
    const outcome = await Promise.race([this.exit, late]);
    clearTimeout(timer);
    if (outcome === 'late') {
      this.signal('SIGKILL');
      await this.exit;
      throw new Error(`still running ${timeoutMs} ms after SIGTERM`);
    }
  }

  /** Ends the group at once (cleanup after a failure). */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.signal('SIGKILL');
    await this.exit;
  }

  private signal(name: NodeJS.Signals): void {
    try {
      process.kill(-(this.child.pid as number), name);
    } catch {
      // already gone
    }
  }
}

/** Text files of a spool directory: name → content, in name order. */
export function spool(dir: string): Array<{ name: string; content: Buffer }> {
  return readdirSync(dir)
    .filter((name) => !name.startsWith('.') && !name.endsWith('.LOCK'))
    .sort()
    .map((name) => ({ name, content: readFileSync(join(dir, name)) }));
}

/** An SMS daemon with a directory of its own for its config, spools and log. */
abstract class SmsDaemon {
  protected daemon: Daemon | undefined;

  constructor(readonly dir: string) {}

  protected launch(command: string, args: readonly string[]): void {
    this.daemon = new Daemon(command, args, this.dir);
  }

  /** The last lines of its log, for a failure message. */
  log(): string {
    try {
      return readFileSync(join(this.dir, 'smsd.log'), 'utf8').split('\n').slice(-40).join('\n');
    } catch {
      return '';
    }
  }

  /** SIGTERM to it and its children; fails when any is still running after `timeoutMs`. */
  async stop(timeoutMs = 30_000): Promise<void> {
    await this.daemon?.stop(timeoutMs);
  }

  async kill(): Promise<void> {
    await this.daemon?.kill();
  }

  get running(): boolean {
    return this.daemon?.running ?? false;
  }
}

// ---------------------------------------------------------------------------------------------
// gammu-smsd (files backend)

export class GammuSmsd extends SmsDaemon {
  readonly config: string;

  constructor(
    world: ConformanceWorld,
    readonly phone: ServedPhone,
  ) {
    super(world.subdir(`gammu-smsd-${phone.profile}`));
    for (const sub of ['inbox', 'outbox', 'sent', 'error']) world.subdir(`gammu-smsd-${phone.profile}/${sub}`);
    this.config = join(this.dir, 'smsdrc');
    writeFileSync(
      this.config,
      [
        '[gammu]',
        `device = ${phone.path}`,
        'connection = at115200',
        '[smsd]',
        'service = files',
        `logfile = ${join(this.dir, 'smsd.log')}`,
        'debuglevel = 1',
        `inboxpath = ${join(this.dir, 'inbox')}/`,
        `outboxpath = ${join(this.dir, 'outbox')}/`,
        `sentsmspath = ${join(this.dir, 'sent')}/`,
        `errorsmspath = ${join(this.dir, 'error')}/`,
        'inboxformat = standard',
        'outboxformat = detail',
        'ReceiveFrequency = 2',
        'StatusFrequency = 30',
        'LoopSleep = 1',
        '',
      ].join('\n'),
    );
  }

  start(): void {
    this.launch('gammu-smsd', ['-c', this.config]);
  }

  /** `gammu-smsd-inject TEXT <to> [extra] -text <text>`: puts a message in the outbox. */
  async inject(to: string, text: string, extra: readonly string[], signal: AbortSignal): Promise<void> {
    await run('gammu-smsd-inject', ['-c', this.config, 'TEXT', to, ...extra, '-text', text], signal);
  }

  /**
   * The inbox as messages, in the order smsd wrote them: `IN<date>_<time>_<n>_<sender>_<part>.txt`
   * holds one part each; a message's parts share <n> and <sender> but each has its own time
   * stamp, so part 00 starts a message and the parts after it follow it.
   */
  inbox(): Array<{ sender: string; content: Buffer }> {
    const dir = join(this.dir, 'inbox');
    const files = spool(dir)
      .map((file) => ({ ...file, written: statSync(join(dir, file.name), { bigint: true }).mtimeNs, name: /^IN\d{8}_\d{6}_(\d{2})_(.+)_(\d{2})\.txt$/.exec(file.name) }))
      .filter((file) => file.name !== null)
      .sort((a, b) => (a.written < b.written ? -1 : a.written > b.written ? 1 : 0));
    const messages: Array<{ key: string; sender: string; parts: Buffer[] }> = [];
    for (const file of files) {
      const [, serial, sender, part] = file.name as RegExpExecArray;
      const key = `${serial}/${sender}`;
      const open = part === '00' ? undefined : [...messages].reverse().find((m) => m.key === key);
      if (open === undefined) messages.push({ key, sender: sender as string, parts: [file.content] });
      else open.parts.push(file.content);
    }
    return messages.map((m) => ({ sender: m.sender, content: Buffer.concat(m.parts) }));
  }

  /** A spool directory's files and their text, for a failure message. */
  listing(name: 'inbox' | 'outbox' | 'sent' | 'error'): string {
    return spool(join(this.dir, name))
      .map((file) => `${file.name}: ${JSON.stringify(file.content.toString('utf8'))}`)
      .join('\n');
  }

}

// ---------------------------------------------------------------------------------------------
// smstools3 smsd

export class Smstools extends SmsDaemon {
  readonly config: string;
  private serial = 0;

  constructor(
    world: ConformanceWorld,
    readonly phone: ServedPhone,
    options: { memoryStart: number },
  ) {
    super(world.subdir(`smstools-${phone.profile}`));
    for (const sub of ['outgoing', 'checked', 'incoming', 'sent', 'failed', 'report', 'saved', 'new']) world.subdir(`smstools-${phone.profile}/${sub}`);
    this.config = join(this.dir, 'smsd.conf');
    const at = (name: string): string => join(this.dir, name);
    writeFileSync(
      this.config,
      [
        'devices = GSM1',
        `outgoing = ${at('outgoing')}`,
        `checked = ${at('checked')}`,
        `incoming = ${at('incoming')}`,
        `sent = ${at('sent')}`,
        `failed = ${at('failed')}`,
        `report = ${at('report')}`,
        // Parts of a multipart message wait here until smsd combines them.
        `saved = ${at('saved')}`,
        `logfile = ${at('smsd.log')}`,
        'loglevel = 7',
        `infofile = ${at('smsd.running')}`,
        `pidfile = ${at('smsd.pid')}`,
        'decode_unicode_text = yes',
        'incoming_utf8 = yes',
        'delaytime = 1',
        'delaytime_mainprocess = 1',
        'autosplit = 3',
        '',
        '[GSM1]',
        `device = ${this.phone.path}`,
        'baudrate = 115200',
        'incoming = yes',
        // Storage starts at 0 on Huawei and Quectel modules (docs/modems.md).
        `memory_start = ${options.memoryStart}`,
        // Status reports stored and announced (+CDSI), read like messages.
        'init = AT+CNMI=2,1,0,2,0',
        '',
      ].join('\n'),
    );
  }

  start(): void {
    this.launch('smsd', ['-t', '-c', this.config]);
  }

  /** Puts a message file in the outgoing spool (written aside, then moved in, as smstools asks). */
  send(to: string, text: string, headers: Record<string, string> = {}): string {
    const name = `out-${++this.serial}`;
    const head = Object.entries({ To: to.replace(/^\+/, ''), Alphabet: 'UTF', ...headers }).map(([k, v]) => `${k}: ${v}`);
    writeFileSync(join(this.dir, 'new', name), `${head.join('\n')}\n\n${text}`);
    renameSync(join(this.dir, 'new', name), join(this.dir, 'outgoing', name));
    return name;
  }

  /** A spool file's headers and text (smstools writes headers, a blank line, then the text). */
  static parse(content: Buffer): { headers: Record<string, string>; text: string } {
    const raw = content.toString('utf8');
    const split = raw.indexOf('\n\n');
    const headers: Record<string, string> = {};
    for (const line of raw.slice(0, split).split('\n')) {
      const colon = line.indexOf(': ');
      if (colon > 0) headers[line.slice(0, colon)] = line.slice(colon + 2);
    }
    return { headers, text: raw.slice(split + 2) };
  }

  files(spoolName: 'incoming' | 'sent' | 'failed' | 'report' | 'outgoing' | 'checked'): Array<{ name: string; headers: Record<string, string>; text: string }> {
    return spool(join(this.dir, spoolName)).map((file) => ({ name: file.name, ...Smstools.parse(file.content) }));
  }

}

// ---------------------------------------------------------------------------------------------
// serialport-gsm

const SERIALPORT_GSM_CLIENT = new URL('./clients/serialport-gsm-client.cjs', import.meta.url).pathname;

export type ClientEvent = Record<string, unknown> & { event: string };

/** serialport-gsm in its own Node process (clients/serialport-gsm-client.cjs), events as JSON lines. */
export class SerialportGsm {
  readonly events: ClientEvent[] = [];
  private readonly child: ChildProcess;
  private readonly exit: Promise<number | null>;
  private stderr = '';

  constructor(
    readonly phone: ServedPhone,
    plan: { sends: Array<{ to: string; text: string }> },
  ) {
    this.child = spawn(process.execPath, [SERIALPORT_GSM_CLIENT, phone.path, JSON.stringify(plan)], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr?.on('data', (d: Buffer) => (this.stderr += d.toString()));
    createInterface({ input: this.child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      try {
        this.events.push(JSON.parse(line) as ClientEvent);
      } catch {
        this.events.push({ event: 'output', line });
      }
    });
    this.exit = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  /** Waits for an event; an `error` event or an early exit fails at once. */
  async waitFor(predicate: (event: ClientEvent) => boolean, signal: AbortSignal): Promise<ClientEvent> {
    for (;;) {
      const found = this.events.find(predicate);
      if (found !== undefined) return found;
      const error = this.events.find((e) => e.event === 'error');
      if (error !== undefined) throw new Error(`client error: ${JSON.stringify(error)}; stderr ${this.stderr}`);
      if (this.child.exitCode !== null) throw new Error(`client exited ${this.child.exitCode}; stderr ${this.stderr}`);
      if (signal.aborted) throw new Error('aborted');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Tells the client to close the port and exit; it must, with code 0. */
  async quit(): Promise<void> {
    this.child.stdin?.write('quit\n');
    const code = await this.exit;
    if (code !== 0) throw new Error(`serialport-gsm exited ${code}; stderr ${this.stderr}`);
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}
