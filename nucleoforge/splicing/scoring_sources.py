"""The score sources of a :class:`~nucleoforge.splicing.scoring.VariantScorer`: its score cache
(:mod:`nucleoforge.io.score_cache`) and precomputed score files (:mod:`nucleoforge.io.precomputed`).

The scorer owns them (opened by its constructor, closed by :meth:`ScoreSources.close`). Entries are
stored by the scoring thread only; :meth:`ScoreSources.lookup` reads the cache from any thread, on
read-only connections of its own (the server answers cache hits from its request handlers).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Iterable, Sequence

from nucleoforge.io.annotation import GeneTable
from nucleoforge.splicing.variant_rules import AlleleResult, SkipReason

__all__ = ["ScoreSources", "genes_identity", "Key"]

Key = tuple[str, int, str, str]  # (chrom as the FASTA names it, POS, REF, ALT)


def genes_identity(genes: GeneTable) -> dict[str, Any]:
    """The gene table's identity for a run manifest and cache keys: a sha256 of every gene's fields."""
    import hashlib

    h = hashlib.sha256()
    for g in genes:
        h.update(repr((g.name, g.chrom, g.strand, g.tx_start, g.tx_end, tuple(g.exon_starts), tuple(g.exon_ends))).encode())
    return {"path": genes.source, "size": len(genes), "sha256": h.hexdigest()}


class ScoreSources:
    """The cache and score-file half of :class:`~nucleoforge.splicing.scoring.VariantScorer`
    (it needs the scorer's ``genes``, ``genome``, ``distance``, ``mask``, ``family``,
    ``transcript_entries`` and ``provenance``)."""

    genes: Any
    genome: Any
    distance: int
    mask: bool
    family: Any
    transcript_entries: bool
    provenance: dict[str, int]

    def _open_sources(self, cache: str | os.PathLike | None, readonly: bool, precomputed: Sequence[Any]) -> None:
        self._checked_sources: set[int] = set()  # ids of the precomputed files whose build was checked
        self.precomputed = list(precomputed)  # asked in this order, before the cache
        self.cache_path = Path(cache) if cache is not None else None
        self._readers: list[Any] = []  # idle read-only cache connections of lookup()
        self._readers_lock = threading.Lock()
        self._closed = False
        self.cache: Any = None  # the ScoreCache: stores on the scoring thread; lookup() reads on its own connections
        if cache is not None:
            from nucleoforge.io.score_cache import ScoreCache

            self.cache = ScoreCache(cache, self.cache_setting(), readonly=readonly)

    def cache_setting(self) -> dict[str, Any]:
        """What a cached entry depends on besides the variant: the gene table (sha256 of its genes),
        the reference (its sequence names and lengths — the bases are not hashed, a FASTA may be
        gigabytes), ``-D``, ``-M`` and the family's identity (for SpliceAI the calibration
        temperatures, the model's weights (sha256) and context)."""
        import hashlib

        genes = genes_identity(self.genes)
        reference = hashlib.sha256(repr(sorted(self.genome.lengths.items())).encode()).hexdigest()
        return {"annotation": {"sha256": genes["sha256"], "genes": genes["size"]}, "reference_lengths_sha256": reference,
                "distance": self.distance, "mask": self.mask, **self.family.identity()}

    def lookup(self, keys: Iterable[Key]) -> dict[Key, list[str]]:
        """The cached entries of those ``(chrom as the FASTA names it, POS, REF, ALT)`` keys that
        are in the cache (empty without one). Any thread may call this, also while another one
        scores: it reads on a read-only connection of its own and touches neither the model nor
        the FASTA; it does not count in the cache's ``hits``."""
        from nucleoforge.io.score_cache import ScoreCache

        if self.cache_path is None:
            return {}
        with self._readers_lock:
            if self._closed:
                return {}
            reader = self._readers.pop() if self._readers else None
        if reader is None:
            if not self.cache_path.is_file():
                return {}
            reader = ScoreCache(self.cache_path, self.cache_setting(), readonly=True)
        keep = False
        try:
            found = reader.lookup(keys)
            keep = reader.setting is not None  # a setting stored later needs a fresh look-up of its id
        finally:
            with self._readers_lock:
                if keep and not self._closed:
                    self._readers.append(reader)
                else:
                    reader.close()
        return found

    def close(self) -> None:
        """Close the cache (its read-only connections included) and the precomputed files."""
        with self._readers_lock:
            self._closed = True
            readers, self._readers = self._readers, []
        for source in [*readers, *self.precomputed, *([self.cache] if self.cache is not None else [])]:
            source.close()

    def check_sources(self) -> None:
        """Refuse (``NucleoforgeError``, one line) a :attr:`precomputed` file of another genome build
        than the reference (:meth:`~nucleoforge.io.precomputed.PrecomputedScores.check_build`);
        each file is checked once."""
        for p in self.precomputed:
            if id(p) not in self._checked_sources:
                p.check_build(self.genome.lengths, self.genome.path)
                self._checked_sources.add(id(p))

    def _entries_reason(self, entries: Sequence[str], key: Key | None = None, index: int = 0) -> str | None:
        """Why an ALT (``key``, ALT number ``index`` of its record) with these stored entries has no
        delta scores: none (the family's allele rule, else an unsupported ALT), an unscored entry
        (REF and ALT both longer than one base); ``None`` when it has them."""
        if not entries:
            rule = getattr(self.family, "allele_rule", None)
            reason = rule(key[2], key[3], index) if rule is not None and key is not None else None
            return reason or SkipReason.UNSUPPORTED_ALT
        return None if self.family.has_scores(entries[0]) else SkipReason.MNV

    def _look_up(self, keys: Sequence[list[Key] | None]) -> tuple[dict[Key, list[str]], dict[Key, str]]:
        """The entries found per key in the score files, then the cache (the first that has it wins), and its source."""
        found: dict[Key, list[str]] = {}
        source: dict[Key, str] = {}
        sources = [(f"precomputed {p.path}", p) for p in self.precomputed]
        if self.cache is not None:
            sources.append(("cache", self.cache))
        for name, src in sources:
            wanted = [k for ks in keys if ks for k in ks if k not in found]
            if not wanted:
                break
            checked = {"distance": self.distance, "fields": self.family.entry_fields + self.transcript_entries} \
                if src is not self.cache else {}
            for k, entries in src.lookup(wanted, **checked).items():
                found[k], source[k] = entries, name
        return found, source

    def _store_scored(self, keys: Sequence[list[Key] | None], scored: Sequence[list[AlleleResult]]) -> None:
        """Count the model's ALTs with entries and store the records that have any in the cache."""
        new = []
        for ks, alleles in zip(keys, scored):
            with_entries = {a.alt for a in alleles if a.entries}
            if with_entries:
                self.provenance["model"] = self.provenance.get("model", 0) + len(with_entries)
                if ks:
                    new.extend((k, a.entries) for k, a in zip(ks, alleles))
        if self.cache is not None:
            self.cache.store(new)
