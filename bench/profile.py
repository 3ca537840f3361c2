"""Where our server's time goes, by layer, under (a), (b) or (d): `.venv/bin/python bench/profile.py d [--seconds 15]
[--pushes] [--py-spy PATH]` starts ours on the log (FSYNC=always; with --pushes, pushing into a push service that
hangs), records it with py-spy (raw stacks, 200 Hz, --nonblocking --threads) while the load generator runs the
scenario, and prints each layer's share of the event loop thread's samples; `--shares FILE...` classifies profiles
already recorded (several files are pooled).

py-spy is not a project dependency: install it into a venv of its own (`python3 -m venv /tmp/pyspy-venv &&
/tmp/pyspy-venv/bin/pip install py-spy`) and pass its path.
"""
from __future__ import annotations

import argparse
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

# Each sample goes to the first of these layers that one of its frames names, from the innermost frame outwards.
LAYERS = [
    ("write: send() syscalls", r"_send_some|SocketMixin\.send \(|sendall"),
    ("encode: message/update frames", r"event_frame|text_frame|wire/frames\.py:5[0-9]\)"),
    ("encode: acks", r"_guard_messages\.<locals>\.ack "),
    ("write: cork + queue", r"deliver_soon|_uncork|_write \(|LeanQueue|deliver \("),
    ("read: frames (recv, parse, unmask, UTF-8)",
     r"recv_into|readinto|_receive|_unmask|read_message|geventwebsocket|FastWebSocket\.wait|WebSocketWSGI\.wait"),
    ("broadcast loop (rooms -> sockets)", r"broadcast_many|optimistic_messaging/hub\.py|to_sids"),
    ("pushes: decide, windows, lanes (notify/, coalesce/)", r"messaging/notify/|messaging/coalesce/"),
    ("commit listeners: fanout, feed, reconciler",
     r"fanout\.py|node\.py|reconciler\.py|subscriptions\.py|positions\.py|receipts\.py|late\.py|presence"),
    ("store: plan, encode, state", r"optimistic_messaging/store/"),
    ("validation + messaging", r"validation\.py|/messaging\.py|models\.py|<string>"),
    ("guard: namespace.py (auth, budget, answer)", r"namespace\.py|connections\.py|limits/|clock\.py|stats\.py"),
    ("decode + dispatch: engine.io / Socket.IO", r"wire/engine\.py|socketio/|engineio/"),
    ("gevent: switches, events (Python side)", r"gevent/|greenlet"),
]
LOOP_ITSELF = "gevent: the loop itself (Hub.run's own samples)"
FSYNC = "fsync thread, busy (not in the loop's total)"


def classify(paths: list[str]) -> Counter[str]:
    """Samples by layer, pooled over the files; the thread pool's idle workers are left out."""
    shares: Counter[str] = Counter()
    for path in paths:
        for line in open(path):
            stack, count = line.rstrip("\n").rsplit(" ", 1)
            frames = stack.split(";")
            if "threadpool.py" in stack or "_threading.py" in stack:  # the thread pool: the log's append + fsync
                if "_append_and_sync" in stack:
                    shares[FSYNC] += int(count)
                continue
            if frames[-1].startswith("Hub.run "):  # libev in C: epoll_wait, callbacks, greenlet switches
                shares[LOOP_ITSELF] += int(count)
                continue
            layer = next((name for frame in reversed(frames) for name, rx in LAYERS if re.search(rx, frame)), "other")
            shares[layer] += int(count)
    return shares


def report(shares: Counter[str]) -> str:
    """A table: each layer's share of the loop thread's samples, and of those outside Hub.run itself."""
    loop = sum(n for layer, n in shares.items() if layer != FSYNC)
    busy = loop - shares[LOOP_ITSELF]
    rows = [f"| layer | share of the loop thread ({loop} samples) | without Hub.run's own ({busy}) |", "|---|---|---|"]
    for layer, n in shares.most_common():
        if layer == FSYNC:
            continue
        without = "" if layer == LOOP_ITSELF else f"{100 * n / busy:.1f} %"
        rows.append(f"| {layer} | {100 * n / loop:.1f} % | {without} |")
    rows.append(f"| {FSYNC} | {100 * shares[FSYNC] / loop:.0f} % of the loop's samples | |")
    return "\n".join(rows)


def record(scenario: str, seconds: float, py_spy: str, out: Path, pushes: bool = False) -> dict:
    """Runs the scenario against ours on the log (with `pushes`, into a push service that hangs) under py-spy; returns
    the load generator's result."""
    from run import OUT, Sizes, plan, raise_nofile, run_loadgen
    from targets import Ours, OursPushing

    raise_nofile()
    (OUT / "logs").mkdir(parents=True, exist_ok=True)
    sizes = Sizes(fanout_s=seconds, max_fanout_s=seconds, latency_messages=int(seconds * 600))
    clients, per_chat, params = plan(sizes)[scenario]
    with tempfile.TemporaryDirectory(prefix="profile-") as tmp:
        log_path, data_file = OUT / "logs" / f"ours-profile-{scenario}.log", Path(tmp) / "messages.json"
        server = OursPushing(log_path, data_file) if pushes else Ours(log_path, data_file)
        server.start()
        try:
            specs = server.clients(clients, per_chat)
            spy = subprocess.Popen([py_spy, "record", "-p", str(server.pid), "-r", "200", "--nonblocking", "--threads",
                                    "-f", "raw", "-o", str(out)], stdout=subprocess.DEVNULL)
            time.sleep(1)  # py-spy attached
            result = run_loadgen(server, scenario, specs, params, Path(tmp) / "loadgen.json")
            spy.send_signal(signal.SIGINT)
            spy.wait(60)
            return result
        finally:
            server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", choices=("a", "b", "d"),
                        help="(a) one at a time, (b) fan-out at a fixed rate, (d) closed loop")
    parser.add_argument("--seconds", type=float, default=15, help="(b), (d): its length; (a): 600 messages per second")
    parser.add_argument("--pushes", action="store_true", help="pushes on, into a push service that hangs (as (b)'s)")
    parser.add_argument("--py-spy", default="py-spy", help="the py-spy executable (its own venv, not the project's)")
    parser.add_argument("--shares", nargs="+", metavar="FILE", help="only classify these raw py-spy profiles")
    args = parser.parse_args()
    if args.shares:
        print(report(classify(args.shares)))
        return 0
    if args.scenario is None:
        parser.error("a scenario (a, b or d), or --shares FILE...")
    from run import OUT

    out = OUT / f"profile-{args.scenario}{'-push' if args.pushes else ''}.txt"
    result = record(args.scenario, args.seconds, args.py_spy, out, args.pushes)
    print({k: v for k, v in result.items() if not isinstance(v, (list, dict))}, file=sys.stderr)
    print(report(classify([str(out)])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
