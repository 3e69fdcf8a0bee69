"""Operation semantics. No Flask, no SQL: views call these methods with snake_case models and get models back;
failures are EmulatorErrors carrying the service's error code.
"""
from __future__ import annotations

from .arm import ArmBackend
from .batchai import BatchAIBackend, Page

__all__ = ["ArmBackend", "BatchAIBackend", "Page"]
