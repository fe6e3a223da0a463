"""The paper's numbers as data (from He et al. 2015, arXiv:1512.03385v1); reports compare runs against these."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PaperResult:
    """One network's published result. Errors in percent."""

    network: str
    layers: int
    params_m: float | None
    top1_error: float
    top1_mean_std: tuple[float, float] | None = None  # where the paper gives mean ± std over runs
    source: str = ""


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
