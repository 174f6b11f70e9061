"""SRM negatives gathered across ranks: 2 gloo processes on half batches each give the loss and
the (rank-averaged) gradients of one process on the whole batch."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from tests.models.test_genebert import tiny_batch, tiny_config

B = 8


def _model():
    from nucleoforge.models.genebert import GeneBertModel

    torch.manual_seed(0)
    return GeneBertModel(tiny_config("vit")).train()


def _loss_and_grads(model, batch):
    model.zero_grad()
    loss = model(input_ids=batch["input_ids"], token_type_ids=batch["token_type_ids"],
                 region_values=batch["region_values"], return_loss=True).loss
    loss.backward()
    return loss.detach(), {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}


def _rank(rank: int, world: int, init_file: str, out: str, gather: bool) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        torch.set_num_threads(1)
        model = _model()
        model.config.srm_gather = gather
        batch = tiny_batch(B, seed=3)
        half = {k: v[rank * B // world : (rank + 1) * B // world] for k, v in batch.items()}
        loss, grads = _loss_and_grads(model, half)
        dist.all_reduce(loss)
        for g in grads.values():  # what DDP does: average the gradients over the ranks
            dist.all_reduce(g)
            g /= world
        if rank == 0:
            torch.save({"loss": loss / world, "grads": grads}, out)
    finally:
        dist.destroy_process_group()


def _two_ranks(tmp_path, gather: bool):
    out = str(tmp_path / f"rank0_{gather}.pt")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    mp.spawn(_rank, args=(2, str(tmp_path / f"init_{gather}"), out, gather), nprocs=2, join=True)
    return torch.load(out)


def test_gathered_negatives_equal_one_process_on_the_global_batch(tmp_path) -> None:
    loss, grads = _loss_and_grads(_model(), tiny_batch(B, seed=3))
    two = _two_ranks(tmp_path, gather=True)
    torch.testing.assert_close(two["loss"], loss, atol=1e-5, rtol=1e-5)
    assert grads.keys() == two["grads"].keys()
    for name, g in grads.items():
        torch.testing.assert_close(two["grads"][name], g, atol=1e-5, rtol=1e-4, msg=name)
    # without the gather each rank contrasts only its own 4 pairs: another loss
    local = _two_ranks(tmp_path, gather=False)
    assert abs(float(local["loss"]) - float(loss)) > 1e-3
