"""Each table and figure of the paper as data: its networks, pool, panels, numbers and qualitative findings.

``reproduce`` reads what to train from here and the reporting what to show; neither defines it. Adding an
id is one entry in :data:`SPECS` (and its YAML in ``reproductions/``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..runs import experiment_folder
from .numbers import TABLE2, TABLE3, TABLE4, TABLE5, TABLE6, TABLE7, TABLE8, DetectionResult, PaperResult

METRIC_NAMES = {
    "train": "training error",
    "val": "validation error",
    "test": "test error",
    "responses": "layer response std",
    "test/ten_crop": "10-crop test",
    "test/multiscale": "multi-scale test (5 scales, no flips)",
    "test/ensemble": "ensemble, each model multi-scale (5 scales, no flips)",
}


@dataclass(frozen=True)
class Finding:
    """A claim of the paper as comparisons: in each pair ``(higher, lower)`` the first network's ``metric`` is higher.

    ``metric`` is ``train`` (final training error), ``val``, ``test`` or a test protocol's ``test/ten_crop``,
    ``test/multiscale`` (final error), or ``responses`` (mean std of the Figure 7 layers).
    """

    claim: str
    metric: str
    pairs: tuple[tuple[str, str], ...]


def falls_along(claim: str, metric: str, *networks: str) -> Finding:
    """``metric`` falls strictly along ``networks`` (each higher than the next)."""
    return Finding(claim, metric, tuple(zip(networks, networks[1:])))


def above_all(claim: str, metric: str, reference: str, *others: str) -> Finding:
    """``reference`` has a higher ``metric`` than every one of ``others``."""
    return Finding(claim, metric, tuple((reference, other) for other in others))


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
    small_scale_network: str = ""  # the network that note is about (the page adds its paper-length cost)
    test_metric: str = "test"  # the logged test result the id reports: test, test/ten_crop or test/multiscale
    test_protocol: str | None = None  # a test the id runs on trained runs of its pool (Table 4: multiscale)
    architectures: bool = False  # a page measured on the models themselves (Table 1), no runs
    ensemble: bool = False  # the id combines its networks' trained runs into one ensemble (Table 5)
    note: str = ""  # what the page must say about how its number compares with the paper's
    detection: tuple[DetectionResult, ...] = ()  # a detection table (Tables 7, 8): the paper's mAPs per row
    split_metrics: bool = False  # the figure draws training and test error in panels of their own (Figure 1)
    error_range: tuple[float, float] | None = None  # the paper's y-axis (percent); the page adds the full range

    @property
    def kind(self) -> str:
        """Which sections its page has (``reporting.markdown.SECTIONS``)."""
        return "architectures" if self.architectures else "detection" if self.detection else "classification"

    def groups(self, preset: str | None = None) -> tuple[str, ...]:
        """The experiment folders under ``runs/`` this report reads."""
        return (experiment_folder(folder_stem(self.id, preset), preset),)

    def seeds_for(self, network: str, at_least: int = 1) -> int:
        return max(at_least, dict(self.seeds).get(network, 1))


def folder_stem(experiment: str, preset: str | None) -> str:
    """The stem of an experiment's run folder: a table or figure of a pool run at a preset lives in its pool's folder
    (``fit --config table6.yaml --config presets/smoke.yaml`` -> ``runs/cifar10-smoke/``, where ``reproduce`` trains and
    ``report table6 --preset smoke`` reads); anything else in a folder of its own name."""
    spec = SPECS.get(experiment)
    return spec.pool if spec is not None and spec.pool and preset else experiment


RESNET1202_NOTE = (
    "The paper's ResNet-1202 reaches < 0.1% training error and then overfits (7.93% test error vs 6.43% for "
    "ResNet-110). Neither can show in a run this short: it needs the full 64k-iteration schedule, "
    "`python -m lightning_resnet reproduce table6 --preset paper --networks resnet1202`, on a GPU."
)

PLAIN = ("plain20", "plain32", "plain44", "plain56")
PAPER_ERROR_RANGE = (0.0, 20.0)  # Figures 1 and 6 plot error from 0 to 20%
RESNETS = ("resnet20", "resnet32", "resnet44", "resnet56", "resnet110")
TABLE2_NETS = ("plain18", "plain34", "resnet18-A", "resnet34-A")
TABLE3_NETS = ("plain34", "resnet34-A", "resnet34-B", "resnet34-C", "resnet50", "resnet101", "resnet152")
TABLE4_NETS = ("resnet34-B", "resnet34-C", "resnet50", "resnet101", "resnet152")
IMAGENET_BY_DEPTH = ("resnet34-B", "resnet50", "resnet101", "resnet152")

SPECS: dict[str, ReportSpec] = {
    spec.id: spec
    for spec in (
        ReportSpec(
            "table1", "Table 1: the ImageNet architectures, their multiply-adds and parameters", architectures=True
        ),
        ReportSpec(
            "fig1",
            "Figure 1: training and test error of plain-20 and plain-56 on CIFAR-10",
            panels=(("plain networks", ("plain20", "plain56")),),
            networks=("plain20", "plain56"),
            pool="cifar10",
            split_metrics=True,
            error_range=PAPER_ERROR_RANGE,
            findings=(
                falls_along(
                    "plain-56 has higher training error than plain-20 (degradation)", "train", "plain56", "plain20"
                ),
                falls_along("plain-56 has higher test error than plain-20", "test", "plain56", "plain20"),
            ),
        ),
        ReportSpec(
            "fig6",
            "Figure 6: training on CIFAR-10, plain nets, ResNets, and ResNet-110 vs ResNet-1202",
            panels=(("plain", PLAIN), ("ResNet", RESNETS), ("ResNet-110 vs 1202", ("resnet110", "resnet1202"))),
            networks=(*PLAIN, *RESNETS, "resnet1202"),
            pool="cifar10",
            small_scale_note=RESNET1202_NOTE,
            small_scale_network="resnet1202",
            error_range=PAPER_ERROR_RANGE,
            findings=(
                falls_along(
                    "deeper plain nets have higher training error (plain-56 > plain-20)", "train", "plain56", "plain20"
                ),
                falls_along(
                    "deeper ResNets have lower training error (ResNet-20 > ResNet-56 > ResNet-110)",
                    "train",
                    "resnet20",
                    "resnet56",
                    "resnet110",
                ),
                *(
                    falls_along(
                        f"ResNet-{d} has lower training error than plain-{d}", "train", f"plain{d}", f"resnet{d}"
                    )
                    for d in (20, 32, 44, 56)
                ),
            ),
        ),
        ReportSpec(
            "table6",
            "Table 6: CIFAR-10 test error of ResNets",
            paper=TABLE6,
            panels=(("ResNets", (*RESNETS, "resnet1202")),),
            networks=(*RESNETS, "resnet1202"),
            seeds=(("resnet110", 5),),
            pool="cifar10",
            small_scale_note=RESNET1202_NOTE,
            small_scale_network="resnet1202",
            findings=(
                falls_along("test error falls with depth from ResNet-20 to ResNet-110", "test", *RESNETS),
                falls_along(
                    "ResNet-1202 has higher test error than ResNet-110 (overfitting)", "test", "resnet1202", "resnet110"
                ),
            ),
        ),
        ReportSpec(
            "fig7",
            "Figure 7: standard deviations of layer responses on CIFAR-10",
            responses=True,
            networks=("plain20", "plain56", "resnet20", "resnet56", "resnet110"),
            pool="cifar10",
            findings=(
                falls_along("ResNet-20 responds less than plain-20", "responses", "plain20", "resnet20"),
                falls_along("ResNet-56 responds less than plain-56", "responses", "plain56", "resnet56"),
                falls_along(
                    "deeper ResNets respond less (ResNet-20 > 56 > 110)",
                    "responses",
                    "resnet20",
                    "resnet56",
                    "resnet110",
                ),
            ),
        ),
        ReportSpec(
            "table2",
            "Table 2: ImageNet top-1 error (10-crop) of plain and residual 18- and 34-layer nets",
            paper=TABLE2,
            panels=(("plain", ("plain18", "plain34")), ("ResNet (option A)", ("resnet18-A", "resnet34-A"))),
            networks=TABLE2_NETS,
            pool="imagenet",
            test_metric="test/ten_crop",
            findings=(
                falls_along(
                    "plain-34 has higher validation error than plain-18 (degradation)",
                    "test/ten_crop",
                    "plain34",
                    "plain18",
                ),
                falls_along(
                    "ResNet-34 has lower validation error than ResNet-18", "test/ten_crop", "resnet18-A", "resnet34-A"
                ),
                falls_along(
                    "ResNet-34 has lower validation error than plain-34", "test/ten_crop", "plain34", "resnet34-A"
                ),
            ),
        ),
        ReportSpec(
            "fig4",
            "Figure 4: ImageNet training curves of plain-18/34 and ResNet-18/34",
            panels=(("plain", ("plain18", "plain34")), ("ResNet (option A)", ("resnet18-A", "resnet34-A"))),
            networks=TABLE2_NETS,
            pool="imagenet",
            test_metric="test/ten_crop",
            findings=(
                falls_along("plain-34 has higher training error than plain-18", "train", "plain34", "plain18"),
                falls_along("ResNet-34 has lower training error than ResNet-18", "train", "resnet18-A", "resnet34-A"),
            ),
        ),
        ReportSpec(
            "table3",
            "Table 3: ImageNet top-1/top-5 error (10-crop): shortcut options and deeper ResNets",
            paper=TABLE3,
            panels=(
                ("34 layers", ("plain34", "resnet34-A", "resnet34-B", "resnet34-C")),
                ("bottleneck ResNets", ("resnet50", "resnet101", "resnet152")),
            ),
            networks=TABLE3_NETS,
            pool="imagenet",
            test_metric="test/ten_crop",
            findings=(
                falls_along(
                    "shortcut option A > B > C in error (projections help a little)",
                    "test/ten_crop",
                    "resnet34-A",
                    "resnet34-B",
                    "resnet34-C",
                ),
                falls_along(
                    "error falls with depth: ResNet-34 B > 50 > 101 > 152", "test/ten_crop", *IMAGENET_BY_DEPTH
                ),
                above_all(
                    "every ResNet-34 (A, B, C) beats plain-34",
                    "test/ten_crop",
                    "plain34",
                    "resnet34-A",
                    "resnet34-B",
                    "resnet34-C",
                ),
            ),
        ),
        ReportSpec(
            "table4",
            "Table 4: single-model ImageNet error under multi-scale testing",
            paper=TABLE4,
            networks=TABLE4_NETS,
            pool="imagenet",
            test_metric="test/multiscale",
            test_protocol="multiscale",
            findings=(
                falls_along(
                    "error falls with depth: ResNet-34 B > 50 > 101 > 152", "test/multiscale", *IMAGENET_BY_DEPTH
                ),
                falls_along("option C beats option B at 34 layers", "test/multiscale", "resnet34-B", "resnet34-C"),
            ),
        ),
        ReportSpec(
            "table5",
            "Table 5: an ensemble of ImageNet ResNets (softmax averaged, each model multi-scale)",
            paper=TABLE5,
            networks=TABLE4_NETS,
            pool="imagenet",
            test_metric="test/ensemble",
            ensemble=True,
            note="The paper's 3.57% top-5 error is a test-server number (the 100k test images) of an ensemble of "
            "six models of different depths, only two of them 152-layer; this page evaluates the ensemble of the "
            "trained networks it lists on the 50k validation images, each model under the multi-scale protocol.",
        ),
        ReportSpec(
            "table7",
            "Table 7: Faster R-CNN on PASCAL VOC, VGG-16 vs ResNet-101",
            detection=TABLE7,
            networks=("vgg16", "resnet101"),
            pool="voc",
            note="Reproduced here: the 07+12 row (VOC 2007 trainval + 2012 trainval, tested on VOC 2007 test with "
            "the 11-point mAP at IoU 0.5). The 07++12 row is tested on VOC 2012 test, whose annotations only the "
            "evaluation server holds: train it with `--data.init_args.train_sets [2007-trainval, 2007-test, "
            "2012-trainval]` and submit the detections there.",
        ),
        ReportSpec(
            "table8",
            "Table 8: Faster R-CNN on COCO, VGG-16 vs ResNet-101",
            detection=TABLE8,
            networks=("vgg16", "resnet101"),
            pool="coco",
        ),
    )
}


def spec_for(report_id: str) -> ReportSpec:
    """The registered spec, or a plain table of whatever runs the id has."""
    return SPECS.get(report_id) or ReportSpec(report_id, f"Runs of `{report_id}`", panels=(("all runs", ()),))


def reproducible_ids() -> list[str]:
    return [i for i, s in SPECS.items() if s.networks]


def pool_ids(pool: str) -> list[str]:
    """The ids whose runs come from one pool (CIFAR-10's feeds Figure 1, Figure 6, Table 6 and Figure 7)."""
    return sorted(i for i in reproducible_ids() if spec_for(i).pool == pool)
