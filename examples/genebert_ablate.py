"""GeneBERT ablation that can detect an effect: arms × pretraining seeds, frozen-encoder probes,
short fine-tunes with the learning rate picked on a validation split, a 6-mer baseline, a
promoter task, paired differences with bootstrap intervals.

Data: the bundled Oct4 and MafK ChIP-seq peaks (``examples/data``; train peaks for pretraining
and for the readouts' training sets, the 100 held-out test peaks per TF for evaluation). Regions
are cropped to their central ``--crop`` bp *for the motif scan and for the sequence encoder
alike* (``scan_crop``), with the area resize of the region matrix, so both modalities see the
same DNA and every motif reaches the region encoder.

Arms (identical initialisation, data order and masks per seed: the same seed drives the model
construction, the Trainer's order and the collator's per-sample masks):

* ``full``    MGM + NGSP + λ·SRM (λ = ``--srm-weight``, paper 0.5)
* ``lambda0`` MGM + NGSP (no sequence–region matching)
* ``mgm``     MGM only
* ``random``  no pretraining (the same initial weights)

Tasks: ``oct4`` / ``mafk`` (positives = peaks, negatives = dinucleotide shuffles, central
``--probe-bp``; 200 test sequences each) and ``promoter``: the 70 bp cores (−34…+35) of the 19
GRCh37 transcription start sites in the bundled chr22 block (SpliceAI's ``grch37`` table) against
10 GC-matched intronic/intergenic windows each (:mod:`nucleoforge.regions.promoters`), read out
by ``--promoter-folds``-fold cross-validation grouped by promoter.

Readouts (``--readouts``):

* ``probe``    logistic regression on the frozen encoder's mean-pooled last hidden states, with
  ``--labels`` labelled training sequences (half positive; promoter: the training folds);
* ``finetune`` the encoder with a new sequence head, ``--finetune-epochs`` epochs at every
  learning rate of ``--finetune-lrs``, on 80 % of ``--finetune-labels`` sequences; the rate (and
  epoch) with the best AUROC on the other 20 % predicts the test set (promoter: per fold, the
  validation split is a fifth of the training folds' promoters);
* the same logistic regression on 6-mer counts (no model at all) as the reference.

AUROC on the test sequences. For every seed, task and readout the paired difference
``full − lambda0`` (and ``full − random``, ``lambda0 − random``) with a 95 % bootstrap interval
over test sequences (promoter: over promoter groups; the same resample for both arms). Writes
``results.json`` and prints the tables.

    python examples/genebert_ablate.py --output runs/genebert_ablate            # defaults: ≤ 30 min, 2 CPU threads
    python examples/genebert_ablate.py --output /tmp/x --steps 20 --seeds 0     # smoke run
    python examples/genebert_ablate.py --output runs/ablate_vit --region-encoder vit --arms full lambda0   # 2-D encoder table

GPU (bf16 autocast; ``--batch-size`` is per process, and the SRM negatives are all-gathered
across ranks, so the contrastive batch is the global one)::

    torchrun --nproc-per-node 8 examples/genebert_ablate.py --output runs/gpu --batch-size 256 --bf16   # pretraining
    python examples/genebert_ablate.py --output runs/gpu --batch-size 256 --bf16                       # readouts

Under torchrun the script pretrains every arm and seed and stops; the plain run after it finds
the finished runs and does the readouts on one device. Finished pretraining runs and fine-tunes
are reused whenever the script is re-run with the same ``--output``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import json
import os
import shutil
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from nucleoforge.io.annotation import GeneTable
from nucleoforge.io.fasta import read_fasta
from nucleoforge.io.genome import Genome, place_subsequence_records
from nucleoforge.regions.datasets import METADATA_FILE, build_region_dataset, central_crop, regions_from_fasta
from nucleoforge.regions.motifs import load_jaspar
from nucleoforge.regions.promoters import promoter_windows, write_promoter_table
from nucleoforge.shuffle import dinucleotide_shuffles
from nucleoforge.training.genebert import genebert_preset, pretrain_genebert

DATA = Path(__file__).resolve().parent / "data"
TFS = ("oct4", "mafk")
TASKS = (*TFS, "promoter")
ARMS = {"full": None, "lambda0": dict(srm_weight=0.0), "mgm": dict(srm_weight=0.0, ngsp_weight=0.0), "random": None}
PAIRS = (("full", "lambda0"), ("full", "random"), ("lambda0", "random"))
WORLD = int(os.environ.get("WORLD_SIZE", "1"))
RANK = int(os.environ.get("RANK", "0"))


def peaks(tf: str, split: str) -> list[str]:
    name = f"{tf}_peaks_train.fa.gz" if split == "train" else f"{tf}_peaks_test.fa"
    return [r.sequence.upper() for r in read_fasta(DATA / name)]


def build_dataset(out: Path, args: argparse.Namespace) -> Path:
    path = out / f"regions_g{args.group_size}_crop{args.crop}"
    if RANK != 0:  # torchrun: rank 0 builds, the others wait for its metadata file (written last)
        while not (path / METADATA_FILE).is_file():
            time.sleep(1)
        return path
    if not (path / METADATA_FILE).is_file():
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
        if RANK == 0:
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
                                save_steps=args.steps, bf16=args.bf16, disable_tqdm=True)  # fmt: skip
    if RANK == 0:
        print(f"[pretrain {arm} seed {seed}] {args.steps} steps × {args.batch_size * WORLD} in {time.time() - t0:.0f}s, "
              f"train_loss {metrics['train_loss']:.3f}")  # fmt: skip
    return run / "sequence"


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def embed(folder: Path, seqs: list[str], bf16: bool = False, batch: int = 100) -> np.ndarray:
    """Mean-pooled last hidden states of a frozen sequence encoder."""
    from nucleoforge.models.genebert import GeneBertSequenceModel
    from nucleoforge.tokenization import NucleotideTokenizer

    dev = device()
    model = GeneBertSequenceModel.from_pretrained(folder).eval().to(dev)
    tok = NucleotideTokenizer.from_pretrained(folder)
    out = []
    with torch.no_grad(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
        for i in range(0, len(seqs), batch):
            enc = tok(seqs[i : i + batch], padding=True, return_tensors="pt").to(dev)
            h = model(**enc).last_hidden_state.float()
            m = enc["attention_mask"][..., None].float()
            out.append(((h * m).sum(1) / m.sum(1)).cpu().numpy())
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
    """Standardised L2 logistic regression (class-balanced: a no-op on the balanced TF sets)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=5000, class_weight="balanced"))
    return clf.fit(x_train, y_train).predict_proba(x_test)[:, 1]


