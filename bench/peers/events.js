// The events every socket.io reference peer answers (node-ref, uws-ref): ours `join`/`send`, no auth, no storage.
"use strict";

// Same limits as ours: 64 KiB frames, no compression, websocket only.
const OPTIONS = { maxHttpBufferSize: 64 * 1024, perMessageDeflate: false, httpCompression: false, transports: ["websocket"] };

/** Binds `join` (joins the room, acks an empty chat) and `send` (acks and broadcasts a provisional message). */
function handle(io) {
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
}

module.exports = { OPTIONS, handle };
