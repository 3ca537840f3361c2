// Shared helpers for the scenarios: connecting many clients, acked emits, latency summaries, /proc readings.
"use strict";
const fs = require("node:fs");
const { performance } = require("node:perf_hooks");
const { io } = require("socket.io-client");

const now = () => performance.now(); // ms, monotonic, one clock for senders and receivers (same process)
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Emit with an ack; resolves to {ok, res, error} and never rejects (a timeout is an error, not a crash). */
function emitAck(socket, event, payload, timeoutMs) {
  return new Promise((resolve) => {
    socket.timeout(timeoutMs).emit(event, payload, (err, res) => {
      if (err) resolve({ ok: false, error: "timeout" });
      else if (!res || res.ok !== true) resolve({ ok: false, res, error: (res && res.error && res.error.code) || "not_ok" });
      else resolve({ ok: true, res });
    });
  });
}

/** Resolve to the promise's value, or to null after ms (the timer is cleared either way). */
function within(promise, ms) {
  let timer;
  const expiry = new Promise((resolve) => { timer = setTimeout(resolve, ms, null); });
  return Promise.race([promise, expiry]).finally(() => clearTimeout(timer));
}

/** Run fn over items with at most `limit` in flight, so thousands of connects don't stampede the server. */
async function pool(items, limit, fn) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Open one websocket-only client, wait for connect, join its chat; throws with the server's reason on failure. */
async function connectOne(cfg, spec, index) {
  const opts = { transports: ["websocket"], forceNew: true, reconnection: false, timeout: 20000 };
  // Ours, as our web app: its plain messages' confirmations come as one `chat:confirmed` per chat (docs/protocol.md).
  if (spec.token) opts.auth = { token: spec.token, features: ["chat:confirmed"] };
  if (cfg.origin) opts.extraHeaders = { origin: cfg.origin };
  const socket = io(cfg.url, opts);
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", (err) => reject(new Error(`client ${index}: connect_error ${err.message}`)));
  });
  const joined = await emitAck(socket, "join", { chat_id: spec.chat }, 20000);
  if (!joined.ok) throw new Error(`client ${index}: join ${spec.chat} failed: ${JSON.stringify(joined.res || joined.error)}`);
  return { socket, chat: spec.chat, index, disconnects: 0 };
}

/** Connect and join every client in cfg.clients; counts later disconnects so scenarios can report them. */
async function connectAll(cfg, concurrency = 50) {
  const clients = new Array(cfg.clients.length);
  await pool(cfg.clients, concurrency, async (spec, i) => {
    clients[i] = await connectOne(cfg, spec, i);
    clients[i].socket.on("disconnect", () => { clients[i].disconnects += 1; });
  });
  return clients;
}

function closeAll(clients) {
  for (const c of clients) c.socket.disconnect();
}

/** Members per chat among our clients, i.e. deliveries expected per message sent to that chat. */
function membersByChat(clients) {
  const counts = new Map();
  for (const c of clients) counts.set(c.chat, (counts.get(c.chat) || 0) + 1);
  return counts;
}

/** p50/p90/p99/max/mean in ms, rounded to µs. */
function summarize(samples) {
  if (samples.length === 0) return { n: 0 };
  const s = Float64Array.from(samples).sort();
  const at = (p) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
  const r = (x) => Math.round(x * 1000) / 1000;
  let sum = 0;
  for (const x of s) sum += x;
  return { n: s.length, p50: r(at(50)), p90: r(at(90)), p99: r(at(99)), max: r(s[s.length - 1]), mean: r(sum / s.length) };
}

/** CPU seconds of the server side: one pid, or several (nodes, their database backends, a load balancer) summed. */
function procCpuS(pids, clkTck) {
  const { user, system } = procCpuSplitS(pids, clkTck);
  return user + system;
}

/** The same in user mode and in the kernel apart (utime, stime of /proc/<pid>/stat: every thread; fields counted after
 * the ')' of the command name). */
function procCpuSplitS(pids, clkTck) {
  return [].concat(pids).reduce((sum, pid) => {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // utime, stime: fields 14 and 15 of the line
      return { user: sum.user + Number(fields[11]) / clkTck, system: sum.system + Number(fields[12]) / clkTck };
    } catch {
      return sum; // gone meanwhile (a database backend that ended)
    }
  }, { user: 0, system: 0 });
}

/** CPU seconds the whole machine was busy (/proc/stat: user, nice, system, irq, softirq), so that work the kernel does
 * for the server outside its process (an fsync by Linux AIO runs in kernel workers) is counted too: less the load
 * generator's own, it is the server's on an otherwise quiet machine. */
function hostBusyS(clkTck) {
  const f = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  return (f[0] + f[1] + f[2] + f[5] + f[6]) / clkTck;
}

/** Resident memory of the first pid (the node being measured). */
function procRssKb(pids) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${[].concat(pids)[0]}/status`, "utf8"));
  return m ? Number(m[1]) : null;
}

/** This process's CPU seconds, to show how much of the 2 cores the load generator itself took. */
function selfCpuS() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

module.exports = { now, sleep, within, emitAck, connectAll, closeAll, membersByChat, summarize, procCpuS, procCpuSplitS, hostBusyS, procRssKb, selfCpuS };
