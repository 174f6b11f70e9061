"""SpliceAI commands: ``splice`` (per-position predictions), ``variants`` (VCF delta scores,
compatible with Illumina's ``spliceai``) and ``evaluate-splice`` (top-k / PR-AUC on genes)."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Optional

import typer

from nucleoforge.cli.app import app
from nucleoforge.cli.boundary import check_device, is_quiet, set_quiet

_MODEL_HELP = "SpliceAI weights: 'spliceai-10k' (converted from the installed spliceai wheel on first use) or a saved folder"
_VARIANTS_MODEL_HELP = ("splice weights (repeatable: one INFO field each, in this order): spliceai-10k, "
                        "openspliceai-mane-10k, cispliceai, pangolin … or a folder; NAME=KEY names the INFO field "
                        "(default SpliceAI, OpenSpliceAI, CISpliceAI or Pangolin by the weights)")
_CALIBRATED_HELP = "apply the model's per-class temperatures (fitted by calibrate-splice)"
_ALLOW_MISMATCH_HELP = ("go on (with one warning) when the reference, annotation and VCF look like different genome "
                        "builds (chromosome lengths, GT-AG intron ends)")


def _check_calibrated(model, name: str) -> None:
    from nucleoforge.errors import NucleoforgeError

    if model.config.calibration_temperatures is None:
        raise NucleoforgeError(f"--calibrated: the model {name} has no calibration temperatures; "
                         f"fit them first with `nucleoforge calibrate-splice --data DIR --model {name}`")


def _load_model(name: str, device: Optional[str], calibrated: bool = False):
    from nucleoforge.models.spliceai import SpliceAIModel

    check_device(device)
    from nucleoforge import registry

    entry = registry.family_of_name(name)
    if entry is not None and entry.kind != "spliceai" and not os.path.exists(name):  # `--model splicebert`
        from nucleoforge.errors import NucleoforgeError
        from nucleoforge.models.spliceai.configuration_spliceai import SPLICEAI_VARIANTS

        raise NucleoforgeError(f"--model {name}: a {entry.name} language model, not a splice model; pass one of "
                               f"{', '.join(SPLICEAI_VARIANTS)} or a folder written by `nucleoforge convert spliceai` "
                               "or `nucleoforge train-splice`")
    # another model type's folder, or missing/unexpected weights: a CheckpointError naming the folder
    model = SpliceAIModel.from_pretrained(name).eval()
    if calibrated:
        _check_calibrated(model, name)
    if device:
        model.to(device)
    return model


def _per_tissue_outputs(model, name: str, plot: Optional[Path], bedgraph: Optional[Path], inputs: dict,
                        output: Optional[Path]) -> None:
    """A per-tissue (Pangolin-head) model writes one column and one bedGraph track per tissue: the
    tracks' paths are checked like the other outputs; ``--plot`` (acceptor/donor panels) is refused."""
    from nucleoforge.splicing.predict import is_tissue_model, tissue_bedgraph_paths

    if not is_tissue_model(model):
        return
    if plot is not None:
        from nucleoforge.errors import NucleoforgeError

        raise NucleoforgeError(f"--plot draws acceptor/donor panels; --model {name} gives P(splice site) per tissue "
                               f"({', '.join(model.config.tissues)}): write --bedgraph PREFIX (one track per tissue) instead")
    if bedgraph:
        from nucleoforge.io.outputs import check_paths

        tracks = tissue_bedgraph_paths(bedgraph, model.config.tissues)
        check_paths(inputs, {"--output": output, **{f"--bedgraph ({k})": p for k, p in tracks.items()}})


def _print_licence(model) -> None:
    """The weights' licence line (stderr), once per run; ``-q`` leaves stderr empty."""
    if not is_quiet():
        from nucleoforge.models.spliceai import licence_notice

        typer.echo(licence_notice(model), err=True)


def _setup_logging(quiet: bool) -> None:
    if quiet:
        set_quiet()  # every progress bar (weight loading included) and warning
    logging.basicConfig(level=logging.ERROR if quiet else logging.WARNING, format="%(levelname)s: %(message)s", stream=sys.stderr)


