/**
 * A stub OpenAI-compatible agent endpoint: a real HTTP server (node:http, in the test process) that
 * answers POST /v1/chat/completions from a per-test script and records every request it received.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  url: string;
  authorization: string | undefined;
  body: Record<string, unknown>;
}

export interface StubReply {
  status?: number;
  /** A JSON value (serialized) or raw text (sent as is). */
  json?: unknown;
  text?: string;
  delayMs?: number;
  headers?: Record<string, string>;
}

/** Decides the reply to one request; scripts are consumed in order, the last one repeats. */
export type StubScript = StubReply | ((req: RecordedRequest) => StubReply);

export interface StubAgentServer {
  baseUrl: string;
  requests: RecordedRequest[];
  /** Replace the script (replies used in order; the last one repeats). */
  script(...replies: StubScript[]): void;
  close(): Promise<void>;
}

/** A chat-completions body whose first choice carries `content`. */
export function completion(content: string | null, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'chatcmpl-stub',
    object: 'chat.completion',
    created: 1_700_000_000,
    model: 'stub-planner',
    choices: [{ index: 0, message: { role: 'assistant', content, ...extra }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 100, completion_tokens: 20, total_tokens: 120 },
  };
}

/** A reply with a JSON answer `{config, rationale}` as the message content. */
export function answer(config: Record<string, unknown>, rationale = 'lowest expected SCI'): StubReply {
  return { json: completion(JSON.stringify({ config, rationale })) };
}

export function apiError(status: number, message: string, type = 'invalid_request_error'): StubReply {
  return { status, json: { error: { message, type, code: null } } };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startStubAgentServer(): Promise<StubAgentServer> {
  const requests: RecordedRequest[] = [];
  let scripts: StubScript[] = [{ status: 500, json: { error: { message: 'no script' } } }];
  let next = 0;
  const timers = new Set<NodeJS.Timeout>();

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const raw = await readBody(req);
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        // recorded as empty
      }
      const recorded: RecordedRequest = { method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization, body };
      requests.push(recorded);
      if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'not found' } }));
        return;
      }
      const script = scripts[Math.min(next, scripts.length - 1)]!;
      next += 1;
      const reply = typeof script === 'function' ? script(recorded) : script;
      const send = () => {
        if (res.destroyed) return;
        const payload = reply.text ?? JSON.stringify(reply.json ?? {});
        res.writeHead(reply.status ?? 200, { 'content-type': reply.text !== undefined ? 'text/plain' : 'application/json', ...reply.headers });
        res.end(payload);
      };
      if (reply.delayMs) {
        const t = setTimeout(() => {
          timers.delete(t);
          send();
        }, reply.delayMs);
        timers.add(t);
      } else send();
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    script(...replies: StubScript[]) {
      scripts = replies;
      next = 0;
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
