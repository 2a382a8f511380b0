/**
 * Hardware profiles (DESIGN.md, rule 9): one JSON file describes one machine, the ports and
 * modems HSM-Hot and/or HSM-Cold find on it, where each keeps its state and which time sources
 * it has. `hw-profiles/profiles/<name>.json` are the shipped boards; `sim.json` is the
 * simulated machine the rig and CI use, holding both devices.
 *
 *   {
 *     "name": "rpi4-cold-sim800c", "description": "...", "board": "rpi4",
 *     "cold": {
 *       "stateDir": "/var/lib/hsm/cold",
 *       "link":    { "path": "/dev/hsm/link", "baudRate": 115200, "kind": "pl011" },
 *       "console": { "path": "/dev/hsm/console", "baudRate": 115200, "kind": "uart" },
 *       "time":    { "sources": ["modem", "peer"], "maxSkewSeconds": 120 },
 *       "modems": [{ "name": "sim1", "model": "sim800c",
 *                    "match": { "by": "imsi", "value": "460001234567890" },
 *                    "candidates": ["/dev/hsm/modem-*"], "baudRate": 115200,
 *                    "pin": { "file": "/etc/hsm/sim1.pin" }, "smsc": "+8613800100500" }]
 *     },
 *     "hot": { "stateDir": ..., "link": ..., "time": { "sources": ["ntp"] },
 *              "hostApi": { "host": "127.0.0.1", "port": 8750 }, "config": { ...hsm-hot/config.ts } }
 *   }
 *
 * Modems are found by the SIM they hold (IMSI or ICCID, asked on every candidate port; a glob
 * may end the path: `/dev/serial/by-path/*-port0`), or by one fixed by-path name, never by a
 * ttyUSB number: sticks re-enumerate, and two identical sticks share a by-id name
 * (notes/gsm-modems.md §4 "Linux naming"). A SIM PIN is never in a profile, only where to read
 * it: a root-owned file, or a systemd credential (`LoadCredential=`).
 *
 * In `sim.json` (board `sim`) any path may be a placeholder `sim:<name>`, which the simulated
 * hardware (hw-profiles/sim/hardware.ts) resolves to a pty at run time (`resolveSimPaths`), and
 * each modem says which emulated model, carrier and number stands behind it.
 *
 * Every error is an `HsmError` whose field is the JSON path of the bad value
 * (`cold.modems[1].match.value`), and whose message starts with the profile's name or file.
 * @module
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { z } from 'zod';
import { HsmError } from '../shared/errors.ts';
import type { ModemQuirks } from '../shared/gsm/modem.ts';
import { packagePath } from '../shared/package.ts';
import { parseHotConfig } from '../hsm-hot/config.ts';
import { MODEM_PROFILE_NAMES } from './sim/gsm/modem-profiles.ts';

export const PROFILES_DIR = `${packagePath('hw-profiles', 'profiles')}/`;
/** Profiles are small; anything larger is not one. */
const MAX_PROFILE_BYTES = 64 * 1024;
export const SIM_PREFIX = 'sim:';

export const BOARDS = ['rpi4', 'rpi5', 'rpiz2w', 'sim'] as const;
export type Board = (typeof BOARDS)[number];

/** Standard rates only: the Linux bindings need termios2 for others, and ptys ignore them anyway. */
export const BAUD_RATES = [9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600] as const;

/**
 * How a port is wired, so checks and fixes can be specific:
 * `pl011` the Pi's full UART on GPIO 14/15, `uart` another UART, `usb-serial` a USB adapter,
 * `usb-gadget` the Pi's own USB port as a serial gadget (g_serial, /dev/ttyGS0), `pty` simulated.
 */
export const PORT_KINDS = ['pl011', 'uart', 'usb-serial', 'usb-gadget', 'pty'] as const;
export type PortKind = (typeof PORT_KINDS)[number];

/**
 * `ntp` the network (HSM-Hot only), `rtc` a battery-backed clock (/dev/rtc0), `modem` the
 * network time the modems keep (NITZ, `AT+CCLK?`; HSM-Cold only), `peer` the other HSM over
 * the link.
 */
export const TIME_SOURCES = ['ntp', 'rtc', 'modem', 'peer'] as const;
export type TimeSource = (typeof TIME_SOURCES)[number];

