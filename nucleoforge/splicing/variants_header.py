"""What a ``nucleoforge variants`` output says about how it was made: the ``##INFO`` lines of each
model's field, the ``##nucleoforge_model`` settings lines, the ``##nucleoforge_provenance`` lines of
a run with score sources, and the run manifest (with the check ``--resume`` makes of its models).

A run whose only field is ``SpliceAI`` writes the header it always wrote (byte-identical to
earlier versions; its ``-D`` / ``-M`` / weights are in the manifest). Every other run — several
models, or one under another INFO key — writes, after the ``##INFO`` lines, one line per field in
the order of the fields::

    ##nucleoforge_model=<ID=Pangolin,Weights="pangolin",Sha256=<weights sha256>,Distance=50,Mask=1,Options="calibrated=0">

(``Weights``: the ``--model`` name or folder; ``Options``: the family's settings, ``;``-separated),
and its manifest gets ``parameters.models``: per field ``{"info_key", "model", "sha256",
"distance", "mask", "options"}`` in the same order, which ``--resume`` compares first, naming
the field that differs.
"""

from __future__ import annotations

from typing import Any, Sequence

from nucleoforge.errors import NucleoforgeError
from nucleoforge.splicing.scoring_sources import genes_identity

__all__ = ["provenance_header", "provenance_lines", "variants_manifest", "info_lines", "model_lines",
           "model_settings", "is_extended", "check_models_match"]


def is_extended(scorers: Sequence[Any]) -> bool:
    """Whether a run writes the settings lines and ``parameters.models``: several fields, or one not called ``SpliceAI``."""
    return len(scorers) > 1 or scorers[0].family.info_key != "SpliceAI"


def _info_id(line: str) -> str:
    return line.split("ID=", 1)[1].split(",", 1)[0]


def info_lines(scorer: Any, transcripts: bool) -> list[str]:
    """The family's ``##INFO`` lines, renamed to the scorer's INFO key (``--model PATH=KEY``): the
    first line's field becomes ``KEY``, its per-transcript field ``KEY_TX``."""
    lines = list(scorer.family.info_lines(transcripts))
    if not lines:
        return lines
    key, old = scorer.family.info_key, _info_id(lines[0])
    if old == key:
        return lines
    renamed = {old: key, f"{old}_TX": f"{key}_TX"}
    return [line.replace(f"ID={_info_id(line)},", f"ID={renamed.get(_info_id(line), _info_id(line))},", 1)
            for line in lines]


def _model_name(scorer: Any) -> str:
    return str(getattr(scorer.model, "name_or_path", "") or "model")


def _model_sha256(scorer: Any) -> str:
    """The weights' sha256 (:func:`~nucleoforge.io.outputs.model_identity`), computed once per scorer."""
    from nucleoforge.io.outputs import model_identity

    cached = getattr(scorer, "_nucleoforge_model_sha256", None)
    if cached is None:
        cached = model_identity(scorer.model)["sha256"]
        scorer._nucleoforge_model_sha256 = cached
    return cached


def model_settings(scorer: Any) -> dict[str, Any]:
    """What one field was computed with: INFO key, weights (name, sha256), ``-D``, ``-M`` and the family's settings."""
    return {"info_key": scorer.family.info_key, "model": _model_name(scorer), "sha256": _model_sha256(scorer),
            "distance": scorer.distance, "mask": scorer.mask, "options": dict(scorer.family.run_parameters())}


def model_lines(scorers: Sequence[Any]) -> list[str]:
    """The ``##nucleoforge_model`` lines of an extended run (none otherwise), one per field in order."""
    if not is_extended(scorers):
        return []
    out = []
    for s in scorers:
        options = ";".join(s.family.provenance_fields()).replace('"', "'")
        out.append(f'##nucleoforge_model=<ID={s.family.info_key},Weights="{_model_name(s)}",Sha256={_model_sha256(s)},'
                   f'Distance={s.distance},Mask={int(s.mask)},Options="{options}">')
    return out


def provenance_header(scorer: Any) -> str | None:
    """The ``##nucleoforge_provenance=`` header line of a run that reads precomputed files or a
    cache (None otherwise): the model, annotation and reference identities, ``-D``, ``-M`` and the
    sources in the order they are asked. The line depends only on the run's settings, so a run that
    finds every score in the cache writes the same file as the run that filled it; how many ALT
    alleles came from each source goes to the summary line and ``OUT.provenance.json``."""
    if scorer.cache is None and not scorer.precomputed:
        return None
    setting = scorer.cache_setting()
    sources = [f"precomputed:{p.path}" for p in scorer.precomputed]
    sources += [f"cache:{scorer.cache.path}"] if scorer.cache is not None else []
    fields = [f"model={_model_name(scorer)}", f"model_sha256={_model_sha256(scorer)}",
              f"annotation={scorer.genes.source}", f"annotation_sha256={setting['annotation']['sha256']}",
              f"distance={scorer.distance}", f"mask={int(scorer.mask)}", *scorer.family.provenance_fields(),
              "sources=" + ",".join([*sources, "model"])]
    return "##nucleoforge_provenance=" + ";".join(f.replace(" ", "_") for f in fields)


