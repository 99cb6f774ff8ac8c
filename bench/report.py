"""`make bench` as a report: every figure with its unit, target and whether it is met.

Each bench module records its figures here as it measures them (`figure`), and the raw series the plots
need (`series`); `python -m bench.report` (the last step of `make bench`) prints one table (figure, value,
target, met), adds the monthly AWS cost (bench/prices.py), writes `bench/results.json` (each figure as
{"value", "unit", "target", "met"}) and draws the plots into `bench/plots/` with matplotlib.

Figures of earlier steps are merged into the same file, so a step can be run again on its own
(`python -m bench.pipeline --skip ...`) and the report drawn again.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = Path(os.environ.get("BENCH_RESULTS", HERE / "results.json"))
SERIES = Path(os.environ.get("BENCH_SERIES", HERE / "plots" / "series.json"))
PLOTS = HERE / "plots"


def _load(path: Path) -> dict[str, Any]:
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return {}


def _save(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def figure(
    name: str, value: float, unit: str, target: str | None = None, met: bool | None = None, **extra: Any
) -> None:
    """Record one figure (`met` None: a figure without a target)."""
    data = _load(RESULTS)
    data[name] = {
        "value": round(float(value), 4),
        "unit": unit,
        "target": target,
        "met": met,
        **extra,
    }
    _save(RESULTS, data)


def series(name: str, values: Any) -> None:
    """Record a plot's raw data."""
    data = _load(SERIES)
    data[name] = values
    _save(SERIES, data)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of `values`."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


# --- the report ------------------------------------------------------------------------------------------


def table(results: dict[str, Any]) -> str:
    rows = [("figure", "value", "target", "met")]
    for name, f in results.items():
        value = f"{f['value']:g} {f['unit']}".strip()
        met = {True: "yes", False: "NO", None: "-"}[f.get("met")]
        rows.append((name, value, f.get("target") or "", met))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown(results: dict[str, Any]) -> str:
    """The table as Markdown (for the README)."""
    rows = ["| figure | value | target | met |", "|---|---|---|---|"]
    for name, f in results.items():
        met = {True: "yes", False: "**no**", None: "-"}[f.get("met")]
        rows.append(f"| {name} | {f['value']:g} {f['unit']} | {f.get('target') or ''} | {met} |")
    return "\n".join(rows)


def plots(data: dict[str, Any]) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    PLOTS.mkdir(exist_ok=True)
    made: list[Path] = []

    sizes = data.get("sweep_by_size")
    if sizes:
        fig, (calls, wall) = plt.subplots(1, 2, figsize=(10, 4))
        for tier, style in (("full", "o-"), ("cheap", "s-")):
            points = sorted((p["entries"], p[f"{tier}_calls"], p[f"{tier}_seconds"]) for p in sizes)
            if not points:
                continue
            xs = [p[0] for p in points]
            calls.plot(xs, [p[1] for p in points], style, label=f"{tier} tier")
            wall.plot(xs, [p[2] for p in points], style, label=f"{tier} tier")
        calls.set(xlabel="entries in the cluster", ylabel="EKS calls per sweep of the cluster", yscale="log")
        wall.set(xlabel="entries in the cluster", ylabel="wall time per cluster (s)")
        for ax in (calls, wall):
            ax.grid(alpha=0.3)
            ax.legend()
        fig.suptitle("The sweep of one cluster: EKS calls and wall time against its size (20 ms per call)")
        fig.tight_layout()
        made.append(_save_fig(fig, "sweep_by_size.png"))

    latencies = data.get("event_to_restored_seconds")
    if latencies:
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.hist(latencies, bins=30, color="tab:blue")
        for q, style in ((50, "--"), (99, ":")):
            ax.axvline(percentile(latencies, q), color="k", linestyle=style, label=f"p{q}")
        ax.set(
            xlabel="event to restored (s)",
            ylabel="drifts",
            title=f"Event to restored, local pipeline at 20 ms per EKS call ({len(latencies)} drifts)",
        )
        ax.legend()
        made.append(_save_fig(fig, "event_to_restored.png"))

    drains = {k: v for k, v in data.items() if k.startswith("flood_drain_")}
    if drains:
        fig, ax = plt.subplots(figsize=(7, 4))
        for key, points in sorted(drains.items()):
            ax.plot([p[0] for p in points], [p[1] for p in points], label=key.removeprefix("flood_drain_"))
        ax.set(
            xlabel="seconds since the burst began",
            ylabel="events and work items waiting",
            title="A 1,000-event burst on one cluster: the queues draining",
        )
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        made.append(_save_fig(fig, "flood_drain.png"))
    return made


def _save_fig(fig: Any, name: str) -> Path:
    path = PLOTS / name
    fig.savefig(path, dpi=90)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def main() -> int:
    from bench.prices import monthly_cost

    results = _load(RESULTS)
    if "--markdown" in sys.argv:
        print(markdown(results))
        return 0
    cost = monthly_cost(results)
    if cost is not None:
        figure(
            "AWS cost per month, 50 clusters, 1,000 events a day",
            cost["total"],
            "USD",
            None,
            None,
            breakdown=cost["breakdown"],
            prices_as_of=cost["prices_as_of"],
        )
        results = _load(RESULTS)
    print("\n" + table(results))
    if cost is not None:
        print(f"\ncost breakdown (USD a month; prices: {cost['prices_as_of']}):")
        for item, usd in cost["breakdown"].items():
            print(f"  {item:<58} {usd:8.2f}")
    made = plots(_load(SERIES))
    print(f"\nwrote {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}")
    for path in made:
        print(f"drew {path.relative_to(HERE.parent)}")
    missed = [name for name, f in results.items() if f.get("met") is False]
    if missed:
        print(f"\ntargets not met: {len(missed)}: " + "; ".join(missed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
