"""The reproduction configs, one per table or figure, and the presets; installed as
``lightning_resnet.reproductions``."""
