"""Our server against itself, runs alternated so that a machine's drift falls on both sides alike: `.venv/bin/python
bench/alternate.py --rounds 4 --only a,d --checkout /work/old` runs each scenario against ours on the log from this
checkout and from each --checkout (a worktree of an older commit, its backend on the same venv), in turn, and
`--pushes` runs (b) against ours and ours with pushes into a hanging push service. Prints each run, then the medians:
(a) p50 and p99, (b) p99 and server CPU, (d) deliveries per server CPU-second (also per CPU-second of the whole machine
less the load generator's, which counts the kernel's work outside the process) and the server's user and kernel CPU per
send.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from run import OUT, Sizes, plan, raise_nofile, run_loadgen
from targets import ROOT, Ours, OursPushing

FIGURES = {
    "a": ("p50", "p99"),
    "b": ("p99", "server_cpu_s"),
    "d": ("deliveries_per_cpu_s", "deliveries_per_host_cpu_s", "user_us_per_send", "system_us_per_send"),
}


class OursAt(Ours):
    """Ours from another checkout: its backend/main.py, on this venv."""

    def __init__(self, checkout: Path, log_path: Path, data_file: Path) -> None:
        super().__init__(log_path, data_file)
        self.checkout = checkout

    def command(self) -> tuple[list[str], dict[str, str]]:
        argv, env = super().command()
        return [argv[0], str(self.checkout / "backend" / "main.py")], env


def figures(scenario: str, result: dict) -> dict[str, float]:
    latency = result.get("latency_ms", {})
    sent = result.get("sent_in_window") or 0
    per_send = {  # the server's CPU per send of the window, in user mode and in the kernel: where a difference lies
        f"{mode}_us_per_send": round(result[f"server_{mode}_s"] / sent * 1e6, 2) if sent else None
        for mode in ("user", "system") if f"server_{mode}_s" in result
    }
    return {name: per_send.get(name, result.get(name, latency.get(name))) for name in FIGURES[scenario]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default="a,d", help="scenarios, of a, b, d")
    parser.add_argument("--checkout", action="append", default=[], type=Path, help="another checkout to run too")
    parser.add_argument("--pushes", action="store_true", help="(b): ours, and ours with pushes on, alternated")
    args = parser.parse_args()
    raise_nofile()
    (OUT / "logs").mkdir(parents=True, exist_ok=True)
    sides = ["ours", "ours-push"] if args.pushes else [str(ROOT), *map(str, args.checkout)]
    scenarios = ["b"] if args.pushes else args.only.split(",")
    runs: dict[tuple[str, str], list[dict[str, float]]] = {}
    for round_ in range(args.rounds):
        for side in sides if round_ % 2 == 0 else sides[::-1]:
            for scenario in scenarios:
                clients, per_chat, params = plan(Sizes())[scenario]
                with tempfile.TemporaryDirectory(prefix="alternate-") as tmp:
                    log_path, data = OUT / "logs" / f"alternate-{scenario}.log", Path(tmp) / "messages.json"
                    server = (
                        OursPushing(log_path, data) if side == "ours-push"
                        else Ours(log_path, data) if side in ("ours", str(ROOT))
                        else OursAt(Path(side), log_path, data)
                    )
                    server.start()
                    try:
                        result = run_loadgen(server, scenario, server.clients(clients, per_chat), params,
                                             Path(tmp) / "loadgen.json")
                        got = figures(scenario, result)
                        if isinstance(server, OursPushing):  # the pushes it decided (dropped or sent), so they ran
                            got["pushes"] = sum(server.figures()["pushes"].values())
                    finally:
                        server.stop()
                runs.setdefault((side, scenario), []).append(got)
                print(round_, side, scenario, got, flush=True)
    for (side, scenario), results in runs.items():
        medians = {name: statistics.median(r[name] for r in results) for name in FIGURES[scenario]}
        print("median", side, scenario, medians)
    return 0


if __name__ == "__main__":
    sys.exit(main())
