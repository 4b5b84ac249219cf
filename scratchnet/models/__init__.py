"""Models built from ``scratchnet.nn``: one file per family (cnn; later gan, vae)."""

from . import gan
from .cnn import CNN

__all__ = ["CNN", "gan"]
