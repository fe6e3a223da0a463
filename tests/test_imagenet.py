"""ImageNet: the Section 3.4 views and test protocols, both layouts, clear errors, the configs, DDP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from lightning_resnet.cli import main
from lightning_resnet.data import ImageNetDataModule
from lightning_resnet.data.cifar10 import DatasetError
from lightning_resnet.data.distributed import per_device_batch_size
from lightning_resnet.data.imagenet import find_layout, read_image
from lightning_resnet.data.synthetic import WNIDS, write_image_tree
from lightning_resnet.data.views import (
    IMAGENET_MEAN,
    PCA_EIGENVALUES,
    PCA_EIGENVECTORS,
    center_view,
    multiscale_views,
    normalize,
    pca_lighting,
    ten_crop_views,
    train_view,
)
from lightning_resnet.models import create_model
from lightning_resnet.multiview import view_log_probabilities
from lightning_resnet.reporting import build_report
from lightning_resnet.reproduce import plan

REPO = Path(__file__).resolve().parents[1]
# the protocols at a small size, so the networks run fast on a CPU
SMALL = {"train_scale": (40, 56), "crop_size": 32, "test_side": 36, "multiscale_sides": (32, 40), "num_workers": 0}
SMALL_ARGS = (
    "--data.init_args.train_scale=[40, 56]",
    "--data.init_args.crop_size=32",
    "--data.init_args.test_side=36",
    "--data.init_args.multiscale_sides=[32, 40]",
    "--data.init_args.num_workers=0",
    "--trainer.enable_progress_bar=false",
    "--trainer.log_every_n_steps=1",
    "--model.bn_batch=2",
)


def gradient_image(height: int = 300, width: int = 400) -> torch.Tensor:
    """uint8 image whose every pixel is distinct enough to locate a crop: rows and columns ramp."""
    rows = torch.linspace(0, 255, height)[:, None].expand(height, width)
    cols = torch.linspace(0, 255, width)[None, :].expand(height, width)
    return torch.stack([rows, cols, 255 - cols]).round().to(torch.uint8)


def test_training_view_draws_the_shorter_side_from_256_to_480_then_crops_224_and_flips_half() -> None:
    image = gradient_image(300, 400)
    resize, crop, flip = train_view().transforms
    torch.manual_seed(0)
    sides = torch.tensor([resize.make_params([image])["size"][0] for _ in range(5000)])
    assert sides.min() == 256 and sides.max() == 480 and len(sides.unique()) == 225  # every length in [256, 480]
    assert abs(sides.float().mean() - 368) < 3  # uniform: mean (256 + 480) / 2
    for _ in range(20):
        h, w = resize(image).shape[1:]
        assert 256 <= h <= 480 and w == int(h * 4 / 3)  # the shorter side drawn, aspect ratio kept

    flips = 0
    for _ in range(200):
        view = train_view()(image)
        assert view.shape == (3, 224, 224) and view.dtype == torch.uint8
        flips += bool(view[1, :, 0].float().mean() > view[1, :, -1].float().mean())  # columns ramp up unless flipped
    assert 70 < flips < 130


def test_the_training_crop_is_a_window_of_the_resized_image() -> None:
    image = gradient_image(300, 400)
    torch.manual_seed(1)
    view = train_view(scale=(256, 256))(image)
    resized = TF.resize(image, 256, antialias=True)  # (256, 341): the only size the scale range allows
    windows = [resized[:, t : t + 224, x : x + 224] for t in range(256 - 224 + 1) for x in range(341 - 224 + 1)]
    assert any(torch.equal(view, w) or torch.equal(view, w.flip(-1)) for w in windows)


def five_crops(image: torch.Tensor, size: int = 224) -> list[torch.Tensor]:
    h, w = image.shape[1:]
    top, left = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))
    return [
        image[:, :size, :size],
        image[:, :size, w - size :],
        image[:, h - size :, :size],
        image[:, h - size :, w - size :],
        image[:, top : top + size, left : left + size],
    ]


def test_ten_crop_is_four_corners_and_centre_of_the_256_image_and_of_its_mirror() -> None:
    image = gradient_image(300, 400)
    views = ten_crop_views(image)
    resized = TF.resize(image, 256, antialias=True)  # 256 x 341
    assert views.shape == (10, 3, 224, 224)
    for got, want in zip(views, five_crops(resized) + five_crops(resized.flip(-1))):
        assert torch.equal(got, want)
    assert torch.equal(views[4], center_view(image))  # the centre crop is the validation view
    assert torch.equal(views[5], views[1].flip(-1))  # the mirror's top-left corner is the top-right corner, flipped


def test_multiscale_views_are_the_whole_image_at_each_shorter_side_and_flips_only_on_request() -> None:
    sizes = [(224, 298), (256, 341), (384, 512), (480, 640), (640, 853)]
    assert [tuple(v.shape[1:]) for v in multiscale_views(gradient_image(300, 400))] == sizes  # Section 3.4: no flips
    views = multiscale_views(gradient_image(300, 400), flips=True)
    assert [tuple(v.shape[1:]) for v in views[::2]] == sizes
    for view, flipped in zip(views[::2], views[1::2]):
        assert torch.equal(flipped, view.flip(-1))


def _direct_mean_softmax(net: torch.nn.Module, views: list[torch.Tensor]) -> torch.Tensor:
    return torch.stack([net(v[None].float()).softmax(-1)[0] for v in views]).mean(0)


@torch.no_grad()
def test_ten_crop_and_multiscale_scores_equal_the_softmax_averaged_view_by_view() -> None:
    torch.manual_seed(0)
    net = create_model("resnet18", num_classes=5).eval()
    images = [gradient_image(90, 120), gradient_image(100, 80)]

    crops = torch.stack([ten_crop_views(i, side=64, crop=56) for i in images]).float()  # (2, 10, 3, 56, 56)
    got = view_log_probabilities(net, crops).exp()
    want = torch.stack([_direct_mean_softmax(net, list(c)) for c in crops])
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)

    scales = [[v.float() for v in multiscale_views(i, sides=(48, 64, 80))] for i in images]
    got = view_log_probabilities(net, scales).exp()
    want = torch.stack([_direct_mean_softmax(net, views) for views in scales])
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    assert torch.allclose(got.sum(-1), torch.ones(2))


def test_normalisation_subtracts_the_channel_mean_and_divides_by_no_std() -> None:
    white = torch.full((2, 3, 4, 4), 255, dtype=torch.uint8)
    out = normalize(white, torch.tensor(IMAGENET_MEAN))
    assert torch.allclose(out[:, :, 0, 0], 1 - torch.tensor(IMAGENET_MEAN).expand(2, 3))


def test_pca_lighting_shifts_each_image_by_one_colour_along_the_eigenvectors() -> None:
    images = torch.zeros(4000, 3, 2, 2)
    offsets = pca_lighting(images, generator=torch.Generator().manual_seed(0))
    per_image = offsets[:, :, 0, 0]
    assert torch.equal(offsets, per_image[:, :, None, None].expand_as(offsets))  # one RGB offset per image
    along = per_image @ torch.tensor(PCA_EIGENVECTORS)  # coordinates on the eigenvectors (columns)
    torch.testing.assert_close(along.std(0), 0.1 * torch.tensor(PCA_EIGENVALUES), rtol=0.05, atol=0)


def test_datamodule_reads_class_folders_and_serves_each_protocol(image_tree: Path) -> None:
    assert find_layout(image_tree) == "folders"
    shapes = {}
    for protocol in ("center", "ten_crop", "multiscale"):
        dm = ImageNetDataModule(
            data_dir=str(image_tree), batch_size=4, eval_batch_size=3, test_protocol=protocol, **SMALL
        )
        dm.setup("fit")
        images, labels = next(iter(dm.test_dataloader()))
        shapes[protocol] = (
            images.shape if isinstance(images, torch.Tensor) else [[tuple(v.shape) for v in views] for views in images]
        )
        assert labels.tolist() == [0, 0, 1]  # val/<wnid> folders in sorted order, two images each
    assert dm.classes == list(WNIDS[:3]) and len(dm.train_set) == 12 and len(dm.val_set) == 6
    assert shapes["center"] == (3, 3, 32, 32) and shapes["ten_crop"] == (3, 10, 3, 32, 32)
    # val image 0 of class 0 is 300x400: shorter sides 32 and 40 (long sides rounded down), no flips by default
    assert shapes["multiscale"][0] == [(3, 32, 42), (3, 40, 53)]

    train_images, train_labels = next(iter(dm.train_dataloader()))
    assert train_images.shape == (4, 3, 32, 32) and train_images.dtype == torch.uint8  # uint8 crosses to the device
    dm.trainer = type("Training", (), {"training": True})()
    floats, _ = dm.on_after_batch_transfer((train_images, train_labels), 0)
    assert floats.dtype == torch.float32 and -1 < floats.min() and floats.max() < 1


def test_decoding_on_the_device_gives_the_workers_views(image_tree: Path) -> None:
    batches = []
    for on_device in (False, True):
        dm = ImageNetDataModule(
            data_dir=str(image_tree), eval_batch_size=6, test_protocol="ten_crop", decode_on_device=on_device, **SMALL
        )
        dm.setup("test")
        dm.trainer = type("Testing", (), {"training": False, "testing": True, "predicting": False})()
        batch = next(iter(dm.test_dataloader()))
        batches.append(dm.on_after_batch_transfer(batch, 0))
    assert isinstance(batches[1][0], torch.Tensor) and batches[1][0].shape == (6, 10, 3, 32, 32)
    assert torch.equal(batches[0][0], batches[1][0]) and torch.equal(batches[0][1], batches[1][1])


def test_torchvision_imagenet_layout_is_read_through_torchvision(tmp_path: Path) -> None:
    root = write_image_tree(tmp_path, classes=2, per_class={"train": 2, "val": 1})
    names = {WNIDS[0]: ("tench", "Tinca tinca"), WNIDS[1]: ("goldfish", "Carassius auratus")}
    torch.save((names, [WNIDS[0], WNIDS[1]]), root / "meta.bin")  # what torchvision writes from the devkit
    assert find_layout(root) == "torchvision"
    dm = ImageNetDataModule(data_dir=str(root), **SMALL)
    dm.setup("fit")
    assert dm.classes == [("tench", "Tinca tinca"), ("goldfish", "Carassius auratus")] and len(dm.train_set) == 4
    assert dm.fingerprint()["layout"] == "torchvision"


def test_missing_imagenet_names_both_layouts(tmp_path: Path) -> None:
    with pytest.raises(
        FileNotFoundError, match=r"class folders .*/train/<wnid>/\*\.JPEG .*ILSVRC2012_devkit_t12\.tar\.gz"
    ):
        ImageNetDataModule(data_dir=str(tmp_path)).setup("fit")


def test_a_corrupted_jpeg_names_the_file_and_what_to_do(tmp_path: Path) -> None:
    bad = tmp_path / "broken.JPEG"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(DatasetError, match=r"broken\.JPEG.*delete or replace this file"):
        read_image(str(bad))


def test_the_global_batch_splits_evenly_over_devices_or_says_why_not() -> None:
    trainer = type("Trainer", (), {"world_size": 8, "num_nodes": 2, "num_devices": 4})()
    assert per_device_batch_size(256, trainer) == 32
    with pytest.raises(ValueError, match="must divide evenly over the 8 devices"):
        per_device_batch_size(100, trainer)


@pytest.mark.slow
def test_table3_config_fits_as_written(image_tree: Path, tmp_path: Path) -> None:
    """The paper's ResNet-34 B at 224x224 crops: one training and one validation step."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "lightning_resnet",
            "fit",
            "--config",
            str(REPO / "reproductions" / "table3.yaml"),
            f"--data.init_args.data_dir={image_tree}",
            "--data.init_args.batch_size=4",
            "--data.init_args.eval_batch_size=2",
            "--data.init_args.num_workers=0",
            "--model.bn_batch=2",
            "--trainer.fast_dev_run=true",
            f"--runs_dir={tmp_path}",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "`Trainer.fit` stopped: `max_steps=1` reached." in result.stdout + result.stderr