export interface ModemModel {
  /** What the driver needs to know about the module (shared/gsm/modem.ts). */
  quirks: ModemQuirks;
  /** How it is usually attached, for checks and fixes. */
  transport: 'uart' | 'usb';
  description: string;
}

/** The modems the profiles support, and what the driver does differently for each. */
export const MODEM_MODELS = {
  sim800c: {
    transport: 'uart',
    description: 'SIMCom SIM800C on a UART (3.3 V logic; needs a 2 A supply of its own)',
    quirks: { resetDelayMs: 10_000 },
  },
  e3372: {
    transport: 'usb',
    description: 'Huawei E3372 in stick mode (12d1:1001/1506, ttyUSB0 is the AT port), not HiLink',
    // Huawei sticks flood ^RSSI/^MODE/^BOOT reports unless told not to (gammu #111, #138).
    quirks: { initCommands: ['AT^CURC=0'], resetDelayMs: 15_000 },
  },
  ec25: {
    transport: 'usb',
    description: 'Quectel EC25 (2c7c:0125): AT commands on interface 2 (ttyUSB2)',
    quirks: { resetDelayMs: 20_000 },
  },
} as const satisfies Record<string, ModemModel>;
export type ModemModelName = keyof typeof MODEM_MODELS;
const MODEM_MODEL_NAMES = Object.keys(MODEM_MODELS) as [ModemModelName, ...ModemModelName[]];

// ---------------------------------------------------------------------------------------------
// Schema

const simPlaceholder = z.string().regex(/^sim:[a-z0-9][a-z0-9-]{0,47}$/, 'must be a placeholder sim:<name> (lower-case letters, digits, dashes)');
const absolutePath = z
  .string()
  .max(255)
  .regex(/^\/[^\0*?[\]]*$/, 'must be an absolute path without wildcards');
const pathOrSim = z.union([absolutePath, simPlaceholder], { error: 'must be an absolute path (or a placeholder sim:<name> in the simulated profile)' });
/** A wildcard (`*`, `?`) may appear in the last path segment only. */
const pathGlob = z
  .string()
  .max(255)
  .regex(/^\/([^\0*?[\]]*\/)?[^\0/[\]]+$/, 'must be an absolute path with * or ? only in its last segment');
const globOrSim = z.union([pathGlob, simPlaceholder], { error: 'must be an absolute path with * or ? only in its last segment (or a placeholder sim:<name> in the simulated profile)' });
const baudRate = z.union(
  BAUD_RATES.map((rate) => z.literal(rate)),
  { error: `must be one of the standard rates ${BAUD_RATES.join(', ')}` },
);
const phoneNumber = z.string().regex(/^\+[1-9][0-9]{5,14}$/, 'must be an E.164 number such as +4917612345678');

const portSchema = z.strictObject({
  path: pathOrSim,
  baudRate: baudRate.default(115_200),
  kind: z.enum(PORT_KINDS),
});

const timeSchema = z.strictObject({
  sources: z
    .array(z.enum(TIME_SOURCES))
    .min(1)
    .max(TIME_SOURCES.length)
    .refine((list) => new Set(list).size === list.length, 'must name each source once'),
  /** How far a source may disagree with the local clock before the doctor reports it. */
  maxSkewSeconds: z.number().int().min(1).max(3600).default(120),
});

const matchSchema = z.discriminatedUnion(
  'by',
  [
    z.strictObject({ by: z.literal('imsi'), value: z.string().regex(/^[0-9]{6,15}$/, 'must be an IMSI of 6-15 digits') }),
    z.strictObject({ by: z.literal('iccid'), value: z.string().regex(/^[0-9]{18,20}$/, 'must be an ICCID of 18-20 digits') }),
    z.strictObject({ by: z.literal('path'), value: pathOrSim }),
  ],
  { error: 'must be imsi, iccid or path' },
);