def write_rows(path: Path, seqs: list[str], labels) -> Path:
    with open(path, "w") as fh:
        fh.write("sequence\tlabel\n")
        fh.writelines(f"{s}\t{int(y)}\n" for s, y in zip(seqs, labels))
    return path


def finetune_readout(folder: Path, run: Path, train: tuple[list[str], np.ndarray], val: tuple[list[str], np.ndarray],
                     test: list[str], seed: int, epochs: float, args: argparse.Namespace) -> tuple[np.ndarray, dict]:  # fmt: skip
    """Fine-tune ``folder`` with a new head at every ``--finetune-lrs`` rate (best epoch by
    validation AUROC kept); the rate with the best validation AUROC scores ``test``."""
    from nucleoforge.training.finetune import finetune, predict
    from nucleoforge.training.pretrain import load_model

    run.mkdir(parents=True, exist_ok=True)
    tr, va = write_rows(run / "train.tsv", *train), write_rows(run / "val.tsv", *val)

    def run_lr(lr: float, out: Path) -> None:
        with contextlib.redirect_stdout(io.StringIO()):  # the Trainer prints every evaluation
            finetune(tr, out, eval=va, model=folder, epochs=epochs, batch_size=args.finetune_batch_size,
                     learning_rate=lr, seed=seed, bf16=args.bf16 or None, patience=None, disable_tqdm=True,
                     logging_steps=10**6)  # fmt: skip
        for ckpt in out.glob("checkpoint-*"):
            shutil.rmtree(ckpt)  # the best epoch's weights are in out/ itself

    best: tuple[float, float, Path] | None = None
    for lr in args.finetune_lrs:
        out = run / f"lr{lr:g}"
        if not (out / "metrics.json").is_file():
            run_lr(lr, out)
        auc = json.loads((out / "metrics.json").read_text())["eval"]["eval_auroc"]
        if best is None or auc > best[0]:
            best = (auc, lr, out)
    assert best is not None
    if not (best[2] / "model.safetensors").is_file():  # chosen now, dropped by an earlier run's choice
        run_lr(best[1], best[2])
    for lr in args.finetune_lrs:  # keep the metrics of every rate, the weights of the chosen one
        if run / f"lr{lr:g}" != best[2]:
            for f in (run / f"lr{lr:g}").glob("*.safetensors"):
                f.unlink()
    net, tok = load_model(best[2], "ForSequencePrediction")
    scores = np.array([v[0] for v in predict(net.to(device()), tok, test, batch_size=100)])
    return scores, {"lr": best[1], "val_auroc": round(best[0], 4)}


