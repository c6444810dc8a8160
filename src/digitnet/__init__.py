"""YOURS to replace: the reference project of the ML CI/CD template
(a small CNN on the UCI optical digits)."""

__version__ = "0.1.0"
