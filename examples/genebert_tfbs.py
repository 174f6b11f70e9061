"""GeneBERT on real ChIP-seq peaks: pretraining ablation, TF-binding-site classification, t-SNE.

Data (bundled, ``examples/data``): 3,897 Oct4 and 3,900 MafK 200-bp ChIP-seq peak sequences
for training plus 100 + 100 held-out test peaks (janggu 0.10.2 resources, GPL-3). The two TFs
act as the two "conditions" (cell types) of GeneBERT's pretraining data.

1. Regions: the training peaks of both TFs, scanned with the 579 JASPAR2018 CORE vertebrate
   motifs (max log-odds, both strands), sorted by chromosome and start per TF and grouped in
   samples of ``--group-size`` consecutive peaks.
2. Pretraining (tiny models, CPU): (a) the full objective ``L_mgm + L_ngsp + 0.5·L_srm``;
   (b) λ = 0 (no sequence–region matching: the uni-modal ablation); (c) no pretraining.
   Each pretraining segment = ``group_size/2`` consecutive peaks cropped to their central
   ``--region-crop`` bp, so a 2-segment input fits the tiny model cheaply.
3. Fine-tuning, per TF, the sequence encoder of (a), (b), (c) with identical settings on the
   paper's TFBS task: positives = peaks, negatives = dinucleotide-shuffled peaks (Altschul–
   Erickson, exact doublet counts). Sequences are the central ``--finetune-bp`` of each peak.
   Test: the 100 held-out peaks of the TF + their shuffles (never seen in pretraining).
   Reports AUROC, precision and recall (threshold 0.5).
4. Fig. 2 analogue: t-SNE of the pretrained [CLS] embeddings of the 200 test peaks coloured by
   TF, with the leave-one-out 10-NN accuracy of the TF label as a number to compare (and the
   same accuracy from GC content alone as a baseline).

    python examples/genebert_tfbs.py --output runs/genebert_tfbs --finetune-seeds 0 1 2   # ~40 min on 2 busy CPU cores
    python examples/genebert_tfbs.py --output /tmp/x --pretrain-steps 20 --finetune-steps 20   # smoke run

Everything is resumable at the stage level: finished stages (dataset, pretrained models,
fine-tuning results) are reused when the script is re-run with the same ``--output``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from nucleoforge.io.fasta import read_fasta
from nucleoforge.models.genebert import GeneBertSequenceForSequencePrediction
from nucleoforge.regions.motifs import load_jaspar
from nucleoforge.training.genebert import genebert_preset, pretrain_genebert
from nucleoforge.regions.datasets import build_region_dataset, central_crop, regions_from_fasta
from nucleoforge.shuffle import dinucleotide_shuffles
from nucleoforge.tokenization import NucleotideTokenizer

DATA = Path(__file__).resolve().parent / "data"
TFS = ("oct4", "mafk")
VARIANTS = {"a_full": "full objective (MGM + NGSP + 0.5 SRM)", "b_no_srm": "λ = 0 (MGM + NGSP)", "c_none": "no pretraining"}


centre = central_crop  # the central n bp (the library's one crop rule)


def peaks(tf: str, split: str) -> list[str]:
    name = f"{tf}_peaks_train.fa.gz" if split == "train" else f"{tf}_peaks_test.fa"
    return [r.sequence.upper() for r in read_fasta(DATA / name)]


def build_dataset(out: Path, group_size: int, crop: int) -> Path:
    path = out / f"regions_crop{crop}"
    if (path / "genebert_regions.json").is_file():
        print(f"[regions] reusing {path}")
        return path
    t0 = time.time()
    regions = itertools.chain.from_iterable(regions_from_fasta(DATA / f"{tf}_peaks_train.fa.gz", tf) for tf in TFS)
    # motifs scanned on exactly the central `crop` bp the sequence encoder reads
    meta = build_region_dataset(regions, load_jaspar("JASPAR2018", "CORE", "vertebrates"), path, group_size=group_size,
                                scan_crop=crop, source={"release": "JASPAR2018", "files": [f"{tf}_peaks_train.fa.gz" for tf in TFS]})  # fmt: skip
    print(f"[regions] {meta['num_samples']} samples ({meta['conditions']}) x {group_size} regions x "
          f"{len(meta['motif_ids'])} motifs in {time.time() - t0:.0f}s")  # fmt: skip
    return path


def pretrain(out: Path, dataset: Path, name: str, args: argparse.Namespace) -> Path:
    run = out / name
    if (run / "sequence" / "config.json").is_file():
        print(f"[pretrain {name}] reusing {run}")
        return run / "sequence"
    t0 = time.time()
    config = genebert_preset("tiny", srm_weight=0.5 if name == "a_full" else 0.0)
    metrics = pretrain_genebert(
        dataset, run, config, max_steps=args.pretrain_steps, batch_size=args.batch_size, learning_rate=args.pretrain_lr,
        warmup_steps=max(1, args.pretrain_steps // 10), seed=args.seed,
        logging_steps=max(1, args.pretrain_steps // 10), save_steps=args.pretrain_steps, disable_tqdm=True,
    )  # fmt: skip
    state = json.loads((run / "trainer_state.json").read_text())
    last = [e for e in state["log_history"] if "mgm_loss" in e][-1]
    print(f"[pretrain {name}] {args.pretrain_steps} steps in {time.time() - t0:.0f}s; last log: "
          + ", ".join(f"{k}={last[k]}" for k in ("loss", "mgm_loss", "ngsp_loss", "srm_loss", "ngsp_accuracy", "mask_rate") if k in last)
          + f"; train_loss={metrics['train_loss']:.3f}")  # fmt: skip
    return run / "sequence"


def load_classifier(source: Path | None, seed: int) -> tuple[GeneBertSequenceForSequencePrediction, NucleotideTokenizer]:
    torch.manual_seed(seed)
    if source is None:  # (c): same architecture, random initialisation
        cfg = genebert_preset("tiny").sequence_config
        cfg.num_labels, cfg.problem_type = 2, "multiclass"
        return GeneBertSequenceForSequencePrediction(cfg), NucleotideTokenizer.for_model("dnabert", k=cfg.k)
    model = GeneBertSequenceForSequencePrediction.from_pretrained(source, num_labels=2, problem_type="multiclass")
    return model, NucleotideTokenizer.from_pretrained(source)


def metrics(prob: np.ndarray, y: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import precision_score, recall_score, roc_auc_score

    pred = (prob >= 0.5).astype(int)
    return {
        "auroc": round(float(roc_auc_score(y, prob)), 4),
        "precision": round(float(precision_score(y, pred, zero_division=0)), 4),
        "recall": round(float(recall_score(y, pred, zero_division=0)), 4),
    }


def finetune(source: Path | None, tf: str, args: argparse.Namespace, seed: int) -> dict[str, float]:
    """Fine-tune one encoder on one TF (``seed``: head initialisation, batch order, training shuffles)."""
    model, tok = load_classifier(source, seed)
    pos_train = [centre(s, args.finetune_bp) for s in peaks(tf, "train")]
    pos_test = [centre(s, args.finetune_bp) for s in peaks(tf, "test")]
    x_train = pos_train + list(dinucleotide_shuffles(pos_train, seed=seed))
    y_train = np.array([1] * len(pos_train) + [0] * len(pos_train))
    x_test = pos_test + list(dinucleotide_shuffles(pos_test, seed=1))  # one fixed test set
    y_test = np.array([1] * len(pos_test) + [0] * len(pos_test))
    opt = torch.optim.AdamW(model.parameters(), lr=args.finetune_lr, weight_decay=0.01)
    steps = args.finetune_steps
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / max(1, steps // 10)) * max(0.0, 1 - s / steps))
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x_train))
    model.train()
    for step in range(steps):
        idx = order[(step * args.batch_size) % len(order) :][: args.batch_size]
        batch = tok([x_train[i] for i in idx], padding=True, return_tensors="pt")
        loss = model(**batch, labels=torch.as_tensor(y_train[idx])).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step(), sched.step(), opt.zero_grad()
    model.eval()
    probs = []
    with torch.no_grad():
        for i in range(0, len(x_test), 100):
            logits = model(**tok(x_test[i : i + 100], padding=True, return_tensors="pt")).logits
            probs.append(torch.softmax(logits.float(), -1)[:, 1].numpy())
    return metrics(np.concatenate(probs), y_test)


def embed(source: Path | None, seqs: list[str], seed: int) -> np.ndarray:
    model, tok = load_classifier(source, seed)
    model.eval()
    with torch.no_grad():
        out = model.bert(**tok(seqs, padding=True, return_tensors="pt"))
    return out.pooler_output.numpy()


def tsne_figure(out: Path, sources: dict[str, Path | None], args: argparse.Namespace) -> dict[str, float]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.manifold import TSNE
    from sklearn.model_selection import LeaveOneOut, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    seqs = [centre(s, args.finetune_bp) for tf in TFS for s in peaks(tf, "test")]
    labels = np.array([i for i, tf in enumerate(TFS) for _ in peaks(tf, "test")])
    fig, axes = plt.subplots(1, len(sources), figsize=(4.2 * len(sources), 4))
    knn = {}
    for ax, (name, source) in zip(axes, sources.items()):
        emb = embed(source, seqs, args.seed)
        knn[name] = round(float(cross_val_score(KNeighborsClassifier(10), emb, labels, cv=LeaveOneOut()).mean()), 4)
        xy = TSNE(perplexity=30, init="pca", random_state=args.seed).fit_transform(emb)
        for i, tf in enumerate(TFS):
            ax.scatter(*xy[labels == i].T, s=8, label={"oct4": "Oct4", "mafk": "MafK"}[tf])
        ax.set_title(f"{VARIANTS[name]}\n10-NN TF accuracy {knn[name]:.2f}", fontsize=9)
        ax.set_xticks([]), ax.set_yticks([])
    gc = np.array([[(s.count("G") + s.count("C")) / len(s)] for s in seqs])
    knn["gc_content_only"] = round(float(cross_val_score(KNeighborsClassifier(10), gc, labels, cv=LeaveOneOut()).mean()), 4)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "tsne_embeddings.png", dpi=120)
    return knn


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--output", type=Path, required=True)
    p.add_argument("--group-size", type=int, default=4)
    p.add_argument("--region-crop", type=int, default=50, help="bp kept at the centre of each peak when pretraining "
                   "(the motifs are scanned on the same bp)")
    p.add_argument("--finetune-bp", type=int, default=100, help="central bp of each peak used for the TFBS task")
    p.add_argument("--pretrain-steps", type=int, default=200)
    p.add_argument("--finetune-steps", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--pretrain-lr", type=float, default=5e-4)
    p.add_argument("--finetune-lr", type=float, default=3e-4)
    p.add_argument("--seed", type=int, default=0, help="pretraining / t-SNE seed")
    p.add_argument("--finetune-seeds", type=int, nargs="+", default=[0], help="one fine-tuning run per seed and TF")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    args.output.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    dataset = build_dataset(args.output, args.group_size, args.region_crop)
    sources: dict[str, Path | None] = {
        "a_full": pretrain(args.output, dataset, "a_full", args),
        "b_no_srm": pretrain(args.output, dataset, "b_no_srm", args),
        "c_none": None,
    }
    results_path = args.output / "results.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    for seed in args.finetune_seeds:
        for name, source in sources.items():
            for tf in TFS:
                key = f"{name}/{tf}/seed{seed}"
                if key not in results:
                    t1 = time.time()
                    results[key] = finetune(source, tf, args, seed)
                    print(f"[finetune {key}] {results[key]} ({time.time() - t1:.0f}s)")
                    results_path.write_text(json.dumps(results, indent=1))
    knn = tsne_figure(args.output, sources, args)
    seeds = args.finetune_seeds
    print(f"\nTFBS classification, test peaks vs dinucleotide shuffles (100 + 100 per TF); "
          f"mean ± sd over fine-tuning seeds {seeds}")
    print(f"{'model':<40}" + "".join(f"{tf + ' ' + m:>17}" for tf in TFS for m in ("AUROC", "prec", "recall"))
          + f"{'mean AUROC':>17}{'10-NN TF acc':>14}")  # fmt: skip
    table = {}
    for name, title in VARIANTS.items():
        cells, aucs = [], []
        for tf in TFS:
            for m in ("auroc", "precision", "recall"):
                values = [results[f"{name}/{tf}/seed{s}"][m] for s in seeds]
                cells.append((float(np.mean(values)), float(np.std(values))))
                table[f"{name}/{tf}/{m}"] = [round(cells[-1][0], 4), round(cells[-1][1], 4)]
            aucs.append([results[f"{name}/{tf}/seed{s}"]["auroc"] for s in seeds])
        per_seed_mean = np.mean(np.array(aucs), axis=0)
        table[f"{name}/mean_auroc"] = [round(float(per_seed_mean.mean()), 4), round(float(per_seed_mean.std()), 4)]
        print(f"{title:<40}" + "".join(f"{m:>10.3f}±{sd:<6.3f}" for m, sd in cells)
              + f"{per_seed_mean.mean():>10.3f}±{per_seed_mean.std():<6.3f}{knn[name]:>14.3f}")  # fmt: skip
    print(f"10-NN TF accuracy from GC content alone (baseline): {knn['gc_content_only']:.3f}")
    summary = {"table_mean_sd": table, "results": results, "tsne_knn_accuracy": knn, "figure": str(args.output / "tsne_embeddings.png"),
               "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
               "minutes": round((time.time() - t0) / 60, 1)}  # fmt: skip
    (args.output / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
