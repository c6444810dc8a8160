"""YOURS to replace: multi-process training through PyTorch's own stack (torchrun sets the environment).

`torchrun --nproc-per-node N -m digitnet.cli train` (or `train.processes: N` in params.yaml)
runs N copies; each reads RANK/WORLD_SIZE/LOCAL_RANK, joins the process group (NCCL on GPUs,
gloo on CPUs), trains on its share of every batch, and only rank 0 writes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Ranks:
    """Where this process sits in a (possibly single-process) run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1


def ranks_from_env() -> Ranks:
    """The ranks torchrun put in the environment, or a single process when it did not."""
    return Ranks(
        rank=int(os.environ.get("RANK", 0)),
        world_size=int(os.environ.get("WORLD_SIZE", 1)),
        local_rank=int(os.environ.get("LOCAL_RANK", 0)),
    )


def start_process_group(ranks: Ranks) -> None:
    """Join the process group torchrun set up: NCCL when every process has a GPU, gloo otherwise."""
    if ranks.is_distributed and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)


def stop_process_group() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def sum_across_ranks(values: torch.Tensor, ranks: Ranks) -> torch.Tensor:
    """Sum a tensor over all processes (a no-op in a single process)."""
    if ranks.is_distributed:
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def any_rank(flag: bool, ranks: Ranks, device: torch.device) -> bool:
    """True on every process when it is true on any, so all ranks stop at the same epoch."""
    if not ranks.is_distributed:
        return flag
    value = torch.tensor([int(flag)], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def barrier(ranks: Ranks) -> None:
    if ranks.is_distributed:
        dist.barrier()
