/**
 * Finds a modem by the SIM it holds, not by its tty name: after a USB reset a stick can come
 * back as another ttyUSBn, and two identical sticks may share a by-id name
 * (notes/gsm-modems.md §4 "Linux naming"). Each candidate port is opened and asked for
 * `AT+CIMI` (and `AT+CCID` when an ICCID is expected); the matching port is returned open,
 * the others are closed. A port another process holds (locked) is skipped.
 *
 *   openPort: () => locateModemPort({ candidates, open: (path) => openSerialPort({ path, baudRate }),
 *                                     identity: { imsi }, clock })
 * @module
 */
import type { Clock } from '../clock.ts';
import { HsmError } from '../errors.ts';
import type { Port } from '../port.ts';
import { AtDialog } from './at-dialog.ts';
import { parseDigits } from './at-responses.ts';

export interface LocateOptions {
  /** Paths to try, e.g. the entries of /dev/serial/by-path, read afresh on every call. */
  candidates: () => Promise<readonly string[]> | readonly string[];
  open: (path: string) => Promise<Port> | Port;
  identity: { imsi?: string; iccid?: string };
  clock: Clock;
  /** Per command. Default 2 s. */
  timeoutMs?: number;
}

export interface LocatedModem {
  path: string;
  port: Port;
  imsi: string;
  iccid: string | undefined;
}

export async function locateModemPort(options: LocateOptions): Promise<LocatedModem> {
  const { imsi, iccid } = options.identity;
  if (imsi === undefined && iccid === undefined) {
    throw new HsmError('MODEM_BAD_OPTION', 'locating a modem needs an IMSI or an ICCID', { field: 'identity' });
  }
  const tried: string[] = [];
  for (const path of await options.candidates()) {
    let port: Port;
    try {
      port = await options.open(path);
    } catch {
      tried.push(`${path} (cannot open)`);
      continue;
    }
    try {
      const found = await identify(port, options.clock, options.timeoutMs ?? 2_000, iccid !== undefined);
      if ((imsi === undefined || found.imsi === imsi) && (iccid === undefined || found.iccid === iccid)) {
        return { path, port, imsi: found.imsi, iccid: found.iccid };
      }
      tried.push(`${path} (IMSI ${found.imsi})`);
    } catch (error) {
      tried.push(`${path} (${error instanceof HsmError ? error.code : 'no answer'})`);
    }
    await port.close().catch(() => undefined);
  }
  throw new HsmError('MODEM_NOT_FOUND', `no modem holds the SIM ${imsi ?? iccid}; tried ${tried.length === 0 ? 'nothing' : tried.join(', ')}`, {
    field: imsi !== undefined ? 'imsi' : 'iccid',
  });
}

async function identify(port: Port, clock: Clock, timeoutMs: number, wantIccid: boolean): Promise<{ imsi: string; iccid: string | undefined }> {
  const dialog = new AtDialog(port, clock, timeoutMs);
  try {
    await dialog.escape();
    await dialog.ask('AT');
    const cimi = await dialog.ask('AT+CIMI');
    if (cimi.result.kind !== 'ok') throw new HsmError('MODEM_NO_SIM', `${port.path} reports no IMSI`, { field: 'imsi' });
    const imsi = parseDigits(cimi.lines, 'AT+CIMI', 6, 15);
    let iccid: string | undefined;
    if (wantIccid) {
      const ccid = await dialog.ask('AT+CCID');
      if (ccid.result.kind === 'ok') iccid = parseDigits(ccid.lines, 'AT+CCID', 18, 20);
    }
    return { imsi, iccid };
  } finally {
    dialog.close();
  }
}
