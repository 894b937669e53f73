"""VAE Latent Explorer's engine: data, model, losses, training, evaluation, checkpoints.

Import the submodules you need (``vae.model``, ``vae.train``, ...); this package
itself imports nothing heavy, so ``import vae`` and the data loaders stay fast.
"""

__version__ = "0.1.0"
