"""SGD with momentum as Caffe (the paper's framework) computes it.

Caffe: ``v = m*v + lr*(g + wd*w); w = w - v``. PyTorch: ``v = m*v + (g + wd*w); w = w - lr*v``.
With a constant LR they are the same; when the LR changes (each milestone, the ResNet-110 warm-up
switch from 0.01 to 0.1) PyTorch's velocity is rescaled at once, Caffe's carries the old LR's steps.
"""

from __future__ import annotations

import torch
from torch.optim import Optimizer

from .errors import ConfigError

MOMENTUM_FORMS = ("caffe", "pytorch")


class CaffeSGD(Optimizer):
    """SGD with momentum and L2 weight decay in Caffe's form (the LR scales the velocity's increment)."""

    def __init__(self, params, lr: float, momentum: float = 0.9, weight_decay: float = 0.0) -> None:
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ConfigError(f"lr, momentum and weight_decay must be non-negative: {lr}, {momentum}, {weight_decay}")
        super().__init__(params, {"lr": lr, "momentum": momentum, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            steps = torch._foreach_add([p.grad for p in params], params, alpha=group["weight_decay"])
            velocities = []
            for p in params:
                state = self.state[p]
                if "momentum_buffer" not in state:  # Caffe's history starts at zero
                    state["momentum_buffer"] = torch.zeros_like(p)
                velocities.append(state["momentum_buffer"])
            torch._foreach_mul_(velocities, group["momentum"])
            torch._foreach_add_(velocities, steps, alpha=group["lr"])
            torch._foreach_sub_(params, velocities)
        return loss


# the learning rate's key in every logger, whatever the optimizer class: LearningRateMonitor names it after the
# scheduler's "name" (otherwise "lr-CaffeSGD" or "lr-SGD", which would split one curve across runs)
LR_KEY = "lr"


def make_sgd(params, form: str, lr: float, momentum: float, weight_decay: float) -> Optimizer:
    """SGD in ``form``: ``caffe`` (the paper's) or ``pytorch`` (``torch.optim.SGD``)."""
    if form == "caffe":
        return CaffeSGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if form == "pytorch":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    raise ConfigError(f"unknown momentum form {form!r}; choose one of {', '.join(MOMENTUM_FORMS)}")
