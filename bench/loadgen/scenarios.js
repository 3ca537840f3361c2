// The benchmark scenarios (a)-(d) and (g); each takes the config written by bench/run.py and returns a plain JSON result.
"use strict";
const L = require("./lib");

const ACK_TIMEOUT_MS = 10000;
const TAG = "t="; // measured messages carry their send time (ms, this process's clock) as body `t=<ms>`

function sendMsg(client, clientId, timeoutMs = ACK_TIMEOUT_MS) {
  return L.emitAck(client.socket, "send", { chat_id: client.chat, client_id: clientId, body: TAG + L.now() }, timeoutMs);
}

/** Every client sends one untimed message and gets its ack: warms JITs and proves `send` works before measuring. */
async function warmup(clients) {
  const acks = await Promise.all(clients.map((c) => L.emitAck(c.socket, "send", { chat_id: c.chat, client_id: `w${c.index}`, body: "warmup" }, ACK_TIMEOUT_MS)));
  const bad = acks.find((a) => !a.ok);
  if (bad) throw new Error(`warm-up send failed: ${JSON.stringify(bad.res || bad.error)}`);
  await L.sleep(300);
}

/** Calls onTimed(latencyMs, receivedAt) for every measured `message` any client receives. */
function onTimedMessages(clients, onTimed) {
  for (const c of clients) {
    c.socket.on("message", (m) => {
      if (typeof m.body !== "string" || !m.body.startsWith(TAG)) return;
      const t = L.now();
      onTimed(t - Number(m.body.slice(TAG.length)), t);
    });
  }
}

/** (a) A sends one message at a time and waits for B's `message` (and its own ack) before the next. */
async function latency(cfg) {
  const clients = await L.connectAll(cfg);
  const [a, b] = clients;
  const { messages, warmup: warm } = cfg.params;
  let waiting = null; // {clientId, resolve} for the message B should receive next
  b.socket.on("message", (m) => { if (waiting && m.client_id === waiting.clientId) waiting.resolve(L.now()); });
  const samples = [];
  let errors = 0;
  for (let i = 0; i < warm + messages; i++) {
    const clientId = `a${i}`;
    const received = new Promise((resolve) => { waiting = { clientId, resolve }; });
    const t0 = L.now();
    const acked = L.emitAck(a.socket, "send", { chat_id: a.chat, client_id: clientId, body: TAG + t0 }, ACK_TIMEOUT_MS);
    const t1 = await L.within(received, ACK_TIMEOUT_MS);
    const ack = await acked;
    if (t1 === null || !ack.ok) errors += 1;
    else if (i >= warm) samples.push(t1 - t0);
  }
  L.closeAll(clients);
  return { messages, errors, latency_ms: L.summarize(samples) };
}

/** (b) Paced open loop: `rate` sends/s in total, round-robin over all clients, whatever the acks do. */
async function fanout(cfg) {
  const clients = await L.connectAll(cfg);
  const { rate, duration_s: durationS, drain_s: drainS } = cfg.params;
  const members = L.membersByChat(clients);
  const samples = [];
  let received = 0;
  let lastRx = 0;
  onTimedMessages(clients, (lat, t) => { samples.push(lat); received += 1; lastRx = t; });
  await warmup(clients);

  const total = Math.round(rate * durationS);
  const interval = 1000 / rate;
  let expected = 0;
  let rejected = 0;
  let timeouts = 0;
  const acks = [];
  const cpu0 = L.procCpuS(cfg.server_pid, cfg.clk_tck);
  const self0 = L.selfCpuS();
  const t0 = L.now();
  for (let k = 0; k < total; k++) {
    const wait = t0 + k * interval - L.now();
    if (wait >= 1) await L.sleep(wait); // behind schedule: send at once (open loop catches up)
    const c = clients[k % clients.length];
    const n = members.get(c.chat);
    expected += n;
    acks.push(sendMsg(c, `b${k}`).then((r) => {
      if (r.error === "timeout") timeouts += 1;
      else if (!r.ok) { rejected += 1; expected -= n; } // refused: nothing stored, nothing to deliver
    }));
  }
  const sendS = (L.now() - t0) / 1000;
  await Promise.all(acks);
  const deadline = L.now() + drainS * 1000;
  while (received < expected && L.now() < deadline) await L.sleep(20);
  const spanS = (lastRx - t0) / 1000;
  const result = {
    clients: clients.length, chats: members.size, target_rate: rate, sent: total,
    send_rate: round(total / sendS), delivered: received, expected, lost: expected - received,
    delivered_per_s: round(received / spanS), errors: rejected + timeouts, rejected, timeouts,
    disconnects: clients.reduce((s, c) => s + c.disconnects, 0), latency_ms: L.summarize(samples),
    server_cpu_s: round(L.procCpuS(cfg.server_pid, cfg.clk_tck) - cpu0), loadgen_cpu_s: round(L.selfCpuS() - self0), span_s: round(spanS),
  };
  L.closeAll(clients);
  return result;
}

