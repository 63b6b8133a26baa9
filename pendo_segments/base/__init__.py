"""The bottom layer: small pieces every other layer may import.

Nothing here imports another ``pendo_segments`` module except :mod:`errors`,
so ``config``, ``data`` and ``pendo`` can share the Pendo regions, the
:class:`~pendo_segments.base.secret.Secret` wrapper and the Pendo field map
without importing each other (layer order: tests/test_layers.py).
"""
