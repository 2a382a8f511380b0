// The rig's event stream (GET /events, server-sent events). Read with fetch rather than
// EventSource: every event type arrives through one reader, and after a dropped connection
// the reader asks again with Last-Event-ID, so nothing is missed and nothing is counted twice.

const RECONNECT_MS = 1000;

export class EventStream {
  /** @param {string} url  @param {{ limit?: number }} [options] */
  constructor(url, options = {}) {
    this.url = url;
    this.limit = options.limit ?? 5000;
    /** @type {Array<{seq: number, type: string, at: string, [k: string]: unknown}>} */
    this.events = [];
    this.lastSeq = 0;
    /** connecting | live | reconnecting | stopped */
    this.status = 'connecting';
    this.connects = 0;
    this.rigStopped = false;
    this.listeners = new Set();
    this.scheduled = false;
    this.closed = false;
  }

  subscribe(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start() {
    void this.run();
  }

  close() {
    this.closed = true;
    this.abort?.abort();
  }

  async run() {
    while (!this.closed) {
      try {
        this.abort = new AbortController();
        const headers = this.lastSeq > 0 ? { 'Last-Event-ID': String(this.lastSeq) } : {};
        const response = await fetch(this.url, { headers, signal: this.abort.signal, cache: 'no-store' });
        if (!response.ok || response.body === null) throw new Error(`HTTP ${response.status}`);
        this.connects++;
        this.setStatus('live');
        await this.read(response.body);
      } catch {
        // the rig went away or the connection dropped: try again below
      }
      if (this.closed) return;
      this.setStatus(this.rigStopped ? 'stopped' : 'reconnecting');
      await new Promise((resolve) => setTimeout(resolve, RECONNECT_MS));
    }
  }

  async read(body) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        this.dispatch(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
  }

  /** One SSE block: `id:`, `event:` and `data:` lines; comments (`:`) keep the connection alive. */
  dispatch(block) {
    const data = block
      .split('\n')
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(line.startsWith('data: ') ? 6 : 5))
      .join('\n');
    if (data === '') return;
    let event;
    try {
      event = JSON.parse(data);
    } catch {
      return;
    }
    if (typeof event.seq !== 'number' || event.seq <= this.lastSeq) return;
    this.lastSeq = event.seq;
    this.events.push(event);
    if (this.events.length > this.limit) this.events.splice(0, this.events.length - this.limit);
    if (event.type === 'rig.stopping') this.rigStopped = true;
    this.notify();
  }

  setStatus(status) {
    if (this.status === status) return;
    this.status = status;
    this.notify();
  }

  /** Listeners hear at most every 50 ms, so a replay of thousands of events renders once. */
  notify() {
    if (this.scheduled) return;
    this.scheduled = true;
    setTimeout(() => {
      this.scheduled = false;
      for (const listener of this.listeners) listener(this);
    }, 50);
  }
}
