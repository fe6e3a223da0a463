"""CIFAR-10 DataModule on the real data: files, split, mean image, batched augmentation, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lightning_resnet.data import CIFAR10DataModule, crop_at, load_cifar10, random_hflip, random_pad_crop
from lightning_resnet.data.cifar10 import FOLDER, DatasetError
from lightning_resnet.data.stream import StepBatches


def test_reads_the_original_order_and_labels(cifar_dir: Path) -> None:
    train_x, train_y = load_cifar10(cifar_dir, train=True)
    test_x, test_y = load_cifar10(cifar_dir, train=False)
    assert train_x.shape == (50_000, 3, 32, 32) and train_x.dtype == torch.uint8
    assert test_x.shape == (10_000, 3, 32, 32)
    assert train_y[:10].tolist() == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]
    assert test_y[:10].tolist() == [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]
    assert torch.bincount(train_y).tolist() == [5000] * 10
    assert train_x[0, :, 0, 0].tolist() == [59, 62, 63]  # first pixel (R, G, B) of data_batch_1 row 0
    # published per-channel means of the training set, on the 0-255 scale
    assert train_x.double().mean((0, 2, 3)).tolist() == pytest.approx(
        [125.30691805, 122.95039414, 113.86538318], abs=1e-6
    )


def test_split_is_45k_5k_disjoint_and_seeded(cifar: CIFAR10DataModule, cifar_dir: Path) -> None:
    assert len(cifar.train_set) == 45_000 and len(cifar.val_set) == 5_000 and len(cifar.test_set) == 10_000
    all_x, _ = load_cifar10(cifar_dir)
    key = lambda x: {bytes(img.numpy()) for img in x}  # noqa: E731  (images are unique in CIFAR-10)
    train, val = key(cifar.train_set.images), key(cifar.val_set.images)
    assert not train & val and len(train | val) == 50_000 == len(key(all_x))
    same = CIFAR10DataModule(data_dir=str(cifar_dir))
    same.setup("fit")
    assert torch.equal(same.val_set.labels, cifar.val_set.labels) and torch.equal(
        same.val_set.images, cifar.val_set.images
    )
    other = CIFAR10DataModule(data_dir=str(cifar_dir), split_seed=1)
    other.setup("fit")
    assert not torch.equal(other.val_set.images, cifar.val_set.images)


def test_val_size_zero_trains_on_all_50k_and_validates_on_test(cifar_dir: Path) -> None:
    dm = CIFAR10DataModule(data_dir=str(cifar_dir), val_size=0)
    dm.setup("fit")
    assert len(dm.train_set) == 50_000 and dm.val_set is dm.test_set


def test_mean_image_is_the_per_pixel_mean_of_the_training_split(cifar: CIFAR10DataModule) -> None:
    assert cifar.mean_image.shape == (3, 32, 32)
    assert torch.allclose(cifar.mean_image, cifar.train_set.images.double().mean(0).float(), atol=1e-4)
    assert cifar.mean_image.std() > 1.0  # a mean image, not a per-channel constant
    batch = cifar.train_set.__getitems__(list(range(8)))
    images, labels = cifar.on_after_batch_transfer(batch, 0)  # no trainer: evaluation path, no augmentation
    assert torch.allclose(images, (batch[0].float() - cifar.mean_image) / 255)
    assert torch.equal(labels, batch[1])


def test_loader_gathers_uint8_batches_by_index(cifar: CIFAR10DataModule) -> None:
    loader = cifar.train_dataloader()
    images, labels, key = next(iter(loader))
    assert images.shape == (128, 3, 32, 32) and images.dtype == torch.uint8 and labels.shape == (128,)
    assert isinstance(key, int) and len(loader) == 45_000 // 128
    val_loader, test_loader = cifar.val_dataloader()  # the held-out split, then the test curve's test set
    val_images, val_labels = next(iter(val_loader))
    assert torch.equal(val_images, cifar.val_set.images[:128]) and torch.equal(val_labels, cifar.val_set.labels[:128])
    assert torch.equal(next(iter(test_loader))[1], cifar.test_set.labels[:128])


class StepTrainer:
    """What the training stream reads of a Trainer: its step, devices and accumulation."""

    def __init__(
        self, global_step: int = 0, world_size: int = 1, global_rank: int = 0, accumulate_grad_batches: int = 1
    ) -> None:
        self.global_step, self.world_size, self.global_rank = global_step, world_size, global_rank
        self.accumulate_grad_batches, self.num_nodes, self.num_devices = accumulate_grad_batches, 1, world_size


def stream(trainer: StepTrainer, batch: int = 128, n: int = 1280) -> list[tuple[torch.Tensor, torch.Tensor, int]]:
    images = torch.arange(n).view(n, 1, 1, 1).expand(n, 1, 2, 2)  # each image is its own index
    return list(StepBatches(images, torch.arange(n), batch, trainer))


def test_training_stream_resumes_at_the_step_and_splits_steps_over_ranks_and_accumulation() -> None:
    whole = stream(StepTrainer())
    assert len(whole) == 10 and sorted(torch.cat([b[1] for b in whole]).tolist()) == list(range(1280))
    assert [b[1].tolist() for b in stream(StepTrainer(global_step=3))] == [b[1].tolist() for b in whole[3:]]
    next_epoch = stream(StepTrainer(global_step=10))
    assert len(next_epoch) == 10 and next_epoch[0][1].tolist() != whole[0][1].tolist()  # a new permutation
    # two ranks x two accumulation steps: four shares of 32 that together are step s's 128 images
    shares = [stream(StepTrainer(world_size=2, global_rank=r, accumulate_grad_batches=2)) for r in (0, 1)]
    step0 = torch.cat([shares[r][a][1] for a in (0, 1) for r in (0, 1)])
    assert all(len(b[1]) == 32 for b in shares[0]) and step0.tolist() == whole[0][1].tolist()
    keys = {b[2] for rank in shares for b in rank}
    assert len(keys) == 40  # every share of every rank augments with its own key


def test_training_batches_are_augmented_by_their_key(cifar: CIFAR10DataModule) -> None:
    images, labels = cifar.train_set.__getitems__(list(range(64)))
    first, _ = cifar.on_after_batch_transfer((images, labels, 7), 0)
    again, _ = cifar.on_after_batch_transfer((images, labels, 7), 0)
    other, _ = cifar.on_after_batch_transfer((images, labels, 8), 0)
    assert torch.equal(first, again) and not torch.equal(first, other)


def test_crop_at_takes_the_window_at_each_offset(images: torch.Tensor) -> None:
    padded = torch.nn.functional.pad(images, (4,) * 4)
    offsets = torch.tensor([[0, 0], [4, 4], [8, 8], [0, 8], [3, 5], [8, 1]])
    crops = crop_at(padded, offsets, 8)
    for crop, (dy, dx), pad in zip(crops, offsets.tolist(), padded):
        assert torch.equal(crop, pad[:, dy : dy + 8, dx : dx + 8])
    assert torch.equal(crops[1], images[1])  # offset (4, 4) is the original image
    assert not crops[0][:, :4, :].any() and not crops[0][:, :, :4].any()  # top-left corner: zero padding


def test_random_pad_crop_stays_within_the_padding(images: torch.Tensor) -> None:
    generator = torch.Generator().manual_seed(0)
    seen = set()
    for _ in range(30):
        crops = random_pad_crop(images, padding=4, generator=generator)
        padded = torch.nn.functional.pad(images, (4,) * 4)
        for crop, pad in zip(crops, padded):
            # every crop is exactly one window of the padded image; the values are unique, so locate it
            value = crop[0, 0, 0]
            if value == 0:  # corner in the padding: find the first image pixel instead
                nz = crop[0].nonzero()[0]
                dy, dx = (pad[0] == crop[0, nz[0], nz[1]]).nonzero()[0].tolist()
                dy, dx = dy - nz[0].item(), dx - nz[1].item()
            else:
                dy, dx = (pad[0] == value).nonzero()[0].tolist()
            assert 0 <= dy <= 8 and 0 <= dx <= 8
            assert torch.equal(crop, pad[:, dy : dy + 8, dx : dx + 8])
            seen.add((dy, dx))
    assert len(seen) > 40  # offsets spread over the 9x9 possibilities


def test_random_hflip(images: torch.Tensor) -> None:
    assert torch.equal(random_hflip(images, p=1.0), images.flip(-1))
    assert torch.equal(random_hflip(images, p=0.0), images)
    generator = torch.Generator().manual_seed(0)
    many = images.repeat(50, 1, 1, 1)
    out = random_hflip(many, generator=generator)
    flipped = torch.tensor([torch.equal(o, i.flip(-1)) for o, i in zip(out, many)])
    unchanged = torch.tensor([torch.equal(o, i) for o, i in zip(out, many)])
    assert (flipped ^ unchanged).all() and 100 < flipped.sum() < 200


def test_training_batches_are_augmented_evaluation_batches_are_not(cifar: CIFAR10DataModule) -> None:
    batch = cifar.train_set.__getitems__(list(range(64)))
    clean, _ = cifar.on_after_batch_transfer(batch, 0)  # evaluation batches carry no augmentation key
    augmented, _ = cifar.on_after_batch_transfer((*batch, 0), 0)
    assert augmented.shape == clean.shape
    changed = [not torch.equal(a, c) for a, c in zip(augmented, clean)]
    assert sum(changed) > 50  # P(offset (4,4) and no flip) = 1/162 per image
    for a, c in zip(augmented, clean):  # each is a translated (maybe flipped) copy of its source
        candidates = [c, c.flip(-1)]
        padded = [torch.nn.functional.pad(x, (4,) * 4) for x in candidates]
        assert any(
            torch.equal(a, p[:, dy : dy + 32, dx : dx + 32]) for p in padded for dy in range(9) for dx in range(9)
        )


def test_missing_dataset_says_where_to_put_it(tmp_path: Path) -> None:
    dm = CIFAR10DataModule(data_dir=str(tmp_path), download=False)
    with pytest.raises(FileNotFoundError, match=rf"{tmp_path}.*{FOLDER}.*LIGHTNING_RESNET_DATA"):
        dm.prepare_data()


def test_failed_download_says_where_to_put_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision.datasets

    def offline(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", offline)
    with pytest.raises(FileNotFoundError, match="Downloading it failed.*network unreachable"):
        CIFAR10DataModule(data_dir=str(tmp_path)).prepare_data()


def test_corrupted_file_names_the_file(tmp_path: Path, cifar_dir: Path) -> None:
    folder = tmp_path / FOLDER
    folder.mkdir()
    for source in (cifar_dir / FOLDER).iterdir():
        (folder / source.name).symlink_to(source)
    (folder / "data_batch_3").unlink()
    (folder / "data_batch_3").write_bytes((cifar_dir / FOLDER / "data_batch_3").read_bytes()[:100_000])
    with pytest.raises(DatasetError, match="data_batch_3 is corrupted"):
        CIFAR10DataModule(data_dir=str(tmp_path)).setup("fit")


def test_data_dir_from_environment(monkeypatch: pytest.MonkeyPatch, cifar_dir: Path) -> None:
    monkeypatch.setenv("LIGHTNING_RESNET_DATA", str(cifar_dir))
    assert CIFAR10DataModule().data_dir == cifar_dir
    assert CIFAR10DataModule(data_dir="/elsewhere").data_dir == Path("/elsewhere")
