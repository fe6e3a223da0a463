"""The networks against the paper: sizes (Table 6), multiply-adds (Table 1), block structure, responses (Fig. 7)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from lightning_resnet.models import (
    BasicBlock,
    Bottleneck,
    ZeroPadShortcut,
    create_model,
    layer_response_std,
    list_models,
    model_entry,
    recording_responses,
    register_model,
    response_layers,
)
from lightning_resnet.models.costs import forward_macs, parameters


def num_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def gmacs(net: nn.Module, size: int = 224) -> float:
    """Multiply-adds in 1e9 (FlopCounterMode counts 2 FLOPs per multiply-add)."""
    with FlopCounterMode(display=False) as counter:
        net.eval()(torch.zeros(1, 3, size, size))
    return counter.get_total_flops() / 2e9


# Table 6: "# params" column, printed to two significant digits
@pytest.mark.parametrize(
    ("depth", "paper", "digits"),
    [(20, 0.27, 2), (32, 0.46, 2), (44, 0.66, 2), (56, 0.85, 2), (110, 1.7, 1), (1202, 19.4, 1)],
)
def test_cifar_parameter_counts_match_table6(depth: int, paper: float, digits: int) -> None:
    assert round(num_params(create_model(f"resnet{depth}")) / 1e6, digits) == paper


@pytest.mark.parametrize("depth", [20, 56, 110])
def test_plain_and_option_a_resnet_have_the_same_parameters(depth: int) -> None:
    plain, residual = create_model(f"plain{depth}"), create_model(f"resnet{depth}")
    assert num_params(plain) == num_params(residual)
    assert [tuple(p.shape) for p in plain.parameters()] == [tuple(p.shape) for p in residual.parameters()]


def test_imagenet_option_a_adds_no_parameters_and_b_c_do() -> None:
    plain, a, b, c = (
        create_model("plain34"),
        create_model("resnet34", shortcut="A"),
        create_model("resnet34", shortcut="B"),
        create_model("resnet34", shortcut="C"),
    )
    assert num_params(plain) == num_params(a) < num_params(b) < num_params(c)
    assert num_params(b) == 21_797_672  # torchvision's resnet34 (option B) count


# Table 1: FLOPs (multiply-adds) at 224x224, printed to one decimal
@pytest.mark.parametrize(("depth", "paper"), [(18, 1.8), (34, 3.6), (50, 3.8), (101, 7.6), (152, 11.3)])
def test_imagenet_multiply_adds_match_table1(depth: int, paper: float) -> None:
    measured = gmacs(create_model(f"resnet{depth}"))
    assert abs(measured - paper) < 0.07, f"resnet{depth}: {measured:.3f} GMACs vs paper {paper}"


def test_stride_on_3x3_reproduces_torchvision_v15_cost() -> None:
    assert gmacs(create_model("resnet50", stride_on_3x3=True)) == pytest.approx(4.089, abs=1e-3)
    assert gmacs(create_model("resnet50")) == pytest.approx(3.858, abs=1e-3)
    assert gmacs(create_model("plain34")) == pytest.approx(gmacs(create_model("resnet34", shortcut="A")))


def test_cifar_resnet20_multiply_adds() -> None:
    assert gmacs(create_model("resnet20"), size=32) == pytest.approx(0.0406, abs=5e-4)


@pytest.mark.parametrize("name", ["resnet20", "plain20", "resnet8"])
def test_cifar_forward_backward_shapes(name: str) -> None:
    net = create_model(name)
    x = torch.randn(4, 3, 32, 32, requires_grad=True)
    out = net(x)
    assert out.shape == (4, 10)
    out.sum().backward()
    assert x.grad.shape == x.shape
    assert all(p.grad is not None for p in net.parameters())


@pytest.mark.parametrize(
    ("name", "shortcut"),
    [("resnet18", "A"), ("resnet34", "C"), ("resnet50", "B"), ("plain50", None), ("resnet50", "A")],
)
def test_imagenet_forward_backward_shapes(name: str, shortcut: str | None) -> None:
    net = create_model(name, num_classes=7, shortcut=shortcut)
    x = torch.randn(2, 3, 64, 64)
    out = net(x)
    assert out.shape == (2, 7)
    out.sum().backward()
    assert all(p.grad is not None for p in net.parameters())


def test_shortcut_options_choose_projections_as_in_the_paper() -> None:
    def shortcuts(net: nn.Module) -> list[nn.Module | None]:
        return [m.shortcut for m in net.modules() if isinstance(m, (BasicBlock, Bottleneck))]

    projections = {
        opt: sum(isinstance(s, nn.Sequential) for s in shortcuts(create_model("resnet34", shortcut=opt)))
        for opt in "ABC"
    }
    # B projects only where dimensions grow (3 blocks); C projects all 16 shortcuts (13 more than B)
    assert projections == {"A": 0, "B": 3, "C": 16}
    assert sum(isinstance(s, ZeroPadShortcut) for s in shortcuts(create_model("resnet34", shortcut="A"))) == 3
    assert all(s is None for s in shortcuts(create_model("plain34")))


def test_option_a_subsamples_and_zero_pads() -> None:
    x = torch.randn(2, 16, 8, 8)
    out = ZeroPadShortcut(16, 32, stride=2)(x)
    assert out.shape == (2, 32, 4, 4)
    assert torch.equal(out[:, 8:24], x[:, :, ::2, ::2])
    assert not out[:, :8].any() and not out[:, 24:].any()


def test_bottleneck_stride_sits_on_first_1x1_by_default() -> None:
    block = Bottleneck(256, 128, stride=2, shortcut="B")
    assert block.conv1[0].stride == (2, 2) and block.conv1[0].kernel_size == (1, 1)
    assert block.conv2[0].stride == (1, 1)
    v15 = Bottleneck(256, 128, stride=2, shortcut="B", stride_on_3x3=True)
    assert v15.conv1[0].stride == (1, 1) and v15.conv2[0].stride == (2, 2)


@pytest.mark.parametrize("name", ["resnet20", "resnet50"])
def test_every_conv_is_followed_by_bn_no_bias_no_dropout(name: str) -> None:
    modules = list(create_model(name).modules())
    convs = [i for i, m in enumerate(modules) if isinstance(m, nn.Conv2d)]
    assert convs and all(isinstance(modules[i + 1], nn.BatchNorm2d) for i in convs)
    assert all(modules[i].bias is None for i in convs)
    assert not any(isinstance(m, nn.Dropout) for m in modules)


def test_he_initialisation() -> None:
    torch.manual_seed(0)
    conv = create_model("resnet110").stages[2][0].conv2[0]  # 3x3, 64 -> 64
    fan_in = conv.in_channels * 9
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / fan_in), rel=0.05)


@pytest.mark.parametrize(
    ("name", "layers"), [("resnet20", 19), ("plain56", 55), ("resnet110", 109), ("resnet34", 32), ("resnet50", 16)]
)
def test_response_layers_are_the_3x3_convolutions(name: str, layers: int) -> None:
    assert len(response_layers(create_model(name))) == layers


def test_responses_are_bn_outputs_before_relu_and_addition() -> None:
    torch.manual_seed(0)
    net = create_model("resnet20").eval()
    x = torch.randn(8, 3, 32, 32)
    with recording_responses(net) as responses:
        net(x)
    assert len(responses) == 19
    assert all((r < 0).any() for r in responses)  # before ReLU: negative values survive
    block = net.stages[0][0]  # the block's second response is conv2's BN, before the shortcut is added
    inner = torch.relu(block.conv1(torch.relu(net.stem(x))))
    assert torch.allclose(responses[2], block.conv2(inner))
    std = layer_response_std(net, x)
    assert std.shape == (19,) and torch.allclose(std, torch.stack([r.std() for r in responses]))
    assert not any(h for layer in response_layers(net) for h in layer._forward_hooks.values())  # hooks removed


def test_unknown_model_names_raise_with_a_suggestion() -> None:
    with pytest.raises(ValueError, match="Unknown model 'resnet21'.*resnet20"):
        create_model("resnet21")
    with pytest.raises(ValueError, match="Unknown model 'resnext50'"):
        create_model("resnext50")
    with pytest.raises(ValueError, match="plain network"):
        create_model("plain20", shortcut="B")
    assert {"resnet20", "plain56", "resnet1202", "resnet152", "plain34"} <= set(list_models())


# the 1202-layer nets take most of this test's time: the full suite runs them, the fast set does not
EVERY_MODEL = [pytest.param(n, marks=pytest.mark.slow) if model_entry(n).depth >= 1000 else n for n in list_models()]


@pytest.mark.parametrize("name", EVERY_MODEL)
def test_every_registered_model_builds_counts_and_runs(name: str) -> None:
    """Each name of the registry: built, its parameters and multiply-adds counted, one forward and backward pass."""
    entry = model_entry(name)
    net = create_model(name, num_classes=7)
    arch_params = parameters(name)  # the default head: 10 or 1000 classes
    head = (net.fc.in_features + 1) * (7 - (10 if entry.family == "cifar" else 1000))  # weights and biases
    assert num_params(net) == arch_params + head > 0
    size = entry.input_size if entry.family == "cifar" else 64  # ImageNet nets are fully convolutional: 64 px suffices
    assert forward_macs(name, size=size) > 0
    out = net.train()(torch.randn(2, 3, size, size))
    out.sum().backward()
    assert out.shape == (2, 7) and torch.isfinite(out).all()
    assert all(p.grad is not None for p in net.parameters())


def test_a_new_family_registers_without_touching_the_parser() -> None:
    register_model(
        "tiny_test_net", lambda num_classes=None, **_: nn.Linear(3, num_classes or 2), family="test", input_size=1
    )
    try:
        assert "tiny_test_net" in list_models("test") and create_model("tiny_test_net", num_classes=4).out_features == 4
        with pytest.raises(ValueError, match="already registered"):
            register_model("tiny_test_net", nn.Identity, family="test", input_size=1)
    finally:
        from lightning_resnet.models.registry import _MODELS

        del _MODELS["tiny_test_net"]


def test_table1_page_lays_out_the_papers_architectures_with_measured_costs() -> None:
    from lightning_resnet.reporting.architectures import architecture_table, stage_shapes

    assert stage_shapes("resnet101") == [
        ("Bottleneck", 3, 256, 56),
        ("Bottleneck", 4, 512, 28),
        ("Bottleneck", 23, 1024, 14),
        ("Bottleneck", 3, 2048, 7),
    ]
    assert stage_shapes("resnet34")[2] == ("BasicBlock", 6, 256, 14)
    rows = {line.split(" | ")[0].lstrip("| "): line for line in architecture_table()}
    measured = [float(c.split(" x ")[0]) for c in rows["measured multiply-adds"].strip("| ").split(" | ")[1:]]
    paper = [float(c.split(" x ")[0]) for c in rows["paper FLOPs (multiply-adds)"].strip("| ").split(" | ")[1:]]
    assert len(measured) == 5 and all(abs(m - p) < 0.07 for m, p in zip(measured, paper))
