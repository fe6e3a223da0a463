"""What each table/figure report shows: its paper numbers, figure panels and the paper's qualitative findings."""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import mean
from typing import Callable

from ..runs import experiment_folder
from .paper import TABLE2, TABLE3, TABLE4, TABLE6, PaperResult
from .records import Run

Outcome = tuple[bool | None, str]  # held? (None: the runs needed are missing) and the evidence


def final_value(run: Run, metric: str, k: int = 1) -> float | None:
    """``train``: the last logged training error (mean of the last iterations); ``val``, ``test`` or a test
    protocol's ``test/ten_crop``, ``test/multiscale``: the final top-``k`` error."""
    if metric == "train":
        return run.last("train/top1_error")
    return run.final(f"{metric}/top{k}_error")


def network_value(runs: list[Run], network: str, metric: str) -> float | None:
    values = [v for r in runs if r.network == network and (v := final_value(r, metric)) is not None]
    return mean(values) if values else None


def response_mean(runs: list[Run], network: str) -> float | None:
    values = [mean(r.responses) for r in runs if r.network == network and r.responses]
    return mean(values) if values else None


METRIC_NAMES = {"train": "training error", "val": "validation error", "test": "test error",
                "test/ten_crop": "10-crop test", "test/multiscale": "multi-scale test"}


def ordered(networks: list[str], metric: str, decreasing: bool = True) -> Callable[[list[Run]], Outcome]:
    """The metric falls (or rises) strictly along ``networks``, compared over those that ran.

    ``metric`` is ``train``, ``val``, ``test`` or ``responses`` (mean std of the Figure 7 layers).
    """

    def value(runs: list[Run], network: str) -> float | None:
        return response_mean(runs, network) if metric == "responses" else network_value(runs, network, metric)

    def check(runs: list[Run]) -> Outcome:
        values = [(n, v) for n in networks if (v := value(runs, n)) is not None]
        if len(values) < 2:
            return None, f"not run: needs at least two of {', '.join(networks)}"
        held = all((a > b) if decreasing else (a < b) for (_, a), (_, b) in zip(values, values[1:]))
        digits = 3 if metric == "responses" else 2
        evidence = f"{values[0][0]} {values[0][1]:.{digits}f}"
        for (_, a), (n, b) in zip(values, values[1:]):  # the measured relation, whether or not it is the paper's
            evidence += f" {'>' if a > b else '<' if a < b else '='} {n} {b:.{digits}f}"
        return held, evidence

    return check


@dataclass(frozen=True)
class Finding:
    claim: str
    check: Callable[[list[Run]], Outcome]


@dataclass(frozen=True)
class ReportSpec:
    """One table or figure: the runs it reads, what it compares and what the paper found."""

    id: str
    title: str
    paper: dict[str, PaperResult] = field(default_factory=dict)
    panels: tuple[tuple[str, tuple[str, ...]], ...] = ()
    responses: bool = False
    findings: tuple[Finding, ...] = ()
    networks: tuple[str, ...] = ()  # the runs `reproduce` trains for this id (empty: whatever ran)
    seeds: tuple[tuple[str, int], ...] = ()  # networks the paper ran several times, e.g. (("resnet110", 5),)
    pool: str | None = None  # ids with the same pool share runs: runs/<pool>-<preset>/<network>-s<seed>
    small_scale_note: str = ""  # what cannot show in a shortened run, and how to run it in full
    test_metric: str = "test"  # the logged test result the id reports: test, test/ten_crop or test/multiscale
    test_protocol: str | None = None  # a test the id runs on trained runs of its pool (Table 4: multiscale)

    def groups(self, preset: str | None = None) -> tuple[str, ...]:
        """The experiment folders under ``runs/`` this report reads."""
        return (experiment_folder(self.pool if self.pool and preset else self.id, preset),)

    def seeds_for(self, network: str, at_least: int = 1) -> int:
        return max(at_least, dict(self.seeds).get(network, 1))


RESNET1202_NOTE = (
    "The paper's ResNet-1202 reaches < 0.1% training error and then overfits (7.93% test error vs 6.43% for "
    "ResNet-110). Neither can show in a run this short: it needs the full 64k-iteration schedule, "
    "`python -m lightning_resnet reproduce table6 --preset paper` (or `fit --config reproductions/table6.yaml "
    "--model.arch resnet1202 --trainer.callbacks+=lightning_resnet.callbacks.TrainErrorWarmup`), on a GPU."
)

# Where each pool's runs come from, and the paper-length schedule of its ids (for cost estimates).
SCHEDULES: dict[str, dict[str, object]] = {
    "cifar10": {"dataset": "CIFAR-10", "iterations": 64_000, "batch": 128, "image_size": 32, "config": "reproductions/table6.yaml"},
    "imagenet": {"dataset": "ImageNet", "iterations": 600_000, "batch": 256, "image_size": 224, "config": "reproductions/table3.yaml"},
}

PLAIN = ("plain20", "plain32", "plain44", "plain56")
TABLE2_NETS = ("plain18", "plain34", "resnet18-A", "resnet34-A")
TABLE3_NETS = ("plain34", "resnet34-A", "resnet34-B", "resnet34-C", "resnet50", "resnet101", "resnet152")
TABLE4_NETS = ("resnet34-B", "resnet34-C", "resnet50", "resnet101", "resnet152")
RESNETS = ("resnet20", "resnet32", "resnet44", "resnet56", "resnet110")

