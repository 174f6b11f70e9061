"""GeneBERT pretraining: the collator (pairs, whole-k-mer masking, the mask-rate schedule), a run
end to end, and an exact resume."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModelForPreTraining, AutoModelForSequenceClassification

from nucleoforge.models.genebert import GeneBertForPreTraining, GeneBertSequenceForSequencePrediction
from nucleoforge.regions.datasets import build_region_dataset, regions_from_fasta
from nucleoforge.regions.motifs import load_jaspar
from nucleoforge.tokenization import NucleotideTokenizer
from nucleoforge.training.schedules import MaskingSchedule
from nucleoforge.training.genebert import GeneBertPretrainingCollator, pretrain_genebert
from tests.conftest import DATA
from tests.models.test_genebert import tiny_config


# ---------------------------------------------------------------------------- data → batches
@pytest.fixture(scope="module")
def region_dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("genebert") / "regions"
    regions = itertools.chain(
        regions_from_fasta(DATA / "oct4_peaks_test.fa", "oct4"), regions_from_fasta(DATA / "mafk_peaks_test.fa", "mafk")
    )
    motifs = [m for m in load_jaspar() if m.matrix_id in ("MA0142.1", "MA0496.2", "MA0139.1", "MA0004.1")]
    build_region_dataset(regions, motifs, out, group_size=4, shard_size=20, scan_crop=30)  # what region_crop=30 reads
    return out


def _collator(dataset_dir, k: int = 3, **kwargs) -> GeneBertPretrainingCollator:
    meta = json.loads((dataset_dir / "genebert_regions.json").read_text())
    tok = NucleotideTokenizer.for_model("dnabert", k=k)
    return GeneBertPretrainingCollator(tok, meta["affinity_mean"], meta["affinity_std"], **kwargs)


def test_collator_pairs_are_balanced_and_matched(region_dataset) -> None:
    from nucleoforge.regions.datasets import load_region_dataset

    ds = load_region_dataset(region_dataset)
    collator = _collator(region_dataset, region_crop=30, seed=0)
    rows = [ds[i] for i in range(9)]
    batch = collator(rows)
    assert int(batch["next_sentence_label"].sum()) == 4  # exactly B//2 random second segments
    ids, types, attn = batch["input_ids"], batch["token_type_ids"], batch["attention_mask"]
    n_tok = 2 * 30 - 3 + 1  # two 30-bp crops per segment, 3-mers
    assert ids.shape == (9, 2 * n_tok + 3) and bool(attn.all())
    assert (ids[:, 0] == 2).all() and (ids[:, n_tok + 1] == 3).all() and (ids[:, -1] == 3).all()
    assert (types[:, : n_tok + 2] == 0).all() and (types[:, n_tok + 2 :] == 1).all()
    meta = json.loads((region_dataset / "genebert_regions.json").read_text())
    mean, std = np.array(meta["affinity_mean"]), np.array(meta["affinity_std"])
    raw = batch["region_values"].numpy() * std + mean
    for i, row in enumerate(rows):
        aff = np.array(row["affinity"])
        np.testing.assert_allclose(raw[i, :2], aff[:2], atol=1e-4)  # segment A's regions are always the row's own
        if int(batch["next_sentence_label"][i]) == 0:
            np.testing.assert_allclose(raw[i, 2:], aff[2:], atol=1e-4)
        else:  # the region matrix follows the sequence: B's rows come from the partner sample
            partners = [j for j, r in enumerate(rows) if j != i and np.allclose(raw[i, 2:], np.array(r["affinity"])[2:], atol=1e-4)]
            assert partners
    # masked positions: labels hold the original tokens, never on special tokens
    labels = batch["labels"]
    assert ((labels != -100) & (types == 0))[:, 0].sum() == 0
    assert 0.08 < float((labels != -100).float().mean()) < 0.25


def _runs(mask: np.ndarray):
    start = 0
    for value, group in itertools.groupby(mask):
        n = len(list(group))
        yield (start, (value, iter(range(n))))
        start += n


def test_whole_kmer_masking_and_mask_schedule(region_dataset) -> None:
    from nucleoforge.regions.datasets import load_region_dataset

    ds = load_region_dataset(region_dataset)
    collator = _collator(region_dataset, region_crop=30, seed=0)
    rows = [ds[i] for i in range(len(ds))] * 4
    batch = collator(rows)
    ids, labels = batch["input_ids"].numpy(), batch["labels"].numpy()
    special = np.isin(np.where(labels >= 0, labels, ids), [0, 1, 2, 3])
    masked = labels >= 0
    assert not (masked & special).any()  # [CLS]/[SEP]/[PAD]/[UNK] are never masked
    # whole-k-mer rule: a masked k-mer's neighbours inside a segment are masked too unless at an edge
    segment = (batch["attention_mask"].numpy() == 1) & ~special
    assert 0.08 < masked[segment].mean() < 0.22
    for row_m, row_s in zip(masked, segment):
        runs = [(i, len(list(g))) for i, (v, g) in _runs(row_m) if v]
        inner = [n for start, n in runs if row_s[max(start - 1, 0)] and start + n < len(row_s) and row_s[start + n]]
        assert all(n >= collator.k for n in inner)
    collator.mask_rate = 0.2
    assert collator.masker.mlm_probability == 0.2
    schedule = MaskingSchedule.rates(collator.masker, 0.15, 0.20, final_steps=10)  # the one mask-rate schedule
    assert [schedule.rate_at(s, 60) for s in (0, 49, 50, 59)] == [0.15, 0.15, 0.20, 0.20]


def test_pretraining_runs_end_to_end(region_dataset, tmp_path) -> None:
    config = tiny_config()
    metrics = pretrain_genebert(
        region_dataset, tmp_path / "run", config, max_steps=4, batch_size=4, warmup_steps=1, logging_steps=2,
        save_steps=2, region_crop=30, final_mask_steps=2,
    )  # fmt: skip
    assert metrics["epoch"] > 0 and math.isfinite(metrics["train_loss"])
    state = json.loads((tmp_path / "run" / "trainer_state.json").read_text())
    logs = [e for e in state["log_history"] if "mgm_loss" in e]
    assert [e["step"] for e in logs] == [1, 2, 4]  # the first step is logged too (shared training defaults)
    assert [e["mask_rate"] for e in logs] == [0.15, 0.15, 0.2]
    assert all(e["loss"] == pytest.approx(e["mgm_loss"] + e["ngsp_loss"] + 0.5 * e["srm_loss"], abs=2e-3) for e in logs)
    assert type(AutoModelForPreTraining.from_pretrained(tmp_path / "run")) is GeneBertForPreTraining
    assert type(AutoModelForSequenceClassification.from_pretrained(tmp_path / "run" / "sequence")) is GeneBertSequenceForSequencePrediction
    # resume: two more steps from the last checkpoint
    pretrain_genebert(region_dataset, tmp_path / "run", config, max_steps=6, batch_size=4, warmup_steps=1,
                      logging_steps=2, save_steps=2, region_crop=30, resume=True)  # fmt: skip
    state = json.loads((tmp_path / "run" / "trainer_state.json").read_text())
    assert state["global_step"] == 6


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def test_pretraining_resume_is_exact_and_reads_the_checkpoint(region_dataset, tmp_path) -> None:
    """A run killed after checkpoint-4 and resumed ends where the uninterrupted run ends (weights,
    learning rate and mask rate of every later step); a resume that ignored the checkpoint would
    not see a change made to it."""
    import shutil

    from safetensors.torch import save_file

    config = tiny_config()
    kwargs = dict(max_steps=6, batch_size=4, warmup_steps=2, logging_steps=1, save_steps=2, region_crop=30,
                  final_mask_steps=2)  # fmt: skip
    straight = tmp_path / "straight"
    pretrain_genebert(region_dataset, straight, config, **kwargs)

    def killed_after_step_4(name: str) -> Path:
        run = tmp_path / name
        shutil.copytree(straight / "checkpoint-4", run / "checkpoint-4")
        return run

    resumed = killed_after_step_4("resumed")
    pretrain_genebert(region_dataset, resumed, config, resume=True, **kwargs)
    a, b = _weights(straight), _weights(resumed)
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=0, atol=1e-6, msg=key)
    logs = {name: {e["step"]: e for e in json.loads((run / "trainer_state.json").read_text())["log_history"] if "loss" in e}
            for name, run in (("a", straight), ("b", resumed))}  # fmt: skip
    for step in (5, 6):  # scheduler and mask-rate state carried across the resume
        assert logs["b"][step]["learning_rate"] == pytest.approx(logs["a"][step]["learning_rate"], rel=1e-9)
        assert logs["b"][step]["mask_rate"] == logs["a"][step]["mask_rate"] == 0.2
        assert logs["b"][step]["loss"] == pytest.approx(logs["a"][step]["loss"], abs=1e-5)
    assert logs["a"][6]["learning_rate"] < logs["a"][5]["learning_rate"]  # the linear decay is visible

    # the resumed run starts from the checkpoint's weights: change them and the end point moves
    changed = killed_after_step_4("changed")
    weights_file = changed / "checkpoint-4" / "model.safetensors"
    state = _weights(changed / "checkpoint-4")
    key = next(k for k in state if k.endswith("mgm_head.decoder.bias") or k.endswith("bias"))
    state[key] = state[key] + 1.0
    save_file(state, str(weights_file), metadata={"format": "pt"})
    pretrain_genebert(region_dataset, changed, config, resume=True, **kwargs)
    assert (_weights(changed)[key] - a[key]).abs().max() > 0.5


def test_pretraining_refuses_a_crop_the_motifs_were_not_scanned_on(region_dataset, tmp_path) -> None:
    from nucleoforge.training.genebert import check_modalities
    from tests.models.test_genebert import tiny_config

    meta = json.loads((region_dataset / "genebert_regions.json").read_text())
    check_modalities(meta, 30)  # the crop it was scanned on
    check_modalities(meta, None)  # the stored sequences are already those 30 bp
    with pytest.raises(ValueError, match=r"region_crop=20 would give the sequence encoder the central 20 bp of regions "
                                         r"whose motifs .* scanned on the central 30 bp: the two modalities would "
                                         r"describe different DNA. Build the dataset with scan_crop=20"):
        pretrain_genebert(region_dataset, tmp_path / "run", tiny_config(), max_steps=1, batch_size=2, region_crop=20)
    with pytest.raises(ValueError, match="scanned on whole regions"):
        check_modalities({"max_region_length": 200}, 50)


@pytest.mark.parametrize("mode", ["any", "same-condition"])
def test_ngsp_negatives_can_stay_within_a_condition(region_dataset, mode) -> None:
    """With same-condition negatives the random second segment comes from a row of the same
    condition, so telling Oct4 from MafK regions no longer solves NGSP."""
    from nucleoforge.regions.datasets import load_region_dataset

    ds = load_region_dataset(region_dataset)
    conds = ds["condition"]
    rows = [ds[i] for i in range(len(ds)) if conds[i] == "oct4"][:6] + [ds[i] for i in range(len(ds)) if conds[i] == "mafk"][:6]
    crossed = 0
    for seed in range(8):
        collator = _collator(region_dataset, seed=seed, ngsp_negatives=mode)
        batch = collator(rows)
        segments = [collator._split(r)[0] for r in rows]
        tok = collator.tokenizer
        for i, label in enumerate(batch["next_sentence_label"].tolist()):
            if not label:
                continue
            # the row whose second half is this row's second segment
            ids = torch.where(batch["labels"][i] != -100, batch["labels"][i], batch["input_ids"][i])  # unmasked
            second = ids[batch["token_type_ids"][i] == 1][:-1]
            sources = [j for j, s in enumerate(segments)
                       if tok.encode_sequences(["".join(s[len(s) // 2 :])], errors="replace")[0].tolist() == second.tolist()]
            assert sources and i not in sources
            crossed += rows[sources[0]]["condition"] != rows[i]["condition"]
    assert (crossed == 0) if mode == "same-condition" else (crossed > 0)


def test_unknown_ngsp_negatives_mode_is_refused(region_dataset) -> None:
    with pytest.raises(ValueError, match=r"ngsp_negatives must be one of \('any', 'same-condition'\), got 'other'"):
        _collator(region_dataset, ngsp_negatives="other")
