"""Released weights (weights/manifest.json): see lightning_resnet.weights."""
