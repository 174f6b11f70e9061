"""The one exception type for mistakes a user can fix.

:class:`NucleoforgeError` is a :class:`ValueError` (so ``except ValueError`` keeps working):
a bad option value, a malformed or mismatched input file, a model folder of the wrong kind.
Its message is one line naming the file, line, record or option and what was expected; the
command line prints it as ``error: <message>`` and exits with status 2.

>>> try:
...     raise NucleoforgeError("x.vcf:3: expected 8 tab-separated columns, found 1")
... except ValueError as exc:
...     print(exc)
x.vcf:3: expected 8 tab-separated columns, found 1
"""

from __future__ import annotations

__all__ = ["NucleoforgeError"]


class NucleoforgeError(ValueError):
    """A user error: one line saying what is wrong and where (file, line, record or option)."""