@pytest.mark.slow
def test_multiscale_test_of_a_trained_run_sits_beside_its_ten_crop_result(image_tree: Path, tmp_path: Path) -> None:
    common = [
        "--config",
        str(REPO / "reproductions" / "table3.yaml"),
        "--model.arch=resnet18",
        "--model.shortcut=A",
        f"--data.init_args.data_dir={image_tree}",
        "--data.init_args.batch_size=4",
        f"--runs_dir={tmp_path}",
        *SMALL_ARGS,
    ]
    main(["fit", *common, "--trainer.max_steps=3"])  # one epoch of 12 images: validated at its end
    main(["test", *common, "--data.init_args.test_protocol=multiscale", "--ckpt_path=last"])
    record = json.loads((tmp_path / "table3" / "resnet18-A-s0" / "run.json").read_text())
    assert record["status"] == "finished"
    assert {"test/ten_crop/top1_error", "test/multiscale/top1_error", "val/top1_error"} <= set(record["final"])
    assert all(0 <= record["final"][k] <= 100 for k in ("test/ten_crop/top1_error", "test/multiscale/top1_error"))


def test_imagenet_ids_plan_the_papers_runs_and_share_them() -> None:
    table2, fig4, table3, table4 = (plan(i) for i in ("table2", "fig4", "table3", "table4"))
    assert [r.network for r in table2] == ["plain18", "plain34", "resnet18-A", "resnet34-A"]
    assert {r.run_dir for r in fig4} == {r.run_dir for r in table2}
    assert [r.network for r in table3] == [
        "plain34",
        "resnet34-A",
        "resnet34-B",
        "resnet34-C",
        "resnet50",
        "resnet101",
        "resnet152",
    ]
    assert {r.run_dir for r in table4} <= {
        r.run_dir for r in table3
    }  # Table 4 tests Table 3's models, trains none twice
    assert all(
        r.evaluate and "--data.init_args.test_protocol=multiscale" in r.evaluate and r.evaluate[0] == "test"
        for r in table4
    )
    assert all(r.metric == "test/multiscale/top1_error" for r in table4) and not any(r.evaluate for r in table3)
    resnet50 = next(r for r in table3 if r.network == "resnet50")
    assert "--model.shortcut=null" in resnet50.args and resnet50.run_dir == Path("runs/imagenet-paper/resnet50-s0")
    with pytest.raises(ValueError, match="unknown preset 'smoke' for table3"):
        plan("table3", "smoke")


