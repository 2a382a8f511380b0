/** Polls `condition` in real time until it holds; the error says what did not happen. */
export async function eventually(condition: () => boolean, what: string, timeoutMs = 30_000, stepMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, stepMs));
  }
}
