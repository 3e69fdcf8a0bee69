"""The official Batch AI swagger files (unmodified) and their loader. See PATCHES.md for local fixes (none)."""
from __future__ import annotations

import functools
import json
from pathlib import Path

HERE = Path(__file__).parent
API_VERSIONS = ("2018-05-01", "2018-03-01", "2017-09-01-preview")
CURRENT = "2018-05-01"


@functools.lru_cache(maxsize=None)
def load(api_version: str) -> dict:
    with open(HERE / api_version / "BatchAI.json", encoding="utf-8") as fh:
        return json.load(fh)


def examples_dir(api_version: str) -> Path:
    return HERE / api_version / "examples"