const pinRefSchema = z.union(
  [
    z.strictObject({ file: absolutePath }),
    z.strictObject({ credential: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be a systemd credential name') }),
  ],
  { error: 'must be a reference {"file": "/etc/hsm/sim1.pin"} or {"credential": "sim1-pin"}, never the PIN itself' },
);

const emulatedSchema = z.strictObject({
  model: z.enum(MODEM_PROFILE_NAMES as [string, ...string[]]),
  carrier: z.string().regex(/^[A-Z]$/, 'must be a carrier id such as A or B'),
  msisdn: phoneNumber,
  /** Where the emulated modem is served: a placeholder, or the pty it resolved to. */
  port: pathOrSim,
});

const modemSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_.-]{1,32}$/, 'must be 1-32 letters, digits, dots, dashes or underscores'),
  model: z.enum(MODEM_MODEL_NAMES),
  match: matchSchema,
  /** Ports to ask for the SIM (match by imsi/iccid); re-read on every (re)open. */
  candidates: z.array(globOrSim).min(1).max(16).optional(),
  baudRate: baudRate.default(115_200),
  pin: pinRefSchema.optional(),
  /** SMSC to set when the SIM carries none. */
  smsc: z.string().regex(/^\+?[0-9]{1,20}$/, 'must be "+" and 1-20 digits').optional(),
  /** Simulated profile only: what stands behind this modem. */
  emulated: emulatedSchema.optional(),
});

const sectionFields = {
  stateDir: pathOrSim,
  link: portSchema,
  console: portSchema.optional(),
  time: timeSchema,
};

const hotSchema = z.strictObject({
  ...sectionFields,
  /** The host API's listen address; port 0 picks a free one. */
  hostApi: z.strictObject({
    host: z.string().regex(/^[A-Za-z0-9.:-]{1,253}$/, 'must be an IP address or host name'),
    port: z.number().int().min(0).max(65535),
  }),
  /** HSM-Hot's coins, fees and API limits (hsm-hot/config.ts); its defaults when absent. */
  config: z.unknown().optional(),
});

const coldSchema = z.strictObject({
  ...sectionFields,
  modems: z.array(modemSchema).min(1, 'one or two modems').max(2, 'one or two modems'),
});

export const profileSchema = z
  .strictObject({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'must be lower-case letters, digits and dashes'),
    description: z.string().min(1).max(500),
    board: z.enum(BOARDS),
    hot: hotSchema.optional(),
    cold: coldSchema.optional(),
  })
  .superRefine((profile, ctx) => {
    const issue = (path: Array<string | number>, message: string): void => ctx.addIssue({ code: 'custom', path, message });
    if (profile.hot === undefined && profile.cold === undefined) issue([], 'a profile needs a "hot" or a "cold" section (or both)');
    const simulated = profile.board === 'sim';
    for (const role of ['hot', 'cold'] as const) {
      const section = profile[role];
      if (section === undefined) continue;
      const banned: TimeSource = role === 'hot' ? 'modem' : 'ntp';
      const at = section.time.sources.indexOf(banned);
      if (at >= 0) issue([role, 'time', 'sources', at], role === 'hot' ? 'HSM-Hot has no modems to take time from' : 'HSM-Cold has no network, so no NTP');
      for (const port of ['link', 'console'] as const) {
        const kind = section[port]?.kind;
        if (kind === undefined) continue;
        if ((kind === 'pty') !== simulated) issue([role, port, 'kind'], simulated ? 'ports of the simulated profile are ptys' : 'pty is for the simulated profile only');
        if (port === 'link' && kind === 'usb-gadget') issue([role, port, 'kind'], 'the link needs a UART or a USB-serial adapter, not a gadget port');
      }
      if (section.console !== undefined && section.console.path === section.link.path) issue([role, 'console', 'path'], 'the console needs a port of its own, not the link');
    }
    if (profile.hot !== undefined && profile.cold !== undefined && !simulated && profile.hot.stateDir === profile.cold.stateDir) {
      issue(['cold', 'stateDir'], 'HSM-Hot and HSM-Cold need separate state directories');
    }
    if (profile.hot?.config !== undefined) {
      try {
        parseHotConfig(profile.hot.config);
      } catch (error) {
        const field = error instanceof HsmError && error.field !== undefined && error.field !== '' ? error.field.split('.').map(segment) : [];
        issue(['hot', 'config', ...field], error instanceof HsmError ? error.message.replace(/^configuration [^:]*: /, '') : 'invalid');
      }
    }
    const modems = profile.cold?.modems ?? [];
    const seen = { name: new Map<string, number>(), match: new Map<string, number>() };
    modems.forEach((modem, i) => {
      const base = ['cold', 'modems', i];
      if (seen.name.has(modem.name)) issue([...base, 'name'], `"${modem.name}" is already the name of modems[${seen.name.get(modem.name)}]`);
      seen.name.set(modem.name, i);
      const key = `${modem.match.by}:${modem.match.value}`;
      if (seen.match.has(key)) issue([...base, 'match', 'value'], `modems[${seen.match.get(key)}] already matches ${modem.match.by} ${modem.match.value}`);
      seen.match.set(key, i);
      if (modem.match.by === 'path' && modem.candidates !== undefined) issue([...base, 'candidates'], 'a modem matched by path has no candidates');
      if (modem.match.by !== 'path' && modem.candidates === undefined) issue([...base, 'candidates'], `the ports to search for the ${modem.match.by.toUpperCase()} are required`);
      if (simulated && modem.emulated === undefined) issue([...base, 'emulated'], 'the simulated profile says which emulated modem stands behind each modem');
      if (!simulated && modem.emulated !== undefined) issue([...base, 'emulated'], 'only the simulated profile has emulated modems');
      if (simulated && modem.match.by === 'path') issue([...base, 'match', 'by'], 'the simulated profile matches its modems by SIM identity');
    });
    if (!simulated) {
      forEachString(profile, [], (value, path) => {
        if (value.startsWith(SIM_PREFIX) && path[path.length - 1] !== 'description') issue(path, 'sim:<name> placeholders belong to the simulated profile');
      });
    }
  });

