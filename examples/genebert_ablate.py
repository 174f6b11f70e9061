"""GeneBERT ablation that can detect an effect: arms × pretraining seeds, frozen-encoder probes,
a 6-mer baseline, paired differences with bootstrap intervals.

Data: the bundled Oct4 and MafK ChIP-seq peaks (``examples/data``; train peaks for pretraining
and probe training, the 100 held-out test peaks per TF for evaluation). Regions are cropped to
their central ``--crop`` bp *for the motif scan and for the sequence encoder alike*
(``scan_crop``), with the area resize of the region matrix, so both modalities see the same DNA
and every motif reaches the region encoder.

Arms (identical initialisation, data order and masks per seed: the same seed drives the model
construction, the Trainer's order and the collator's per-sample masks):

* ``full``    MGM + NGSP + λ·SRM (λ = ``--srm-weight``, paper 0.5)
* ``lambda0`` MGM + NGSP (no sequence–region matching)
* ``mgm``     MGM only
* ``random``  no pretraining (the same initial weights)

Readouts, per TF (positives = peaks, negatives = dinucleotide shuffles, central ``--probe-bp``):

* (a) a logistic-regression probe on the frozen encoder's mean-pooled last hidden states, with
  ``--labels`` labelled training sequences (half positive);
* (c) the same logistic regression on 6-mer counts (no model at all).

AUROC on the 200 test sequences per TF. For every seed, TF and label count the paired
difference ``full − lambda0`` (and ``full − random``) with a 95 % bootstrap interval over test
sequences (the same resample for both arms). Writes ``results.json`` and prints the tables.

    python examples/genebert_ablate.py --output runs/genebert_ablate            # defaults: ~15 min, 2 CPU threads
    python examples/genebert_ablate.py --output /tmp/x --steps 20 --seeds 0     # smoke run
    python examples/genebert_ablate.py --output runs/ablate_vit --region-encoder vit --arms full lambda0   # 2-D encoder table

Finished pretraining runs are reused when re-run with the same ``--output``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from nucleoforge.io.fasta import read_fasta
from nucleoforge.regions.datasets import build_region_dataset, central_crop, regions_from_fasta
from nucleoforge.regions.motifs import load_jaspar
from nucleoforge.shuffle import dinucleotide_shuffles
from nucleoforge.training.genebert import genebert_preset, pretrain_genebert

DATA = Path(__file__).resolve().parent / "data"
TFS = ("oct4", "mafk")
ARMS = {"full": None, "lambda0": dict(srm_weight=0.0), "mgm": dict(srm_weight=0.0, ngsp_weight=0.0), "random": None}


def peaks(tf: str, split: str) -> list[str]:
    name = f"{tf}_peaks_train.fa.gz" if split == "train" else f"{tf}_peaks_test.fa"
    return [r.sequence.upper() for r in read_fasta(DATA / name)]


def build_dataset(out: Path, args: argparse.Namespace) -> Path:
    path = out / f"regions_g{args.group_size}_crop{args.crop}"
    if not (path / "genebert_regions.json").is_file():
        regions = itertools.chain.from_iterable(regions_from_fasta(DATA / f"{tf}_peaks_train.fa.gz", tf) for tf in TFS)
        meta = build_region_dataset(regions, load_jaspar("JASPAR2018", "CORE", "vertebrates"), path,
                                    group_size=args.group_size, scan_crop=args.crop)  # fmt: skip
        print(f"[regions] {meta['num_samples']} samples {meta['conditions']}, {len(meta['motif_ids'])} motifs")
    return path


def config(arm: str, args: argparse.Namespace):
    overrides = dict(srm_weight=args.srm_weight, region_interpolation="area")
    overrides.update(ARMS[arm] or {})
    return genebert_preset("tiny", region_encoder=args.region_encoder, **overrides)


def pretrain(out: Path, dataset: Path, arm: str, seed: int, args: argparse.Namespace) -> Path:
    """The arm's sequence encoder; ``random`` = the initial weights every arm starts from."""
    run = out / f"{arm}_seed{seed}"
    if (run / "sequence" / "config.json").is_file():
        return run / "sequence"
    if arm == "random":
        from nucleoforge.models.genebert import GeneBertForPreTraining
        from nucleoforge.tokenization import NucleotideTokenizer

        torch.manual_seed(seed)  # as pretrain_genebert does before building the model
        cfg = config("full", args)
        GeneBertForPreTraining(cfg).save_sequence_model(run / "sequence", NucleotideTokenizer.for_model("dnabert", k=cfg.sequence_config.k))
        return run / "sequence"
    t0 = time.time()
    metrics = pretrain_genebert(dataset, run, config(arm, args), max_steps=args.steps, batch_size=args.batch_size,
                                learning_rate=args.lr, warmup_steps=max(1, args.steps // 10), seed=seed,
                                ngsp_negatives=args.ngsp_negatives, logging_steps=max(1, args.steps // 4),
                                save_steps=args.steps, disable_tqdm=True)  # fmt: skip
    print(f"[pretrain {arm} seed {seed}] {args.steps} steps in {time.time() - t0:.0f}s, train_loss {metrics['train_loss']:.3f}")
    return run / "sequence"


def embed(folder: Path, seqs: list[str], batch: int = 100) -> np.ndarray:
    """Mean-pooled last hidden states of a frozen sequence encoder."""
    from nucleoforge.models.genebert import GeneBertSequenceModel
    from nucleoforge.tokenization import NucleotideTokenizer

    model = GeneBertSequenceModel.from_pretrained(folder).eval()
    tok = NucleotideTokenizer.from_pretrained(folder)
    out = []
    with torch.no_grad():
        for i in range(0, len(seqs), batch):
            enc = tok(seqs[i : i + batch], padding=True, return_tensors="pt")
            h = model(**enc).last_hidden_state
            m = enc["attention_mask"][..., None].float()
            out.append(((h * m).sum(1) / m.sum(1)).numpy())
    return np.concatenate(out)


def kmer_counts(seqs: list[str], k: int = 6) -> np.ndarray:
    index = {"".join(p): i for i, p in enumerate(itertools.product("ACGT", repeat=k))}
    x = np.zeros((len(seqs), len(index)), dtype=np.float32)
    for r, s in enumerate(seqs):
        for kmer, n in Counter(s[i : i + k] for i in range(len(s) - k + 1)).items():
            if kmer in index:
                x[r, index[kmer]] = n
    return x


def probe(x_train, y_train, x_test) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=5000))
    return clf.fit(x_train, y_train).predict_proba(x_test)[:, 1]