def tf_tasks(args: argparse.Namespace) -> dict[str, dict]:
    """Per TF: training pools and the fixed test set (sequences, labels)."""
    out = {}
    for tf in TFS:
        train = [central_crop(s, args.probe_bp) for s in peaks(tf, "train")]
        test = [central_crop(s, args.probe_bp) for s in peaks(tf, "test")]
        out[tf] = {"pos": train, "neg": list(dinucleotide_shuffles(train, seed=2)), "x_test": test + list(dinucleotide_shuffles(test, seed=1)),
                   "y_test": np.array([1] * len(test) + [0] * len(test)), "groups": None}  # fmt: skip
    return out


def promoter_task(out: Path, args: argparse.Namespace) -> dict:
    """The chr22 promoter set (written to ``promoters.tsv``) and its grouped folds."""
    genome = out / "GRCh37_chr22_placed.fa"
    if not genome.is_file():
        place_subsequence_records(DATA / "GRCh37_chr22_20000001-21000000.fa.gz", genome)
    windows = promoter_windows(Genome(genome), GeneTable.load("grch37"))
    summary = write_promoter_table(windows, out / "promoters.tsv")
    print(f"[promoter] {summary['kinds']} windows of 70 bp; GC promoters {summary['gc_promoter']:.3f}, "
          f"negatives {summary['gc_negative']:.3f}")  # fmt: skip
    groups = np.array([w.group for w in windows])
    order = np.random.default_rng(0).permutation(groups.max() + 1)  # the same folds for every arm and seed
    fold_of = {int(g): i % args.promoter_folds for i, g in enumerate(order)}
    return {"x_test": [w.sequence for w in windows], "y_test": np.array([w.label for w in windows]),
            "groups": groups, "folds": np.array([fold_of[int(g)] for g in groups]), "summary": summary}  # fmt: skip


