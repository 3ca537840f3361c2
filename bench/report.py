"""The side-by-side table: one row per figure, a column per server (the peers: node, uws, py-asgi; ours on the log, on
PostgreSQL on one node and on two behind HAProxy), our log store against node and against uws, and the target
verdicts."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

Result = dict  # one loadgen/run.py result: {"ok": bool, ...figures} or {"ok": False, "error": str}
Figures = dict[str, float | None]  # one row's figure per side
Target = Callable[[float, Figures], bool]  # (the server's figure, the row's figures of every side) -> met?


def times(factor: float, side: str, at_most: bool = False) -> Target:
    """Met when the figure is at least (or at most) factor times that side's figure in the same row."""
    def met(value: float, figures: Figures) -> bool:
        ref = figures.get(side)
        return ref is not None and (value <= factor * ref if at_most else value >= factor * ref)
    return met


def below(limit: float) -> Target:
    return lambda value, figures: value < limit


def at_most(limit: float) -> Target:
    return lambda value, figures: value <= limit


def at_least(limit: float) -> Target:
    return lambda value, figures: value >= limit


def both(*targets: Target) -> Target:
    return lambda value, figures: all(t(value, figures) for t in targets)


@dataclass(frozen=True)
class Row:
    scenario: str
    label: str
    key: str  # dotted path into the result, e.g. "latency_ms.p99"
    target: str = ""  # for ours (the log store)
    met: Target | None = None
    pg_target: str = ""  # for ours-pg (one node on PostgreSQL)
    pg_met: Target | None = None
    versus: bool = True  # ours/node and ours/uws mean something (not for a server's own ratios)


# Targets of issue 18 where it sets one (against the peers of the same run), else of issues 8, 10 and 14.
ROWS = [
    Row("a", "send->receive p50 ms", "latency_ms.p50", "<= 3x node", times(3, "node", at_most=True)),
    Row("a", "send->receive p99 ms", "latency_ms.p99", "<= 1.5x node", times(1.5, "node", at_most=True)),
    Row("a", "errors", "errors"),
    Row("b", "delivered msgs/s", "delivered_per_s"),
    Row("b", "latency p50 ms", "latency_ms.p50"),
    Row("b", "latency p99 ms", "latency_ms.p99", "< 25 ms", below(25), "< 25 ms", below(25)),
    Row("b", "lost deliveries", "lost", "0", at_most(0), "0", at_most(0)),
    Row("b", "errors", "errors"),
    Row("b", "server CPU s", "server_cpu_s"),
    Row("b", "loadgen CPU s", "loadgen_cpu_s"),
    Row("c", "KB per idle connection", "kb_per_connection", "<= 25 KB", at_most(25)),
    Row("c", "RSS before KB", "rss_before_kb"),
    Row("c", "RSS after KB", "rss_after_kb"),
    Row("c", "connect+join all s", "connect_s"),
    Row("d", "deliveries/s", "deliveries_per_s", ">= 1.1x node", times(1.1, "node"),
        ">= 0.6x ours", times(0.6, "ours")),
    Row("d", "deliveries per CPU-s", "deliveries_per_cpu_s", ">=1.25x node, >=0.85x uws",
        both(times(1.25, "node"), times(0.85, "uws"))),
    Row("d", "per machine CPU-s less loadgen", "deliveries_per_host_cpu_s"),  # counts the kernel's fsync (Linux AIO)
    Row("d", "sends/s", "sends_per_s"),
    Row("d", "latency p99 ms", "latency_ms.p99"),
    Row("d", "server CPU s", "server_cpu_s"),
    Row("d", "loadgen CPU s", "loadgen_cpu_s"),
    Row("d", "errors", "errors"),
    Row("e", "start-up s", "startup_s", "< 15 s", below(15)),
    Row("f", "RSS added MB", "rss_added_mb", "<= 20 MB", at_most(20), "< 60 MB", below(60)),
    Row("f", "messages stored", "messages"),
    Row("f", "sends/s", "sends_per_s"),
    Row("g", "deliveries/s", "deliveries_per_s"),
    Row("g", "deliveries per CPU-s", "deliveries_per_cpu_s"),
    Row("g", "per CPU-s (g)/(d)", "deliveries_per_cpu_s_vs_d", ">= 0.9x (d)", at_least(0.9), versus=False),
    Row("g", "deliveries/s (g)/(d)", "deliveries_per_s_vs_d", versus=False),
    Row("g", "other events received", "updates"),  # the confirmations: message:update
    Row("g", "latency p99 ms", "latency_ms.p99"),
    Row("g", "server CPU s", "server_cpu_s"),
    Row("g", "errors", "errors"),
    Row("h", "opens, many addresses", "opens"),
    Row("h", "opens/s", "opens_per_s"),
    Row("h", "RSS added by opens MB", "opens_rss_added_mb", "< 20 MB", below(20), "< 20 MB", below(20)),
    Row("h", "send p99 ms, quiet", "send_p99_ms.quiet"),
    Row("h", "send p99 ms, opens", "send_p99_ms.opens"),
    Row("h", "p99 opens / quiet", "opens_p99_ratio"),
    Row("h", "opens/s, one address", "one_per_s"),
    Row("h", "  of them refused 429", "one_refused"),
    Row("h", "send p99 ms, those", "send_p99_ms.one"),
    Row("h", "p99 those / quiet", "one_p99_ratio", "<= 2x", at_most(2), "<= 2x", at_most(2)),
    Row("h", "SIWE attempts/s", "siwe_per_s"),
    Row("h", "SIWE refused 429", "siwe_refused"),
    Row("h", "send p99 ms, SIWE", "send_p99_ms.siwe"),
    Row("h", "p99 SIWE / quiet", "siwe_p99_ratio", "<= 2x", at_most(2), "<= 2x", at_most(2)),
    Row("h", "RSS added by churn MB", "churn_rss_added_mb", "< 5 MB", below(5), "< 5 MB", below(5)),
    Row("h", "signed-in churn cycles", "churn_cycles"),
]