SPECS: dict[str, ReportSpec] = {
    spec.id: spec
    for spec in (
        ReportSpec(
            "fig1", "Figure 1: training and test error of plain-20 and plain-56 on CIFAR-10",
            panels=(("plain networks", ("plain20", "plain56")),),
            networks=("plain20", "plain56"), pool="cifar10",
            findings=(
                Finding("plain-56 has higher training error than plain-20 (degradation)", ordered(["plain56", "plain20"], "train")),
                Finding("plain-56 has higher test error than plain-20", ordered(["plain56", "plain20"], "test")),
            ),
        ),
        ReportSpec(
            "fig6", "Figure 6: training on CIFAR-10, plain nets, ResNets, and ResNet-110 vs ResNet-1202",
            panels=(("plain", PLAIN), ("ResNet", RESNETS), ("ResNet-110 vs 1202", ("resnet110", "resnet1202"))),
            networks=(*PLAIN, *RESNETS, "resnet1202"), pool="cifar10", small_scale_note=RESNET1202_NOTE,
            findings=(
                Finding("deeper plain nets have higher training error (plain-56 > plain-20)", ordered(["plain56", "plain20"], "train")),
                Finding("deeper ResNets have lower training error (ResNet-20 > ResNet-56 > ResNet-110)", ordered(["resnet20", "resnet56", "resnet110"], "train")),
                *(Finding(f"ResNet-{d} has lower training error than plain-{d}", ordered([f"plain{d}", f"resnet{d}"], "train")) for d in (20, 32, 44, 56)),
            ),
        ),
        ReportSpec(
            "table6", "Table 6: CIFAR-10 test error of ResNets",
            paper=TABLE6,
            panels=(("ResNets", (*RESNETS, "resnet1202")),),
            networks=(*RESNETS, "resnet1202"), seeds=(("resnet110", 5),), pool="cifar10", small_scale_note=RESNET1202_NOTE,
            findings=(
                Finding("test error falls with depth from ResNet-20 to ResNet-110", ordered(list(RESNETS), "test")),
                Finding("ResNet-1202 has higher test error than ResNet-110 (overfitting)", ordered(["resnet110", "resnet1202"], "test", decreasing=False)),
            ),
        ),
        ReportSpec(
            "fig7", "Figure 7: standard deviations of layer responses on CIFAR-10",
            responses=True,
            networks=("plain20", "plain56", "resnet20", "resnet56", "resnet110"), pool="cifar10",
            findings=(
                Finding("ResNet-20 responds less than plain-20", ordered(["plain20", "resnet20"], "responses")),
                Finding("ResNet-56 responds less than plain-56", ordered(["plain56", "resnet56"], "responses")),
                Finding("deeper ResNets respond less (ResNet-20 > 56 > 110)", ordered(["resnet20", "resnet56", "resnet110"], "responses")),
            ),
        ),
        ReportSpec(
            "table2", "Table 2: ImageNet top-1 error (10-crop) of plain and residual 18- and 34-layer nets",
            paper=TABLE2, panels=(("plain", ("plain18", "plain34")), ("ResNet (option A)", ("resnet18-A", "resnet34-A"))),
            networks=TABLE2_NETS, pool="imagenet", test_metric="test/ten_crop",
            findings=(
                Finding("plain-34 has higher validation error than plain-18 (degradation)", ordered(["plain34", "plain18"], "test/ten_crop")),
                Finding("ResNet-34 has lower validation error than ResNet-18", ordered(["resnet18-A", "resnet34-A"], "test/ten_crop")),
                Finding("ResNet-34 has lower validation error than plain-34", ordered(["plain34", "resnet34-A"], "test/ten_crop")),
            ),
        ),
        ReportSpec(
            "fig4", "Figure 4: ImageNet training curves of plain-18/34 and ResNet-18/34",
            panels=(("plain", ("plain18", "plain34")), ("ResNet (option A)", ("resnet18-A", "resnet34-A"))),
            networks=TABLE2_NETS, pool="imagenet", test_metric="test/ten_crop",
            findings=(
                Finding("plain-34 has higher training error than plain-18", ordered(["plain34", "plain18"], "train")),
                Finding("ResNet-34 has lower training error than ResNet-18", ordered(["resnet18-A", "resnet34-A"], "train")),
            ),
        ),
        ReportSpec(
            "table3", "Table 3: ImageNet top-1/top-5 error (10-crop): shortcut options and deeper ResNets",
            paper=TABLE3, panels=(("34 layers", ("plain34", "resnet34-A", "resnet34-B", "resnet34-C")), ("bottleneck ResNets", ("resnet50", "resnet101", "resnet152"))),
            networks=TABLE3_NETS, pool="imagenet", test_metric="test/ten_crop",
            findings=(
                Finding("shortcut option A > B > C in error (projections help a little)", ordered(["resnet34-A", "resnet34-B", "resnet34-C"], "test/ten_crop")),
                Finding("error falls with depth: ResNet-34 B > 50 > 101 > 152", ordered(["resnet34-B", "resnet50", "resnet101", "resnet152"], "test/ten_crop")),
                Finding("every ResNet-34 beats plain-34", ordered(["plain34", "resnet34-A"], "test/ten_crop")),
            ),
        ),
        ReportSpec(
            "table4", "Table 4: single-model ImageNet error under multi-scale testing",
            paper=TABLE4, networks=TABLE4_NETS, pool="imagenet", test_metric="test/multiscale", test_protocol="multiscale",
            findings=(
                Finding("error falls with depth: ResNet-34 B > 50 > 101 > 152", ordered(["resnet34-B", "resnet50", "resnet101", "resnet152"], "test/multiscale")),
                Finding("option C beats option B at 34 layers", ordered(["resnet34-B", "resnet34-C"], "test/multiscale")),
            ),
        ),
    )
}


def spec_for(report_id: str) -> ReportSpec:
    """The registered spec, or a plain table of whatever runs the id has."""
    return SPECS.get(report_id) or ReportSpec(report_id, f"Runs of `{report_id}`", panels=(("all runs", ()),))
