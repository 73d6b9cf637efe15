/**
 * Server reuse (DESIGN section 5.2): one running engine server at a time; a config with the same server
 * key reuses it, any other key stops it (whole process group) and starts a new one.
 */
import type { Engine, EngineContext, EngineServer, ExperimentConfig } from '../engines/types.js';

export class ServerPool {
  private current: { engine: Engine; server: EngineServer; startedS: number } | null = null;
  /** How many servers were started (for experiments-per-hour accounting). */
  starts = 0;

  /** The running server for this config, starting one if needed. `reused` says which. */
  async acquire(engine: Engine, config: ExperimentConfig, ctx: EngineContext): Promise<{ server: EngineServer; reused: boolean }> {
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
  async discard(server: EngineServer): Promise<void> {
    if (this.current?.server !== server) return;
    this.current = null;
    await server.stop().catch(() => {});
  }

  async release(): Promise<void> {
    const current = this.current;
    this.current = null;
    if (current) await current.server.stop();
  }
}