TITLES = {"a": "(a) latency", "b": "(b) fan-out 500/s", "c": "(c) idle RSS", "d": "(d) max fan-out",
          "e": "(e) replay start-up", "f": "(f) memory, 100k stored", "g": "(g) sustained (d)",
          "h": "(h) floods, churn"}
SIDES = ("node", "uws", "py-asgi", "ours", "ours-pg", "ours-pg2")


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


def ratio(value: float | None, ref: float | None) -> str:
    return f"{value / ref:.2f}x" if value is not None and ref else "-"


def pushing(b: dict[str, Result]) -> list[str]:
    """(b) again with pushes on and the push service hanging (ours on the log), beside (b) without: p99 must not
    change."""
    with_pushes, without = b.get("ours-push"), b.get("ours")
    if not with_pushes or not with_pushes.get("ok"):
        return []
    p99, base = lookup(with_pushes, "latency_ms.p99"), lookup(without, "latency_ms.p99")
    held = with_pushes.get("push_connections_held")
    return [
        "",
        "(b) with pushes on, the push service hanging (ours on the log; 5 absent members per chat, each subscribed;",
        f"    PUSH_COALESCE_S=0): p50 {fmt(lookup(with_pushes, 'latency_ms.p50'))} ms, p99 {fmt(p99)} ms "
        f"({ratio(p99, base)} of {fmt(base)} ms without), lost {fmt(lookup(with_pushes, 'lost'))}, "
        f"errors {fmt(lookup(with_pushes, 'errors'))}, delivered/s {fmt(lookup(with_pushes, 'delivered_per_s'))}",
        f"    pushes by result {with_pushes.get('pushes')}, queue at the end {fmt(with_pushes.get('push_queue'))}, "
        f"connections the push service held {held}",
    ]


def table(results: dict[str, dict[str, Result]], header: str) -> str:
    """Plain-text table of every row whose scenario ran, then the errors and notes that explain the gaps."""
    widths = (20, 23, *(10,) * len(SIDES), 9, 9, 26, 4, 12, 4)
    line = lambda cells: "  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                                   for i, (c, w) in enumerate(zip(cells, widths, strict=True)))
    heads = ("scenario", "figure", *SIDES, "ours/node", "ours/uws", "target ours", "", "target pg", "")
    out = [header, "", line(heads),
           "-" * (sum(widths) + 2 * (len(widths) - 1))]
    notes: list[str] = []
    shown = ""
    for row in ROWS:
        if row.scenario not in results:
            continue
        title = TITLES[row.scenario] if row.scenario != shown else ""
        shown = row.scenario
        figures = {side: lookup(results[row.scenario].get(side), row.key) for side in SIDES}
        ours, pg = figures["ours"], figures["ours-pg"]
        ratios = [ratio(ours, figures[ref]) if row.versus else "-" for ref in ("node", "uws")]
        verdict = ("PASS" if row.met(ours, figures) else "MISS") if row.met and ours is not None else ""
        pg_verdict = ("PASS" if row.pg_met(pg, figures) else "MISS") if row.pg_met and pg is not None else ""
        out.append(line((title, row.label, *(fmt(figures[side]) for side in SIDES), *ratios, row.target, verdict,
                         row.pg_target, pg_verdict)))
    out += pushing(results.get("b", {}))
    for scenario, sides in results.items():
        for side, result in sides.items():
            if not result.get("ok"):
                error = str(result.get("error")).replace("\n", "\n      ")
                notes.append(f"{TITLES[scenario]} [{side}]: {error}")
    if notes:
        out += ["", "not measured:"] + [f"  {n}" for n in notes]
    return "\n".join(out)
