"""The paper as data: its tables and figures (what each shows and trains), pools of shared runs, numbers,
interpretations."""

from .experiments import METRIC_NAMES, SPECS, Finding, ReportSpec, folder_stem, pool_ids, reproducible_ids, spec_for
from .interpretations import INTERPRETATIONS, interpretations_table
from .numbers import TABLE2, TABLE3, TABLE4, TABLE6, PaperResult
from .pools import POOLS, Pool, config_path, pool_of

__all__ = [
    "METRIC_NAMES",
    "SPECS",
    "Finding",
    "ReportSpec",
    "folder_stem",
    "pool_ids",
    "reproducible_ids",
    "spec_for",
    "INTERPRETATIONS",
    "interpretations_table",
    "TABLE2",
    "TABLE3",
    "TABLE4",
    "TABLE6",
    "PaperResult",
    "POOLS",
    "Pool",
    "config_path",
    "pool_of",
]
