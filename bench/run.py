"""Benchmark our server against the peers a user would pick (socket.io 4.8 on Node, socket.io on uWebSockets.js,
python-socketio on uvicorn; the same events, no auth, no storage): `.venv/bin/python bench/run.py [--quick]
[--only a,b] [--stores jsonl,pg,pg2]` — ours on the JSON-lines log, on PostgreSQL (one node), and two nodes on
PostgreSQL and Redis behind HAProxy, side by side with the peers in one run.

Prints a side-by-side table on stdout (progress on stderr), writes bench/out/results.json, and always exits 0 on
measurement failures: it reports figures, it is not a test.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from deps import LOADGEN, prepare, versions
from report import TITLES, Result, table
from targets import ORIGIN, PEER_COMMANDS, ROOT, Ours, OursCluster, OursPg, OursPushing, Peer, Server, prepared_clients

# (h) runs with the default per-client budgets, trusting 127.0.0.1 as a proxy: a flood "from many addresses" sends a
# random X-Forwarded-For with each request.
FLOOD_ENV = {"HANDSHAKE_RATE_PER_MIN": "120", "HANDSHAKE_RATE_BURST": "120", "SIGNIN_RATE_PER_MIN": "60",
             "SIGNIN_RATE_BURST": "60", "TRUSTED_PROXIES": "127.0.0.1"}
BENCH = ROOT / "bench"
OUT = BENCH / "out"


@dataclass(frozen=True)
class Sizes:
    """How big each scenario is; QUICK shrinks them for a smoke run."""

    latency_messages: int = 2000
    fanout_rate: int = 500
    fanout_s: float = 10
    max_fanout_s: float = 10
    sustained_s: float = 60  # twice the default XMTP_GRACE_S (30 s): the first half's fallback confirmations fall in
    idle_connections: int = 2000
    replay_messages: int = 1_000_000
    stored_messages: int = 100_000
    flood_opens: int = 40_000
    flood_s: float = 20
    siwe_per_s: int = 700
    churn_cycles: int = 6_000


# (c) keeps 2,000: its target is per 2,000; (g) must outlast the default grace of 30 s to see any confirmation.
QUICK = Sizes(latency_messages=300, fanout_s=3, max_fanout_s=3, sustained_s=40, replay_messages=100_000,
              stored_messages=10_000, flood_opens=10_000, flood_s=5, churn_cycles=1_500)


def plan(sizes: Sizes) -> dict[str, tuple[int, int, dict]]:
    """Per loadgen scenario: (clients, clients per chat, loadgen params); (g) is (d) held for sustained_s."""
    return {
        "a": (2, 2, {"messages": sizes.latency_messages, "warmup": 20}),
        "b": (200, 10, {"rate": sizes.fanout_rate, "duration_s": sizes.fanout_s, "drain_s": 5}),
        "c": (sizes.idle_connections, 10, {"concurrency": 50, "settle_ms": 2000}),
        "d": (200, 10, {"duration_s": sizes.max_fanout_s}),
        "g": (200, 10, {"duration_s": sizes.sustained_s}),
    }


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def raise_nofile() -> None:
    """Children inherit this: 2,000 sockets on each side need more than the usual 1,024 descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def run_loadgen(server: Server, scenario: str, clients: list[dict], params: dict, cfg_path: Path) -> Result:
    """Hands the clients to one Node loadgen process and returns the JSON line it prints."""
    cfg = {"scenario": scenario, "url": server.url, "origin": ORIGIN, "server_pid": server.pids,
           "clk_tck": os.sysconf("SC_CLK_TCK"), "clients": clients, "params": params}
    cfg_path.write_text(json.dumps(cfg))
    p = subprocess.run(["node", str(LOADGEN / "main.js"), str(cfg_path)], capture_output=True, text=True, timeout=900)
    lines = p.stdout.strip().splitlines()
    if not lines:
        return {"ok": False, "error": f"loadgen printed nothing (exit {p.returncode}): {p.stderr.strip()[-500:]}"}
    return json.loads(lines[-1])


