import type { FastifyInstance } from "fastify";

/** How often a stopping server closes the keep-alive connections that have become idle. */
const IDLE_SWEEP_MS = 100;

/**
 * A stop (SIGTERM, `app.close()`) ends each keep-alive connection as soon as its last response is out. Node's
 * `server.close()` closes the connections that are idle at that moment only; one still sending a response (a
 * download, a reply whose last bytes were being flushed) turned idle afterwards and stayed open until its
 * keep-alive timeout (72 s by default), and the stop waited for it (a CI run's test gateway took 70 s to close).
 * So while stopping, replies say `Connection: close`, and idle connections are closed every 100 ms until the
 * server has closed. Responses in flight still finish: nothing a client was promised is cut.
 */
export function registerConnectionDrain(app: FastifyInstance): void {
  let stopping = false;
  app.addHook("preClose", (done) => {
    stopping = true;
    const server = app.server;
    const sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS).unref();
    server.once("close", () => clearInterval(sweep));
    done();
  });
  app.addHook("onSend", (_request, reply, payload, done) => {
    if (stopping) void reply.header("connection", "close");
    done(null, payload);
  });
}
