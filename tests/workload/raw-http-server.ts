/**
 * A raw HTTP/1.1 server on 127.0.0.1 for client tests: it hands every complete request (head + body by
 * content-length) to a handler that writes exact bytes.
 */
import { once } from 'node:events';
import net from 'node:net';

export type Handler = (socket: net.Socket, request: string, index: number) => void;

export interface RawServer {
  url: URL;
  connections: number;
  /** Connections open now. */
  open: number;
  requests: string[];
  close(): Promise<void>;
}

export async function rawServer(handler: Handler): Promise<RawServer> {
  const sockets = new Set<net.Socket>();
  const state: RawServer = {
    url: new URL('http://127.0.0.1:1'),
    connections: 0,
    open: 0,
    requests: [],
    close: async () => {
      for (const s of sockets) s.destroy();
      if (!server.listening) return;
      server.close();
      await once(server, 'close');
    },
  };
  const server = net.createServer((socket) => {
    state.connections++;
    state.open++;
    sockets.add(socket);
    socket.on('close', () => {
      sockets.delete(socket);
      state.open--;
    });
    socket.on('error', () => {});
    let buf = '';
    socket.on('data', (d) => {
      buf += d.toString('latin1');
      for (;;) {
        const headEnd = buf.indexOf('\r\n\r\n');
        if (headEnd < 0) return;
        const length = Number(/content-length: (\d+)/i.exec(buf.slice(0, headEnd))?.[1] ?? 0);
        if (buf.length < headEnd + 4 + length) return;
        const request = buf.slice(0, headEnd + 4 + length);
        buf = buf.slice(headEnd + 4 + length);
        state.requests.push(request);
        handler(socket, request, state.requests.length - 1);
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  state.url = new URL(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}/`);
  return state;
}
