import { describe, expect, it } from 'vitest';
import { HsmError } from '../../shared/errors.ts';
import { Modem } from '../../shared/gsm/modem.ts';
import { locateModemPort } from '../../shared/gsm/modem-locator.ts';
import { EmulatedModemDevice } from '../../hw-profiles/sim/gsm/modem-device.ts';
import { drive, world } from './helpers.ts';

describe('locateModemPort: the SIM, not the tty name', () => {
  it('finds each SIM wherever its stick enumerated, before and after the names swap', async () => {
    const w = world();
    const sim1 = w.network.issueSim({ carrierId: 'A', msisdn: '+4917100000001' });
    const sim2 = w.network.issueSim({ carrierId: 'B', msisdn: '+4917200000002' });
    const stick1 = new EmulatedModemDevice({ clock: w.clock, network: w.network, sim: sim1, profile: 'e3372' });
    const stick2 = new EmulatedModemDevice({ clock: w.clock, network: w.network, sim: sim2, profile: 'e3372' });
    let ttys: Record<string, EmulatedModemDevice> = { '/dev/ttyUSB0': stick2, '/dev/ttyUSB2': stick1 };
    const open = (path: string) => {
      const device = ttys[path];
      if (device === undefined) throw new HsmError('PORT_OPEN', `no ${path}`, { field: 'path' });
      return device.openHostPort();
    };
    const candidates = () => ['/dev/ttyUSB1', ...Object.keys(ttys)];
    const first = await drive(w.clock, locateModemPort({ candidates, open, identity: { imsi: sim1.imsi }, clock: w.clock }));
    expect(first).toMatchObject({ path: '/dev/ttyUSB2', imsi: sim1.imsi });
    expect(stick2.hostPortOpen).toBe(false);
    await first.port.close();

    ttys = { '/dev/ttyUSB4': stick1, '/dev/ttyUSB3': stick2 };
    const modem = new Modem({
      clock: w.clock,
      name: 'sim1',
      openPort: async () => (await locateModemPort({ candidates, open, identity: { imsi: sim1.imsi, iccid: sim1.iccid }, clock: w.clock })).port,
      expect: { imsi: sim1.imsi },
    });
    expect(await drive(w.clock, modem.start())).toBe('ready');
    expect(modem.identity?.iccid).toBe(sim1.iccid);
    expect(stick1.hostPortOpen).toBe(true);
    expect(stick2.hostPortOpen).toBe(false);
  });

  it('names what it tried when no modem holds the SIM', async () => {
    const w = world();
    const sim = w.network.issueSim({ carrierId: 'A', msisdn: '+4917100000001' });
    const stick = new EmulatedModemDevice({ clock: w.clock, network: w.network, sim });
    stick.modem.hang('manual');
    const error = await drive(
      w.clock,
      locateModemPort({ candidates: () => ['/dev/ttyACM0'], open: () => stick.openHostPort(), identity: { imsi: '001019999999999' }, clock: w.clock }),
    ).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'MODEM_NOT_FOUND', field: 'imsi' });
    expect((error as Error).message).toContain('/dev/ttyACM0 (MODEM_TIMEOUT)');
    await expect(locateModemPort({ candidates: () => [], open: () => stick.openHostPort(), identity: {}, clock: w.clock })).rejects.toMatchObject({ code: 'MODEM_BAD_OPTION', field: 'identity' });
  });
});
