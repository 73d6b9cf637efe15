import { describe, expect, it } from 'vitest';
import { SseParser, parseSse, type SseEvent } from '../../src/workload/sse.js';

/** A stream with everything at once: LF, CRLF and lone-CR line ends, comments, multi-line data,
 * an event field, an id, a field without a colon, non-ASCII text, and vLLM's [DONE]. */
const STREAM =
  '\uFEFF: ping\n' +
  'data: {"choices":[{"text":" héllo"}],"usage":{"completion_tokens":1}}\n\n' +
  'data: {"a":1}\r\n\r\n' +
  'event: update\rdata: first\rdata:second\r\r' +
  'id: 42\ndata\n\n' +
  ':comment only\n\n' +
  'retry: 1000\ndata: {"b":"€ 2"}\n\n' +
  'data: [DONE]\n\n';

const EXPECTED: SseEvent[] = [
  { event: 'message', data: '{"choices":[{"text":" héllo"}],"usage":{"completion_tokens":1}}', id: null },
  { event: 'message', data: '{"a":1}', id: null },
  { event: 'update', data: 'first\nsecond', id: null },
  { event: 'message', data: '', id: '42' },
  { event: 'message', data: '{"b":"€ 2"}', id: '42' },
  { event: 'message', data: '[DONE]', id: '42' },
];

function parseInPieces(pieces: string[]): SseEvent[] {
  const events: SseEvent[] = [];
  const p = new SseParser((e) => events.push(e));
  for (const piece of pieces) p.push(piece);
  p.end();
  return events;
}

describe('SseParser', () => {
  it('parses a whole stream', () => {
    expect(parseSse(STREAM)).toEqual(EXPECTED);
  });

  it('gives the same events whatever the split point (every single split, CR|LF pairs included)', () => {
    for (let i = 0; i <= STREAM.length; i++) {
      expect(parseInPieces([STREAM.slice(0, i), STREAM.slice(i)]), `split at ${i}`).toEqual(EXPECTED);
    }
  });

  it('gives the same events one character at a time and in random pieces', () => {
    expect(parseInPieces([...STREAM])).toEqual(EXPECTED);
    let seed = 12345;
    const rnd = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    for (let round = 0; round < 200; round++) {
      const pieces: string[] = [];
      let pos = 0;
      while (pos < STREAM.length) {
        const n = 1 + Math.floor(rnd() * 12);
        pieces.push(STREAM.slice(pos, pos + n));
        pos += n;
      }
      expect(parseInPieces(pieces)).toEqual(EXPECTED);
    }
  });

  it('discards an event without its blank line at the end of the stream, and ignores empty pushes', () => {
    expect(parseInPieces(['data: 1\n\n', '', 'data: 2\n'])).toEqual([{ event: 'message', data: '1', id: null }]);
    expect(parseInPieces(['data: 1\n\ndata: 2'])).toEqual([{ event: 'message', data: '1', id: null }]);
  });

  it('strips exactly one space after the colon', () => {
    expect(parseSse('data:  two\n\ndata:none\n\n').map((e) => e.data)).toEqual([' two', 'none']);
  });

  it('keeps up with a long stream of small chunks (vLLM-sized events)', () => {
    const chunk = 'data: {"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":" the","logprobs":null,"finish_reason":null,"stop_reason":null}],"usage":{"prompt_tokens":128,"total_tokens":129,"completion_tokens":1}}\n\n';
    let n = 0;
    const p = new SseParser(() => n++);
    const t0 = performance.now();
    for (let i = 0; i < 100_000; i++) p.push(chunk);
    const ms = performance.now() - t0;
    expect(n).toBe(100_000);
    // Generous bound (a loaded 2-core CI box): the parser alone must not be the bottleneck at 50k/s.
    expect(ms).toBeLessThan(2000);
  });
});
