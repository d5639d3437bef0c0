// A subscriber to the ibpub bus in Node.js: ZeroMQ and msgpack are all it needs.
//
//   npm ci
//   node subscriber.mjs [ENDPOINT] [COUNT] [PREFIX]
//
// ENDPOINT defaults to tcp://127.0.0.1:7700, COUNT to 0 (run until Ctrl-C), PREFIX to "tick."
// (a ZeroMQ byte-prefix subscription). Prints one JSON object per message: the payload's keys
// plus "topic". sid, ts and ts_recv are above 2^53, so they are decoded as BigInt and printed
// as strings of digits rather than rounded.
import { decode } from "@msgpack/msgpack";
import { Subscriber } from "zeromq";

const endpoint = process.argv[2] ?? "tcp://127.0.0.1:7700";
const count = Number(process.argv[3] ?? 0);
const prefix = process.argv[4] ?? "tick.";

const socket = new Subscriber();
socket.connect(endpoint);
socket.subscribe(prefix);
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => socket.close()); // ends the loop below; exit status 0
}

const bigints = (key, value) => (typeof value === "bigint" ? value.toString() : value);
let received = 0;
let skipped = 0;
try {
  for await (const frames of socket) {
    if (frames.length !== 2) { skipped++; continue; } // not a v1 message: [topic, payload]
    let msg;
    try {
      msg = decode(frames[1], { useBigInt64: true }); // 64-bit integers arrive as BigInt
    } catch {
      skipped++;
      continue;
    }
    if (msg === null || typeof msg !== "object" || msg.v !== 1) { skipped++; continue; }
    console.log(JSON.stringify({ topic: frames[0].toString("utf8"), ...msg }, bigints));
    if (count > 0 && ++received >= count) break;
  }
} catch (error) {
  if (!socket.closed) throw error; // closing the socket on a signal ends iteration with an error
}
if (skipped) console.error(`skipped ${skipped} malformed messages`);
socket.close();