def test_reports_of_imagenet_ids_say_they_have_not_run_and_what_a_run_costs(tmp_path: Path) -> None:
    throughput = tmp_path / "throughput.json"
    throughput.write_text(
        json.dumps(
            [
                {
                    "network": "resnet50",
                    "hardware": "GPU X",
                    "precision": "32-true",
                    "batch": 256,
                    "images_per_second": 1000.0,
                }
            ]
        )
    )
    page, runs = build_report(
        "table3", tmp_path / "runs", tmp_path / "reports", preset="paper", throughput_file=throughput
    )
    text = page.read_text()
    assert (
        runs == [] and "## Not run yet" in text and "python -m lightning_resnet reproduce table3 --preset paper" in text
    )
    assert (
        "| resnet50 | `--model.arch resnet50 --model.shortcut null` | 3.86 | 3,556 | 43 |" in text
    )  # 153.6M images / 1000/s
    assert "| resnet152 |" in text and "not measured" in text
    assert "| resnet34-C | 34 | 22.72 | 24.19 | 7.40 |" in text  # the paper's numbers, labelled as the paper's


PROBE = '''
import hashlib, json, os
import torch
from pytorch_lightning.callbacks import Callback

class ShardProbe(Callback):
    """Record what this DDP rank loads and the weights it ends with."""
    def __init__(self, out: str) -> None:
        self.out, self.batch_sizes = out, []
    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.batch_sizes.append(len(batch[1]))
    def on_train_end(self, trainer, pl_module):
        weights = torch.cat([p.detach().flatten() for p in pl_module.parameters()])
        indices = list(iter(trainer.train_dataloader.sampler))
        record = {
            "rank": trainer.global_rank,
            "world": trainer.world_size,
            "indices": indices,
            "batch_sizes": self.batch_sizes,
            "weights": hashlib.sha256(weights.numpy().tobytes()).hexdigest(),
            "strategy": type(trainer.strategy).__name__,
            "backend": torch.distributed.get_backend(),
        }
        with open(os.path.join(self.out, f"rank{trainer.global_rank}.json"), "w") as f:
            json.dump(record, f)
'''