/** (d) Closed loop: each client sends again as soon as its previous send is acked; deliveries counted in the window,
 * and every other event received in it: the confirmations (`message:update`, or whatever settles them) that (g) runs
 * long enough to see. */
async function maxFanout(cfg) {
  const clients = await L.connectAll(cfg);
  const durationMs = cfg.params.duration_s * 1000;
  const samples = [];
  let inWindow = 0;
  let updates = 0;
  let end = Infinity;
  onTimedMessages(clients, (lat, t) => { if (t <= end) { inWindow += 1; samples.push(lat); } });
  for (const c of clients) c.socket.onAny((event) => { if (event !== "message" && L.now() <= end) updates += 1; });
  await warmup(clients);

  let sent = 0;
  let errors = 0;
  const cpu0 = L.procCpuSplitS(cfg.server_pid, cfg.clk_tck);
  const self0 = L.selfCpuS();
  const host0 = L.hostBusyS(cfg.clk_tck);
  const t0 = L.now();
  end = t0 + durationMs;
  updates = 0; // the window's only
  const snapshot = new Promise((resolve) => setTimeout(() => {
    const cpu = L.procCpuSplitS(cfg.server_pid, cfg.clk_tck);
    const [userS, systemS] = [cpu.user - cpu0.user, cpu.system - cpu0.system];
    resolve({ deliveries: inWindow, updates, sent, serverCpuS: userS + systemS, userS, systemS,
      selfCpuS: L.selfCpuS() - self0, hostS: L.hostBusyS(cfg.clk_tck) - host0, spanS: (L.now() - t0) / 1000 });
  }, durationMs));
  await Promise.all(clients.map(async (c) => {
    for (let i = 0; L.now() < end; i++) {
      const r = await sendMsg(c, `d${c.index}x${i}`);
      sent += 1;
      if (!r.ok) errors += 1;
    }
  }));
  const w = await snapshot;
  const disconnects = clients.reduce((s, c) => s + c.disconnects, 0);
  L.closeAll(clients);
  return {
    clients: clients.length, chats: L.membersByChat(clients).size, duration_s: round(w.spanS), sent_in_window: w.sent,
    sends_per_s: round(w.sent / w.spanS), deliveries: w.deliveries, deliveries_per_s: round(w.deliveries / w.spanS),
    updates: w.updates,
    server_cpu_s: round(w.serverCpuS), deliveries_per_cpu_s: w.serverCpuS > 0 ? round(w.deliveries / w.serverCpuS) : null,
    server_user_s: round(w.userS), server_system_s: round(w.systemS),
    host_less_loadgen_cpu_s: round(w.hostS - w.selfCpuS),
    deliveries_per_host_cpu_s: w.hostS > w.selfCpuS ? round(w.deliveries / (w.hostS - w.selfCpuS)) : null,
    loadgen_cpu_s: round(w.selfCpuS), errors, disconnects, latency_ms: L.summarize(samples),
  };
}

/** (c) Server RSS before and after connecting (and joining) every client, idle. */
async function idleRss(cfg) {
  const before = L.procRssKb(cfg.server_pid);
  const t0 = L.now();
  const clients = await L.connectAll(cfg, cfg.params.concurrency);
  const connectS = (L.now() - t0) / 1000;
  await L.sleep(cfg.params.settle_ms);
  const after = L.procRssKb(cfg.server_pid);
  const result = {
    connections: clients.length, connect_s: round(connectS), rss_before_kb: before, rss_after_kb: after,
    kb_per_connection: round((after - before) / clients.length), disconnects: clients.reduce((s, c) => s + c.disconnects, 0),
  };
  L.closeAll(clients);
  return result;
}

function round(x) {
  return Math.round(x * 1000) / 1000;
}

// (g) is (d) held longer (bench/run.py gives it the duration).
module.exports = { a: latency, b: fanout, c: idleRss, d: maxFanout, g: maxFanout };
