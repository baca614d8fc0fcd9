"""The PNG plot of a run: latency over time per step, and the histogram of the headline step.

matplotlib is imported here only (Agg backend: no display needed), so the rest of the simulator runs
without it.
"""

from __future__ import annotations

import math


def write_plot(timeline: dict[str, list[tuple[float, float]]], path: str, *, headline: str,
               title: str = "") -> None:
    """Scatter of (start time, latency) per step on a log scale, and a log-binned histogram of ``headline``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (over_time, histogram) = plt.subplots(1, 2, figsize=(13, 5), gridspec_kw={"width_ratios": [3, 2]})
    any_samples = False
    for step, samples in sorted(timeline.items(), key=lambda item: item[0] != headline):
        if not samples:
            continue
        any_samples = True
        xs = [at for at, _v in samples]
        ys = [max(v * 1000.0, 1e-3) for _at, v in samples]
        over_time.scatter(xs, ys, s=3, alpha=0.4, label=f"{step} ({len(samples)})", rasterized=True)
    over_time.set_xlabel("time since start (s)")
    over_time.set_ylabel("latency (ms)")
    if any_samples:
        over_time.set_yscale("log")
        over_time.legend(loc="upper right", markerscale=4)
    over_time.set_title("latency over time")
    over_time.grid(True, which="both", alpha=0.3)
    values = sorted(v * 1000.0 for _at, v in timeline.get(headline, []))
    if values:
        low, high = max(values[0], 1e-2), max(values[-1], 1e-2)
        histogram.hist(values, bins=_log_bins(low, high), color="tab:blue", alpha=0.8)
        histogram.set_xscale("log")
        for q, style in ((50, "--"), (99, ":")):
            mark = values[min(len(values) - 1, int(len(values) * q / 100))]
            histogram.axvline(mark, color="black", linestyle=style, label=f"p{q} {mark:.1f} ms")
        histogram.legend(loc="upper right")
    histogram.set_xlabel(f"{headline} latency (ms)")
    histogram.set_ylabel("samples")
    histogram.set_title(f"histogram: {headline}")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _log_bins(low: float, high: float, per_decade: int = 20) -> list[float]:
    if high <= low:
        high = low * 1.1
    start, stop = math.log10(low), math.log10(high)
    count = max(int((stop - start) * per_decade), 5)
    return [10 ** (start + (stop - start) * i / count) for i in range(count + 1)]
