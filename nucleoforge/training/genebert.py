"""GeneBERT pretraining on a region dataset: the collator, the mask-rate schedule and a Trainer.

**Samples → model inputs** (:class:`GeneBertPretrainingCollator`). A dataset sample holds
``G`` consecutive regions of one condition (see :mod:`~nucleoforge.regions.datasets`).
Its first ``G//2`` regions form segment A and the rest segment B — two consecutive genome
segments of the same cell type (NGSP label 0). For exactly ``B//2`` rows of each batch, chosen
at random, segment B is replaced by segment B of another random row of the batch (label 1).
The region matrix given to the model always stacks the affinity rows of exactly the regions
whose sequences are in the input (A's, then B's), so sequence–region pairs stay matched for
the contrastive loss whatever the NGSP label. Input: ``[CLS] A [SEP] B [SEP]`` as overlapping
k-mers, token types 0 (A) / 1 (B); each region can be cropped to its central ``region_crop``
bp and each segment truncated to ``max_segment_tokens``. Affinities are standardised per
motif with the dataset's mean and std.

**Masked genome modelling.** Whole-k-mer masking as in DNABERT: centres are drawn among the
segment tokens with probability ``1 − (1 − rate)^(1/k)`` and each expands to the k contiguous
tokens ``[c − ⌊(k−1)/2⌋, c + ⌊k/2⌋]`` (never onto special tokens), so that about ``rate`` of
the tokens are masked — a single masked k-mer would be given away by its overlapping
neighbours. Masked tokens become ``[MASK]`` (80 %), a random k-mer (10 %) or stay (10 %). The
paper masks 15 % and 20 % for the last steps: the collators' one schedule,
:meth:`MaskingSchedule.rates <nucleoforge.training.schedules.MaskingSchedule.rates>`.

The trainer (:class:`GeneBertTrainer`) is transformers' ``Trainer`` plus logging of the three
loss terms and the NGSP accuracy; :func:`pretrain_genebert` wires everything (torchrun, bf16
and resuming are the Trainer's).
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import Trainer

from nucleoforge.errors import MissingPathError, NucleoforgeError
from nucleoforge.models.genebert.configuration_genebert import GeneBertConfig
from nucleoforge.training.collators import WholeKmerMaskingCollator
from nucleoforge.regions.datasets import central_crop
from nucleoforge.training.arguments import training_arguments
from nucleoforge.training.pretrain import follow_output_folder, replace_at_first_checkpoint
from nucleoforge.training.schedules import MASK_SEED, MaskingSchedule, StepMasking, mask_seed
from nucleoforge.tokenization import NucleotideTokenizer, kmer_count, pad_batch

__all__ = [
    "GeneBertPretrainingCollator",
    "GeneBertTrainer",
    "pretrain_genebert",
    "genebert_preset",
    "PRESETS",
]

#: model sizes for the CLI: ``tiny`` runs on a laptop CPU in minutes; ``base`` is the paper's
#: shape (DNABERT-6 12 × 768; Swin-T at 224 × 224, 3 channels, so ImageNet weights fit).
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {
        "sequence_config": dict(num_hidden_layers=2, hidden_size=128, num_attention_heads=4, intermediate_size=512,
                                hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1),
        "region_config": dict(model_type="swin", image_size=64, patch_size=4, num_channels=1, embed_dim=32,
                              depths=[2, 2], num_heads=[2, 4], window_size=4),
        "projection_dim": 64,
    },
    "small": {
        "sequence_config": dict(num_hidden_layers=4, hidden_size=256, num_attention_heads=4, intermediate_size=1024),
        "region_config": dict(model_type="swin", image_size=128, patch_size=4, num_channels=1, embed_dim=48,
                              depths=[2, 2, 2], num_heads=[3, 6, 12], window_size=4),
        "projection_dim": 128,
    },
    "base": {"sequence_config": {}, "region_config": dict(model_type="swin", image_size=224, num_channels=3)},
}  # fmt: skip


def genebert_preset(name: str, k: int = 6, region_encoder: str = "swin", **overrides: Any) -> GeneBertConfig:
    """A :class:`GeneBertConfig` from a preset (``tiny``, ``small``, ``base``) or a JSON file.

    ``region_encoder`` ``vit``/``deit`` swaps Swin for a plain ViT/DeiT of matching width
    (patch 8 for the small presets, 16 for base). ``overrides`` are top-level config fields.

    >>> c = genebert_preset("tiny", region_encoder="vit")
    >>> c.sequence_config.hidden_size, c.region_config.model_type, c.region_config.image_size
    (128, 'vit', 64)
    """
    if name in PRESETS:
        spec = json.loads(json.dumps(PRESETS[name]))  # deep copy
    elif os.path.isfile(name):
        with open(name, encoding="utf-8") as fh:
            try:
                spec = json.load(fh)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise NucleoforgeError(f"{name}: not a valid JSON GeneBERT config ({exc})") from None
    else:
        raise NucleoforgeError(f"unknown GeneBERT preset {name!r}: expected one of {sorted(PRESETS)} or a JSON config file")
    seq = dict(spec.get("sequence_config", {}))
    seq.setdefault("k", k)
    seq.setdefault("vocab_size", 5 + 4 ** seq["k"])
    region = dict(spec.get("region_config", {}))
    if region_encoder != region.get("model_type", "swin"):
        if region_encoder not in ("vit", "deit"):
            raise NucleoforgeError(f"region_encoder must be swin, vit or deit, got {region_encoder!r}")
        size = region.get("image_size", 224)
        width = int(region.get("embed_dim", 96) * 2 ** (len(region.get("depths", [2, 2, 6, 2])) - 1))
        heads = max(1, width // 32)
        region = dict(model_type=region_encoder, image_size=size, patch_size=16 if size >= 224 else 8,
                      num_channels=region.get("num_channels", 3), hidden_size=width, num_hidden_layers=2 if size < 224 else 12,
                      num_attention_heads=heads, intermediate_size=4 * width)  # fmt: skip
    spec = {k2: v for k2, v in spec.items() if k2 not in ("sequence_config", "region_config")}
    return GeneBertConfig(sequence_config=seq, region_config=region, **{**spec, **overrides})


#: where NGSP's random second segments come from (:class:`GeneBertPretrainingCollator`)
NGSP_NEGATIVES = ("any", "same-condition")


class GeneBertPretrainingCollator:
    """Builds GeneBERT pretraining batches from region-dataset rows (see the module docstring).

    Args:
        tokenizer: an ACGT k-mer :class:`~nucleoforge.tokenization.NucleotideTokenizer`
            (``NucleotideTokenizer.for_model("dnabert", k=6)``).
        affinity_mean, affinity_std: per-motif statistics (the dataset metadata's).
        mask_rate: fraction of segment tokens masked (:func:`pretrain_genebert` replaces ``masker``
            by a :class:`~nucleoforge.training.schedules.MaskingSchedule` of rates).
        max_segment_tokens: truncate each segment to this many k-mers (``None``: keep all).
        region_crop: crop each region to its central ``region_crop`` bp before concatenation
            (:func:`~nucleoforge.regions.datasets.central_crop`, the rule the dataset's
            ``scan_crop`` uses).
        seed: seed of each batch's generator (masking and negative pairs), together with the
            batch's ``sample_id``s.
        ngsp_negatives: where a "random" second segment comes from: ``any`` other row of the
            batch, or ``same-condition`` — another row of the same condition (cell type / TF),
            so that NGSP cannot be solved by telling conditions apart; a row with no other row
            of its condition in the batch stays a positive.
    """

    def __init__(
        self,
        tokenizer: NucleotideTokenizer,
        affinity_mean: Sequence[float],
        affinity_std: Sequence[float],
        mask_rate: float = 0.15,
        max_segment_tokens: int | None = None,
        region_crop: int | None = None,
        seed: int | None = None,
        ngsp_negatives: str = "any",
    ) -> None:
        if ngsp_negatives not in NGSP_NEGATIVES:
            raise NucleoforgeError(f"ngsp_negatives must be one of {NGSP_NEGATIVES}, got {ngsp_negatives!r}")
        self.ngsp_negatives = ngsp_negatives
        if getattr(tokenizer, "fourth_base", "T") != "T":
            raise NucleoforgeError("GeneBERT needs a DNA (ACGT) k-mer tokenizer; got a U vocabulary")
        self.tokenizer = tokenizer
        self.k = tokenizer.k
        self.mean = np.asarray(affinity_mean, dtype=np.float32)
        self.std = np.maximum(np.asarray(affinity_std, dtype=np.float32), 1e-6)
        # the shared whole-k-mer rule (DNABERT): every k-mer covering a selected nucleotide is masked, 80/10/10
        self.masker = WholeKmerMaskingCollator.from_tokenizer(tokenizer, mlm_probability=mask_rate)
        self.max_segment_tokens = max_segment_tokens
        self.region_crop = region_crop
        self.seed = seed

    def _generator(self, examples: list[dict[str, Any]]) -> np.random.Generator:
        """This batch's generator. It depends only on ``seed`` and the batch's ``sample_id``s, so a
        resumed run draws the same masks and negatives (the Trainer collates the first batch after
        a resume before it restores the global generators); rows without ids fall back to torch's
        global generator."""
        ids = [e.get("sample_id") for e in examples]
        if all(i is not None for i in ids):
            return np.random.default_rng([self.seed or 0, *(zlib.crc32(str(i).encode()) for i in ids)])
        draw = int(torch.randint(0, 2**62, (1,)).item())
        return np.random.default_rng(draw if self.seed is None else [self.seed, draw])

    @property
    def mask_rate(self) -> float:
        """Fraction of segment k-mers masked (the current stage's when ``masker`` is a schedule)."""
        return self.masker.mlm_probability

    @mask_rate.setter
    def mask_rate(self, value: float) -> None:
        if isinstance(self.masker, MaskingSchedule):
            raise NucleoforgeError("the mask rate follows the collator's MaskingSchedule; change its stages instead")
        self.masker.mlm_probability = value

    def _split(self, example: dict[str, Any]) -> tuple[list[str], np.ndarray]:
        seq, lengths = example["sequence"], list(example["region_lengths"])
        if sum(lengths) != len(seq):
            raise NucleoforgeError(f"sample {example.get('sample_id')}: region lengths sum to {sum(lengths)}, sequence has {len(seq)} bp")
        bounds = np.concatenate([[0], np.cumsum(lengths)])
        regions = [seq[bounds[i] : bounds[i + 1]] for i in range(len(lengths))]
        if self.region_crop is not None:
            regions = [central_crop(r, self.region_crop) for r in regions]
        return regions, np.asarray(example["affinity"], dtype=np.float32)

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        b = len(examples)
        rng = self._generator(examples)
        parts = [self._split(e) for e in examples]
        g = len(parts[0][0])
        if g < 2:
            raise NucleoforgeError("next-segment prediction needs samples of at least 2 regions (group_size >= 2)")
        half = g // 2
        labels_ngsp = np.zeros(b, dtype=np.int64)
        partner = np.arange(b)
        if b >= 2:
            negatives = rng.permutation(b)[: b // 2]
            conditions = [e.get("condition") for e in examples]
            for i in negatives:
                if self.ngsp_negatives == "same-condition":
                    others = [j for j in range(b) if j != i and conditions[j] == conditions[i]]
                    if not others:
                        continue  # no other row of this condition: stays a positive
                    partner[i] = others[int(rng.integers(len(others)))]
                else:
                    j = int(rng.integers(b - 1))
                    partner[i] = j + (j >= i)  # any other row
                labels_ngsp[i] = 1
        seg_a = ["".join(parts[i][0][:half]) for i in range(b)]
        seg_b = ["".join(parts[partner[i]][0][half:]) for i in range(b)]
        region = np.stack([np.concatenate([parts[i][1][:half], parts[partner[i]][1][half:]]) for i in range(b)])
        ids_a = self.tokenizer.encode_sequences(seg_a, errors="replace")
        ids_b = self.tokenizer.encode_sequences(seg_b, errors="replace")
        if self.max_segment_tokens is not None:
            ids_a = [x[: self.max_segment_tokens] for x in ids_a]
            ids_b = [x[: self.max_segment_tokens] for x in ids_b]
        tok = self.tokenizer
        rows = [np.concatenate([[tok.cls_token_id], a, [tok.sep_token_id], c, [tok.sep_token_id]]) for a, c in zip(ids_a, ids_b)]
        types = [np.repeat([0, 1], [len(a) + 2, len(c) + 1]) for a, c in zip(ids_a, ids_b)]
        input_ids, attention = pad_batch(rows, tok.pad_token_id)
        token_type, _ = pad_batch(types, 0)
        batch = {
            "input_ids": torch.from_numpy(input_ids),
            "attention_mask": torch.from_numpy(attention),
            "token_type_ids": torch.from_numpy(token_type),
            "next_sentence_label": torch.from_numpy(labels_ngsp),
            "region_values": torch.from_numpy((region - self.mean) / self.std),
        }
        if isinstance(self.masker, MaskingSchedule):  # masked by the trainer at the batch's step (StepMasking)
            batch[MASK_SEED] = mask_seed(rng)
            return batch
        input_ids, labels = self.masker.mask(input_ids, rng)
        batch["input_ids"], batch["labels"] = torch.from_numpy(input_ids), torch.from_numpy(labels)
        return batch


class GeneBertTrainer(StepMasking, Trainer):
    """``Trainer`` that also logs ``mgm_loss``, ``ngsp_loss``, ``srm_loss``, ``ngsp_accuracy``
    and the mask rate (means over the logging interval); with a mask-rate schedule
    (:attr:`masking`) it masks each batch at the step that trains it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._terms: dict[str, list[float]] = {}

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        inputs = self.mask_scheduled(inputs)
        outputs = model(**inputs)
        if model.training:
            for name in ("mgm_loss", "ngsp_loss", "srm_loss"):
                value = getattr(outputs, name)
                if value is not None:
                    self._terms.setdefault(name, []).append(float(value.detach()))
            rate = self.scheduled_rate()  # the rate this batch was masked at
            if rate is None and isinstance(self.data_collator, GeneBertPretrainingCollator):
                rate = self.data_collator.mask_rate
            if rate is not None:
                self._terms.setdefault("mask_rate", []).append(rate)
            if outputs.ngsp_logits is not None and "next_sentence_label" in inputs:
                acc = (outputs.ngsp_logits.argmax(-1) == inputs["next_sentence_label"]).float().mean()
                self._terms.setdefault("ngsp_accuracy", []).append(float(acc))
        return (outputs.loss, outputs) if return_outputs else outputs.loss

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model: torch.nn.Module | None = None) -> None:
        # transformers 5 saves the Swin region encoder under its legacy key names and converts
        # them back only in ``from_pretrained``; the Trainer's own loader skips that step and
        # silently leaves the region encoder (and more) untrained. Load through from_pretrained, and
        # refuse a checkpoint with missing or unknown weights (from_pretrained would initialise them).
        from nucleoforge.io.checkpoints import load_model_folder

        loaded = load_model_folder(type(self.model).from_pretrained, resume_from_checkpoint, model_types=["genebert"],
                                   what="a GeneBERT pretraining checkpoint")  # fmt: skip
        self.model.load_state_dict(loaded.state_dict(), strict=True)

    def log(self, logs: dict[str, float], *args: Any, **kwargs: Any) -> None:
        if self._terms and "loss" in logs:
            for name, values in self._terms.items():
                logs[name] = round(sum(values) / len(values), 4)
            self._terms = {}
        super().log(logs, *args, **kwargs)


def pretrain_genebert(
    dataset_dir: str | os.PathLike,
    output_dir: str | os.PathLike,
    config: GeneBertConfig,
    max_steps: int = 1000,
    batch_size: int = 32,
    learning_rate: float = 4e-4,
    warmup_steps: int = 100,
    weight_decay: float = 0.01,
    mask_rate: float = 0.15,
    final_mask_rate: float = 0.20,
    final_mask_steps: int | None = None,
    max_segment_tokens: int | None = None,
    region_crop: int | None = None,
    ngsp_negatives: str = "any",
    streaming: bool = False,
    seed: int = 42,
    bf16: bool = False,
    resume: bool | str = False,
    logging_steps: int = 20,
    save_steps: int = 500,
    region_weights: str | os.PathLike | None = None,
    report_to: str | list[str] = "none",
    overwrite: bool = False,
    **training_kwargs: Any,
) -> dict[str, Any]:
    """Pretrain GeneBERT on a dataset from :func:`~nucleoforge.regions.datasets.build_region_dataset`.

    ``final_mask_steps`` defaults to the paper's last 1/6 of the steps (20k of 120k). The model
    is saved to ``output_dir`` (with its tokenizer), the sequence encoder alone to
    ``output_dir/sequence`` (see :meth:`GeneBertPreTrainedModel.save_sequence_model`), and
    checkpoints every ``save_steps`` to ``output_dir/checkpoint-*``; ``resume=True`` continues
    from the latest one. Returns the final training metrics. ``output_dir`` must be missing or
    empty unless ``resume`` or ``overwrite`` (replace it; the old folder stays until the new
    run's first checkpoint exists).
    """
    from transformers.trainer_utils import get_last_checkpoint

    from nucleoforge.models.genebert.modeling_genebert import GeneBertForPreTraining
    from nucleoforge.io.output_folders import prepare_output_folder
    from nucleoforge.regions.datasets import load_region_dataset, read_region_metadata

    out = prepare_output_folder(output_dir, command="genebert pretrain", overwrite=overwrite, resume=bool(resume),
                                resumable=("checkpoint-*",), inputs=[dataset_dir, region_weights])
    output_dir = out.path  # a staging folder beside the old one until the first checkpoint (--overwrite)
    meta = read_region_metadata(dataset_dir)
    tokenizer = NucleotideTokenizer.for_model("dnabert", k=config.sequence_config.k)
    if tokenizer.vocab_size != config.sequence_config.vocab_size:
        raise NucleoforgeError(
            f"sequence_config.vocab_size is {config.sequence_config.vocab_size} but the {tokenizer.k}-mer "
            f"vocabulary has {tokenizer.vocab_size} tokens"
        )
    dataset = load_region_dataset(dataset_dir, streaming=streaming)
    dataset = dataset.shuffle(seed=seed, buffer_size=10_000) if streaming else dataset
    check_modalities(meta, region_crop, dataset_dir)
    collator = GeneBertPretrainingCollator(
        tokenizer, meta["affinity_mean"], meta["affinity_std"], mask_rate, max_segment_tokens, region_crop, seed,
        ngsp_negatives=ngsp_negatives,
    )
    max_len = config.sequence_config.max_position_embeddings
    longest = _longest_input(meta, tokenizer.k, max_segment_tokens, region_crop)
    if longest > max_len:
        raise NucleoforgeError(
            f"samples give up to {longest} tokens but the model has {max_len} positions; "
            "set max_segment_tokens / region_crop or a larger max_position_embeddings"
        )
    torch.manual_seed(seed)
    if region_weights is not None:
        model = GeneBertForPreTraining.from_encoders(config, region_path=region_weights)
    else:
        model = GeneBertForPreTraining(config)
    # the shared defaults (gloo under torchrun on CPU, per-rank data, no external loggers)
    # no eval set, so the eval batch size keeps its default; the data order follows ``seed`` unless data_seed is given
    training_kwargs = {"data_seed": None, **training_kwargs}
    args = training_arguments(
        output_dir, seed=seed, bf16=bf16, num_workers=0, max_steps=max_steps, per_device_train_batch_size=batch_size,
        learning_rate=learning_rate, warmup_steps=warmup_steps, weight_decay=weight_decay, lr_scheduler_type="linear",
        logging_steps=logging_steps, save_steps=save_steps, report_to=report_to,
        ddp_find_unused_parameters=config.srm_weight == 0 or config.ngsp_weight == 0,
        label_names=["labels", "next_sentence_label"], **training_kwargs,
    )  # fmt: skip
    final_steps = max_steps // 6 if final_mask_steps is None else final_mask_steps
    # mask_rate, then final_mask_rate for the last final_steps steps (paper: 15 %, 20 % for the last 20k of 120k)
    collator.masker = MaskingSchedule.rates(collator.masker, mask_rate, final_mask_rate, final_steps)
    checkpoint = None
    if resume:
        checkpoint = resume if isinstance(resume, str) else get_last_checkpoint(str(output_dir))
        if checkpoint is None:
            raise MissingPathError(f"{output_dir}: no checkpoint-* folder to resume from (run without --resume to start)")
    with out:  # an error before the first checkpoint removes the staging folder; the old one stays
        trainer = GeneBertTrainer(
            model=model,
            args=args,
            train_dataset=dataset,
            data_collator=collator,
        )
        trainer.masking = collator.masker
        if args.disable_tqdm:  # without a bar the Trainer prints every log dict instead (-q means quiet)
            from transformers.trainer_callback import PrinterCallback

            trainer.remove_callback(PrinterCallback)
        replace_at_first_checkpoint(trainer, out)
        result = trainer.train(resume_from_checkpoint=checkpoint)
    follow_output_folder(trainer, out)
    output_dir = out.target
    trainer.save_model(str(output_dir))
    tokenizer.save_pretrained(str(output_dir))
    if trainer.is_world_process_zero():
        model.save_sequence_model(Path(output_dir) / "sequence", tokenizer=tokenizer)
        trainer.save_state()
    return dict(result.metrics)


def check_modalities(meta: dict[str, Any], region_crop: int | None, dataset_dir: Any = "the dataset") -> None:
    """Refuse a ``region_crop`` under which the sequence encoder would read other DNA than the
    motifs were scanned on (the dataset's ``scan_crop``; absent = whole regions)."""
    scanned = meta.get("scan_crop")
    longest = meta.get("max_region_length")
    if region_crop is None or region_crop == scanned or (longest is not None and region_crop >= longest):
        return
    what = f"the central {scanned} bp" if scanned else "whole regions"
    raise NucleoforgeError(f"region_crop={region_crop} would give the sequence encoder the central {region_crop} bp of regions "
                     f"whose motifs {dataset_dir} scanned on {what}: the two modalities would describe different DNA. "
                     f"Build the dataset with scan_crop={region_crop} (genebert build-regions --scan-crop "
                     f"{region_crop}) and pretrain without region_crop")  # fmt: skip


def _longest_input(meta: dict[str, Any], k: int, max_segment_tokens: int | None, region_crop: int | None) -> int:
    """Upper bound on the token count of one pretraining input (from the dataset metadata)."""
    g = meta["group_size"]
    longest_region = meta.get("max_region_length")
    if longest_region is None:
        return 0  # unknown: the encoder raises a clear error if an input is too long
    per_region = min(longest_region, region_crop) if region_crop else longest_region
    halves = (g // 2, g - g // 2)
    seg = [kmer_count(h * per_region, k) for h in halves]
    if max_segment_tokens is not None:
        seg = [min(s, max_segment_tokens) for s in seg]
    return sum(seg) + 3