def tasks(args: argparse.Namespace) -> dict[str, dict]:
    """Per TF: probe training pools and the fixed test set (sequences, labels)."""
    out = {}
    for tf in TFS:
        train = [central_crop(s, args.probe_bp) for s in peaks(tf, "train")]
        test = [central_crop(s, args.probe_bp) for s in peaks(tf, "test")]
        x_test = test + list(dinucleotide_shuffles(test, seed=1))
        out[tf] = {"pos": train, "neg": list(dinucleotide_shuffles(train, seed=2)), "x_test": x_test,
                   "y_test": np.array([1] * len(test) + [0] * len(test))}
    return out


def paired_bootstrap(y, p_a, p_b, n: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """AUROC(a) − AUROC(b) and its 95 % percentile interval over resampled test sequences."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(n):
        i = rng.integers(0, len(y), len(y))
        if y[i].min() == y[i].max():
            continue
        diffs.append(roc_auc_score(y[i], p_a[i]) - roc_auc_score(y[i], p_b[i]))
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    return float(roc_auc_score(y, p_a) - roc_auc_score(y, p_b)), float(lo), float(hi)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--output", type=Path, required=True)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--steps", type=int, default=600, help="pretraining steps per arm and seed")
    p.add_argument("--batch-size", type=int, default=16, help="pretraining batch (the paper's worst SRM batch, Table 8)")
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--srm-weight", type=float, default=0.5)
    p.add_argument("--group-size", type=int, default=4)
    p.add_argument("--crop", type=int, default=50, help="central bp of each region, scanned and read")
    p.add_argument("--region-encoder", default="swin", choices=["swin", "vit", "deit"])
    p.add_argument("--ngsp-negatives", default="same-condition", choices=["any", "same-condition"])
    p.add_argument("--labels", type=int, nargs="+", default=[200, 1000], help="labelled sequences for the probes")
    p.add_argument("--probe-bp", type=int, default=100)
    p.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS), help="arms to run (default: all four)")
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # loading an encoder out of a masked-LM folder lists the unused head
    if args.threads:
        torch.set_num_threads(args.threads)
    args.output.mkdir(parents=True, exist_ok=True)
    dataset = build_dataset(args.output, args)
    data = tasks(args)
    results: dict = {"settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}, "auroc": {}, "paired": []}
    from sklearn.metrics import roc_auc_score

    probs: dict = {}
    for seed in args.seeds:
        folders = {arm: pretrain(args.output, dataset, arm, seed, args) for arm in args.arms}
        for tf, d in data.items():
            feats = {arm: (embed(f, d["pos"] + d["neg"]), embed(f, d["x_test"])) for arm, f in folders.items()}
            feats["6-mer LR"] = (kmer_counts(d["pos"] + d["neg"]), kmer_counts(d["x_test"]))
            n_pos = len(d["pos"])
            for n in args.labels:
                rng = np.random.default_rng(1000 * seed + n)  # the same labelled subset for every arm
                pick = np.concatenate([rng.choice(n_pos, n // 2, replace=False), n_pos + rng.choice(n_pos, n // 2, replace=False)])
                y = np.array([1] * (n // 2) + [0] * (n // 2))
                for arm, (x_tr, x_te) in feats.items():
                    prob = probe(x_tr[pick], y, x_te)
                    probs[(seed, tf, n, arm)] = prob
                    results["auroc"].setdefault(f"{arm}|{tf}|{n}", []).append(round(float(roc_auc_score(d["y_test"], prob)), 4))
                for a, b in (("full", "lambda0"), ("full", "random"), ("lambda0", "random")):
                    if a not in folders or b not in folders:
                        continue
                    diff, lo, hi = paired_bootstrap(d["y_test"], probs[(seed, tf, n, a)], probs[(seed, tf, n, b)], seed=seed)
                    results["paired"].append({"seed": seed, "tf": tf, "labels": n, "a": a, "b": b,
                                              "diff": round(diff, 4), "ci95": [round(lo, 4), round(hi, 4)]})
    (args.output / "results.json").write_text(json.dumps(results, indent=1))

    arms = [*args.arms, "6-mer LR"]
    cols = [f"{tf} n={n}" for tf in TFS for n in args.labels]
    print(f"\nprobe AUROC (mean ± sd over {len(args.seeds)} seed(s))")
    print(f"{'arm':<10}" + "".join(f"{c:>18}" for c in cols))
    for arm in arms:
        cells = []
        for tf in TFS:
            for n in args.labels:
                v = np.array(results["auroc"][f"{arm}|{tf}|{n}"])
                cells.append(f"{v.mean():.3f} ± {v.std():.3f}")
        print(f"{arm:<10}" + "".join(f"{c:>18}" for c in cells))
    print("\npaired AUROC differences, 95 % bootstrap interval over test sequences")
    for r in results["paired"]:
        sure = "excludes 0" if r["ci95"][0] > 0 or r["ci95"][1] < 0 else "includes 0"
        print(f"seed {r['seed']} {r['tf']:<5} n={r['labels']:<5} {r['a']} − {r['b']}: {r['diff']:+.3f} "
              f"[{r['ci95'][0]:+.3f}, {r['ci95'][1]:+.3f}] ({sure})")
    print(json.dumps({"example": "genebert_ablate", "auroc": {k: float(np.mean(v)) for k, v in results["auroc"].items()}}))


if __name__ == "__main__":
    main()
