// Reference Socket.IO 4.8 server on Node's own http and ws with our `join`/`send` events: the baseline in bench/run.py.
"use strict";
const http = require("node:http");
const { Server } = require("socket.io");
const { OPTIONS, handle } = require("../events");

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

handle(new Server(httpServer, OPTIONS));

httpServer.listen(port, "127.0.0.1", () => console.log(`node-ref listening on 127.0.0.1:${port}`));
process.on("SIGTERM", () => process.exit(0));
