"""Multi-process runs: ``torchrun`` / ``accelerate launch`` start N copies of a command.

Every process runs the same program on the same data; the trainer gives each
its share of every optimizer step's micro-batches and sums the gradients (see
``train/trainer.py``). Everything else follows three rules, which the helpers
below implement:

* only process 0 writes files (run folders, model folders, caches) and prints
  progress;
* what one process writes and the others then read (a converted model, a
  generated world, a cached fine-tune) is made under :func:`main_first`: process
  0 makes it while the others wait, then they read it;
* a name chosen at run time (a time-stamped run folder) is chosen by process 0
  and sent to the others with :func:`broadcast`.

With one process (no ``WORLD_SIZE`` above 1 in the environment) every helper
is a no-op and no process group is created.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
from collections.abc import Iterator
from typing import Any, TypeVar

import torch

T = TypeVar("T")


def world_size() -> int:
    """Number of processes of this run (1 unless started by torchrun / accelerate launch)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def distributed() -> bool:
    return world_size() > 1


def rank() -> int:
    """This process's index, 0 for the process that writes."""
    return int(os.environ.get("RANK", "0"))


def is_main() -> bool:
    return rank() == 0


@functools.cache
def init() -> None:
    """Join the process group (gloo on CPU, nccl on GPUs) once; a no-op for one process."""
    if distributed() and not torch.distributed.is_initialized():
        # deferred: loads accelerate
        from accelerate import PartialState

        PartialState(cpu=not torch.cuda.is_available())  # reads torchrun's / accelerate's environment
        atexit.register(_shutdown)


def _shutdown() -> None:
    """Leave the process group before the interpreter exits.

    Without it gloo's threads can still be running when the process is torn
    down, which aborts it ("terminate called without an active exception").
    """
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def barrier() -> None:
    """Wait until every process gets here."""
    if distributed():
        init()
        torch.distributed.barrier()


@contextlib.contextmanager
def main_first() -> Iterator[None]:
    """Process 0 runs the block first; the others wait for it, then run it (reading what it made)."""
    if not distributed():
        yield
        return
    if not is_main():
        barrier()
    try:
        yield
    finally:
        if is_main():
            barrier()


def broadcast(obj: T) -> T:
    """Process 0's ``obj``, on every process (any picklable object)."""
    if not distributed():
        return obj
    init()
    box = [obj]
    torch.distributed.broadcast_object_list(box, src=0)
    return box[0]


def gather(obj: Any) -> list[Any]:
    """Every process's ``obj``, in rank order, on every process."""
    if not distributed():
        return [obj]
    init()
    out: list[Any] = [None] * world_size()
    torch.distributed.all_gather_object(out, obj)
    return out


def sum_tensors(tensors: list[torch.Tensor]) -> None:
    """Sum each tensor over the processes, in place (flattened into one buffer per dtype and device)."""
    if not distributed() or not tensors:
        return
    init()
    groups: dict[tuple, list[torch.Tensor]] = {}
    for t in tensors:
        groups.setdefault((t.dtype, t.device), []).append(t)
    for group in groups.values():
        flat = torch.cat([t.reshape(-1) for t in group])
        torch.distributed.all_reduce(flat)
        offset = 0
        for t in group:
            n = t.numel()
            t.copy_(flat[offset : offset + n].view_as(t))
            offset += n
