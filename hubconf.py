"""torch.hub entry points: ``torch.hub.load("<repo or local path>", "resnet56")`` builds the paper's network;
``pretrained=True`` returns it with the weights this suite released (``weights/``), ``pretrained="<checkpoint path or
URL>"`` with a checkpoint's; both with their preprocessing (see ``load_network``).
"""

from __future__ import annotations

dependencies = ["torch", "torchvision", "pytorch_lightning", "torchmetrics", "jsonargparse"]


def _entry(name: str):
    def build(pretrained: bool | str = False, **kwargs):
        from lightning_resnet.export import load_network
        from lightning_resnet.models import create_model

        if not pretrained:
            return create_model(name, **kwargs)
        if pretrained is True:  # the weights this suite released (weights/), SHA-256 checked
            return load_network(name, weights="paper")
        if pretrained.startswith(("http://", "https://")):
            import os

            import torch

            target = os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(pretrained))
            if not os.path.isfile(target):
                os.makedirs(os.path.dirname(target), exist_ok=True)
                torch.hub.download_url_to_file(pretrained, target)
            pretrained = target
        network = load_network(pretrained)
        if network.arch != name:
            raise ValueError(f"{pretrained} holds a trained {network.arch}, not a {name}: load it with that name")
        return network

    build.__name__ = name
    build.__doc__ = f"The paper's {name}; ``pretrained=True``: its released weights; a checkpoint path or URL: those."
    return build


def _register() -> None:
    from lightning_resnet.models import list_models

    for name in list_models():
        globals()[name] = _entry(name)


_register()
