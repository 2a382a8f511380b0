/**
 * The emulated modem's control API as one-line JSON commands, for modems served in another
 * process (`hsm modem-sim` reads them on stdin). A line is an object with one command and,
 * optionally, `"modem": "<msisdn>"` naming which of the served modems it is for (default: the
 * first). Each line is checked against a strict schema; a bad one is answered with an error
 * naming the field and changes nothing.
 *
 *   {"inject":{"from":"+4917...","text":"...","order":[2,1],"referenceBits":16}}
 *   {"statusReport":{"messageReference":3,"recipient":"+4917...","status":0}}
 *   {"registration":2}            {"registration":null}      {"signal":{"rssi":9}}
 *   {"removeSim":true}            {"insertSim":true}         {"fillStorage":true}
 *   {"fail":{"command":"+CMGS","error":{"cms":500},"times":1}}
 *   {"latency":{"ms":300,"command":"+CMGL"}}                {"sendDelay":[2000,30000]}
 *   {"hang":"port-reopen"}        {"unhang":true}            {"unplug":true}   {"replug":true}
 *   {"carrier":{"id":"A","up":false}}                        {"messages":true}
 *   {"sendFromOutside":{"from":"+1555...","to":"+4917...","text":"..."}}
 *   {"modem":"+4917...2","inject":{"from":"+1555...","text":"to a peer"}}
 * @module
 */
import { z } from 'zod';
import { HsmError } from '../../../shared/errors.ts';
import type { EmulatedModem } from './emulated-modem.ts';
import type { SimCard, SimulatedGsmNetwork } from './network.ts';

const phone = z.string().max(21);
const ms = z.number().int().min(0).max(600_000);

/** One schema per command name; a control line is an object with exactly one of these keys. */
const COMMAND_SCHEMAS = {
  inject: z.strictObject({
    from: phone,
    text: z.string().max(2_000),
    alphabet: z.enum(['auto', 'gsm7', 'ucs2']).optional(),
    referenceBits: z.union([z.literal(8), z.literal(16)]).optional(),
    concatReference: z.number().int().min(0).max(0xffff).optional(),
    order: z.union([z.array(z.number().int().min(1).max(255)).max(255), z.literal('reverse')]).optional(),
    timestamp: z.number().optional(),
  }),
  statusReport: z.strictObject({ messageReference: z.number().int().min(0).max(255), recipient: phone, status: z.number().int().min(0).max(127).optional() }),
  registration: z.number().int().min(0).max(5).nullable(),
  signal: z.strictObject({ rssi: z.number().int(), ber: z.number().int().optional() }),
  removeSim: z.literal(true),
  insertSim: z.literal(true),
  fillStorage: z.literal(true),
  fail: z.strictObject({
    command: z.string().max(16),
    error: z.union([z.literal('error'), z.strictObject({ cms: z.number().int() }), z.strictObject({ cme: z.number().int() })]),
    times: z.number().int().optional(),
  }),
  latency: z.strictObject({ ms, command: z.string().max(16).optional() }),
  sendDelay: z.union([ms, z.tuple([ms, ms])]),
  hang: z.enum(['power-cycle', 'port-reopen', 'manual']),
  unhang: z.literal(true),
  unplug: z.literal(true),
  replug: z.literal(true),
  carrier: z.strictObject({ id: z.string().max(8), up: z.boolean() }),
  messages: z.literal(true),
  sendFromOutside: z.strictObject({ from: phone, to: phone, text: z.string().max(2_000) }),
} as const;

type Schemas = typeof COMMAND_SCHEMAS;

export type ControlCommand = { [K in keyof Schemas]: { [P in K]: z.infer<Schemas[K]> } }[keyof Schemas];

export interface ControlTarget {
  modem: EmulatedModem;
  network: SimulatedGsmNetwork;
  sim: SimCard;
  unplug(): Promise<void>;
  replug(): Promise<void>;
}

export type ControlReply =
  | { event: 'ok'; command: string; modem?: string; result?: unknown }
  | { event: 'error'; error: { code: string; field?: string; message: string } };

