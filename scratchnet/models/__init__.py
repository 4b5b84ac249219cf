"""Models built from ``scratchnet.nn``: one file per family (cnn, gan, vae)."""

from . import gan, vae
from .cnn import CNN
from .vae import MLPVAE, ConvVAE

__all__ = ["CNN", "MLPVAE", "ConvVAE", "gan", "vae"]
