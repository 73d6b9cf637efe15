export class ServerPool {
    current = null;
    /** How many servers were started (for experiments-per-hour accounting). */
    starts = 0;
    /** The running server for this config, starting one if needed. `reused` says which. */
    async acquire(engine, config, ctx) {
        const key = engine.serverKey(config);
        if (this.current && this.current.engine.name === engine.name && this.current.server.key === key) {
            return { server: this.current.server, reused: true };
        }
        await this.release();
        const server = await engine.start(config, ctx);
        this.starts++;
        this.current = { engine, server, startedS: ctx.clock.now() };
        return { server, reused: false };
    }
    /** Forgets a server that died (its process is gone) after making sure its group is stopped. */
    async discard(server) {
        if (this.current?.server !== server)
            return;
        this.current = null;
        await server.stop().catch(() => { });
    }
    async release() {
        const current = this.current;
        this.current = null;
        if (current)
            await current.server.stop();
    }
}
//# sourceMappingURL=server-pool.js.map