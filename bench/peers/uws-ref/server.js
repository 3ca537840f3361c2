// Socket.IO 4.8 on uWebSockets.js (`io.attachApp`) with the same events as node-ref: what a Node user picks for speed.
"use strict";
const path = require("node:path");
const { Server } = require("socket.io");
const { OPTIONS, handle } = require("../events");

// The native build for this Node, loaded directly: the package's index falls back to a slow pure-JS imitation when it
// cannot load one, and that must fail here instead of being measured as uWebSockets.js.
const binary = `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
const uWS = require(path.join(path.dirname(require.resolve("@trufflesuite/uws-js-unofficial/package.json")), "binaries", binary));

const port = Number(process.env.PORT || 5003);
const app = uWS.App();

const io = new Server(OPTIONS);
io.attachApp(app);
handle(io);

app.get("/api/health", (res) => {
  res.writeHeader("content-type", "application/json").end('{"status":"ok"}');
});
app.any("/*", (res) => {
  res.writeStatus("404 Not Found").writeHeader("content-type", "application/json")
    .end('{"error":{"code":"not_found","message":"no such endpoint"}}');
});

app.listen("127.0.0.1", port, (token) => {
  if (!token) {
    console.error(`uws-ref could not listen on 127.0.0.1:${port}`);
    process.exit(1);
  }
  console.log(`uws-ref listening on 127.0.0.1:${port}`);
});
process.on("SIGTERM", () => process.exit(0));
