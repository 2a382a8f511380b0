/**
 * The link's protocol efficiency, on the simulated clock (deterministic: no processing time, no
 * faults): what framing, COBS, sealing and windowed ARQ leave of the line rate. The
 * measured goodput in real time, with the stores and a damaged line, is a bench figure
 * (`npm run bench`), not a test.
 */
import { describe, expect, it } from 'vitest';
import { linkProtocolEfficiency } from '../../scripts/bench/link.ts';

describe('link protocol efficiency', () => {
  it('a 64 KiB message crosses a 115200-baud line at 0.90 of the line rate or better', async () => {
    const { value, framesSent } = await linkProtocolEfficiency();
    expect(framesSent).toBeGreaterThanOrEqual(64); // 64 KiB in 1008-byte fragments: 66 DATA frames
    expect(value).toBeGreaterThanOrEqual(0.9);
    expect(value).toBeLessThan(1);
  });
});