@app.command("splice")
def splice(
    sequence: Optional[str] = typer.Argument(None, help="a sequence string (A/C/G/T/N), or omit and use --fasta/--region"),
    fasta: Optional[Path] = typer.Option(None, "--fasta", "-f", help="FASTA file: every record is predicted"),
    region: Optional[list[str]] = typer.Option(None, "--region", "-r", help="chrom:start-end[:strand] (1-based, inclusive); repeatable; needs --reference"),
    reference: Optional[Path] = typer.Option(None, "--reference", "-R", help="indexed (or gzip) reference FASTA for --region"),
    strand: str = typer.Option("+", "--strand", help="strand for a sequence string / FASTA records"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="TSV output (default: stdout)"),
    bedgraph: Optional[Path] = typer.Option(None, "--bedgraph", help="write acceptor/donor bedGraph tracks: PREFIX.acceptor.bedGraph, PREFIX.donor.bedGraph "
                                            "(a per-tissue model such as Pangolin: PREFIX.TISSUE.bedGraph)"),
    min_score: Optional[float] = typer.Option(None, "--min-score", help="list only positions whose acceptor or donor probability is >= this "
                                             "(per-tissue models: the highest tissue's)"),
    plot: Optional[Path] = typer.Option(None, "--plot", help="draw acceptor/donor tracks into this PNG (first input only; not for per-tissue models)"),
    annotation: Optional[str] = typer.Option(None, "--annotation", "-A", help="grch37, grch38, a SpliceAI-style table or a GTF: draws exons under --plot"),
    model_name: str = typer.Option("spliceai-10k", "--model", help=_MODEL_HELP),
    calibrated: bool = typer.Option(False, "--calibrated", help=_CALIBRATED_HELP),
    batch_size: int = typer.Option(4, min=1, help="windows per model call"),
    device: Optional[str] = typer.Option(None, help="torch device (cpu, cuda, ...)"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar"),
) -> None:
    """Predict acceptor/donor probabilities for every position of a sequence, FASTA or region.

    Output TSV columns: name, position (1-based; genomic for --region), acceptor, donor; with a
    per-tissue model (--model pangolin): name, position, heart, liver, brain, testis (P(splice
    site) per tissue, no acceptor/donor classes).
    Ends are padded with N; minus-strand inputs are reverse-complemented in and flipped
    back out, so rows always follow the forward coordinates.
    """
    from nucleoforge.io.outputs import check_paths
    from nucleoforge.io.tables import bedgraph_paths
    from nucleoforge.pipelines.splice_site import SpliceSitePipeline
    from nucleoforge.splicing.predict import splice_inputs, write_splice_predictions

    _setup_logging(quiet)
    quiet = is_quiet()
    given = sum(x is not None and x != [] for x in (sequence, fasta, region))
    if given != 1:
        raise typer.BadParameter("give exactly one of SEQUENCE, --fasta or --region")
    if region and reference is None:
        raise typer.BadParameter("--region needs --reference genome.fa")
    if strand not in ("+", "-"):
        raise typer.BadParameter(f"--strand must be + or -, got {strand!r}")
    tracks = bedgraph_paths(bedgraph) if bedgraph else {}
    # Inputs exist and no output is an input, before the model loads and anything is opened.
    given_inputs = {"--fasta": fasta, "--reference": reference}
    check_paths(given_inputs, {"--output": output, "--plot": plot, **{f"--bedgraph ({k})": p for k, p in tracks.items()}})
    if fasta is not None:
        from nucleoforge.errors import NucleoforgeError
        from nucleoforge.io.fasta import has_records

        if not has_records(fasta):  # else: an empty output without even its header line, and exit status 0
            raise NucleoforgeError(f"--fasta {fasta}: the file holds no FASTA record; expected '>name' header lines, "
                                   "each followed by its sequence")
    model = _load_model(model_name, device, calibrated)
    _per_tissue_outputs(model, model_name, plot, bedgraph, given_inputs, output)
    _print_licence(model)
    pipe = SpliceSitePipeline(model=model, device=device or next(model.parameters()).device)
    inputs = splice_inputs(sequence=sequence, fasta=fasta, regions=region or (), reference=reference, strand=strand,
                           flank=model.config.flank)
    first = write_splice_predictions(pipe, inputs, output=output, bedgraph=bedgraph, min_score=min_score,
                                     batch_size=batch_size, progress=not quiet, calibrated=calibrated)
    if plot and first is not None:
        from nucleoforge.splicing.plots import plot_tracks

        genes = None
        if annotation:
            from nucleoforge.io.annotation import GeneTable

            genes = GeneTable.load(annotation)
        plot_tracks(first, plot, genes=genes)
        typer.echo(f"wrote {plot}", err=True)


@app.command("variants")
def variants(
    input_vcf: str = typer.Option("-", "-I", "--input", help="input VCF/BCF (default: stdin)"),
    output_vcf: str = typer.Option("-", "-O", "--output", help="output VCF (.gz = bgzip; default: stdout), or a table "
                                   "for a .tsv / .tsv.gz name"),
    output_format: Optional[str] = typer.Option(None, "--format", help="vcf or tsv (one row per record x ALT x gene, "
                                                "skip reasons in NOTE); default: tsv for a .tsv/.tsv.gz -O, else vcf"),
    reference: Path = typer.Option(..., "-R", "--reference", help="reference FASTA (plain, bgzip or gzip; chr prefixes handled)"),
    annotation: str = typer.Option(..., "-A", "--annotation", help="grch37, grch38 (tables of the spliceai wheel), a table path, or a GTF"),
    distance: Optional[int] = typer.Option(None, "-D", "--distance", min=0, max=4999, help="max distance between the "
                                           "variant and a gained/lost splice site, for every --model (default: each "
                                           "model's original: 50; CI-SpliceAI 1000)"),
    mask: Optional[int] = typer.Option(None, "-M", "--mask", min=0, max=1, help="1 = mask annotated-site gains and "
                                       "unannotated-site losses, for every --model (default: each model's original: 0; "
                                       "Pangolin 1)"),
    resume: bool = typer.Option(False, "--resume", help="continue an interrupted run: keep the complete records already in -O "
                                "(refused unless -O's run manifest matches this run's input, reference, annotation, -D, -M and model)"),
    batch_size: int = typer.Option(16, min=1, help="ALT windows per model call"),
    chunk_size: int = typer.Option(256, min=1, help="records read, scored and written together"),
    model_names: Optional[list[str]] = typer.Option(None, "--model", metavar="MODEL[=KEY]", help=_VARIANTS_MODEL_HELP),
    score_cutoff: Optional[float] = typer.Option(None, "-s", "--score-cutoff", help="Pangolin models: list every site "
                                                 "whose score changes by at least this much, not only the largest "
                                                 "gain and loss"),
    score_exons: bool = typer.Option(False, "--score-exons", help="Pangolin models: the change at both splice sites of "
                                     "each annotated exon with a site within -D"),
    calibrated: bool = typer.Option(False, "--calibrated", help=_CALIBRATED_HELP + "; recorded in the run manifest"),
    cache: Optional[Path] = typer.Option(None, "--cache", help="SQLite score cache (created if missing; may be shared by "
                                         "concurrent runs): stored variants are not run through the model again; keyed by "
                                         "variant, annotation, reference, -D, -M and model weights"),
    transcripts: Optional[str] = typer.Option(None, "--transcripts", help="canonical or all: also score per transcript "
                                              "into INFO/SpliceAI_TX=ALLELE|SYMBOL|TRANSCRIPT_ID|DS_AG|...|DP_DL (needs a "
                                              "GTF/GFF3 -A; canonical = Ensembl_canonical/MANE_Select tag, else longest)"),
    precomputed: Optional[list[Path]] = typer.Option(None, "--precomputed", help="tabix-indexed VCF with a SpliceAI INFO "
                                                     "field (Illumina's score files, an earlier output; with several --model: "
                                                     "it serves each field its header declares); repeatable, asked "
                                                     "in order before --cache; its -D/-M/annotation are yours to match"),
    workers: int = typer.Option(1, "--workers", min=1, help="local processes scoring shards of consecutive records "
                                "(merged in input order into -O; one torch thread each)"),
    shard_size: int = typer.Option(2000, "--shard-size", min=1, help="with --workers/--ray-address: records per shard "
                                   "(at least; cut only between records far apart)"),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="score the shards on Ray actors: 'local' "
                                              "starts Ray here with --workers CPUs; 'auto' or HOST:PORT joins a running "
                                              "cluster (one actor per CPU unless --workers > 1; OUT's folder, -R, -A and "
                                              "--model on storage every node mounts); needs nucleoforge[distributed]"),
    incremental: bool = typer.Option(True, "--incremental/--full-alt-pass", help="predict single-base substitutions "
                                     "from the reference pass's activations (only the positions each one changes); "
                                     "--full-alt-pass runs a whole ALT window per substitution (same entries, slower)"),
    activation_memory: int = typer.Option(1024, "--activation-memory", min=1, help="MiB of reference activations kept "
                                          "at a time for --incremental (10k model: ~84 MiB per variant window at -D 50; "
                                          "longer runs of nearby variants are split to fit)"),
    allow_build_mismatch: bool = typer.Option(False, "--allow-build-mismatch", help=_ALLOW_MISMATCH_HELP),
    device: Optional[str] = typer.Option(None, help="torch device (cpu, cuda, ...)"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar, errors only"),
) -> None:
    """Score VCF variants with SpliceAI: adds INFO SpliceAI=ALLELE|SYMBOL|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL.

    Each model scores by its original command line's rules: SpliceAI and OpenSpliceAI as
    Illumina's `spliceai -I -O -R -A -D -M`, CI-SpliceAI as `cis-vcf` (-A grch37/grch38 take its
    own gene tables), Pangolin as `pangolin` (Pangolin=GENE|POS:GAIN|POS:LOSS|Warnings:...).
    Several --model options score several models in one pass (the input and the reference read
    once): one INFO field each, each at its original's -D/-M unless given, recorded in
    ##nucleoforge_model header lines. Records are batched
    and streamed, written in input order, and --resume continues an interrupted run. A file
    output gets OUTPUT.manifest.json (input checksums, settings, model identity), which
    --resume checks. -O out.tsv (or --format tsv) writes a table instead: one row per record x
    ALT x gene, and one per ALT left unscored with the reason in NOTE. The last line on stderr
    counts every ALT allele (scored, outside genes, skipped per reason); a run in which no
    chromosome name is in the reference keeps its output but exits with status 2.
    """
    from nucleoforge.splicing.scoring_vcf import output_format_of

    _setup_logging(quiet)
    quiet = is_quiet()
    if resume and output_vcf == "-":
        raise typer.BadParameter("--resume needs an output file (-O)")
    if input_vcf == "-":
        input_vcf = "/dev/stdin"
    # Inputs exist, no output is an input, a resumed input is a file: before anything loads.
    from nucleoforge.io.outputs import check_paths, check_resumable

    check_paths({"-I/--input": input_vcf, "-R/--reference": reference,
                 "-A/--annotation": annotation if Path(annotation).is_file() else None},
                {"-O/--output": output_vcf, **({"--cache": cache} if cache is not None else {})})
    for path in precomputed or []:  # each exists, and -O is none of them
        check_paths({"--precomputed": path}, {"-O/--output": output_vcf})
    if cache is not None and output_vcf != "-" and Path(output_vcf).resolve() == cache.resolve():
        raise typer.BadParameter(f"--cache {cache} is the output file -O; give the cache its own file")
    if resume:
        check_resumable({"-I/--input": input_vcf, "-R/--reference": reference})
    if transcripts is not None and transcripts not in ("canonical", "all"):
        raise typer.BadParameter(f"--transcripts {transcripts!r}: expected canonical or all")
    output_format = output_format_of(output_vcf, output_format)  # a bad --format: one error, before anything loads
    from nucleoforge.io.builds import check_build
    from nucleoforge.splicing.scorer_settings import ScoringSettings
    from nucleoforge.splicing.variants_run import run_variants

    names = list(model_names or ["spliceai-10k"])
    if transcripts is not None and len(names) > 1:
        raise typer.BadParameter(f"--transcripts scores one model; this run has {len(names)} (--model "
                                 f"{' --model '.join(names)}): score the others in a run of their own")
    settings = ScoringSettings(reference=str(reference), annotation=annotation, model=names[0],
                               batch_size=batch_size, chunk_size=chunk_size, calibrated=calibrated,
                               device=device, cache=str(cache) if cache is not None else None,
                               precomputed=[str(p) for p in precomputed or []], transcripts=transcripts,
                               incremental=incremental, activation_memory=activation_memory << 20,
                               output_format=output_format)  # fmt: skip
    check_build(reference, annotation, vcf=input_vcf, allow=allow_build_mismatch)  # one build, before the model loads
    # a wrong folder, missing temperatures, a duplicate INFO key, a Pangolin option without Pangolin: one error, now
    models = _variant_models(settings, names, distance, mask, score_cutoff, score_exons, calibrated)
    first = settings.models[0]
    settings.model, settings.distance, settings.mask = first.spec, first.distance, first.mask  # type: ignore[assignment]
    result = run_variants(settings, input_vcf, output_vcf, resume=resume, workers=workers, shard_size=shard_size,
                          model=None if workers > 1 or ray_address else models,  # workers load their own
                          ray_address=ray_address, progress=not quiet)
    for line in [] if quiet else _licence_lines(models):  # once per run, before the summary line; -q: none
        typer.echo(line, err=True)
    typer.echo(result.line, err=True)


def _variant_models(settings, names: list[str], distance: Optional[int], mask: Optional[int],
                    score_cutoff: Optional[float], score_exons: bool, calibrated: bool) -> list:
    """Load every ``--model`` (``NAME`` or ``NAME=KEY``) and put the resolved specs (INFO key,
    ``-D``/``-M`` given or the model's defaults, Pangolin's options) into ``settings.models``."""
    from nucleoforge.splicing.scorer_settings import ModelSpec, check_info_key, parse_model_option, resolve_specs

    specs, models = [], []
    for name in names:
        spec, key = parse_model_option(name)
        if key is not None:
            check_info_key(key)
        models.append(_load_model(spec, settings.device, calibrated))
        specs.append(ModelSpec(spec, key, distance, None if mask is None else bool(mask)))
    pangolin = [getattr(m.config, "weights_family", "") == "pangolin" or getattr(m.config, "head", "") == "pangolin"
                for m in models]
    options = {**({"score_cutoff": score_cutoff} if score_cutoff is not None else {}),
               **({"score_exons": True} if score_exons else {})}
    if options and not any(pangolin):
        given = "--score-cutoff" if score_cutoff is not None else "--score-exons"
        raise typer.BadParameter(f"{given} is an option of Pangolin models; this run has none (add --model pangolin)")
    for spec, is_pangolin in zip(specs, pangolin):
        if is_pangolin and options:
            spec.family_options = dict(options)
    settings.models = resolve_specs(specs, models)
    return models


def _licence_lines(models: list) -> list[str]:
    """The weights' licence line of each model of the run, each once."""
    from nucleoforge.models.spliceai import licence_notice

    return list(dict.fromkeys(licence_notice(m) for m in models))


@app.command("evaluate-splice")
def evaluate_splice(
    reference: Optional[Path] = typer.Option(None, "--reference", "-R", help="reference FASTA whose coordinates match the annotation"),
    annotation: str = typer.Option("grch37", "--annotation", "-A", help="grch37, grch38, a table path or a GTF"),
    data: Optional[Path] = typer.Option(None, "--data", "-d", help="instead of --reference/--region: score a split of a "
                                        "`nucleoforge splice-data` folder (its counted positions)"),
    split: str = typer.Option("test", "--split", help="with --data: train, validation or test"),
    region: Optional[list[str]] = typer.Option(None, "--region", "-r", help="chrom:start-end; genes whose transcript lies inside are evaluated (repeatable)"),
    gene: Optional[list[str]] = typer.Option(None, "--gene", "-g", help="evaluate these genes by name (repeatable)"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="also write per-gene results as TSV"),
    model_name: str = typer.Option("spliceai-10k", "--model", help=_MODEL_HELP + "; with --data also a token head "
                                   "trained by train-splice --model-type"),
    calibrated: bool = typer.Option(False, "--calibrated", help=_CALIBRATED_HELP),
    batch_size: int = typer.Option(4, min=1, help="windows per model call"),
    allow_build_mismatch: bool = typer.Option(False, "--allow-build-mismatch", help=_ALLOW_MISMATCH_HELP),
    device: Optional[str] = typer.Option(None, help="torch device"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar"),
) -> None:
    """SpliceAI's metrics on annotated genes: top-k accuracy and PR-AUC for acceptors and donors.

    Each gene is predicted over its transcript (flanks outside it as N, as in SpliceAI's
    training data); labels are the gene table's exon boundaries. With --data, the counted
    positions of a splice-data split instead (the code train-splice validates with; any model
    train-splice writes, token heads included). Prints a table and a final JSON line.
    A per-tissue model (--model pangolin) has no acceptor/donor classes: it is scored as a
    splice-site detector (positives acceptor or donor, score the highest tissue's P(splice site);
    site_* keys, per-class numbers with the same score, and the rule under "score").
    """
    from nucleoforge.io.annotation import GeneTable
    from nucleoforge.io.builds import check_build
    from nucleoforge.io.genome import Genome
    from nucleoforge.splicing.evaluation import evaluate_genes, select_genes

    _setup_logging(quiet)
    quiet = is_quiet()
    if data is not None:
        if reference is not None or region or gene or output is not None:
            raise typer.BadParameter("--data scores a dataset split; it cannot be combined with --reference, --region, --gene or --output")
        from nucleoforge.splicing.split_evaluation import evaluate_split, load_splice_model
        from nucleoforge.io.splice_h5 import read_splice_dataset

        read_splice_dataset(data).file(split)  # the data first: one error naming the folder before any model loads
        check_device(device)
        model, tokenizer = load_splice_model(model_name)
        if tokenizer is None:  # a SpliceAI model (not a token head trained here)
            _print_licence(model)
        if calibrated and tokenizer is None:
            _check_calibrated(model, model_name)
        result = evaluate_split(model, data, split, tokenizer=tokenizer, batch_size=batch_size, device=device,
                                calibrated=calibrated, progress=not quiet, name=model_name)  # fmt: skip
        typer.echo(result.table())
        typer.echo(json.dumps(result.summary()))
        return
    if reference is None:
        raise typer.BadParameter("give --reference (with --region and/or --gene), or --data")
    if not region and not gene:
        raise typer.BadParameter("give --region and/or --gene")
    from nucleoforge.io.outputs import check_paths

    # -o is not the reference or the annotation, before anything loads (the model included)
    check_paths({"--reference": reference, "--annotation": annotation if Path(annotation).is_file() else None},
                {"--output": output})
    genome = Genome(reference)
    genes = GeneTable.load(annotation)
    chosen = select_genes(genes, genome, regions=region or [], names=gene or [])
    if not chosen:
        raise typer.BadParameter("no annotated gene lies inside the given region(s) / names")
    check_build(reference, annotation, genome=genome, genes=genes, allow=allow_build_mismatch, action="evaluate",
                positions=[(genes[i].chrom, genes[i].tx_start + 1) for i in chosen])  # one build, before the model
    model = _load_model(model_name, device, calibrated)
    _print_licence(model)
    result = evaluate_genes(model, genome, genes, chosen, batch_size=batch_size, device=device, progress=not quiet,
                            calibrated=calibrated)
    typer.echo(result.table())
    if output:
        result.write_tsv(output)
    typer.echo(json.dumps(result.summary()))
