"""Multi-process training with PyTorch's own DistributedDataParallel.

Launched by torchrun (`torchrun --nproc_per_node K -m prefchat train ...`), each process reads
RANK / WORLD_SIZE / LOCAL_RANK from the environment. On GPUs the backend is NCCL with one GPU per
process; on CPU it is gloo (K CPU processes, e.g. over loopback).

How the engine divides the work (prefchat.reward.factorize.PReF with `parallel=`):
* every process draws the same minibatch order (same seed), then takes its strided shard of each
  minibatch, weighted so that the gradients averaged across processes equal the full minibatch's;
* the basis model is wrapped in DDP, which all-reduces its gradients during backward;
* the user vectors lambda are a plain tensor outside DDP, so their gradients are averaged explicitly
  (`Parallel.average_`) before every optimiser step;
* the SVD initialisation and the per-user refit are deterministic and run identically everywhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from prefchat.errors import PrefchatError


@dataclass
class Parallel:
    rank: int
    world_size: int
    local_rank: int
    device: str
    backend: str

    def average_(self, tensor) -> None:
        """In-place mean of `tensor` across processes."""
        import torch.distributed as dist

        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        tensor.div_(self.world_size)

    def barrier(self) -> None:
        import torch.distributed as dist

        dist.barrier()

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_from_env(device: str | None = None) -> Parallel | None:
    """Join the process group torchrun set up; None when not launched with more than one process.

    `device` "cpu" forces gloo on CPU even where GPUs exist; otherwise NCCL when CUDA is available."""
    if not launched_by_torchrun():
        return None
    import torch
    import torch.distributed as dist

    try:
        rank, world, local = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ["LOCAL_RANK"])
    except (KeyError, ValueError):
        raise PrefchatError("WORLD_SIZE is set but RANK/LOCAL_RANK are not; launch with torchrun") from None
    use_cuda = torch.cuda.is_available() and device != "cpu" and not (device or "").startswith("cpu")
    if use_cuda:
        if local >= torch.cuda.device_count():
            raise PrefchatError(f"process {local} has no GPU ({torch.cuda.device_count()} visible); use "
                                "--nproc_per_node <= the number of GPUs, or --device cpu")
        torch.cuda.set_device(local)
        dev, backend = f"cuda:{local}", "nccl"
    else:
        dev, backend = "cpu", "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return Parallel(rank, world, local, dev, backend)


def wrap_ddp(model, parallel: Parallel):
    """DDP around the basis model. Buffers are not re-broadcast each forward (they are constant:
    rotary tables), so forwards that run outside training (refit, pool) need no matching collective."""
    from torch.nn.parallel import DistributedDataParallel as DDP

    ids = [parallel.local_rank] if parallel.device.startswith("cuda") else None
    return DDP(model, device_ids=ids, broadcast_buffers=False)


def shutdown() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