@pytest.mark.slow
def test_ddp_on_two_cpu_processes_splits_the_data_and_keeps_the_weights_identical(tmp_path: Path) -> None:
    tree = write_image_tree(tmp_path / "tree", classes=2, per_class={"train": 8, "val": 2})
    (tmp_path / "probe.py").write_text(PROBE)
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "lightning_resnet",
            "fit",
            "--config",
            str(REPO / "reproductions" / "table3.yaml"),
            "--config",
            str(REPO / "reproductions" / "table2.yaml"),
            "--model.arch=resnet18",
            f"--data.init_args.data_dir={tree}",
            "--data.init_args.batch_size=4",
            *SMALL_ARGS,
            "--trainer.accelerator=cpu",
            "--trainer.devices=2",
            "--trainer.strategy=ddp",
            "--trainer.max_steps=3",
            "--trainer.limit_val_batches=1",
            "--test_after_fit=false",
            f"--runs_dir={tmp_path / 'runs'}",
            "--trainer.callbacks+=probe.ShardProbe",
            f"--trainer.callbacks.out={tmp_path}",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert all(r["world"] == 2 and r["strategy"] == "DDPStrategy" and r["backend"] == "gloo" for r in ranks)
    assert all(r["batch_sizes"] == [2, 2, 2] for r in ranks)  # the global batch of 4, split over 2 devices
    first, second = (set(r["indices"]) for r in ranks)
    assert not first & second and first | second == set(range(16))  # disjoint shards covering the 16 images
    assert ranks[0]["weights"] == ranks[1]["weights"]


