"""The paper's numbers as data (from He et al. 2015, arXiv:1512.03385v1); reports compare runs against these."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PaperResult:
    """One network's published result. Errors in percent."""

    network: str
    layers: int
    params_m: float | None
    top1_error: float | None
    top1_mean_std: tuple[float, float] | None = None  # where the paper gives mean ± std over runs
    source: str = ""
    top5_error: float | None = None


# Table 6: CIFAR-10 test error, all with data augmentation, 64k iterations, option A shortcuts
TABLE6: dict[str, PaperResult] = {
    r.network: r
    for r in (
        PaperResult("resnet20", 20, 0.27, 8.75, source="Table 6"),
        PaperResult("resnet32", 32, 0.46, 7.51, source="Table 6"),
        PaperResult("resnet44", 44, 0.66, 7.17, source="Table 6"),
        PaperResult("resnet56", 56, 0.85, 6.97, source="Table 6"),
        PaperResult("resnet110", 110, 1.7, 6.43, top1_mean_std=(6.61, 0.16), source="Table 6 (best of 5; mean ± std)"),
        PaperResult("resnet1202", 1202, 19.4, 7.93, source="Table 6"),
    )
}


# Table 2: ImageNet val top-1 error, 10-crop; the ResNets use option A (no parameters beyond the plain nets')
TABLE2: dict[str, PaperResult] = {
    r.network: r
    for r in (
        PaperResult("plain18", 18, None, 27.94, source="Table 2"),
        PaperResult("plain34", 34, None, 28.54, source="Table 2"),
        PaperResult("resnet18-A", 18, None, 27.88, source="Table 2"),
        PaperResult("resnet34-A", 34, None, 25.03, source="Table 2"),
    )
}

# Table 3: ImageNet val top-1/top-5 error, 10-crop; ResNet-50/101/152 use option B
TABLE3: dict[str, PaperResult] = {
    r.network: r
    for r in (
        PaperResult("plain34", 34, None, 28.54, top5_error=10.02, source="Table 3"),
        PaperResult("resnet34-A", 34, None, 25.03, top5_error=7.76, source="Table 3"),
        PaperResult("resnet34-B", 34, None, 24.52, top5_error=7.46, source="Table 3"),
        PaperResult("resnet34-C", 34, None, 24.19, top5_error=7.40, source="Table 3"),
        PaperResult("resnet50", 50, None, 22.85, top5_error=6.71, source="Table 3"),
        PaperResult("resnet101", 101, None, 21.75, top5_error=6.05, source="Table 3"),
        PaperResult("resnet152", 152, None, 21.43, top5_error=5.71, source="Table 3"),
    )
}

# Table 4: single-model ImageNet val top-1/top-5 error; the protocol is presumably Section 3.4's multi-scale test
TABLE4: dict[str, PaperResult] = {
    r.network: r
    for r in (
        PaperResult("resnet34-B", 34, None, 21.84, top5_error=5.71, source="Table 4"),
        PaperResult("resnet34-C", 34, None, 21.53, top5_error=5.60, source="Table 4"),
        PaperResult("resnet50", 50, None, 20.74, top5_error=5.25, source="Table 4"),
        PaperResult("resnet101", 101, None, 19.87, top5_error=4.60, source="Table 4"),
        PaperResult("resnet152", 152, None, 19.38, top5_error=4.49, source="Table 4"),
    )
}

# Table 1: forward multiply-adds at 224x224 ("FLOPs" in the paper), in 1e9, as printed; no parameter counts given
TABLE1_GMACS: dict[str, float] = {
    "resnet18": 1.8,
    "resnet34": 3.6,
    "resnet50": 3.8,
    "resnet101": 7.6,
    "resnet152": 11.3,
}

# Table 5: ensembles, ImageNet *test* top-5 error from the test server; the paper's ensemble combined six models
# of different depths (two of them 152-layer at submission); no top-1 is given
TABLE5: dict[str, PaperResult] = {
    "ensemble": PaperResult("ensemble", 0, None, None, source="Table 5 (test server, six models)", top5_error=3.57)
}


@dataclass(frozen=True)
class DetectionResult:
    """One published detection result: mAP in percent (VOC: at IoU 0.5; COCO: also over IoU 0.5-0.95)."""

    network: str
    training_data: str
    test_set: str
    map_50: float
    map: float | None = None
    source: str = ""
    evaluated_locally: bool = True  # False: the test set's annotations are held by an evaluation server


# Table 7: Faster R-CNN on PASCAL VOC
TABLE7: tuple[DetectionResult, ...] = (
    DetectionResult("vgg16", "07+12", "VOC 2007 test", 73.2, source="Table 7"),
    DetectionResult("resnet101", "07+12", "VOC 2007 test", 76.4, source="Table 7"),
    DetectionResult("vgg16", "07++12", "VOC 2012 test", 70.4, source="Table 7", evaluated_locally=False),
    DetectionResult("resnet101", "07++12", "VOC 2012 test", 73.8, source="Table 7", evaluated_locally=False),
)

# Table 8: Faster R-CNN on COCO, trained on train (80k), evaluated on val (40k)
TABLE8: tuple[DetectionResult, ...] = (
    DetectionResult("vgg16", "COCO train", "COCO val", 41.5, 21.2, source="Table 8"),
    DetectionResult("resnet101", "COCO train", "COCO val", 48.4, 27.2, source="Table 8"),
)


@dataclass(frozen=True)
class Reproduction:
    """A published reproduction of the paper's CIFAR-10 numbers: who, with what recipe, and its test errors."""

    name: str
    recipe: str
    test_errors: dict[str, float]


# CIFAR-10 test errors of published reproductions (the project's paper notes, section 16.1)
CIFAR10_REPRODUCTIONS: tuple[Reproduction, ...] = (
    Reproduction(
        "akamaster/pytorch_resnet_cifar10",
        "200 epochs on all 50k images, LR / 10 at epochs 100 and 150, ImageNet mean/std normalisation",
        {"resnet20": 8.27, "resnet32": 7.37, "resnet44": 6.90, "resnet56": 6.61, "resnet110": 6.32,
         "resnet1202": 6.18},
    ),
    Reproduction(
        "an unnamed from-scratch repository",
        "64k iterations, fp16 AMP, single runs",
        {"resnet20": 8.24, "resnet32": 7.36, "resnet44": 7.38, "resnet56": 8.30, "resnet110": 6.96,
         "plain20": 9.63, "plain32": 9.92, "plain44": 10.36, "plain56": 14.22},
    ),
)  # fmt: skip