def provenance_lines(scorers: Sequence[Any]) -> list[str]:
    """:func:`provenance_header` of every scorer that has sources; in an extended run each line
    starts with ``info=KEY;``."""
    out = []
    for s in scorers:
        line = provenance_header(s)
        if line is not None and is_extended(scorers):
            line = line.replace("=", f"=info={s.family.info_key};", 1)
        if line is not None:
            out.append(line)
    return out


def _transcript_ids_sha256(genes: Any) -> str:
    import hashlib

    return hashlib.sha256("\n".join(f"{g.symbol}|{g.transcript_id}" for g in genes).encode()).hexdigest()


def variants_manifest(scorer: Any, input_path: str, transcripts: Any = None) -> dict[str, Any]:
    """The run manifest of ``nucleoforge variants``: the input VCF, reference and gene table,
    ``-D``/``-M`` and the model's weights (see :mod:`nucleoforge.io.outputs`). ``scorer``: one
    scorer or the run's list; an extended run (:func:`is_extended`) adds ``parameters.models``
    (the first model's ``-D``/``-M``/weights stay where a single-model manifest has them)."""
    from nucleoforge.io.outputs import run_manifest

    scorers = list(scorer) if isinstance(scorer, (list, tuple)) else [scorer]
    first = scorers[0]
    precomputed = [p for s in scorers for p in s.precomputed]
    return run_manifest(
        "variants",
        inputs={"input": input_path, "reference": str(first.genome.path), "annotation": genes_identity(first.genes)},
        parameters={"distance": first.distance, "mask": first.mask, **first.family.run_parameters(),
                    # score files change entries, so a resume must read the same ones (by path, size and
                    # modification time: Illumina's files are tens of GB, too large to hash per run)
                    **({"precomputed": [{"path": str(p.path.resolve()), "size": p.path.stat().st_size,
                                         "mtime_ns": p.path.stat().st_mtime_ns} for p in precomputed]}
                       if precomputed else {}),
                    **({"transcripts": genes_identity(transcripts.genes) | {"ids": _transcript_ids_sha256(transcripts.genes)}}
                       if transcripts is not None else {}),
                    **({"models": [model_settings(s) for s in scorers]} if is_extended(scorers) else {})},
        model=first.model,
    )


def _models_difference(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> str | None:
    """One phrase naming the first difference between two ``parameters.models`` lists, or None."""
    old_keys, new_keys = [m.get("info_key") for m in old], [m.get("info_key") for m in new]
    if old_keys != new_keys:
        return f"INFO fields {', '.join(map(str, old_keys))} in the run being resumed, {', '.join(map(str, new_keys))} now"
    names = {"model": "weights", "sha256": "weights (sha256)", "distance": "-D", "mask": "-M", "options": "options"}
    for a, b in zip(old, new):
        for field, name in names.items():
            if a.get(field) != b.get(field):
                shown = (a.get("model"), b.get("model")) if field == "sha256" else (a.get(field), b.get(field))
                return f"{a.get('info_key')}: {name} {shown[0]} in the run being resumed, {shown[1]} now"
    return None


def check_models_match(output: str, scorers: Sequence[Any]) -> None:
    """Before a resume: refuse (one line) an output whose manifest lists other models or model
    settings than this run's. A manifest without ``parameters.models`` (a single ``SpliceAI``
    field) is left to the whole-manifest check, unless this run is extended."""
    from nucleoforge.io.outputs import manifest_path, read_manifest

    old = read_manifest(output)
    if old is None:
        return
    old_models = (old.get("parameters") or {}).get("models")
    if old_models is None and not is_extended(scorers):
        return
    if old_models is None:  # a single SpliceAI field then: its settings as an extended run lists them
        p = old.get("parameters") or {}
        old_models = [{"info_key": "SpliceAI", "model": (old.get("model") or {}).get("name"),
                       "sha256": (old.get("model") or {}).get("sha256"), "distance": p.get("distance"),
                       "mask": p.get("mask")}]
    new_models = [model_settings(s) for s in scorers]
    if old_models is not None and len(old_models) == 1 and "options" not in old_models[0]:
        new_models = [{k: v for k, v in m.items() if k != "options"} for m in new_models]
    diff = _models_difference(old_models, new_models)
    if diff:
        raise NucleoforgeError(f"cannot resume {output}: it was written with other models (see {manifest_path(output)}): "
                               f"{diff}. Rerun without --resume to start over, or write to another output")
