/**
 * A lean HTTP/1.1 keep-alive client for load generators: one request at a time per connection, the
 * request written in one `write`, the response parsed from the raw bytes (Content-Length or chunked).
 * The load generator shares the machine's two cores with what it measures; Node's http client spends
 * about as much CPU per request as the gateway does (headers objects, streams, agent bookkeeping), so a
 * benchmark built on it measures its own client as much as the platform. Loopback only.
 */
import net from 'node:net';

export interface LeanResponse {
  status: number;
  body: Buffer;
}

const HEADER_END = Buffer.from('\r\n\r\n');

export class LeanConnection {
  private socket: net.Socket | null = null;
  private buffer: Buffer = Buffer.alloc(0);
  private pending: { resolve: (r: LeanResponse) => void; reject: (e: Error) => void } | null = null;
  private readonly host: string;
  private readonly port: number;
  private readonly path: string;

  constructor(url: string) {
    const u = new URL(url);
    this.host = u.hostname;
    this.port = Number(u.port || 80);
    this.path = u.pathname + u.search;
  }

  /** POSTs `body` with the given extra header lines (each `Name: value`). */
  post(body: string, headers: readonly string[]): Promise<LeanResponse> {
    if (this.pending) return Promise.reject(new Error('one request at a time per connection'));
    const head =
      `POST ${this.path} HTTP/1.1\r\nHost: ${this.host}:${this.port}\r\nConnection: keep-alive\r\n` +
      `${headers.map((h) => `${h}\r\n`).join('')}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
    return new Promise<LeanResponse>((resolve, reject) => {
      this.pending = { resolve, reject };
      this.connected().write(head + body);
    });
  }

  close(): void {
    this.socket?.destroy();
    this.socket = null;
  }

  private connected(): net.Socket {
    if (this.socket) return this.socket;
    const socket = net.connect({ host: this.host, port: this.port, noDelay: true });
    socket.on('data', (chunk: Buffer) => {
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
      this.parse();
    });
    const fail = (err: Error): void => {
      this.socket = null;
      this.buffer = Buffer.alloc(0);
      const p = this.pending;
      this.pending = null;
      p?.reject(err);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed')));
    this.socket = socket;
    return socket;
  }

  private parse(): void {
    const end = this.buffer.indexOf(HEADER_END);
    if (end < 0 || !this.pending) return;
    const head = this.buffer.subarray(0, end).toString('latin1');
    const status = Number(head.slice(9, 12));
    const lengthMatch = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    const start = end + 4;
    let body: Buffer | null = null;
    let consumed = 0;
    if (lengthMatch) {
      const length = Number(lengthMatch[1]);
      if (this.buffer.length < start + length) return;
      body = this.buffer.subarray(start, start + length);
      consumed = start + length;
    } else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
      const chunks: Buffer[] = [];
      let at = start;
      for (;;) {
        const lineEnd = this.buffer.indexOf('\r\n', at);
        if (lineEnd < 0) return;
        const size = parseInt(this.buffer.subarray(at, lineEnd).toString('latin1'), 16);
        if (this.buffer.length < lineEnd + 2 + size + 2) return;
        if (size === 0) {
          consumed = lineEnd + 4;
          break;
        }
        chunks.push(this.buffer.subarray(lineEnd + 2, lineEnd + 2 + size));
        at = lineEnd + 2 + size + 2;
      }
      body = Buffer.concat(chunks);
    } else {
      body = Buffer.alloc(0);
      consumed = start;
    }
    const rest = this.buffer.subarray(consumed);
    this.buffer = rest.length > 0 ? Buffer.from(rest) : Buffer.alloc(0);
    const p = this.pending;
    this.pending = null;
    p.resolve({ status, body: Buffer.from(body) });
  }
}
