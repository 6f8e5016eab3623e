"""Inference library of the emulator: model files (store), shared sessions (runtime), wrappers.

Knows nothing of AWS: numpy in, plain dataclasses out. Model files come from `models.store`,
which fetches, verifies and caches them as listed in `models.manifest`.
"""
