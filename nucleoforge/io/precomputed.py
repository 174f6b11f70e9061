"""Precomputed scores: look variants up in tabix-indexed VCFs with a ``SpliceAI`` INFO field (or
another model's: ``info_key``).

Illumina's released score files (``spliceai_scores.raw.snv.hg38.vcf.gz`` …) and any earlier
``nucleoforge variants`` output compressed with ``bgzip`` and indexed with ``tabix -p vcf`` qualify.
A variant ``(chrom, pos, ref, alt)`` is found when a record at that position has that REF, that
ALT among its ALTs, and at least one ``SpliceAI`` entry whose allele is that ALT; the entries are
returned as written. A field whose entries do not start with the allele (Pangolin's
``GENE|POS:GAIN|POS:LOSS|Warnings:…``, scored for the first ALT only) is matched by the record's
first ALT instead (``allele_in_entry=False``). Chromosome names may differ by a ``chr`` prefix.
The file's own settings (annotation, ``-D``, ``-M``) are the user's to match: they are not in the
file.

Two checks keep a wrong file from passing as scores:

* :meth:`PrecomputedScores.check_build`: a file whose header names the other genome build
  (``##reference=GRCh38``) or has ``##contig`` lengths of it is refused against the run's
  reference with one line, by the rule of :mod:`nucleoforge.io.builds` the input VCF meets.
* :func:`entry_problem`: an entry must have the 10 fields (11 for ``SYMBOL|TRANSCRIPT_ID``
  entries), delta scores in [0, 1] with two decimals, and integer positions within ``±D``; or
  be ``ALT|GENE|.|.|.|.|.|.|.|.``. :meth:`PrecomputedScores.lookup` leaves out a variant with a
  malformed entry, with one warning naming the file and the record, so it is scored instead.

>>> entry_problem("T|TANGO2|0.01|0.00|0.50|0.00|-7|3|12|0", distance=50) is None
True
>>> entry_problem("T|TANGO2|abc|NaN|-7|9.99", distance=50)
'6 fields, expected 10 (ALLELE|SYMBOL|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL)'
>>> entry_problem("T|TANGO2|0.01|0.00|0.50|0.00|-7|3|120|0", distance=50)
'DP_DG 120 is not an integer within -50..50 (-D 50)'
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from nucleoforge.errors import MissingPathError, NucleoforgeError

__all__ = ["PrecomputedScores", "entry_problem", "declared_info_keys"]

Key = tuple[str, int, str, str]

logger = logging.getLogger("nucleoforge.spliceai")

_DS = re.compile(r"-?[0-9]\.[0-9]{2}")
_DP = re.compile(r"-?[0-9]+")
_NAMES = ("DS_AG", "DS_AL", "DS_DG", "DS_DL", "DP_AG", "DP_AL", "DP_DG", "DP_DL")


def entry_problem(entry: str, distance: int, fields: int = 10) -> str | None:
    """What is wrong with one ``SpliceAI`` entry for a run at ``-D distance`` (``fields``: 10, or 11
    for ``ALLELE|SYMBOL|TRANSCRIPT_ID|…`` entries); ``None`` when it is well formed: delta scores
    ``0.00``..``1.00`` (``-0.00`` too, as the original prints a masked loss), integer positions
    within ``±distance``, or all eight ``.`` (REF and ALT both longer than one base)."""
    parts = entry.split("|")
    if len(parts) != fields:
        layout = "ALLELE|SYMBOL|" + ("TRANSCRIPT_ID|" if fields == 11 else "") + "|".join(_NAMES)
        return f"{len(parts)} field{'s' * (len(parts) != 1)}, expected {fields} ({layout})"
    if not parts[0] or not all(parts[1 : fields - 8]):
        return "an empty allele or gene field"
    values = parts[fields - 8 :]
    if all(v == "." for v in values):
        return None
    for name, v in zip(_NAMES[:4], values[:4]):
        if not _DS.fullmatch(v) or not 0.0 <= float(v) <= 1.0:
            return f"{name} {v} is not a delta score 0.00..1.00"
    for name, v in zip(_NAMES[4:], values[4:]):
        if not _DP.fullmatch(v) or abs(int(v)) > distance:
            return f"{name} {v} is not an integer within -{distance}..{distance} (-D {distance})"
    return None


def declared_info_keys(path: str | os.PathLike) -> set[str]:
    """The INFO keys a VCF's header declares (empty for a file pysam cannot read: the file's own
    checks in :class:`PrecomputedScores` name the problem)."""
    import pysam

    try:
        with pysam.VariantFile(str(path)) as vcf:
            return set(vcf.header.info)
    except (OSError, ValueError):
        return set()


class PrecomputedScores:
    """One indexed score file; :meth:`lookup` answers many keys at once. ``hits`` counts found keys.

    ``info_key``: the INFO field read (``SpliceAI``); ``allele_in_entry`` / ``check_entries``:
    whether its entries start with their allele and are checked by :func:`entry_problem`
    (SpliceAI's format; False for Pangolin's, whose entries belong to the record's first ALT)."""

    def __init__(self, path: str | os.PathLike, info_key: str = "SpliceAI", allele_in_entry: bool = True,
                 check_entries: bool = True) -> None:
        import pysam

        self.info_key, self.allele_in_entry, self.check_entries = info_key, allele_in_entry, check_entries
        self.path = Path(path)
        if not self.path.is_file():
            raise MissingPathError(f"--precomputed {self.path}: no such file")
        index = [p for p in (Path(f"{self.path}.tbi"), Path(f"{self.path}.csi")) if p.is_file()]
        if not index:
            raise NucleoforgeError(f"--precomputed {self.path}: no tabix index ({self.path.name}.tbi or .csi); the file must be "
                             f"bgzip-compressed and indexed: tabix -p vcf {self.path}")  # fmt: skip
        try:
            self._vcf: Any = pysam.VariantFile(str(self.path), index_filename=str(index[0]))
        except (OSError, ValueError) as exc:
            raise NucleoforgeError(f"--precomputed {self.path}: not a readable indexed VCF ({exc})") from None
        if info_key not in self._vcf.header.info:
            self._vcf.close()
            raise NucleoforgeError(f"--precomputed {self.path}: the header declares no {info_key} INFO field "
                                   f"(expected ##INFO=<ID={info_key},...>)")
        self._names: dict[str, str | None] = {}
        self.hits = 0
        self.rejected = 0  # variants whose entries were malformed (scored instead)

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

    def check_build(self, lengths: Mapping[str, int], reference: str | os.PathLike) -> None:
        """Refuse (``NucleoforgeError``, one line) a file whose header names a genome build, or has
        ``##contig`` lengths of one, that the reference's chromosome lengths (``lengths``)
        contradict; or whose ``##contig`` length of a chromosome is shorter than the
        reference's. The same evidence :func:`nucleoforge.io.builds.check_build` reads in the
        input VCF."""
        from nucleoforge.io.builds import _contig_build, contig_conflict, length_conflict, read_vcf_facts

        facts = read_vcf_facts(self.path, records=0)
        if facts is None:
            return
        named = []
        if facts.build:
            named.append((facts.build, f"its {facts.build_line.split('=')[0]} line"))
        contig_build = _contig_build(facts.contigs)
        if contig_build:
            named.append((contig_build, "its ##contig lengths"))
        for build, source in named:
            found = length_conflict(lengths, build)
            if found:
                raise NucleoforgeError(f"--precomputed {self.path} is {build} (by {source}) but the reference {reference} "
                                       f"is not: {found}; use a score file of the reference's build")
        found = contig_conflict(lengths, facts.contigs)
        if found:
            raise NucleoforgeError(f"--precomputed {self.path}: its ##contig lengths are not the reference's "
                                   f"({reference}: {found}); use a score file of the reference's build")

    def lookup(self, keys: Iterable[Key], distance: int | None = None, fields: int = 10) -> dict[Key, list[str]]:
        """The stored entries of the keys found (each position is fetched once). With ``distance``
        (the run's ``-D``) every entry is checked (:func:`entry_problem`): a key with a malformed
        one is left out, with one warning naming the file and the record, so it is scored instead."""
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
                value = rec.info.get(self.info_key)
                entries = [e for e in ((value,) if isinstance(value, str) else value or ())
                           if (e.split("|", 1)[0] == alt if self.allele_in_entry else alt == rec.alts[0])]
                if entries and distance is not None and self.check_entries:
                    problem = next(((e, p) for e in entries if (p := entry_problem(e, distance, fields))), None)
                    if problem is not None:
                        self.rejected += 1
                        logger.warning("--precomputed %s: record %s:%d %s>%s: entry %r: %s; scoring it instead",
                                       self.path, rec.chrom, pos, ref, alt, problem[0], problem[1])
                        break
                if entries:
                    found[key] = entries
                    break
        self.hits += len(found)
        return found

    def close(self) -> None:
        self._vcf.close()
