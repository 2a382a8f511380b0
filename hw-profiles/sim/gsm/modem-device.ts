/**
 * An emulated modem on an emulated USB serial line: the host opens its end as a `Port`, and
 * `unplug()`/`replug()` do what pulling the stick does: the host's port closes as disconnected,
 * the modem loses power and state, and after replug the port can be opened again and the modem
 * boots anew.
 * @module
 */
import { HsmError } from '../../../shared/errors.ts';
import type { Port } from '../../../shared/port.ts';
import { VirtualSerialPair, type UartFaults } from '../uart/virtual-pair.ts';
import { EmulatedModem, type EmulatedModemOptions } from './emulated-modem.ts';

export interface EmulatedModemDeviceOptions extends EmulatedModemOptions {
  /** Name of the line in logs and port paths. */
  name?: string;
  baudRate?: number;
  faults?: UartFaults;
}

export class EmulatedModemDevice {
  readonly modem: EmulatedModem;
  readonly pair: VirtualSerialPair;
  private hostPort: Port | undefined;

  constructor(options: EmulatedModemDeviceOptions) {
    this.modem = new EmulatedModem(options);
    const pairOptions: ConstructorParameters<typeof VirtualSerialPair>[0] = {
      clock: options.clock,
      baudRate: options.baudRate ?? 115_200,
      name: options.name ?? `modem-${options.sim?.msisdn ?? 'nosim'}`,
    };
    if (options.faults !== undefined) pairOptions.faults = options.faults;
    if (options.random !== undefined) pairOptions.random = options.random.fork('uart');
    this.pair = new VirtualSerialPair(pairOptions);
    this.modem.connect(this.pair.open('b'));
  }

  /** The host's end (the tty). Throws PORT_UNAVAILABLE while unplugged or already open. */
  openHostPort(): Port {
    if (!this.pair.isPlugged('a')) throw new HsmError('PORT_UNAVAILABLE', 'the modem is unplugged', { field: 'path' });
    const port = this.pair.open('a');
    this.hostPort = port;
    this.modem.hostPortReopened();
    return port;
  }

  get plugged(): boolean {
    return this.pair.isPlugged('a');
  }

  unplug(): void {
    this.pair.unplug('a');
    this.pair.unplug('b');
    this.modem.disconnect();
    this.hostPort = undefined;
  }

  replug(): void {
    if (this.plugged) return;
    this.pair.replug('a');
    this.pair.replug('b');
    this.modem.connect(this.pair.open('b'));
  }

  get hostPortOpen(): boolean {
    return this.hostPort?.isOpen ?? false;
  }
}
