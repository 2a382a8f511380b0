/**
 * A loopback TCP proxy between the browser and the rig's control server, so a test can cut
 * every connection (as a flaky network or a sleeping laptop would) and read the requests the
 * browser sent afterwards (its Last-Event-ID).
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  url: string;
  /** Everything clients sent, as text (HTTP request lines and headers). */
  sent(): string;
  /** Destroys every open connection, both ends. */
  cutAll(): number;
  close(): Promise<void>;
}

export async function tcpProxy(target: string): Promise<TcpProxy> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  let sent = '';
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: hostname, port: Number(port) });
    sockets.add(client);
    sockets.add(upstream);
    client.on('data', (chunk: Buffer) => {
      sent += chunk.toString('latin1');
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    sent: () => sent,
    cutAll() {
      const count = sockets.size;
      for (const socket of [...sockets]) socket.destroy();
      sockets.clear();
      return count;
    },
    close() {
      for (const socket of [...sockets]) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
