"""Detection (Tables 7 and 8): the paper's Faster R-CNN design, VOC/COCO data in their real layouts, the metrics on
hand-computed cases, and the whole path (reproduce -> detect fit -> test -> page) on generated data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn
from torchvision.ops import FrozenBatchNorm2d

from lightning_resnet import ImageClassifier
from lightning_resnet.cli import main
from lightning_resnet.data import COCODataModule, VOCDataModule
from lightning_resnet.data.cifar10 import DatasetError
from lightning_resnet.data.synthetic import write_coco_tree, write_voc_tree
from lightning_resnet.detection import VOC07MeanAveragePrecision, coco_mean_average_precision, faster_rcnn
from lightning_resnet.detection.model import RoIMaxPool, from_torchvision
from lightning_resnet.models import create_model
from lightning_resnet.models.blocks import Bottleneck
from lightning_resnet.reporting import build_report
from lightning_resnet.reproduce import plan
from lightning_resnet.runs import RunFolder


def convs(module: nn.Module) -> list[nn.Conv2d]:
    return [m for m in module.modules() if isinstance(m, nn.Conv2d)]


def test_resnet101_shares_conv1_to_conv4_and_runs_conv5_per_region() -> None:
    detector = faster_rcnn("resnet101", num_classes=21)
    trunk, heads = detector.backbone, detector.roi_heads
    with torch.no_grad():
        shared = trunk(torch.zeros(1, 3, 224, 224))
        per_region = heads.box_head(torch.zeros(2, 1024, 14, 14))
    assert shared.shape == (1, 1024, 14, 14)  # conv4_x's map at stride 16
    stages = [m for m in trunk.children() if isinstance(m, nn.Sequential) and isinstance(m[0], Bottleneck)]
    assert [len(s) for s in stages] == [3, 4, 23]  # conv2_x, conv3_x, conv4_x of Table 1
    projections = [c for s in stages for b in s for c in convs(b.shortcut)]
    assert len(convs(trunk)) - len(projections) == 91  # Appendix A: "91 conv layers" shared over the image
    conv5 = heads.box_head[0]
    assert len(conv5) == 3 and isinstance(conv5[0], Bottleneck)  # conv5_x runs on each region ...
    assert per_region.shape == (2, 2048)  # ... then the average pool, in place of VGG's fc layers
    pool = heads.box_roi_pool
    assert isinstance(pool, RoIMaxPool) and (pool.output_size, pool.spatial_scale) == (14, 1 / 16)
    predictor = heads.box_predictor
    assert (predictor.cls_score.in_features, predictor.cls_score.out_features) == (2048, 21)
    assert predictor.bbox_pred.out_features == 4 * 21  # sibling classification and box-regression layers
    assert detector.rpn._post_nms_top_n["testing"] == 300  # 300 proposals (Appendix A)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in detector.modules())
    frozen = [m for m in detector.modules() if isinstance(m, FrozenBatchNorm2d)]
    assert len(frozen) == sum(isinstance(m, nn.BatchNorm2d) for m in create_model("resnet101").modules())
    fixed = [name for name, p in trunk.named_parameters() if not p.requires_grad]
    assert fixed and all(name.split(".")[0] in {"0", "3"} for name in fixed)  # conv1 and conv2_x only


def test_vgg16_baseline_shares_its_13_convs_and_runs_fc6_fc7_per_region() -> None:
    detector = faster_rcnn("vgg16", num_classes=21)
    assert len(convs(detector.backbone)) == 13
    assert not isinstance(list(detector.backbone.children())[-1], nn.MaxPool2d)  # pool5 removed: stride 16
    with torch.no_grad():
        assert detector.backbone(torch.zeros(1, 3, 224, 224)).shape == (1, 512, 14, 14)
    fcs = [m for m in detector.roi_heads.box_head.modules() if isinstance(m, nn.Linear)]
    assert [(f.in_features, f.out_features) for f in fcs] == [(512 * 7 * 7, 4096), (4096, 4096)]
    assert detector.roi_heads.box_roi_pool.output_size == 7


def test_the_backbone_starts_from_a_trained_checkpoint_of_this_suite(tmp_path: Path) -> None:
    classifier = ImageClassifier(arch="resnet50", num_classes=5)
    for bn in (m for m in classifier.net.modules() if isinstance(m, nn.BatchNorm2d)):
        bn.running_mean.uniform_(-1, 1), bn.running_var.uniform_(0.5, 2)
    checkpoint = tmp_path / "resnet50.ckpt"
    torch.save({"state_dict": classifier.state_dict(), "hyper_parameters": dict(classifier.hparams)}, checkpoint)
    detector = faster_rcnn("resnet50", weights=str(checkpoint))
    stem_bn, frozen = classifier.net.stem[1], detector.backbone[0][1]
    assert isinstance(frozen, FrozenBatchNorm2d)
    assert torch.equal(frozen.running_mean, stem_bn.running_mean)  # ImageNet statistics, fixed
    assert torch.equal(frozen.running_var, stem_bn.running_var)
    assert torch.equal(detector.backbone[0][0].weight, classifier.net.stem[0].weight)
    conv5 = detector.roi_heads.box_head[0]
    assert torch.equal(conv5[0].conv1[0].weight, classifier.net.stages[3][0].conv1[0].weight)
    with pytest.raises(ValueError, match="holds a resnet50, not the resnet101"):
        faster_rcnn("resnet101", weights=str(checkpoint))
    with pytest.raises(FileNotFoundError, match="no backbone weights"):
        faster_rcnn("resnet101", weights=str(tmp_path / "missing.ckpt"))


def test_torchvision_resnet_weights_map_onto_the_suites_network() -> None:
    source = torchvision.models.resnet50().eval()
    ours = create_model("resnet50", shortcut="B", stride_on_3x3=True).eval()
    ours.load_state_dict(from_torchvision("resnet50", source.state_dict()))
    x = torch.randn(2, 3, 64, 64)
    assert torch.equal(ours(x), source(x))


def boxes(*rows: tuple[float, ...]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float32)


def test_voc07_map_is_the_11_point_average_precision() -> None:
    # two objects; detections by score: hit, miss, hit -> precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1
    target = {"boxes": boxes((0, 0, 10, 10), (20, 20, 30, 30)), "labels": torch.tensor([1, 1])}
    pred = {
        "boxes": boxes((0, 0, 10, 10), (50, 50, 60, 60), (20, 20, 30, 30)),
        "scores": torch.tensor([0.9, 0.8, 0.7]),
        "labels": torch.tensor([1, 1, 1]),
    }
    metric = VOC07MeanAveragePrecision()
    metric.update([pred], [target])
    # recall thresholds 0..0.5 (6 points): max precision 1; 0.6..1 (5 points): 2/3. (Area under the curve: 0.8333.)
    assert metric.compute()["map"].item() == pytest.approx((6 * 1 + 5 * 2 / 3) / 11, abs=1e-4)


def test_voc07_map_ignores_difficult_objects_and_the_detections_that_hit_them() -> None:
    target = {
        "boxes": boxes((0, 0, 10, 10), (20, 20, 30, 30), (40, 40, 50, 50)),
        "labels": torch.tensor([1, 1, 1]),
        "difficult": torch.tensor([False, False, True]),
    }
    pred = {  # the top-scoring detection finds the difficult object: neither a hit nor a false positive
        "boxes": boxes((40, 40, 50, 50), (0, 0, 10, 10), (50, 50, 60, 60), (20, 20, 30, 30)),
        "scores": torch.tensor([0.95, 0.9, 0.8, 0.7]),
        "labels": torch.tensor([1, 1, 1, 1]),
    }
    metric = VOC07MeanAveragePrecision()
    metric.update([pred], [target])
    assert metric.compute()["map"].item() == pytest.approx((6 + 5 * 2 / 3) / 11, abs=1e-4)
    counted = VOC07MeanAveragePrecision()  # without the flag: hit, hit, miss, hit of 3 objects
    counted.update([pred], [{k: v for k, v in target.items() if k != "difficult"}])
    # recall 1/3, 2/3, 2/3, 1 at precision 1, 1, 2/3, 3/4: 7 thresholds (0..0.6) at 1, 4 (0.7..1) at 3/4
    assert counted.compute()["map"].item() == pytest.approx((7 + 4 * 0.75) / 11, abs=1e-4)


def test_coco_map_averages_over_iou_thresholds() -> None:
    # one object, one detection with IoU 0.72: a hit at IoU 0.5..0.7 (5 of 10 thresholds), a miss above
    metric = coco_mean_average_precision()
    metric.update(
        [{"boxes": boxes((0, 0, 10, 7.2)), "scores": torch.tensor([0.9]), "labels": torch.tensor([1])}],
        [{"boxes": boxes((0, 0, 10, 10)), "labels": torch.tensor([1])}],
    )
    result = metric.compute()
    assert result["map_50"].item() == pytest.approx(1.0)
    assert result["map"].item() == pytest.approx(0.5)


def test_voc_datamodule_reads_the_voc_layout(tmp_path: Path) -> None:
    write_voc_tree(tmp_path)
    data = VOCDataModule(str(tmp_path), num_workers=0)
    data.prepare_data()
    data.setup("fit")
    assert (len(data.train_set), len(data.test_set)) == (4, 2)  # 07+12: 2 + 2 trainval images; 2007 test: 2
    image, target = data.test_set[0]  # a dog, and a difficult cat at VOC's (5, 5, 30, 30)
    assert image.shape == (3, 100, 100) and image.dtype == torch.float32 and image.max() <= 1
    assert target["boxes"].tolist() == [[40, 40, 90, 90], [4, 4, 30, 30]]  # 1-based inclusive -> continuous
    assert target["labels"].tolist() == [12, 8] and target["difficult"].tolist() == [False, True]
    torch.manual_seed(0)
    flipped = [data.train_set[0][1]["boxes"].tolist() for _ in range(8)]
    assert [[10, 20, 60, 80], [70, 10, 120, 50]] in flipped  # the original (x1 - 1, y1 - 1, x2, y2) ...
    assert [[68, 20, 118, 80], [8, 10, 58, 50]] in flipped  # ... and mirrored in the 128-pixel-wide image
    with pytest.raises(FileNotFoundError, match="VOCdevkit"):
        VOCDataModule(str(tmp_path / "nothing")).prepare_data()
    with pytest.raises(DatasetError, match="evaluation server"):
        VOCDataModule(str(tmp_path), test_set="2012-test").prepare_data()


def test_coco_datamodule_reads_the_coco_layout(tmp_path: Path) -> None:
    write_coco_tree(tmp_path)
    data = COCODataModule(str(tmp_path), num_workers=0)
    data.prepare_data()
    data.setup("fit")
    assert (len(data.train_set), len(data.test_set)) == (2, 3)  # training skips the image with no objects
    crowded = data.train_set[1][1]  # its crowd region is not something to learn
    assert crowded["labels"].tolist() == [3]
    _, target = data.test_set[0]
    assert target["boxes"].tolist() == [[20, 30, 80, 100], [0, 0, 30, 30]]  # COCO's (x, y, w, h) -> corners
    assert target["labels"].tolist() == [3, 1] and target["iscrowd"].tolist() == [0, 1]
    assert data.test_set[2][1]["boxes"].shape == (0, 4)  # evaluated all the same
    assert data.num_classes == 91
    fingerprint = data.fingerprint()
    assert fingerprint["images"] == {"train": 2, "test": 3}
    assert fingerprint["sha256"]["train"] != fingerprint["sha256"]["test"]
    with pytest.raises(FileNotFoundError, match="instances_train2014.json"):
        COCODataModule(str(tmp_path / "nothing")).prepare_data()


def test_detection_plans_fine_tune_the_suites_imagenet_runs() -> None:
    table7 = plan("table7", "paper")
    assert [r.run_dir for r in table7] == [Path("runs/voc-paper/vgg16-s0"), Path("runs/voc-paper/resnet101-s0")]
    resnet = table7[1].commands()[0]
    assert resnet[:2] == ("detect", "fit")
    assert "--model.weights=runs/imagenet-paper/resnet101-s0/checkpoints/last.ckpt" in resnet
    assert "--model.weights=torchvision" in table7[0].commands()[0]
    table8 = plan("table8", "paper")
    assert all(any(a.endswith("table8.yaml") for a in r.args) for r in table8)
    assert table8[0].metric == "test/map_50"
    assert not any("--model.weights" in a for r in plan("table7", "smoke") for a in r.args)  # smoke: untrained


def test_detection_pages_say_what_has_not_run_and_what_it_costs(tmp_path: Path) -> None:
    page, runs = build_report("table8", tmp_path / "runs", tmp_path, preset="paper")
    text = page.read_text()
    assert not runs and "## Not run yet" in text
    assert "python -m lightning_resnet reproduce table8 --preset paper" in text
    assert "320,000 iterations of 8 images (2,560,000 images" in text and "on 8 GPUs" in text
    assert "| resnet101 | COCO train | COCO val | 48.4 | 27.2 | not run |" in text
    assert "`--model.arch resnet101 --model.weights runs/imagenet-paper/resnet101-s0/checkpoints/last.ckpt`" in text
    table7 = build_report("table7", tmp_path / "runs", tmp_path, preset="paper")[0].read_text()
    assert "| resnet101 | 07++12 | VOC 2012 test | 73.8 | evaluation server only |" in table7


@pytest.mark.slow
def test_smoke_reproductions_train_test_and_report_on_generated_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_voc_tree(tmp_path / "data" / "voc")
    write_coco_tree(tmp_path / "data" / "coco")
    monkeypatch.setenv("LIGHTNING_RESNET_DATA", str(tmp_path / "data"))
    runs, reports = str(tmp_path / "runs"), str(tmp_path / "reports")
    main(["reproduce", "table7", "--preset", "smoke", "--runs_dir", runs, "--reports_dir", reports])
    main(
        [
            "reproduce",
            "table8",
            "--preset",
            "smoke",
            "--networks",
            "resnet101",  # a third of VGG-16's 1.1 GB checkpoint: CI's disk is small
            "--runs_dir",
            runs,
            "--reports_dir",
            reports,
        ]
    )
    for run, images in (("voc-smoke/vgg16-s0", 2), ("voc-smoke/resnet101-s0", 2), ("coco-smoke/resnet101-s0", 3)):
        record = RunFolder(tmp_path / "runs" / run).read()
        assert record["status"] == "finished" and record["global_step"] == 4
        assert 0 <= record["final"]["test/map_50"] <= 100 and record["final"]["test/images"] == images
    assert (
        "test/map" in RunFolder(tmp_path / "runs" / "coco-smoke/resnet101-s0").read()["final"]
    )  # COCO's mAP@[.5, .95]
    page = (tmp_path / "reports" / "table7-smoke.md").read_text()
    assert "| resnet101 | 07+12 | VOC 2007 test | 76.4 |" in page and "4 of 80,000" in page
    assert os.path.isfile(tmp_path / "reports" / "table8-smoke.md")


@pytest.mark.slow
def test_detection_trains_with_ddp_as_the_paper_used_8_gpus(tmp_path: Path) -> None:
    import subprocess
    import sys

    write_voc_tree(tmp_path / "voc")
    reproductions = Path(__file__).resolve().parents[1] / "reproductions"
    command = [
        *(sys.executable, "-m", "lightning_resnet", "detect", "fit"),
        *(
            "--config",
            str(reproductions / "table7.yaml"),
            "--config",
            str(reproductions / "presets/detection_smoke.yaml"),
        ),
        *("--model.arch=resnet101", f"--data.init_args.data_dir={tmp_path / 'voc'}", "--data.init_args.batch_size=2"),
        *("--trainer.devices=2", "--trainer.strategy=ddp", "--trainer.accelerator=cpu", f"--runs_dir={tmp_path}"),
    ]
    env = {**os.environ, "WANDB_MODE": "offline"}
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    record = RunFolder(tmp_path / "voc-smoke" / "resnet101-s0").read()
    assert record["status"] == "finished" and record["global_step"] == 4  # one image per device per iteration
    assert record["final"]["test/images"] == 2  # both test images, one on each rank, counted once


def test_reproducing_detection_without_its_imagenet_backbone_says_what_to_train_first(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["reproduce", "table7", "--preset", "paper", "--runs_dir", str(tmp_path / "runs")])
    assert stop.value.code == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith(
            "do not exist yet: train them first with `python -m lightning_resnet reproduce table3 --preset paper "
            "--networks resnet101`"
        )
    )
    assert not (tmp_path / "runs").exists()  # nothing started
