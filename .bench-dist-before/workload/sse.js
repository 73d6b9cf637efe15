/**
 * An incremental parser for server-sent events (the WHATWG "event stream" format that vLLM and
 * llama-server stream completions in). Text arrives in arbitrary pieces: a line, a field name, a
 * CRLF pair or a multi-byte character may be split across pushes. Decode bytes with a streaming
 * decoder (`res.setEncoding('utf8')` or `TextDecoder` with `{ stream: true }`) before pushing.
 *
 * Performance: one `indexOf('\n')` per line and no regular expressions; a lone-CR scan runs only
 * when the buffer holds a '\r' at all (servers here end lines with LF). The handler gets the data
 * string; JSON parsing is the caller's business.
 */
const LF = 10;
export class SseParser {
    onEvent;
    buf = '';
    data = null;
    eventType = '';
    id = null;
    /** The previous push ended in '\r': a '\n' at the start of the next one belongs to it. */
    skipLeadingLf = false;
    started = false;
    constructor(onEvent) {
        this.onEvent = onEvent;
    }
    /** Feeds decoded text; dispatches every event that is complete. */
    push(text) {
        if (text.length === 0)
            return;
        const buf = this.buf.length > 0 ? this.buf + text : text;
        let pos = 0;
        if (!this.started) {
            this.started = true;
            if (buf.charCodeAt(0) === 0xfeff)
                pos = 1; // a byte-order mark at the very start is ignored
        }
        if (this.skipLeadingLf) {
            this.skipLeadingLf = false;
            if (buf.charCodeAt(pos) === LF)
                pos++;
        }
        let nextCr = buf.indexOf('\r', pos);
        const n = buf.length;
        while (pos < n) {
            const lf = buf.indexOf('\n', pos);
            let end; // end of the line's content
            let next; // start of the next line
            if (nextCr !== -1 && nextCr < pos)
                nextCr = buf.indexOf('\r', pos);
            if (nextCr !== -1 && (lf === -1 || nextCr < lf)) {
                // The line ends at a CR (CRLF, or a lone CR).
                end = nextCr;
                if (nextCr + 1 < n) {
                    next = buf.charCodeAt(nextCr + 1) === LF ? nextCr + 2 : nextCr + 1;
                }
                else {
                    // CR is the last character: the line is complete; a following LF (next push) is skipped.
                    next = n;
                    this.skipLeadingLf = true;
                }
                nextCr = buf.indexOf('\r', next);
            }
            else if (lf !== -1) {
                end = lf;
                next = lf + 1;
            }
            else {
                break; // incomplete line: keep it for the next push
            }
            this.line(buf, pos, end);
            pos = next;
        }
        this.buf = pos >= n ? '' : buf.slice(pos);
    }
    /**
     * The stream ended. An incomplete final line is processed, but an event without its terminating
     * blank line is discarded, as the specification says.
     */
    end() {
        if (this.buf.length > 0) {
            const rest = this.buf;
            this.buf = '';
            this.line(rest, 0, rest.length);
        }
        this.data = null;
        this.eventType = '';
    }
    line(buf, start, end) {
        if (start === end) {
            // A blank line dispatches the event (if it has data).
            if (this.data !== null) {
                const event = { event: this.eventType || 'message', data: this.data, id: this.id };
                this.data = null;
                this.eventType = '';
                this.onEvent(event);
            }
            else {
                this.eventType = '';
            }
            return;
        }
        const first = buf.charCodeAt(start);
        if (first === 58 /* ':' */)
            return; // a comment (keep-alive pings)
        // Fast path: "data:" is by far the most common field.
        if (first === 100 /* d */ && buf.startsWith('data:', start)) {
            let v = start + 5;
            if (buf.charCodeAt(v) === 32)
                v++;
            const value = buf.slice(v, end);
            this.data = this.data === null ? value : `${this.data}\n${value}`;
            return;
        }
        const colon = buf.indexOf(':', start);
        let field;
        let value;
        if (colon === -1 || colon >= end) {
            field = buf.slice(start, end);
            value = '';
        }
        else {
            field = buf.slice(start, colon);
            let v = colon + 1;
            if (buf.charCodeAt(v) === 32)
                v++;
            value = buf.slice(v, end);
        }
        switch (field) {
            case 'data':
                this.data = this.data === null ? value : `${this.data}\n${value}`;
                break;
            case 'event':
                this.eventType = value;
                break;
            case 'id':
                if (!value.includes('\0'))
                    this.id = value;
                break;
            default:
                // 'retry' and unknown fields do not matter to a completion stream.
                break;
        }
    }
}
/** Parses a whole SSE text at once (tests, recorded streams). */
export function parseSse(text) {
    const events = [];
    const parser = new SseParser((e) => events.push(e));
    parser.push(text);
    parser.end();
    return events;
}
//# sourceMappingURL=sse.js.map