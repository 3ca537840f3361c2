"""Instructions our server executes per stored message under (a) or (d), counted by valgrind (callgrind), so a
comparison holds on a busy machine where wall-clock figures do not: `.venv/bin/python bench/instructions.py d
[--seconds 8]` (OM_PURE_PYTHON=1 for the pure-Python wire). Runs the scenario twice on a fresh server under callgrind,
for 1 s and for --seconds, and divides the difference in the server's instructions (start-up, sign-ins and connects
cancel out) by the difference in messages the log stored; a message in (d) is 10 deliveries (one per member of its
chat), in (a) 2.
"""
from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from pathlib import Path

from run import OUT, Sizes, plan, raise_nofile, run_loadgen
from targets import Ours


class OursCounted(Ours):
    """Ours on the log under callgrind, which writes its count when the server ends. The reconciler is held off: its
    rounds come by the clock, which callgrind stretches 50-fold, so they would count per second, not per message."""

    def __init__(self, log_path: Path, data_file: Path, out: Path) -> None:
        super().__init__(log_path, data_file, {"RECONCILE_INTERVAL_S": "3600"})
        self.out = out

    def command(self) -> tuple[list[str], dict[str, str]]:
        argv, env = super().command()
        return ["valgrind", "--tool=callgrind", "--dump-line=no", f"--callgrind-out-file={self.out}", *argv], env

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(300)


def count(scenario: str, seconds: float) -> dict:
    """Runs the scenario against ours under callgrind; returns the server's instructions in all and messages stored."""
    raise_nofile()
    (OUT / "logs").mkdir(parents=True, exist_ok=True)
    clients, per_chat, params = plan(Sizes(max_fanout_s=seconds, latency_messages=int(seconds * 50)))[scenario]
    with tempfile.TemporaryDirectory(prefix="instructions-") as tmp:
        data, out = Path(tmp) / "messages.json", Path(tmp) / "callgrind.out"
        server = OursCounted(OUT / "logs" / f"ours-instructions-{scenario}-{seconds:g}.log", data, out)
        server.start(timeout_s=900)
        try:
            specs = server.clients(clients, per_chat)
            before = _stored(data)
            result = run_loadgen(server, scenario, specs, params, Path(tmp) / "loadgen.json")
            messages = _stored(data) - before
        finally:
            server.stop()
        total = sum(int(m) for dump in Path(tmp).glob("callgrind.out*") for m in _totals(dump))
        shutil.copy(out, OUT / f"callgrind-{scenario}-{seconds:g}.out")  # for callgrind_annotate
    return {"ok": result.get("ok", True), "error": result.get("error"), "instructions": total, "messages": messages}


def _stored(data: Path) -> int:
    """Messages the log holds (a line each)."""
    try:
        return sum(1 for line in data.open("rb") if line.startswith(b'{"op":"message"'))
    except FileNotFoundError:
        return 0


def _totals(dump: Path) -> list[str]:
    return re.findall(r"^(?:totals|summary): (\d+)", dump.read_text(errors="replace"), re.M)[:1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=("a", "d"), help="(a) one at a time, (d) closed loop")
    parser.add_argument("--seconds", type=float, default=8, help="(d): its length; (a): 50 messages per second")
    args = parser.parse_args()
    short, long = count(args.scenario, 1), count(args.scenario, args.seconds)
    messages = long["messages"] - short["messages"]
    per_message = (long["instructions"] - short["instructions"]) / max(messages, 1)
    print({"short": short, "long": long, "per_message": round(per_message),
           "per_delivery": round(per_message / (10 if args.scenario == "d" else 2))})
    return 0


if __name__ == "__main__":
    sys.exit(main())
