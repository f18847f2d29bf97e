// Child process of the embedded-store section: the peer our embedded store is measured against, @tus/server with
// @tus/file-store, as its README sets them up. Prints "tus listening at <url>" once ready.
// Usage: node tus-server.mjs <directory> <port>
import { createServer } from "node:http";
import { FileStore } from "@tus/file-store";
import { Server } from "@tus/server";

const [directory, port] = process.argv.slice(2);
const tus = new Server({ path: "/files", datastore: new FileStore({ directory: /** @type {string} */ (directory) }) });
const http = createServer((req, res) => void tus.handle(req, res));
http.listen(Number(port), "127.0.0.1", () => console.log(`tus listening at http://127.0.0.1:${port}/files`));
process.on("SIGTERM", () => http.close(() => process.exit(0)));
