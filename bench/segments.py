"""Where (a)'s round trip goes inside the server, by the kernel's own clock: `.venv/bin/python bench/segments.py
--rounds 6 [--checkout /work/old]` (as root) runs (a) against ours on the log from this checkout (and each --checkout,
alternated) while `perf record` takes the server's syscall tracepoints, then splits each message's time at its syscalls:

- before: the send's frame read (recvfrom) to the log's write on the pool thread (decode, checks, plan, encode);
- fsync: that write to the fsync's return;
- after: the fsync's return to the first write of the message to a socket (wake, apply, listeners, encode);
- server: the two together, read to first write: the latency the server adds, without the load generator's own;
- busy: the event loop's time out of epoll_wait per message (all its work for the message, the ack included).

Prints each run (with the load generator's p50 beside it) and the medians. These leave out the load generator and the
wake-ups between the processes, which is where a shared VM's run-to-run spread mostly lies. Needs perf with syscall
tracepoints; never run by the tests.
"""
from __future__ import annotations

import argparse
import itertools
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from alternate import OursAt
from run import OUT, Sizes, plan, raise_nofile, run_loadgen
from targets import ROOT, Ours

EVENTS = ("sys_exit_recvfrom", "sys_enter_write", "sys_exit_fsync", "sys_enter_sendto", "sys_enter_writev",
          "sys_enter_epoll_wait", "sys_exit_epoll_wait")
LINE = re.compile(r"\s*\S+\s+(\d+)\s+\[\d+\]\s+([\d.]+):\s+syscalls:(\w+):\s*(.*)")
SENDS = ("sys_enter_sendto", "sys_enter_writev")
Event = tuple[int, float, str, str]  # thread id, µs, tracepoint, its arguments


def record(side: str, out: Path) -> float:
    """(a) against one side under `perf record`; its p50 (ms) as the load generator saw it."""
    clients, per_chat, params = plan(Sizes())["a"]
    with tempfile.TemporaryDirectory(prefix="segments-") as tmp:
        log_path, data = OUT / "logs" / "segments.log", Path(tmp) / "messages.json"
        server = Ours(log_path, data) if side == str(ROOT) else OursAt(Path(side), log_path, data)
        server.start()
        try:
            specs = server.clients(clients, per_chat)
            events = ",".join(f"syscalls:{name}" for name in EVENTS)
            perf = subprocess.Popen(["perf", "record", "-q", "-o", str(out), "-e", events, "-p", str(server.pid)])
            time.sleep(1.0)  # perf attached before the first send
            result = run_loadgen(server, "a", specs, params, Path(tmp) / "loadgen.json")
            perf.send_signal(signal.SIGINT)
            perf.wait()
        finally:
            server.stop()
    return float(result["latency_ms"]["p50"])


def events(path: Path) -> list[Event]:
    text = subprocess.run(["perf", "script", "-i", str(path)], capture_output=True, text=True, check=True).stdout
    return [(int(m[1]), float(m[2]) * 1e6, m[3], m[4]) for m in map(LINE.match, text.splitlines()) if m]


def segments(trace: list[Event]) -> dict[str, float]:
    """Medians per message, in µs. A message is one write to the log on a pool thread (the loop is the thread of the
    first event; the pool's 8-byte write wakes the loop, and is not one)."""
    loop = trace[0][0]
    writes = [i for i, (tid, _, name, args) in enumerate(trace)
              if tid != loop and name == "sys_enter_write" and not args.endswith("count: 0x00000008")]
    found: dict[str, list[float]] = {name: [] for name in ("before", "fsync", "after", "server", "busy")}
    for start, end in itertools.pairwise(writes):
        reads = [t for tid, t, name, result in trace[max(0, start - 40):start]
                 if tid == loop and name == "sys_exit_recvfrom" and not result.startswith("0xffff") and int(result, 16)]
        cycle = trace[start:end]
        synced = next((t for _, t, name, _ in cycle if name == "sys_exit_fsync"), None)
        sent = next((t for tid, t, name, _ in cycle if tid == loop and name in SENDS and synced and t > synced), None)
        if not reads or synced is None or sent is None:
            continue
        written = trace[start][1]
        found["before"].append(written - reads[-1])
        found["fsync"].append(synced - written)
        found["after"].append(sent - synced)
        found["server"].append(sent - reads[-1])
        found["busy"].append(busy(cycle, loop))
    return {name: round(statistics.median(values), 1) for name, values in found.items() if values}


def busy(cycle: list[Event], loop: int) -> float:
    """The loop's time out of epoll_wait over one message's events."""
    total, woke = 0.0, None
    for tid, t, name, _ in cycle:
        if tid != loop:
            continue
        if name == "sys_exit_epoll_wait":
            woke = t
        elif name == "sys_enter_epoll_wait" and woke is not None:
            total, woke = total + t - woke, None
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--checkout", action="append", default=[], type=Path, help="another checkout to run too")
    args = parser.parse_args()
    raise_nofile()
    (OUT / "logs").mkdir(parents=True, exist_ok=True)
    sides = [str(ROOT), *map(str, args.checkout)]
    runs: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="segments-") as tmp:
        for round_ in range(args.rounds):
            for side in sides if round_ % 2 == 0 else sides[::-1]:
                trace = Path(tmp) / "perf.data"
                p50 = record(side, trace)
                got = {**segments(events(trace)), "p50_ms": p50}
                runs.setdefault(side, []).append(got)
                print(round_, side, got, flush=True)
    for side, results in runs.items():
        print("median", side, {name: statistics.median(r[name] for r in results) for name in results[0]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
