"""Compatibility module: the fingerprint lives in ``knowledge_base._fingerprint``."""
from ._fingerprint import fingerprint

__all__ = ["fingerprint"]
