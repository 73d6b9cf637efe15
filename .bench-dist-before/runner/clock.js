export const realClock = {
    now: () => Date.now() / 1000,
    sleep: (ms, signal) => new Promise((resolve, reject) => {
        if (signal?.aborted)
            return reject(signal.reason);
        const timer = setTimeout(() => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
        }, ms);
        const onAbort = () => {
            clearTimeout(timer);
            reject(signal.reason);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
    }),
    virtual: false,
};
/**
 * A clock that advances only when slept on (deterministic, instant).
 *
 * Observers (the sim engine's telemetry and fault injection) subscribe with `onAdvance`. While any
 * observer is subscribed, `sleep` and `advance` move time in steps of at most `maxStepS` seconds, calling
 * every listener after each step, so that a 1 Hz sample source emits its samples in time order and a
 * listener that aborts `signal` (the thermal watchdog) stops a long sleep within one step, as a real
 * sleep would be cut short. The step path lands exactly on `start + ms / 1000`, the same time the plain
 * jump gives, so adding an observer never changes where time ends up.
 */
export class VirtualClock {
    tS;
    maxStepS;
    virtual = true;
    listeners = new Set();
    constructor(tS = 1_800_000_000, maxStepS = 1) {
        this.tS = tS;
        this.maxStepS = maxStepS;
    }
    now() {
        return this.tS;
    }
    async sleep(ms, signal) {
        if (signal?.aborted)
            throw signal.reason;
        this.moveTo(this.tS + ms / 1000, signal);
        if (signal?.aborted)
            throw signal.reason;
    }
    advance(seconds) {
        this.moveTo(this.tS + seconds);
    }
    /** Subscribes to time moving forward; returns the unsubscribe function. */
    onAdvance(fn) {
        this.listeners.add(fn);
        return () => {
            this.listeners.delete(fn);
        };
    }
    moveTo(targetS, signal) {
        // Not forward (0 ms, or a negative step as before this hook existed): set it, tell no one.
        if (!(targetS > this.tS) || this.listeners.size === 0) {
            this.tS = targetS;
            return;
        }
        while (this.tS < targetS) {
            const fromS = this.tS;
            this.tS = Math.min(targetS, fromS + this.maxStepS);
            for (const fn of [...this.listeners])
                fn(fromS, this.tS);
            if (signal?.aborted)
                return;
        }
    }
}
//# sourceMappingURL=clock.js.map