def paired_bootstrap(y, p_a, p_b, groups=None, n: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """AUROC(a) − AUROC(b) and its 95 % percentile interval over resampled test sequences
    (or over whole ``groups`` when given)."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(groups == g) for g in np.unique(groups)] if groups is not None else None
    diffs = []
    for _ in range(n):
        if members is None:
            i = rng.integers(0, len(y), len(y))
        else:
            i = np.concatenate([members[j] for j in rng.integers(0, len(members), len(members))])
        if y[i].min() == y[i].max():
            continue
        diffs.append(roc_auc_score(y[i], p_a[i]) - roc_auc_score(y[i], p_b[i]))
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    return float(roc_auc_score(y, p_a) - roc_auc_score(y, p_b)), float(lo), float(hi)


def readouts_tf(d: dict, folders: dict[str, Path], seed: int, out: Path, tf: str, args) -> dict[tuple[str, str], np.ndarray]:
    """{(arm, readout): test scores} for one TF."""
    scores: dict[tuple[str, str], np.ndarray] = {}
    n_pos = len(d["pos"])

    def pick(n: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(1000 * seed + n)  # the same labelled subset for every arm and readout
        return rng.choice(n_pos, n // 2, replace=False), n_pos + rng.choice(n_pos, n // 2, replace=False)

    if "probe" in args.readouts:
        picks = {n: np.concatenate(pick(n)) for n in args.labels}
        used = np.unique(np.concatenate(list(picks.values())))  # only labelled sequences are embedded
        seqs = [(d["pos"] + d["neg"])[i] for i in used]
        feats = {arm: (embed(f, seqs, args.bf16), embed(f, d["x_test"], args.bf16)) for arm, f in folders.items()}
        feats["6-mer LR"] = (kmer_counts(seqs), kmer_counts(d["x_test"]))
        for n, rows in picks.items():
            y = np.array([1] * (n // 2) + [0] * (n // 2))
            for arm, (x_tr, x_te) in feats.items():
                scores[(arm, f"probe n={n}")] = probe(x_tr[np.searchsorted(used, rows)], y, x_te)
    if "finetune" in args.readouts:
        n = args.finetune_labels
        pos, neg = pick(n)
        cut = int(0.8 * (n // 2))
        seqs = d["pos"] + d["neg"]
        train_rows, val_rows = np.concatenate([pos[:cut], neg[:cut]]), np.concatenate([pos[cut:], neg[cut:]])
        train = ([seqs[i] for i in train_rows], (train_rows < n_pos).astype(int))
        val = ([seqs[i] for i in val_rows], (val_rows < n_pos).astype(int))
        for arm, f in folders.items():
            s, info = finetune_readout(f, out / "finetune" / f"{arm}_seed{seed}_{tf}", train, val, d["x_test"], seed,
                                       args.finetune_epochs, args)  # fmt: skip
            scores[(arm, f"fine-tune n={n}")] = s
            print(f"[fine-tune {arm} seed {seed} {tf}] lr {info['lr']:g} (validation AUROC {info['val_auroc']:.3f})")
    return scores


def readouts_promoter(d: dict, folders: dict[str, Path], seed: int, out: Path, args) -> dict[tuple[str, str], np.ndarray]:
    """{(arm, readout): out-of-fold scores} on the promoter set."""
    scores: dict[tuple[str, str], np.ndarray] = {}
    x, y, folds, groups = d["x_test"], d["y_test"], d["folds"], d["groups"]
    if "probe" in args.readouts:
        feats = {arm: embed(f, x, args.bf16) for arm, f in folders.items()}
        feats["6-mer LR"] = kmer_counts(x)
        for arm, f in feats.items():
            s = np.zeros(len(y))
            for k in range(args.promoter_folds):
                te = folds == k
                s[te] = probe(f[~te], y[~te], f[te])
            scores[(arm, "probe cv")] = s
    if "finetune" in args.readouts:
        for arm, f in folders.items():
            s = np.zeros(len(y))
            lrs = []
            for k in range(args.promoter_folds):
                te = np.flatnonzero(folds == k)
                rest = np.unique(groups[folds != k])
                val_groups = np.random.default_rng(k).choice(rest, max(1, len(rest) // 5), replace=False)
                va = np.flatnonzero((folds != k) & np.isin(groups, val_groups))
                tr = np.flatnonzero((folds != k) & ~np.isin(groups, val_groups))
                s[te], info = finetune_readout(f, out / "finetune" / f"{arm}_seed{seed}_promoter_fold{k}",
                                               ([x[i] for i in tr], y[tr]), ([x[i] for i in va], y[va]), [x[i] for i in te],
                                               seed, args.promoter_epochs, args)  # fmt: skip
                lrs.append(info["lr"])
            scores[(arm, "fine-tune cv")] = s
            print(f"[fine-tune {arm} seed {seed} promoter] lr per fold {[f'{v:g}' for v in lrs]}")
    return scores


#: settings that change the pretraining runs or the fine-tunes an output folder keeps
STAMPED = ("steps", "batch_size", "lr", "srm_weight", "group_size", "crop", "region_encoder", "ngsp_negatives",
           "probe_bp", "finetune_labels", "finetune_epochs", "finetune_batch_size", "promoter_folds", "promoter_epochs")  # fmt: skip


def check_settings(args: argparse.Namespace) -> None:
    """Refuse to reuse an output folder's runs under other settings (seeds, arms, tasks, readouts,
    label counts and learning rates may change: their runs are kept apart)."""
    stamp = args.output / "settings.json"
    now = {k: getattr(args, k) for k in STAMPED}
    if RANK != 0:  # torchrun: rank 0 checks (and may be writing the stamp)
        return
    if stamp.is_file():
        before = json.loads(stamp.read_text())
        changed = [f"--{k.replace('_', '-')} {before[k]} → {now[k]}" for k in STAMPED if k in before and before[k] != now[k]]
        if changed:
            raise SystemExit(f"error: {args.output} holds runs made with other settings ({'; '.join(changed)}); "
                             "use another --output or the earlier settings")  # fmt: skip
    else:
        stamp.write_text(json.dumps(now, indent=1))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--output", type=Path, required=True)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--steps", type=int, default=600, help="pretraining steps per arm and seed")
    p.add_argument("--batch-size", type=int, default=16, help="pretraining batch per process (default: the paper's worst SRM batch, Table 8)")
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--srm-weight", type=float, default=0.5)
    p.add_argument("--group-size", type=int, default=4)
    p.add_argument("--crop", type=int, default=50, help="central bp of each region, scanned and read")
    p.add_argument("--region-encoder", default="swin", choices=["swin", "vit", "deit"])
    p.add_argument("--ngsp-negatives", default="same-condition", choices=["any", "same-condition"])
    p.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS), help="arms to run (default: all four)")
    p.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    p.add_argument("--readouts", nargs="+", default=["probe", "finetune"], choices=["probe", "finetune"])
    p.add_argument("--labels", type=int, nargs="+", default=[200, 1000], help="labelled sequences for the TF probes")
    p.add_argument("--probe-bp", type=int, default=100)
    p.add_argument("--finetune-labels", type=int, default=1000, help="labelled sequences per TF fine-tune (80 %% train, 20 %% validation)")
    p.add_argument("--finetune-lrs", type=float, nargs="+", default=[3e-4, 1e-3, 3e-3], help="learning rates tried; validation picks one")
    p.add_argument("--finetune-epochs", type=float, default=2)
    p.add_argument("--finetune-batch-size", type=int, default=32)
    p.add_argument("--promoter-folds", type=int, default=5)
    p.add_argument("--promoter-epochs", type=float, default=6)
    p.add_argument("--bf16", action="store_true", help="bf16 autocast (GPU) for pretraining, fine-tuning and embedding")
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # loading an encoder out of a masked-LM folder lists the unused head
    hf_logging.disable_progress_bar()
    if args.threads:
        torch.set_num_threads(args.threads)
    args.output.mkdir(parents=True, exist_ok=True)
    check_settings(args)
    dataset = build_dataset(args.output, args)
    if WORLD > 1:  # torchrun: pretraining only (every rank), then the plain run does the readouts
        from nucleoforge.training.pretrain import exit_distributed, finish_distributed

        for seed in args.seeds:
            for arm in args.arms:
                pretrain(args.output, dataset, arm, seed, args)
        finish_distributed()
        if RANK == 0:
            print(f"pretrained {args.arms} × seeds {args.seeds} on {WORLD} processes; now run the same command "
                  "without torchrun for the readouts")  # fmt: skip
        exit_distributed()
        return
    tasks = {tf: d for tf, d in tf_tasks(args).items() if tf in args.tasks}
    if "promoter" in args.tasks:
        tasks["promoter"] = promoter_task(args.output, args)
    results: dict = {"settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}, "auroc": {}, "paired": []}
    if "promoter" in tasks:
        results["promoter_set"] = tasks["promoter"]["summary"]
    from sklearn.metrics import roc_auc_score

    columns: list[tuple[str, str]] = []
    for seed in args.seeds:
        folders = {arm: pretrain(args.output, dataset, arm, seed, args) for arm in args.arms}
        for task, d in tasks.items():
            if task == "promoter":
                scores = readouts_promoter(d, folders, seed, args.output, args)
            else:
                scores = readouts_tf(d, folders, seed, args.output, task, args)
            for (arm, readout), s in scores.items():
                if (task, readout) not in columns:
                    columns.append((task, readout))
                results["auroc"].setdefault(f"{arm}|{task}|{readout}", []).append(round(float(roc_auc_score(d["y_test"], s)), 4))
            for task_, readout in [c for c in columns if c[0] == task]:
                for a, b in PAIRS:
                    if (a, readout) not in scores or (b, readout) not in scores:
                        continue
                    diff, lo, hi = paired_bootstrap(d["y_test"], scores[(a, readout)], scores[(b, readout)], d["groups"], seed=seed)
                    results["paired"].append({"seed": seed, "task": task, "readout": readout, "a": a, "b": b,
                                              "diff": round(diff, 4), "ci95": [round(lo, 4), round(hi, 4)]})  # fmt: skip
        (args.output / "results.json").write_text(json.dumps(results, indent=1))  # after every seed

    arms = [*args.arms, "6-mer LR"]
    print(f"\nAUROC (mean ± sd over {len(args.seeds)} seed(s))")
    for task, readout in columns:
        cells = []
        for arm in arms:
            v = results["auroc"].get(f"{arm}|{task}|{readout}")
            if v:
                cells.append(f"{arm} {np.mean(v):.3f} ± {np.std(v):.3f}")
        print(f"{task:<8} {readout:<16} " + " | ".join(cells))
    print("\npaired AUROC differences, 95 % bootstrap interval")
    for r in results["paired"]:
        sure = "excludes 0" if r["ci95"][0] > 0 or r["ci95"][1] < 0 else "includes 0"
        print(f"seed {r['seed']} {r['task']:<8} {r['readout']:<16} {r['a']} − {r['b']}: {r['diff']:+.3f} "
              f"[{r['ci95'][0]:+.3f}, {r['ci95'][1]:+.3f}] ({sure})")
    print(json.dumps({"example": "genebert_ablate", "auroc": {k: float(np.mean(v)) for k, v in results["auroc"].items()}}))


if __name__ == "__main__":
    main()
