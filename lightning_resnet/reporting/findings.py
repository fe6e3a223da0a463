"""Whether the paper's findings held in the runs: only beyond the measured noise, and only between runs of equal length.

A difference counts when it exceeds the noise: twice the larger seed-to-seed std of the two networks where
both ran several seeds; otherwise twice the largest seed-to-seed std measured among the compared runs' pool
at the same length (e.g. Table 6's five ResNet-110s). With nothing measured at that length a stated one-seed
margin still says which way the runs point, but no finding is held on it: a margin is not a measurement.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import mean

from ..paper import Finding
from ..runs import Run, mean_std

# The margin a one-seed difference must exceed when no seed-to-seed spread was measured: percentage points of
# error, or std units for the Figure 7 responses.
ONE_SEED_MARGIN = {"responses": 0.05}
ERROR_MARGIN = 1.0
VERDICT_RULE = (
    "A finding holds (yes) when each of its differences exceeds the measured seed-to-seed noise, and fails (**no**) "
    "when one goes the other way beyond it; anything in between is *within noise*. Where no noise was measured at "
    "that length (one seed of each network, and no network of the pool with several), a difference is set against a "
    "stated margin instead, and the verdict says *noise not measured*: it is not counted as held."
)
UNMEASURED = {True: "as the paper, noise not measured", False: "**against the paper**, noise not measured"}
NOISE_RULE = (
    f"{VERDICT_RULE} Noise: twice the larger seed-to-seed std of the two networks where both have several seeds; "
    "otherwise twice the largest seed-to-seed std measured among these runs; otherwise (one seed, nothing measured) "
    f"the stated margin of {ERROR_MARGIN} percentage point of error ({ONE_SEED_MARGIN['responses']} for response "
    "stds). Runs of different lengths are not compared."
)


def run_value(run: Run, metric: str) -> float | None:
    """``train``: the last logged training error; ``responses``: the mean Figure 7 std; else the final top-1 error."""
    if metric == "train":
        return run.last("train/top1_error")
    if metric == "responses":
        return mean(run.responses) if run.responses else None
    return run.final(f"{metric}/top1_error")


def values_of(runs: list[Run], network: str, metric: str) -> list[float]:
    return [v for r in runs if r.network == network and (v := run_value(r, metric)) is not None]


@dataclass(frozen=True)
class Verdict:
    held: bool | None  # None: not run, not comparable, within noise, or no noise measured
    label: str
    evidence: str


def measured_spread(runs: list[Run], metric: str) -> float | None:
    """The largest seed-to-seed std of any network with several seeds among ``runs``."""
    spreads = [
        s for n in {r.network for r in runs} if (s := mean_std(values_of(runs, n, metric) or [0.0])[1]) is not None
    ]
    return max(spreads) if spreads else None


def evaluate(finding: Finding, runs: list[Run]) -> Verdict:
    metric = finding.metric
    networks = list(dict.fromkeys(n for pair in finding.pairs for n in pair))
    values = {n: v for n in networks if (v := values_of(runs, n, metric))}
    pairs = [(a, b) for a, b in finding.pairs if a in values and b in values]
    if not pairs:
        return Verdict(None, "not run", f"needs {' and '.join(networks)}")
    lengths = {r.network: r.steps for r in runs if r.network in values}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{n} {s:,}" for n, s in lengths.items())
        return Verdict(None, "not comparable", f"runs of different lengths ({detail} iterations)")
    pool_spread = measured_spread([r for r in runs if r.steps in lengths.values()], metric)
    digits = 3 if metric == "responses" else 2
    held, contradicted, measured, parts = True, False, True, []
    for a, b in pairs:
        (mean_a, std_a), (mean_b, std_b) = mean_std(values[a]), mean_std(values[b])
        if std_a is not None and std_b is not None:
            noise, basis = 2 * max(std_a, std_b), "2 x seed std"
        elif pool_spread is not None:
            noise, basis = 2 * pool_spread, "one seed: 2 x largest measured seed std"
        else:
            noise, basis = ONE_SEED_MARGIN.get(metric, ERROR_MARGIN), "one seed: stated margin, not measured"
            measured = False
        difference = mean_a - mean_b
        held &= difference > noise
        contradicted |= difference < -noise
        sign = ">" if difference > 0 else "<" if difference < 0 else "="
        parts.append(
            f"{a} {mean_a:.{digits}f} {sign} {b} {mean_b:.{digits}f} (difference {difference:+.{digits}f}, noise "
            f"{noise:.{digits}f}: {basis})"
        )
    evidence = "; ".join(parts)
    if not measured:
        return Verdict(None, UNMEASURED[held] if held or contradicted else "within the stated margin", evidence)
    label = "yes" if held else "**no**" if contradicted else "within noise"
    return Verdict(True if held else False if contradicted else None, label, evidence)
