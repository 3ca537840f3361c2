"""The side-by-side table: one row per figure, a column per server (node, ours on the log, ours on PostgreSQL on one
node and on two behind HAProxy), our log store against node, and the target verdicts."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

Result = dict  # one loadgen/run.py result: {"ok": bool, ...figures} or {"ok": False, "error": str}
Target = Callable[[float, float | None], bool]  # (the server's figure, the one it is held against) -> met?


@dataclass(frozen=True)
class Row:
    scenario: str
    label: str
    key: str  # dotted path into the result, e.g. "latency_ms.p99"
    target: str = ""  # for ours (the log store), against node
    met: Target | None = None
    pg_target: str = ""  # for ours-pg (one node on PostgreSQL), against ours
    pg_met: Target | None = None


ROWS = [
    Row("a", "send->receive p50 ms", "latency_ms.p50"),
    Row("a", "send->receive p99 ms", "latency_ms.p99", "<= 1.5x node", lambda o, n: n is not None and o <= 1.5 * n),
    Row("a", "errors", "errors"),
    Row("b", "delivered msgs/s", "delivered_per_s"),
    Row("b", "latency p50 ms", "latency_ms.p50"),
    Row("b", "latency p99 ms", "latency_ms.p99", "< 25 ms", lambda o, n: o < 25, "< 25 ms", lambda o, n: o < 25),
    Row("b", "lost deliveries", "lost", "0", lambda o, n: o == 0, "0", lambda o, n: o == 0),
    Row("b", "errors", "errors"),
    Row("b", "server CPU s", "server_cpu_s"),
    Row("b", "loadgen CPU s", "loadgen_cpu_s"),
    Row("c", "KB per idle connection", "kb_per_connection", "<= 32 KB", lambda o, n: o <= 32),
    Row("c", "RSS before KB", "rss_before_kb"),
    Row("c", "RSS after KB", "rss_after_kb"),
    Row("c", "connect+join all s", "connect_s"),
    Row("d", "deliveries/s", "deliveries_per_s", ">= 1.1x node", lambda o, n: n is not None and o >= 1.1 * n,
        ">= 0.5x ours", lambda o, n: n is not None and o >= 0.5 * n),
    Row("d", "deliveries per CPU-s", "deliveries_per_cpu_s", ">= 1.25x node", lambda o, n: n is not None and o >= 1.25 * n),
    Row("d", "sends/s", "sends_per_s"),
    Row("d", "latency p99 ms", "latency_ms.p99"),
    Row("d", "server CPU s", "server_cpu_s"),
    Row("d", "loadgen CPU s", "loadgen_cpu_s"),
    Row("d", "errors", "errors"),
    Row("e", "start-up s", "startup_s", "< 15 s", lambda o, n: o < 15),
    Row("f", "RSS added MB", "rss_added_mb", "", None, "< 60 MB", lambda o, n: o < 60),
    Row("f", "messages stored", "messages"),
    Row("f", "sends/s", "sends_per_s"),
    Row("g", "opens, many addresses", "opens"),
    Row("g", "opens/s", "opens_per_s"),
    Row("g", "RSS added by opens MB", "opens_rss_added_mb", "< 20 MB", lambda o, n: o < 20, "< 20 MB", lambda o, n: o < 20),
    Row("g", "send p99 ms, quiet", "send_p99_ms.quiet"),
    Row("g", "send p99 ms, opens", "send_p99_ms.opens"),
    Row("g", "p99 opens / quiet", "opens_p99_ratio"),
    Row("g", "opens/s, one address", "one_per_s"),
    Row("g", "  of them refused 429", "one_refused"),
    Row("g", "send p99 ms, those", "send_p99_ms.one"),
    Row("g", "p99 those / quiet", "one_p99_ratio", "<= 2x", lambda o, n: o <= 2, "<= 2x", lambda o, n: o <= 2),
    Row("g", "SIWE attempts/s", "siwe_per_s"),
    Row("g", "SIWE refused 429", "siwe_refused"),
    Row("g", "send p99 ms, SIWE", "send_p99_ms.siwe"),
    Row("g", "p99 SIWE / quiet", "siwe_p99_ratio", "<= 2x", lambda o, n: o <= 2, "<= 2x", lambda o, n: o <= 2),
    Row("g", "RSS added by churn MB", "churn_rss_added_mb", "< 5 MB", lambda o, n: o < 5, "< 5 MB", lambda o, n: o < 5),
    Row("g", "signed-in churn cycles", "churn_cycles"),
]

TITLES = {"a": "(a) latency", "b": "(b) fan-out 500/s", "c": "(c) idle RSS", "d": "(d) max fan-out",
          "e": "(e) replay start-up", "f": "(f) memory, 100k stored", "g": "(g) floods, churn"}
SIDES = ("node", "ours", "ours-pg", "ours-pg2")


def lookup(result: Result | None, key: str) -> float | None:
    value: object = result if result and result.get("ok") else None
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value if isinstance(value, (int, float)) else None


def fmt(x: float | None) -> str:
    if x is None:
        return "-"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.3g}" if abs(x) < 10 else f"{x:.1f}"


def pushing(b: dict[str, Result]) -> list[str]:
    """(b) again with pushes on and the push service hanging (ours on the log), beside (b) without: p99 must not
    change."""
    with_pushes, without = b.get("ours-push"), b.get("ours")
    if not with_pushes or not with_pushes.get("ok"):
        return []
    p99, base = lookup(with_pushes, "latency_ms.p99"), lookup(without, "latency_ms.p99")
    ratio = f"{p99 / base:.2f}x" if p99 is not None and base else "-"
    held = with_pushes.get("push_connections_held")
    return [
        "",
        "(b) with pushes on, the push service hanging (ours on the log; 5 absent members per chat, each subscribed;",
        f"    PUSH_COALESCE_S=0): p50 {fmt(lookup(with_pushes, 'latency_ms.p50'))} ms, p99 {fmt(p99)} ms "
        f"({ratio} of {fmt(base)} ms without), lost {fmt(lookup(with_pushes, 'lost'))}, "
        f"errors {fmt(lookup(with_pushes, 'errors'))}, delivered/s {fmt(lookup(with_pushes, 'delivered_per_s'))}",
        f"    pushes by result {with_pushes.get('pushes')}, queue at the end {fmt(with_pushes.get('push_queue'))}, "
        f"connections the push service held {held}",
    ]


def table(results: dict[str, dict[str, Result]], header: str) -> str:
    """Plain-text table of every row whose scenario ran, then the errors and notes that explain the gaps."""
    widths = (20, 22, 10, 10, 10, 10, 9, 12, 5, 12, 5)
    line = lambda cells: "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    out = [header, "", line(("scenario", "figure", *SIDES, "ours/node", "target ours", "", "target pg", "")),
           "-" * (sum(widths) + 20)]
    notes: list[str] = []
    shown = ""
    for row in ROWS:
        if row.scenario not in results:
            continue
        title = TITLES[row.scenario] if row.scenario != shown else ""
        shown = row.scenario
        node, ours, pg, pg2 = (lookup(results[row.scenario].get(side), row.key) for side in SIDES)
        ratio = f"{ours / node:.2f}x" if ours is not None and node else "-"
        verdict = ("PASS" if row.met(ours, node) else "MISS") if row.met and ours is not None else ""
        pg_verdict = ("PASS" if row.pg_met(pg, ours) else "MISS") if row.pg_met and pg is not None else ""
        out.append(line((title, row.label, fmt(node), fmt(ours), fmt(pg), fmt(pg2), ratio, row.target, verdict,
                         row.pg_target, pg_verdict)))
    out += pushing(results.get("b", {}))
    for scenario, sides in results.items():
        for side, result in sides.items():
            if not result.get("ok"):
                notes.append(f"{TITLES[scenario]} [{side}]: " + str(result.get("error")).replace("\n", "\n      "))
    if notes:
        out += ["", "not measured:"] + [f"  {n}" for n in notes]
    return "\n".join(out)
