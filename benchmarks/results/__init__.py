"""Measured benchmark figures; installed as ``lightning_resnet.benchmark_results`` so reports can read them anywhere."""