export type Profile = z.output<typeof profileSchema>;
export type ProfileInput = z.input<typeof profileSchema>;
export type HotSection = NonNullable<Profile['hot']>;
export type ColdSection = NonNullable<Profile['cold']>;
export type PortSpec = ColdSection['link'];
export type ModemSpec = ColdSection['modems'][number];
export type PinRef = NonNullable<ModemSpec['pin']>;
export type Role = 'hot' | 'cold';

function segment(part: string): string | number {
  return /^[0-9]+$/.test(part) ? Number(part) : part;
}

/** `cold.modems[1].match.value`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

function forEachString(value: unknown, path: Array<string | number>, visit: (value: string, path: Array<string | number>) => void): void {
  if (typeof value === 'string') visit(value, path);
  else if (Array.isArray(value)) value.forEach((item, i) => forEachString(item, [...path, i], visit));
  else if (typeof value === 'object' && value !== null) for (const [key, item] of Object.entries(value)) forEachString(item, [...path, key], visit);
}

function describeIssue(issue: z.core.$ZodIssue, json: unknown): { field: string; message: string } {
  const path = [...issue.path];
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') {
    path.push(issue.keys[0] ?? '');
    message = 'is not a known field';
  } else if (path.length > 0 && valueAt(json, path) === undefined) {
    message = `is required (${issue.code === 'invalid_type' ? `expected ${issue.expected}` : message})`;
  }
  return { field: formatPath(path), message };
}

function valueAt(json: unknown, path: readonly PropertyKey[]): unknown {
  let value = json;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// Loading

/** Validates a parsed JSON profile; `source` (a name or file) starts every error message. */
export function parseProfile(json: unknown, source: string): Profile {
  const parsed = profileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const { field, message } = issue === undefined ? { field: '', message: 'invalid' } : describeIssue(issue, json);
    throw new HsmError('PROFILE_INVALID', `profile ${source}: ${field === '' ? '' : `${field}: `}${message}`, { field: field === '' ? 'profile' : field });
  }
  return parsed.data;
}

