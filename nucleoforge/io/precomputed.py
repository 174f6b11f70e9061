"""Precomputed SpliceAI scores: look variants up in tabix-indexed VCFs with a ``SpliceAI`` INFO field.

Illumina's released score files (``spliceai_scores.raw.snv.hg38.vcf.gz`` …) and any earlier
``nucleoforge variants`` output compressed with ``bgzip`` and indexed with ``tabix -p vcf`` qualify.
A variant ``(chrom, pos, ref, alt)`` is found when a record at that position has that REF, that
ALT among its ALTs, and at least one ``SpliceAI`` entry whose allele is that ALT; the entries are
returned as written. Chromosome names may differ by a ``chr`` prefix. The file's own settings
(annotation, ``-D``, ``-M``) are the user's to match: they are not in the file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["PrecomputedScores"]

Key = tuple[str, int, str, str]


class PrecomputedScores:
    """One indexed score file; :meth:`lookup` answers many keys at once. ``hits`` counts found keys."""

    def __init__(self, path: str | os.PathLike) -> None:
        import pysam

        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"--precomputed {self.path}: no such file")
        index = [p for p in (Path(f"{self.path}.tbi"), Path(f"{self.path}.csi")) if p.is_file()]
        if not index:
            raise ValueError(f"--precomputed {self.path}: no tabix index ({self.path.name}.tbi or .csi); the file must be "
                             f"bgzip-compressed and indexed: tabix -p vcf {self.path}")  # fmt: skip
        try:
            self._vcf: Any = pysam.VariantFile(str(self.path), index_filename=str(index[0]))
        except (OSError, ValueError) as exc:
            raise ValueError(f"--precomputed {self.path}: not a readable indexed VCF ({exc})") from None
        if "SpliceAI" not in self._vcf.header.info:
            raise ValueError(f"--precomputed {self.path}: the header declares no SpliceAI INFO field "
                             "(expected ##INFO=<ID=SpliceAI,...>)")  # fmt: skip
        self._names: dict[str, str | None] = {}
        self.hits = 0

    def _contig(self, chrom: str) -> str | None:
        """The file's name for ``chrom`` (``22`` / ``chr22``), or None when it has none."""
        if chrom not in self._names:
            bare = chrom[3:] if chrom.lower().startswith("chr") else chrom
            self._names[chrom] = None
            for name in dict.fromkeys((chrom, bare, f"chr{bare}")):
                try:
                    next(iter(self._vcf.fetch(name, 0, 1)), None)
                except ValueError:  # not in the index
                    continue
                self._names[chrom] = name
                break
        return self._names[chrom]

    def lookup(self, keys: Iterable[Key]) -> dict[Key, list[str]]:
        """The stored entries of the keys found (each position is fetched once)."""
        found: dict[Key, list[str]] = {}
        records: dict[tuple[str, int], list[Any]] = {}
        for key in dict.fromkeys(keys):
            chrom, pos, ref, alt = key
            name = self._contig(chrom)
            if name is None:
                continue
            if (name, pos) not in records:
                records[(name, pos)] = [r for r in self._vcf.fetch(name, pos - 1, pos) if r.pos == pos]
            for rec in records[(name, pos)]:
                if rec.ref != ref or not rec.alts or alt not in rec.alts:
                    continue
                value = rec.info.get("SpliceAI")
                entries = [e for e in ((value,) if isinstance(value, str) else value or ()) if e.split("|", 1)[0] == alt]
                if entries:
                    found[key] = entries
                    break
        self.hits += len(found)
        return found

    def close(self) -> None:
        self._vcf.close()