/** A control line: the command, and the MSISDN of the modem it is for when it names one. */
export interface ControlLine {
  modem?: string;
  command: ControlCommand;
}

/** Parses one control line; throws `MODEM_BAD_CONTROL` naming the field at fault. */
export function parseControlLine(line: string): ControlLine {
  if (line.length > 8_192) throw new HsmError('MODEM_BAD_CONTROL', 'a control line is at most 8 KiB', { field: 'line' });
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    throw new HsmError('MODEM_BAD_CONTROL', 'a control line is one JSON object', { field: 'line' });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new HsmError('MODEM_BAD_CONTROL', 'a control line is an object with one command', { field: 'line' });
  }
  const { modem, ...rest } = json as Record<string, unknown>;
  if (modem !== undefined && (typeof modem !== 'string' || !/^\+?[0-9]{1,20}$/.test(modem))) {
    throw new HsmError('MODEM_BAD_CONTROL', 'modem is the MSISDN of one of the served modems', { field: 'modem' });
  }
  if (Object.keys(rest).length !== 1) throw new HsmError('MODEM_BAD_CONTROL', 'a control line is an object with one command', { field: 'line' });
  const [name, value] = Object.entries(rest)[0] as [string, unknown];
  if (!Object.hasOwn(COMMAND_SCHEMAS, name)) {
    throw new HsmError('MODEM_BAD_CONTROL', `unknown control command "${name.slice(0, 32)}"`, { field: 'line' });
  }
  const checked = COMMAND_SCHEMAS[name as keyof Schemas].safeParse(value);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    const field = [name, ...(issue?.path ?? []).map(String)].join('.');
    throw new HsmError('MODEM_BAD_CONTROL', `bad control command at ${field}: ${issue?.message ?? 'invalid'}`, { field });
  }
  const command = { [name]: checked.data } as ControlCommand;
  return typeof modem === 'string' ? { modem, command } : { command };
}

/** The command of a control line (the modem it names, if any, left aside). */
export function parseControl(line: string): ControlCommand {
  return parseControlLine(line).command;
}

/**
 * Runs one control line against the served modem it names (`targetOf` throws for an unknown
 * number); errors are answered, never thrown.
 */
export async function applyControl(targetOf: (msisdn: string | undefined) => ControlTarget, line: string): Promise<ControlReply> {
  try {
    const { modem, command } = parseControlLine(line);
    const target = targetOf(modem);
    const name = Object.keys(command)[0] as string;
    const result = await apply(target, command);
    const reply: ControlReply = { event: 'ok', command: name, ...(modem === undefined ? {} : { modem }) };
    return result === undefined ? reply : { ...reply, result };
  } catch (error) {
    const safe = error instanceof HsmError ? error.toJSON() : { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) };
    return { event: 'error', error: safe };
  }
}

async function apply(target: ControlTarget, command: ControlCommand): Promise<unknown> {
  const { modem, network } = target;
  if ('inject' in command) {
    const { order, ...rest } = command.inject;
    return { indexes: modem.injectSms(order === undefined ? rest : { ...rest, order }) };
  }
  if ('statusReport' in command) return { outcome: modem.injectStatusReport(command.statusReport) };
  if ('registration' in command) return modem.setRegistration(command.registration ?? undefined);
  if ('signal' in command) return modem.setSignal(command.signal.rssi, command.signal.ber);
  if ('removeSim' in command) return modem.removeSim();
  if ('insertSim' in command) return modem.insertSim(target.sim);
  if ('fillStorage' in command) return modem.fillStorage();
  if ('fail' in command) return modem.failNext(command.fail);
  if ('latency' in command) return modem.setLatency(command.latency.ms, command.latency.command);
  if ('sendDelay' in command) return modem.setSendDelay(command.sendDelay);
  if ('hang' in command) return modem.hang(command.hang);
  if ('unhang' in command) return modem.unhang();
  if ('unplug' in command) return target.unplug();
  if ('replug' in command) return target.replug();
  if ('carrier' in command) return network.setCarrierUp(command.carrier.id, command.carrier.up);
  if ('messages' in command) return { messages: modem.messages() };
  return { submissions: network.sendFromOutside(command.sendFromOutside) };
}