@pytest.mark.slow
def test_table5_ensemble_averages_the_members_multiscale_probabilities(image_tree: Path, tmp_path: Path) -> None:
    from lightning_resnet.module import ImageClassifier
    from lightning_resnet.reproduce import evaluate_ensemble

    extra = (
        f"--data.init_args.data_dir={image_tree}",
        "--data.init_args.batch_size=4",
        "--trainer.max_steps=3",
        *SMALL_ARGS,
    )
    runs = plan("table5", "paper", runs_dir=tmp_path, extra=extra, networks="resnet34-B,resnet50")
    for run in runs:
        main(list(run.args))
    assert all(run.finished for run in runs)
    folder = evaluate_ensemble(runs, extra)
    record = json.loads((folder / "run.json").read_text())
    assert record["members"] == ["resnet34-B-s0", "resnet50-s0"] and record["final"]["test/ensemble/images"] == 6

    dm = ImageNetDataModule(data_dir=str(image_tree), test_protocol="multiscale", eval_batch_size=6, **SMALL)
    dm.setup("test")
    images, labels = next(iter(dm.test_dataloader()))
    images = dm.on_after_batch_transfer((images, labels), 0)[0]
    members = [ImageClassifier.load_from_checkpoint(r.run_dir / "checkpoints" / "last.ckpt").eval() for r in runs]
    with torch.no_grad():
        probabilities = torch.stack([view_log_probabilities(m, images).exp() for m in members]).mean(0)
    error = 100 * (probabilities.argmax(1) != labels).float().mean().item()
    assert record["final"]["test/ensemble/top1_error"] == pytest.approx(error, abs=1e-4)

    page, _ = build_report("table5", tmp_path, tmp_path / "reports", preset="paper")
    text = page.read_text()
    assert "The ensemble combined 2 trained runs: resnet34-B-s0, resnet50-s0." in text and "test-server number" in text
