// Reference Socket.IO 4.8 server with our `join`/`send` events and no auth, no storage: the baseline in bench/run.py.
"use strict";
const http = require("node:http");
const { Server } = require("socket.io");

const port = Number(process.env.PORT || 5002);

const httpServer = http.createServer((req, res) => {
  if (req.method === "GET" && req.url === "/api/health") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"status":"ok"}');
    return;
  }
  res.writeHead(404, { "content-type": "application/json" });
  res.end('{"error":{"code":"not_found","message":"no such endpoint"}}');
});

// Same limits as ours: 64 KiB frames, no compression, websocket only.
const io = new Server(httpServer, {
  maxHttpBufferSize: 64 * 1024,
  perMessageDeflate: false,
  httpCompression: false,
  transports: ["websocket"],
});

const seqByChat = new Map(); // chat id -> last seq (rev follows it: only new messages bump it here)
let socketCount = 0;
let messageCount = 0;

io.on("connection", (socket) => {
  socketCount += 1;
  const sender = "0x" + socketCount.toString(16).padStart(40, "0"); // fixed fake address per socket

  socket.on("join", (payload, ack) => {
    const chatId = String(payload && payload.chat_id);
    socket.join(chatId);
    if (typeof ack === "function") ack({ ok: true, chat: { id: chatId }, changes: [], has_more: false, online: [] });
  });

  socket.on("send", (payload, ack) => {
    const chatId = String(payload && payload.chat_id);
    const seq = (seqByChat.get(chatId) || 0) + 1;
    seqByChat.set(chatId, seq);
    messageCount += 1;
    const now = Date.now();
    const message = {
      id: `m${messageCount}`, chat_id: chatId, seq, rev: seq, client_id: payload.client_id, sender,
      body: payload.body, tx: null, xmtp_id: null, xmtp_bound: false, status: "provisional", source: "fallback",
      reason: null, original: null, sent_at: now, updated_at: now,
    };
    if (typeof ack === "function") ack({ ok: true, message });
    io.to(chatId).emit("message", message);
  });
});

httpServer.listen(port, "127.0.0.1", () => console.log(`node-ref listening on 127.0.0.1:${port}`));
process.on("SIGTERM", () => process.exit(0));