def measure(server: Server, scenario: str, spec: tuple[int, int, dict], tmp: Path) -> Result:
    """Fresh server, clients prepared, one loadgen run; any failure becomes an error result, never an exception."""
    n, per_chat, params = spec
    try:
        server.start()
        t0 = time.perf_counter()
        clients = server.clients(n, per_chat)
        prepare_s = time.perf_counter() - t0
        result = run_loadgen(server, scenario, clients, params, tmp / f"{server.name}-{scenario}.json")
        if server.proc is not None and server.proc.poll() is not None:
            return {"ok": False, "error": f"server exited ({server.proc.returncode}) during the run:\n{server.log_tail()}"}
        return {**result, "prepare_s": round(prepare_s, 3), **server.figures()}
    except Exception as e:  # noqa: BLE001 - reported in the table instead
        return {"ok": False, "error": f"{type(e).__name__}: {e}"}
    finally:
        server.stop()


def write_replay_log(path: Path, n: int, chats: int = 1000) -> str | None:
    """Writes a compacted log of n settled messages in `chats` chats with the store's own encoder; returns why not if absent."""
    try:
        from optimistic_messaging.models import Message, message_id
        from optimistic_messaging.store.state import Room
        from optimistic_messaging.store.jsonl import encode_log
    except Exception as e:  # noqa: BLE001 - the package is being written; any import failure means "not yet"
        return f"skipped: optimistic_messaging.store.jsonl.encode_log not available yet ({type(e).__name__}: {e})"
    now = int(time.time() * 1000)
    members = ["0x" + f"{k:040d}" for k in (1, 2)]  # digits only, so already EIP-55 checksummed
    rooms = (("chat", Room(f"bench-{c}", members, None, members[0], now)) for c in range(chats))
    messages = (("message", Message(message_id(f"bench-{i % chats}", i // chats + 1), f"bench-{i % chats}",
                                    i // chats + 1, i // chats + 1, f"r{i}", members[i % 2], f"replayed message {i}",
                                    None, None, False, "confirmed", "fallback", None, None, now, now))
                for i in range(n))
    with open(path, "wb") as f:
        for piece in encode_log(itertools.chain(rooms, messages)):
            f.write(piece)
    return None


def measure_startup(n: int, tmp: Path) -> Result:
    """(e) Seconds from process start to /api/health 200 while replaying an n-message log."""
    data = tmp / "replay.json"
    server = Ours(OUT / "logs" / "ours-e.log", data)
    try:
        t0 = time.perf_counter()
        why = write_replay_log(data, n)
        if why:
            return {"ok": False, "error": why}
        log(f"  wrote {n:,} messages ({data.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f} s")
        return {"ok": True, "startup_s": round(server.start(timeout_s=300), 3), "messages": n,
                "log_mb": round(data.stat().st_size / 1e6, 1)}
    except Exception as e:  # noqa: BLE001 - reported in the table instead
        return {"ok": False, "error": f"{type(e).__name__}: {e}"}
    finally:
        server.stop()


def fsync_ms(folder: Path, n: int = 200) -> float:
    """One small append + fsync where DATA_FILE lives: the floor under every durable ack of ours (tmpfs would hide it)."""
    path = folder / "fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        t0 = time.perf_counter()
        for _ in range(n):
            os.write(fd, b"x" * 400 + b"\n")
            os.fsync(fd)
        return round((time.perf_counter() - t0) / n * 1000, 3)
    finally:
        os.close(fd)
        path.unlink()


def measure_memory(server: Server, n: int) -> Result:
    """(f) How much a node's RSS grows while it stores n messages (after a warm-up): history must not live in memory.

    Eight python-socketio clients pipeline the sends (a socket's consecutive sends share a group commit); settlement runs
    as always (the first sends come due while the last are made)."""
    import socketio  # the test extra's client

    senders = 8
    in_flight = 256  # sends unacknowledged at most, across the senders
    try:
        server.start()
        specs = prepared_clients(server.url, senders, senders)
        clients = []
        for spec in specs:
            client = socketio.Client(reconnection=False, websocket_extra_options={"suppress_origin": True})
            client.connect(server.url, auth={"token": spec["token"]}, transports=["websocket"], wait_timeout=30)
            clients.append(client)

        def burst(count: int, tag: str) -> float:
            """Sends count messages with at most in_flight unacknowledged: a flood would leave the clients, one Python
            process, answering pings too late (and being dropped) instead of measuring the server."""
            window = threading.Semaphore(in_flight)
            t0 = time.perf_counter()
            for i in range(count):
                if not window.acquire(timeout=120):
                    raise TimeoutError(f"no ack for 120 s after {i:,} of {count:,} sends")
                clients[i % senders].emit("send", {"chat_id": specs[0]["chat"], "client_id": f"{tag}{i}", "body":
                                                   f"stored message {i}"}, callback=lambda ack: window.release())
            for _ in range(in_flight):
                if not window.acquire(timeout=120):
                    raise TimeoutError("the last sends not acked within 120 s")
            return time.perf_counter() - t0

        burst(min(5_000, n), "warm")
        before = rss_kb(server.pid)
        seconds = burst(n, "m")
        added = (rss_kb(server.pid) - before) / 1024
        for client in clients:
            client.disconnect()
        return {"ok": True, "messages": n, "rss_added_mb": round(added, 1), "sends_per_s": round(n / seconds)}
    except Exception as e:  # noqa: BLE001 - reported in the table instead
        return {"ok": False, "error": f"{type(e).__name__}: {e}"}
    finally:
        server.stop()


def measure_floods(server: Server, sizes: Sizes) -> Result:
    """(h) What anyone can do without signing in, and signed-in churn, under the default budgets: RSS added by
    `flood_opens` engine.io opens (read the open packet, close) in `flood_s` as from many addresses, and by
    `churn_cycles` signed-in connect/join/disconnect cycles; another user's send p99 (ack, one at a time, 50/s) quiet,
    during those opens, during opens from one address, and during `siwe_per_s` SIWE attempts from one address."""
    import socketio  # the test extra's client
    import websocket

    from flood import spread_address

    try:
        server.start()
        specs = prepared_clients(server.url, 6, 2)  # a pair whose sends are timed; four wallets that churn
        sender = socketio.Client(reconnection=False, websocket_extra_options={"suppress_origin": True})
        sender.connect(server.url, auth={"token": specs[0]["token"]}, transports=["websocket"], wait_timeout=30)

        def send_p99(flood: list[str] | None, seconds: float) -> tuple[float, dict]:
            """Timed sends for `seconds`, or while a flood process runs; (p99 ms, the flood's counts)."""
            proc = None if flood is None else subprocess.Popen(
                [sys.executable, str(BENCH / "flood.py"), flood[0], server.url, *flood[1:]], stdout=subprocess.PIPE,
                text=True)
            samples: list[float] = []
            end = time.perf_counter() + seconds
            while (proc.poll() is None) if proc else time.perf_counter() < end:
                t0 = time.perf_counter()
                ack = sender.call("send", {"chat_id": specs[0]["chat"], "client_id": f"g{len(samples)}-{time.monotonic_ns()}",
                                           "body": "timed"}, timeout=30)
                if not ack.get("ok"):
                    raise RuntimeError(f"a timed send failed: {ack}")
                samples.append((time.perf_counter() - t0) * 1000)
                time.sleep(max(0.0, 0.02 - (time.perf_counter() - t0)))
            counts = json.loads(proc.communicate()[0].strip().splitlines()[-1]) if proc else {}
            samples.sort()
            return round(samples[int(len(samples) * 0.99)], 2), counts

        quiet, _ = send_p99(None, min(10.0, sizes.flood_s))
        before = rss_kb(server.pid)
        during_opens, opened = send_p99(["spread", str(sizes.flood_s), "4", str(sizes.flood_opens)], 0)
        opens_mb = (rss_kb(server.pid) - before) / 1024
        during_one, one = send_p99(["opens", str(sizes.flood_s), "4", str(sizes.flood_opens)], 0)
        during_siwe, siwe = send_p99(["siwe", str(sizes.flood_s), "4", str(sizes.siwe_per_s)], 0)

        def churn(wallet: dict, cycles: int) -> None:
            url = server.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"
            for _ in range(cycles):
                ws = websocket.create_connection(url, timeout=30, suppress_origin=True,
                                                 header=[f"X-Forwarded-For: {spread_address()}"])
                ws.recv()
                ws.send("40" + json.dumps({"token": wallet["token"]}))
                ws.recv()
                ws.send('421["join",' + json.dumps({"chat_id": wallet["chat"]}) + "]")
                while not ws.recv().startswith("431"):
                    pass
                ws.close()

        def churn_all(cycles: int) -> None:
            workers = [threading.Thread(target=churn, args=(spec, cycles // 4)) for spec in specs[2:]]
            for w in workers:
                w.start()
            for w in workers:
                w.join()

        churn_all(200)  # warm-up
        before = rss_kb(server.pid)
        churn_all(sizes.churn_cycles)
        churn_mb = (rss_kb(server.pid) - before) / 1024
        sender.disconnect()
        opens_made = opened["counts"].get("open", 0)
        siwe_made = sum(siwe["counts"].values())
        return {"ok": True, "opens": opens_made, "opens_per_s": round(opens_made / opened["seconds"]),
                "opens_rss_added_mb": round(opens_mb, 1), "churn_cycles": sizes.churn_cycles,
                "churn_rss_added_mb": round(churn_mb, 1),
                "send_p99_ms": {"quiet": quiet, "opens": during_opens, "one": during_one, "siwe": during_siwe},
                "opens_p99_ratio": round(during_opens / quiet, 2), "one_p99_ratio": round(during_one / quiet, 2),
                "one_per_s": round(sum(one["counts"].values()) / one["seconds"]),
                "one_refused": one["counts"].get("429", 0), "siwe_p99_ratio": round(during_siwe / quiet, 2),
                "siwe_per_s": round(siwe_made / siwe["seconds"]), "siwe_refused": siwe["counts"].get("429", 0)}
    except Exception as e:  # noqa: BLE001 - reported in the table instead
        return {"ok": False, "error": f"{type(e).__name__}: {e}"}
    finally:
        server.stop()


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def servers(scenario: str, stores: list[str], tmp: Path) -> list[Server]:
    """The servers a scenario runs against, in the table's order: the peers in every loadgen scenario, (c) one process
    each, (f) and (h) our stores only."""
    logs = OUT / "logs"
    made: list[Server] = [Peer(name, logs / f"{name}-{scenario}.log") for name in PEER_COMMANDS
                          if scenario not in ("f", "h")]
    env = FLOOD_ENV if scenario == "h" else None
    if "jsonl" in stores:
        made.append(Ours(logs / f"ours-{scenario}.log", tmp / f"messages-{scenario}.json", env))
        if scenario == "b":  # beside it: pushes on, into a push service that hangs (issue 17)
            made.append(OursPushing(logs / "ours-push-b.log", tmp / "messages-b-push.json"))
    if "pg" in stores:
        made.append(OursPg(logs / f"ours-pg-{scenario}.log", tmp / f"unused-{scenario}.json", env))
    if "pg2" in stores and scenario not in ("c", "f", "h"):
        made.append(OursCluster(logs / f"ours-pg2-{scenario}.log", tmp))
    return made


def sustained_against_max(results: dict[str, dict[str, Result]]) -> None:
    """Adds (g)/(d) to each (g) result whose server ran both: what a longer run, settlement inside it, keeps."""
    for side, sustained in results.get("g", {}).items():
        short = results.get("d", {}).get(side, {})
        for key in ("deliveries_per_s", "deliveries_per_cpu_s"):
            if sustained.get("ok") and short.get("ok") and sustained.get(key) and short.get(key):
                sustained[f"{key}_vs_d"] = round(sustained[key] / short[key], 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run with smaller numbers")
    parser.add_argument("--only", default="".join(TITLES), help="comma-separated scenarios, e.g. a,b (default: all)")
    parser.add_argument("--stores", default="jsonl,pg,pg2",
                        help="ours on: jsonl (the log), pg (PostgreSQL, one node), pg2 (two nodes behind HAProxy)")
    args = parser.parse_args()
    stores = [s for s in args.stores.split(",") if s]
    if unknown_stores := [s for s in stores if s not in ("jsonl", "pg", "pg2")]:
        parser.error(f"unknown store(s) {','.join(unknown_stores)}; choose from jsonl,pg,pg2")
    only = [s for s in args.only.replace(",", "") if s.strip()]
    if unknown := [s for s in only if s not in TITLES]:
        parser.error(f"unknown scenario(s) {','.join(unknown)}; choose from {','.join(TITLES)}")
    sizes = QUICK if args.quick else Sizes()
    raise_nofile()
    (OUT / "logs").mkdir(parents=True, exist_ok=True)

    results: dict[str, dict[str, Result]] = {}
    blocked = prepare() if set(only) & set(plan(sizes)) else {}  # the loadgen and the peers run in those only
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp_dir:
        tmp = Path(tmp_dir)
        fsync = fsync_ms(tmp)
        for scenario in only:
            log(f"{TITLES[scenario]}")
            if scenario == "e":
                results["e"] = {"ours": measure_startup(sizes.replay_messages, tmp)}
                continue
            results[scenario] = {}
            for server in servers(scenario, stores, tmp):
                t0 = time.perf_counter()
                if scenario == "f":
                    result = measure_memory(server, sizes.stored_messages)
                elif scenario == "h":
                    result = measure_floods(server, sizes)
                elif why := blocked.get("loadgen") or blocked.get(server.name):
                    result = {"ok": False, "error": why}
                else:
                    result = measure(server, scenario, plan(sizes)[scenario], tmp)
                results[scenario][server.name] = result
                log(f"  {server.name}: {'ok' if result.get('ok') else 'FAILED'} in {time.perf_counter() - t0:.1f} s")
    sustained_against_max(results)

    meta = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "quick": args.quick, "sizes": asdict(sizes),
            "cpus": os.cpu_count(), "fsync_ms": fsync, **versions()}
    header = (f"Benchmark {'(quick) ' if args.quick else ''}{meta['when']}: ours (Flask-SocketIO/gevent, Python "
              f"{meta['python']}; the log with FSYNC=always, {fsync} ms per fsync here; PostgreSQL with "
              "synchronous_commit on, whose CPU counts as ours) vs the peers, in memory: node (socket.io "
              f"{meta['socket.io']}, Node {meta['node']}), uws (socket.io {meta['uws socket.io']} on uWebSockets.js "
              f"from @trufflesuite/uws-js-unofficial {meta['uws']}), py-asgi (python-socketio "
              f"{meta.get('py-asgi python-socketio', '?')}, uvicorn {meta.get('py-asgi uvicorn', '?')}, uvloop "
              f"{meta.get('py-asgi uvloop', '?')}, websockets {meta.get('py-asgi websockets', '?')}, Python "
              f"{meta.get('py-asgi python', '?')}); {meta['cpus']} CPUs shared by servers, database and load generator")
    print(table(results, header))
    (OUT / "results.json").write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    log(f"\nwrote {(OUT / 'results.json').relative_to(ROOT)}; server logs in {(OUT / 'logs').relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
