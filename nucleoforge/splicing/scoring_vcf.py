"""The VCF driver of variant scoring: ``nucleoforge variants`` on one process (:func:`score_vcf`),
with its run manifest, provenance header, resume and summary.

The engine is :class:`~nucleoforge.splicing.scoring.VariantScorer`; the sharded runs
(:mod:`.sharding`) run :func:`score_vcf` on every shard, and :func:`.variants_run.run_variants`
is the one entry point of both.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from nucleoforge.errors import NucleoforgeError
from nucleoforge.io.annotation import GeneTable
from nucleoforge.io.genome import Genome
from nucleoforge.splicing.scoring import VariantScorer
from nucleoforge.splicing.variant_rules import AlleleResult, SkipReason, VariantInput, reason_text
from nucleoforge.splicing.variants_header import provenance_header, variants_manifest

logger = logging.getLogger("nucleoforge.spliceai")

__all__ = ["score_vcf", "VcfRunSummary", "allele_summary", "check_chromosomes_matched", "variants_manifest",
           "provenance_header", "output_format_of"]


@dataclass
class VcfRunSummary:
    """What :func:`score_vcf` did. The allele counts cover every ALT allele of every record read
    in this run (a record without ALT counts as one allele ``.``):
    ``alleles == alleles_scored + sum(alleles_skipped.values())``."""

    records: int = 0  # records in the output (resumed + new)
    resumed: int = 0  # records kept from an interrupted run
    scored: int = 0  # records that got a SpliceAI entry in this run
    skipped: dict[str, int] = field(default_factory=dict)  # records left unscored, per reason (the scorer's counts)
    sources: dict[str, int] = field(default_factory=dict)  # ALT alleles with entries per source (precomputed, cache, model)
    alleles: int = 0  # ALT alleles of the records read in this run
    alleles_scored: int = 0  # ... with delta scores
    alleles_skipped: dict[str, int] = field(default_factory=dict)  # ... without, per SkipReason ("no gene" included)
    matched_records: int = 0  # records read in this run whose chromosome is in the reference
    missing_chromosomes: dict[str, int] = field(default_factory=dict)  # records per chromosome absent from the reference
    # a run of several models: ALT alleles with entries per INFO key
    scored_by_field: dict[str, int] = field(default_factory=dict)

    def count_alleles(self, alleles: Sequence[AlleleResult]) -> None:
        """Count the ALT alleles of one record."""
        for a in alleles:
            self.alleles += 1
            if a.reason is None:
                self.alleles_scored += 1
            else:
                self.alleles_skipped[a.reason] = self.alleles_skipped.get(a.reason, 0) + 1


def allele_summary(summary: VcfRunSummary) -> str:
    """The allele part of the line ``variants`` prints: every ALT allele read in this run, scored
    or skipped (outside annotated genes, then the other reasons by name), e.g. ``11 ALT alleles:
    5 scored, 1 outside annotated genes, 5 skipped (REF does not match the reference: 1,
    unsupported ALT: 4)``."""
    others = {reason_text(k): v for k, v in summary.alleles_skipped.items() if k != SkipReason.NO_GENE}
    outside = summary.alleles_skipped.get(SkipReason.NO_GENE, 0)
    where = f" in the {summary.records - summary.resumed} records scored now" if summary.resumed else ""
    detail = " (" + ", ".join(f"{k}: {v}" for k, v in sorted(others.items())) + ")" if others else ""
    per_field = ("; scored per INFO field: " + ", ".join(f"{k} {v}" for k, v in summary.scored_by_field.items())
                 if len(summary.scored_by_field) > 1 else "")
    return (f"{summary.alleles} ALT alleles{where}: {summary.alleles_scored} scored, {outside} outside annotated genes, "
            f"{sum(others.values())} skipped{detail}{per_field}")


def _some(names: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", … ({len(names)} sequences)" if len(names) > limit else f" ({len(names)} sequence{'s' * (len(names) > 1)})")


def check_chromosomes_matched(summary: VcfRunSummary, reference: Genome | str, input_path: str, output_path: str) -> None:
    """After a run: ``NucleoforgeError`` (one line) when records were read but none of their
    chromosome names is in the reference, listing the names the reference has (nothing could be
    scored: the output holds the records unscored); a warning when only some are missing."""
    missing = summary.missing_chromosomes
    if not missing:
        return
    vcf_names = ", ".join(f"{k} ({v} record{'s' * (v > 1)})" for k, v in list(missing.items())[:5])
    vcf_names += f", … ({len(missing)} names)" if len(missing) > 5 else ""
    genome = reference if isinstance(reference, Genome) else Genome(reference)
    if summary.matched_records == 0 and summary.records > summary.resumed:
        where = "stdout" if output_path in ("-", "/dev/stdout") else output_path
        raise NucleoforgeError(
            f"{'stdin' if input_path in ('-', '/dev/stdin') else input_path}: no record could be scored: none of its "
            f"chromosome names ({vcf_names}) is in the reference {genome.path}, which has {_some(genome.chroms)}; a 'chr' "
            f"prefix is matched either way, other names must be renamed (the records were written unscored to {where})")
    logger.warning("records on chromosomes not in the reference %s were left unscored: %s", genome.path, vcf_names)


def _record_key(rec: Any) -> tuple[str, str, str, str, str]:
    """CHROM, POS, ID, REF, ALT of a pysam record, spelled as in its VCF line."""
    return (rec.chrom, str(rec.pos), rec.id or ".", rec.ref or ".", ",".join(rec.alts) if rec.alts else ".")


def output_format_of(output_path: str, output_format: str | None = None) -> str:
    """``vcf`` or ``tsv``: ``output_format`` when given, else ``tsv`` for a ``.tsv``/``.tsv.gz`` name."""
    from nucleoforge.io.variant_table import is_table_path

    if output_format is None:
        return "tsv" if is_table_path(output_path) else "vcf"
    if output_format not in ("vcf", "tsv"):
        raise NucleoforgeError(f"--format {output_format!r}: expected vcf or tsv")
    return output_format


class _Redraw:
    """Redraw a tqdm bar every ``interval`` seconds from a thread (elapsed time and rate move
    while one model call runs longer than that)."""

    def __init__(self, bar: Any, interval: float) -> None:
        import threading

        self.bar, self.interval = bar, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="nucleoforge-progress", daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.bar.refresh()

    def __enter__(self) -> "_Redraw":
        if not self.bar.disable:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


@dataclass
class _Run:
    """One :func:`score_vcf` run: its scorers (one per INFO field, the first counts the alleles),
    paths and output, and what it counted so far."""

    scorers: list[VariantScorer]
    transcripts: VariantScorer | None
    input_path: str
    output_path: str
    table: bool
    summary: VcfRunSummary = field(default_factory=VcfRunSummary)
    manifest: dict[str, Any] | None = None
    out: Any = None
    in_reference: dict[str, bool] = field(default_factory=dict)

    @property
    def scorer(self) -> VariantScorer:
        return self.scorers[0]


def score_vcf(
    scorer: VariantScorer | Sequence[VariantScorer],
    input_path: str,
    output_path: str,
    *,
    resume: bool = False,
    chunk_size: int = 256,
    progress: bool = True,
    transcripts: VariantScorer | None = None,
    output_format: str | None = None,
    check_chromosomes: bool = True,
    progress_options: dict[str, Any] | None = None,
) -> VcfRunSummary:
    """Annotate ``input_path`` into ``output_path`` (``-`` = stdout; ``.gz`` = BGZF), streaming.

    Records are read ``chunk_size`` at a time, scored together and written in input order;
    the output is flushed after every chunk. An output that is the input (also through a link)
    is refused before anything is opened. A record that cannot be parsed stops the run after
    every record before it has been written: ``NucleoforgeError("FILE:LINE: ...")``.

    ``scorer``: one scorer, or one per INFO field (a run of several models: each record is read
    once and gets one field per scorer, in this order; the allele counts of the summary are the
    first scorer's, :attr:`VcfRunSummary.scored_by_field` counts every field's; the header and
    manifest record each field's settings, see :mod:`.variants_header`).

    ``output_format``: ``vcf`` (the input with the family's INFO field, ``SpliceAI``) or ``tsv``
    (the table of :mod:`nucleoforge.io.variant_table`: one row per record x ALT x gene, and one per
    ALT left unscored with its reason); by default ``tsv`` for a ``.tsv``/``.tsv.gz`` name.

    A file output gets a run manifest ``OUTPUT.manifest.json`` (:func:`variants_manifest`).
    With ``resume=True`` an existing output is continued only when its manifest matches this
    run (same input, reference, annotation, ``-D``, ``-M`` and model; otherwise a
    ``NucleoforgeError`` names what differs) and every complete record in it is the input record at
    that place (CHROM, POS, ID, REF, ALT); its incomplete last line is dropped and scoring
    continues after the last complete record, so the result is byte-identical to an
    uninterrupted run. The protocol is :func:`nucleoforge.io.outputs.open_resumable` (a resume
    from an input that is not a regular file, e.g. stdin, is refused). A table keeps the rows up
    to its last checkpoint (``OUTPUT.checkpoints``).

    ``transcripts``: a second scorer over a per-transcript table (``transcript_entries=True``);
    its entries go to ``INFO/SpliceAI_TX`` (``ALLELE|SYMBOL|TRANSCRIPT_ID|DS_AG|…|DP_DL``), the
    ``SpliceAI`` field stays as it is without it; a table then has one row per transcript.

    ``check_chromosomes``: when no record's chromosome is in the reference, raise
    ``NucleoforgeError`` after the output is written (see :func:`check_chromosomes_matched`);
    when some are missing, one warning. Records on a missing chromosome are never warned about
    one by one.

    ``progress``: a bar whose total is the input's record count (:func:`nucleoforge.io.vcf_records.count_vcf_records`;
    none for stdin), advanced within a chunk after every model call and redrawn every
    half second; ``progress_options``: more tqdm arguments (e.g. ``file``).
    """
    from nucleoforge.io.outputs import check_paths
    from nucleoforge.io.vcf import VcfFormatError, open_vcf
    from nucleoforge.io.vcf_records import count_vcf_records, iter_vcf_records

    input_path, output_path = str(input_path), str(output_path)
    scorers = [scorer] if isinstance(scorer, VariantScorer) else list(scorer)
    run = _Run(scorers, transcripts, input_path, output_path, output_format_of(output_path, output_format) == "tsv")
    scorer = scorers[0]
    if resume and output_path == "-":
        raise NucleoforgeError("--resume needs an output file (-O), not stdout")
    annotation = scorer.genes.source if os.path.isfile(str(scorer.genes.source)) else None
    check_paths({"-I/--input": input_path, "-R/--reference": str(scorer.genome.path), "-A/--annotation": annotation},
                {"-O/--output": output_path})
    for s in scorers:
        s.check_sources()  # a score file of another build: refused before the output is touched
    total = count_vcf_records(input_path) if progress else None  # before the input is opened (a file: read twice)
    vcf = open_vcf(input_path)
    pending: VcfFormatError | None = None
    log_missing = [s.log_missing_chromosomes for s in scorers]
    for s in scorers:
        s.log_missing_chromosomes = False  # reported once, at the end
    try:
        records = iter_vcf_records(vcf, input_path)
        provenance = _open_output(run, vcf, records, resume)
        bar = _progress_bar(progress, run.summary.resumed, total, progress_options)
        with _Redraw(bar, 0.5):
            while pending is None:
                batch, pending = _read_batch(records, chunk_size)
                if not batch:
                    break
                _write_batch(run, batch, _score_batch(run, batch, _advancer(run, bar, batch)))
                bar.update(run.summary.records - bar.n)
        bar.close()
    finally:
        for s, log in zip(scorers, log_missing):
            s.progress, s.log_missing_chromosomes = None, log
        if transcripts is not None:
            transcripts.progress = None
        if run.out is not None:
            run.out.close()
        vcf.close()
    if pending is not None:
        raise pending
    return _finish(run, provenance, check_chromosomes)


def _read_batch(records: Any, chunk_size: int) -> tuple[list[Any], Any]:
    """Up to ``chunk_size`` records, and the parse error that ended them early (None)."""
    from nucleoforge.io.vcf import VcfFormatError

    batch: list[Any] = []
    try:
        for rec in records:
            batch.append(rec)
            if len(batch) >= chunk_size:
                break
    except VcfFormatError as exc:  # write the records before the bad line, then fail
        return batch, exc
    return batch, None


def _progress_bar(progress: bool, initial: int, total: int | None, options: dict[str, Any] | None) -> Any:
    from tqdm.auto import tqdm

    return tqdm(desc="variants", unit=" rec", disable=not progress, initial=initial, total=total, dynamic_ncols=True,
                **(options or {}))


def _advancer(run: _Run, bar: Any, batch: list[Any]) -> Callable[[float, int], None]:
    """The progress callback of one chunk: records "done" within it, estimated from the model input
    done (the last is counted when the chunk is written)."""
    base, passes = run.summary.records, len(run.scorers) + (run.transcripts is not None)

    def advance(share: float, part: int = 0) -> None:
        target = base + min(len(batch) - 1, int(len(batch) * (part + share) / passes))
        if target > bar.n:
            bar.update(target - bar.n)

    return advance


def _open_output(run: _Run, vcf: Any, records: Any, resume: bool) -> str | None:
    """Complete the header (each field's INFO lines, the settings and provenance lines of
    :mod:`.variants_header`), open the output (resumed when asked, see
    :func:`nucleoforge.io.outputs.open_resumable`) into ``run.out``; returns the provenance line(s)."""
    from nucleoforge.io.outputs import open_resumable
    from nucleoforge.io.variant_table import TableSink, table_header
    from nucleoforge.io.vcf_output import VcfSink
    from nucleoforge.splicing.variants_header import check_models_match, info_lines, is_extended, model_lines, provenance_lines

    scorers, output_path, table = run.scorers, run.output_path, run.table
    header = vcf.header
    for s in scorers:
        for line in info_lines(s, run.transcripts is not None):
            if line.split("ID=", 1)[1].split(",", 1)[0] not in header.info:
                header.add_line(line)
    lines = provenance_lines(scorers)
    for line in model_lines(scorers) + lines:
        header.add_line(line)
    run.manifest = None if output_path == "-" else variants_manifest(scorers, run.input_path, run.transcripts)
    if run.manifest is not None and table:  # a table and a VCF of the same run are different outputs
        run.manifest["parameters"]["format"] = "tsv"
    if resume and run.manifest is not None and os.path.isfile(output_path) and os.path.getsize(output_path) > 0:
        check_models_match(output_path, scorers)  # other models: one line naming the field that differs
    head_text = table_header(run.transcripts is not None, model_column=is_extended(scorers)) if table else str(header)
    kept_table: dict[str, Any] = {}

    def open_sink(append: bool) -> Any:
        if table:
            return TableSink(output_path, append=append, kept_bytes=kept_table.get("size", 0),
                             kept_checkpoints=kept_table.get("checkpoints", ""))
        return VcfSink(output_path, append=append)

    run.out, run.summary.resumed = open_resumable(
        output_path, run.manifest, resume=resume, inputs={"-I/--input": run.input_path}, source=run.input_path,
        input_keys=map(_record_key, records), read_kept=lambda: _read_kept(run, head_text, kept_table),
        open_sink=open_sink, header=head_text, bgzf=output_path.endswith((".gz", ".bgz")))
    if table and not run.summary.resumed:
        run.out.checkpoint(0)
    run.summary.records = run.summary.resumed
    return "\n".join(lines) or None


def _read_kept(run: _Run, head_text: str, kept_table: dict[str, Any]) -> tuple[list[Sequence[str]], int, str]:
    """What an interrupted output keeps: the keys of its complete records, their end and text."""
    from nucleoforge.io.variant_table import salvage_table
    from nucleoforge.io.vcf import open_vcf
    from nucleoforge.io.vcf_output import salvage_vcf_output
    from nucleoforge.io.vcf_records import iter_vcf_records

    output_path, input_path = run.output_path, run.input_path
    if run.table:
        n, size, text, checkpoints = salvage_table(output_path, head_text)
        kept_table.update(size=size, checkpoints=checkpoints)
        # the rows of a record are not one line: the checkpoint says how many records they hold;
        # their keys are the input's first n (the manifest has checked that input's sha256)
        again = open_vcf(input_path)
        try:
            keys: list[Sequence[str]] = [_record_key(r) for _, r in zip(range(n), iter_vcf_records(again, input_path))]
        finally:
            again.close()
        last = text.rstrip("\n").rsplit("\n", 1)[-1].split("\t")
        if keys and (tuple(last[:4]) != tuple(keys[-1][:4])):
            raise NucleoforgeError(f"{output_path}: its last kept row ({' '.join(last[:4])}) is not of input record "
                                   f"{n} ({' '.join(keys[-1][:4])}); --resume needs the same input (rerun without --resume)")
        return keys, size, text
    old_header, done_lines, end = salvage_vcf_output(output_path)
    if not old_header or not old_header[-1].startswith("#CHROM"):
        raise NucleoforgeError(f"{output_path}: cannot resume, the file has no complete VCF header")
    return [line.split("\t", 5) for line in done_lines], end, "".join(old_header + done_lines)


def _score_batch(run: _Run, batch: list[Any], advance: Callable[..., None]) -> list[str]:
    """Score one chunk of records with every scorer and count it: the lines (VCF records or table
    rows) to write."""
    scorers, transcripts, summary = run.scorers, run.transcripts, run.summary
    inputs = [VariantInput(r.chrom, r.pos, r.ref, r.alts, f"{r.chrom}:{r.pos} {r.id or '.'} {r.ref}>{','.join(r.alts or ['.'])}")
              for r in batch]  # fmt: skip
    per_model = []
    for i, s in enumerate(scorers):
        s.progress = (lambda share, part=i: advance(share, part)) if i else advance
        per_model.append(s.score_alleles(inputs))
    per_tx: list[Any] = [None] * len(batch)
    if transcripts is not None:
        transcripts.progress = lambda share: advance(share, len(scorers))
        per_tx = transcripts.score_alleles(inputs)
    keys = [s.family.info_key for s in scorers]
    lines = []
    for r, (rec, tx) in enumerate(zip(batch, per_tx)):
        rec_alleles = [alleles[r] for alleles in per_model]
        summary.count_alleles(rec_alleles[0])
        if rec.chrom not in run.in_reference:
            run.in_reference[rec.chrom] = rec.chrom in scorers[0].genome
        if run.in_reference[rec.chrom]:
            summary.matched_records += 1
        else:
            summary.missing_chromosomes[rec.chrom] = summary.missing_chromosomes.get(rec.chrom, 0) + 1
        entries = [[e for a in alleles for e in a.entries] for alleles in rec_alleles]
        if any(entries):
            summary.scored += 1
        if len(scorers) > 1:
            for key, alleles in zip(keys, rec_alleles):
                summary.scored_by_field[key] = summary.scored_by_field.get(key, 0) + sum(bool(a.entries) for a in alleles)
        if run.table:
            lines.extend(_table_rows(run, rec, rec_alleles, tx))
            continue
        for key, found in zip(keys, entries):
            if found:
                rec.info[key] = found
        tx_entries = [e for a in tx for e in a.entries] if tx is not None else []
        if tx_entries:
            rec.info[f"{keys[0]}_TX"] = tx_entries
        lines.append(str(rec))
    return lines


def _table_rows(run: _Run, rec: Any, rec_alleles: list[list[AlleleResult]], tx: Any) -> list[str]:
    """The table rows of one record: per ALT, per model (the ``MODEL`` column in an extended run), per gene."""
    from nucleoforge.io.variant_table import table_rows
    from nucleoforge.splicing.scorer_settings import spliceai_format
    from nucleoforge.splicing.variants_header import is_extended

    def note(a: AlleleResult) -> str | None:
        return None if a.reason is None else reason_text(a.reason)

    head = (rec.chrom, rec.pos, rec.id or ".", rec.ref or ".")
    transcripts = run.transcripts is not None
    if not is_extended(run.scorers):
        shown = tx if tx is not None else rec_alleles[0]
        return table_rows(*head, ((a.alt, a.entries, note(a)) for a in shown), transcripts=transcripts)
    rows = []
    for j in range(len(rec_alleles[0])):
        for s, alleles in zip(run.scorers, rec_alleles):
            a = (tx if tx is not None else alleles)[j]
            rows.extend(table_rows(*head, [(a.alt, a.entries, note(a))], transcripts=transcripts,
                                   model=s.family.info_key, spliceai_entries=spliceai_format(s.family)))
    return rows


def sources_of(scorers: Sequence[VariantScorer]) -> dict[str, int]:
    """ALT alleles with entries per source (``model``, ``cache``, ``precomputed FILE``); in a run of
    several models per ``KEY SOURCE``."""
    if len(scorers) == 1:
        return dict(scorers[0].provenance)
    return {f"{s.family.info_key} {k}": v for s in scorers for k, v in s.provenance.items()}


def _write_batch(run: _Run, batch: list[Any], lines: list[str]) -> None:
    """Write one chunk's lines and flush (a table: a checkpoint); a full disk is one error line."""
    from nucleoforge.io.outputs import manifest_path
    from nucleoforge.io.vcf_output import OutputWriteError

    try:
        run.out.write("".join(lines))
        run.summary.records += len(batch)
        if run.table:
            run.out.checkpoint(run.summary.records)
        else:
            run.out.flush()
    except OutputWriteError as exc:  # a full disk: with a manifest, what was flushed can be resumed
        output_path = run.output_path
        resumable = run.manifest is not None and os.path.isfile(output_path) and manifest_path(output_path).is_file()
        raise exc.with_note("its complete records are kept: rerun with --resume once there is room"
                            if resumable else "the output is incomplete") from None


def _finish(run: _Run, provenance: str | None, check_chromosomes: bool) -> VcfRunSummary:
    """The summary of a written run; ``OUT.provenance.json`` beside a file output with a provenance line."""
    summary, scorer = run.summary, run.scorer
    summary.skipped = {k: v for k, v in scorer.counts.items()}
    summary.sources = sources_of(run.scorers)
    if provenance is not None and run.output_path != "-":
        import json

        from nucleoforge.io.outputs import atomic_output

        with atomic_output(run.output_path + ".provenance.json") as fh:
            fh.write(json.dumps({"header": provenance, "records": summary.records, "resumed": summary.resumed,
                                 "alleles_by_source": summary.sources}, indent=2) + "\n")  # fmt: skip
    if check_chromosomes:
        check_chromosomes_matched(summary, scorer.genome, run.input_path, run.output_path)
    return summary
