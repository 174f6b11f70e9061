"""The one exception type for mistakes a user can fix.

:class:`NucleoforgeError` is a :class:`ValueError` (so ``except ValueError`` keeps working):
a bad option value, a malformed or mismatched input file, a model folder of the wrong kind.
Its message is one line naming the file, line, record or option and what was expected; the
command line prints it as ``error: <message>`` and exits with status 2. A missing path or a file
where a folder belongs is a :class:`MissingPathError` / :class:`NotAFolderError`: a
``NucleoforgeError`` that is also the matching ``OSError`` (``except FileNotFoundError`` keeps working).

>>> try:
...     raise NucleoforgeError("x.vcf:3: expected 8 tab-separated columns, found 1")
... except ValueError as exc:
...     print(exc)
x.vcf:3: expected 8 tab-separated columns, found 1
"""

from __future__ import annotations

__all__ = ["MissingPathError", "NotAFolderError", "NucleoforgeError"]


class NucleoforgeError(ValueError):
    """A user error: one line saying what is wrong and where (file, line, record or option)."""


class MissingPathError(NucleoforgeError, FileNotFoundError):
    """A user error about a file or folder that does not exist (also a ``FileNotFoundError``).

    >>> isinstance(MissingPathError("--fasta x.fa: no such file"), (NucleoforgeError, FileNotFoundError))
    True
    """


class NotAFolderError(NucleoforgeError, NotADirectoryError):
    """A user error about a path that must be a folder but is a file (also a ``NotADirectoryError``)."""
