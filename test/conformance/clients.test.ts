/**
 * Real SMS clients against the emulated modems, one client per profile so every profile meets
 * a real client in npm test: gammu on the E3372, gammu-smsd on the EC25, smstools3 on the
 * SIM800C, serialport-gsm on the default profile. The full matrix (every client on every
 * profile, every check) is clients.soak.test.ts. Clients use separate ptys and run side by side.
 */
import { describe, it } from 'vitest';
import { osTool, osTools } from '../helpers/os-tools.ts';
import { gammuChecks, gammuSmsdChecks, serialportGsmChecks, smstoolsChecks } from './checks.ts';

const tools = osTools(osTool('socat', 'socat'), osTool('gammu', 'gammu'), osTool('gammu-smsd', 'gammu-smsd'), osTool('smsd', 'smstools'));
const LIMIT_MS = 10 * 60_000;

describe.skipIf(!tools.available).concurrent('real SMS clients against the emulated modems', () => {
  it('gammu on e3372: identify, sendsms -len 400, getallsms, getussd', () => gammuChecks('e3372', false), LIMIT_MS);
  it('gammu-smsd on ec25: a multipart message out and one in', () => gammuSmsdChecks('ec25', false), LIMIT_MS);
  it('smstools3 on sim800c: a multipart message out and one in', () => smstoolsChecks('sim800c', false), LIMIT_MS);
  it('serialport-gsm on default: initialize, inbox, short and Unicode sends, a multipart message from a peer', () => serialportGsmChecks('default'), LIMIT_MS);
});