/** Names of the shipped profiles (`hw-profiles/profiles/*.json`). */
export function profileNames(): string[] {
  return readdirNames(PROFILES_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();
}

function readdirNames(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * A shipped profile by name (`sim`, `rpi4-cold-sim800c`), or a profile file by path (anything
 * with a `/` or ending in `.json`).
 */
export function loadProfile(nameOrFile: string): Profile {
  const isFile = nameOrFile.includes('/') || nameOrFile.endsWith('.json');
  if (!isFile && !/^[a-z0-9][a-z0-9-]{0,63}$/.test(nameOrFile)) {
    throw new HsmError('PROFILE_NOT_FOUND', `"${nameOrFile.slice(0, 64)}" is neither a profile name nor a .json file`, { field: 'profile' });
  }
  const file = isFile ? nameOrFile : `${PROFILES_DIR}${nameOrFile}.json`;
  let text: string;
  try {
    if (statSync(file).size > MAX_PROFILE_BYTES) throw new HsmError('PROFILE_INVALID', `profile ${nameOrFile}: larger than ${MAX_PROFILE_BYTES} bytes`, { field: 'profile' });
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if (error instanceof HsmError) throw error;
    const known = isFile ? '' : ` (shipped profiles: ${profileNames().join(', ')})`;
    throw new HsmError('PROFILE_NOT_FOUND', `no profile ${nameOrFile}${known}`, { field: 'profile', cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new HsmError('PROFILE_INVALID', `profile ${nameOrFile}: not valid JSON (${(error as Error).message})`, { field: 'profile' });
  }
  return parseProfile(json, nameOrFile);
}

// ---------------------------------------------------------------------------------------------
// Simulated paths

export function isSimPath(value: string): boolean {
  return value.startsWith(SIM_PREFIX);
}

/** Every `sim:<name>` placeholder in the profile, with the field it sits in. */
export function simPlaceholders(profile: Profile): Array<{ name: string; field: string }> {
  const found: Array<{ name: string; field: string }> = [];
  forEachString(profile, [], (value, path) => {
    if (isSimPath(value) && path[path.length - 1] !== 'description') found.push({ name: value.slice(SIM_PREFIX.length), field: formatPath(path) });
  });
  return found;
}

/**
 * Replaces each `sim:<name>` with `paths[name]` (a pty or directory the simulated hardware
 * made). A placeholder without a path is an error naming its field.
 */
export function resolveSimPaths(profile: Profile, paths: Record<string, string>): Profile {
  const walk = (value: unknown, path: Array<string | number>): unknown => {
    if (typeof value === 'string') {
      if (!isSimPath(value) || path[path.length - 1] === 'description') return value;
      const name = value.slice(SIM_PREFIX.length);
      const resolved = Object.hasOwn(paths, name) ? paths[name] : undefined;
      if (resolved === undefined) {
        throw new HsmError('PROFILE_SIM_PATH', `profile ${profile.name}: ${formatPath(path)} names ${value}, which the simulated hardware does not provide`, { field: formatPath(path) });
      }
      return resolved;
    }
    if (Array.isArray(value)) return value.map((item, i) => walk(item, [...path, i]));
    if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, walk(item, [...path, key])]));
    return value;
  };
  return walk(profile, []) as Profile;
}

/** The section of `role`, or PROFILE_ROLE naming what the profile does hold. */
export function profileSection<R extends Role>(profile: Profile, role: R): NonNullable<Profile[R]> {
  const section = profile[role];
  if (section === undefined) {
    const has = (['hot', 'cold'] as const).filter((r) => profile[r] !== undefined).join(' and ');
    throw new HsmError('PROFILE_ROLE', `profile ${profile.name} describes no HSM-${role === 'hot' ? 'Hot' : 'Cold'} (it has ${has})`, { field: role });
  }
  return section as NonNullable<Profile[R]>;
}

/** The roles a profile holds, hot first. */
export function profileRoles(profile: Profile): Role[] {
  return (['hot', 'cold'] as const).filter((role) => profile[role] !== undefined);
}

// ---------------------------------------------------------------------------------------------
// Candidate ports

/**
 * Expands candidate patterns to the paths that exist now, in order, each pattern's matches
 * sorted. A wildcard is allowed in the last segment only (the schema enforces it).
 */
export function expandCandidates(patterns: readonly string[]): string[] {
  const out: string[] = [];
  for (const pattern of patterns) {
    const slash = pattern.lastIndexOf('/');
    const dir = pattern.slice(0, slash) || '/';
    const last = pattern.slice(slash + 1);
    if (!/[*?]/.test(last)) {
      if (exists(pattern) && !out.includes(pattern)) out.push(pattern);
      continue;
    }
    const regex = new RegExp(`^${last.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
    for (const name of readdirNames(dir).sort()) {
      const path = `${dir === '/' ? '' : dir}/${name}`;
      if (regex.test(name) && !out.includes(path)) out.push(path);
    }
  }
  return out;
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}
