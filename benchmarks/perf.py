"""Performance harness: training throughput against the machine's matmul peak, the scorer against a
naive loop, and peak memory of LoRA against full unlearning; every figure measured in this one run.

    python benchmarks/perf.py                          # SmolLM2-135M, the demo's world (about 15 min on 2 CPU cores)
    python benchmarks/perf.py --model tiny --steps 4   # the tiny model (seconds; a smoke run)

Prints a table and writes it as JSON (``--out``, default ``runs/perf.json``).

* **peak**: the best of several fp32 2048x2048 matmuls, with the same threads as
  everything else here: the machine's practical FLOP/s ceiling.
* **threads**: torch's default (one per core), what every ``obliviate`` command uses;
  ``OMP_NUM_THREADS`` sets another count for all of it.
* **training**: ``--steps`` optimizer steps of fine-tuning (answer NLL, batch 8) and of
  unlearning (NPO, forget + retain batches of 4) through the project's ``Trainer``.
  FLOPs are counted by ``torch.utils.flop_counter`` on the same steps (same seed,
  same batches) in a separate pass, so counting does not slow the timed pass.
  Achieved FLOP/s = counted FLOPs / wall time; the fraction is of the peak above.
* **scoring**: the scoring requests one TOFU-style evaluation makes (answer
  probability, truth ratio's paraphrased and perturbed answers, per-token
  statistics for MIA and extraction), replayed twice: through one ``Scorer``
  (batched, prompts shared across their answers, memoised) and through a naive
  loop (one full forward per pair and request, full-vocabulary log-softmax at every
  position, ``torch.no_grad``). Same pairs, same numbers (max difference printed).
* **memory**: peak resident memory of a child process that loads the model and
  runs a few KL unlearning steps (KL keeps a reference model), full vs LoRA r=8.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch


def matmul_peak(n: int = 2048, reps: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best


def setup(model_spec: str):
    from obliviate import api

    cfg = api.tiny_demo_config() if model_spec == api.TINY else api.DemoConfig()
    world_dir = api.build_world(cfg.world)
    splits = api.load_world_splits(world_dir, "forget10")
    model, tok = api.base_model(model_spec, world_dir)
    return world_dir, splits, model, tok


def train_run(model, tok, splits, kind: str, steps: int, count: bool) -> tuple[float, float, int, int]:
    """(wall seconds, FLOPs or 0, tokens, steps) of optimizer steps 2..``steps`` of ``kind``.

    Measured from the end of the first step to the end of the last, so set-up
    (NPO's reference log-probs) and the first step's warm-up are left out.
    """
    from torch.utils.flop_counter import FlopCounterMode

    from obliviate import api
    from obliviate.llm.encoding import PromptFormat, collate_records

    fmt = PromptFormat(tok)
    tokens = 0

    def counting_collate(recs):
        nonlocal tokens
        batch = collate_records(fmt, recs)
        tokens += int(batch["attention_mask"].sum())
        return batch

    net = copy.deepcopy(model)
    marks: list[tuple[float, int, float]] = []
    mode = FlopCounterMode(display=False) if count else None

    def stop(step, logs):
        marks.append((time.perf_counter(), tokens, mode.get_total_flops() if mode else 0))
        return step >= steps

    import obliviate.llm.encoding as enc

    enc.collate_records = lambda f, recs: counting_collate(recs)  # the trainer's collate, counted
    try:
        with mode if mode else _null():
            if kind == "finetune":
                cfg = api.FinetuneConfig(epochs=100.0, batch_size=8, checkpoint_every=0)
                api.finetune(net, tok, splits.retain, cfg, callbacks=[stop])
            else:
                cfg = api.UnlearnConfig(epochs=100.0, batch_size=4, checkpoint_every=0)
                api.unlearn(net, tok, splits, "npo", cfg, callbacks=[stop])
    finally:
        enc.collate_records = collate_records
    (t0, k0, f0), (t1, k1, f1) = marks[0], marks[-1]
    return t1 - t0, float(f1 - f0), k1 - k0, len(marks) - 1


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def evaluation_requests(splits, n: int) -> list[tuple[str, list[tuple[str, str]]]]:
    """The (kind, pairs) scoring requests of a TOFU-style evaluation of ``n`` forget and ``n`` retain records."""
    out = []
    for split in (splits.forget[:n], splits.retain[:n]):
        out.append(("logprobs", [(r.question, r.answer) for r in split]))  # answer probability
        out.append(("logprobs", [(r.question, r.paraphrased_answer) for r in split]))  # truth ratio
        out.append(("logprobs", [(r.question, p) for r in split for p in r.perturbed_answers]))
        out.append(("stats", [(r.question, r.answer) for r in split]))  # MIA / extraction strength
    out.append(("stats", [(r.question, r.answer) for r in splits.holdout[:n]]))  # MIA non-members
    return out


def naive_scores(model, tok, requests) -> list[float]:
    from obliviate.llm.encoding import IGNORE, PromptFormat, collate

    fmt = PromptFormat(tok)
    out = []
    model.eval()
    with torch.no_grad():
        for kind, pairs in requests:
            for q, a in pairs:
                b = collate(fmt, [(q, a)])
                logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits
                logq = torch.log_softmax(logits[:, :-1].float(), -1)
                target = b["labels"][:, 1:]
                mask = target != IGNORE
                picked = logq.gather(-1, target.clamp_min(0).unsqueeze(-1)).squeeze(-1)[mask]
                if kind == "stats":  # entropy terms of Min-K%++ over the answer positions
                    rows = logq[mask]
                    _ = (rows.exp() * rows).sum(-1)
                out.append(float(picked.sum()))
    return out


def scorer_scores(model, tok, requests) -> list[float]:
    from obliviate.llm.eval.scoring import Scorer

    scorer = Scorer(model, tok)
    out = []
    for kind, pairs in requests:
        if kind == "stats":
            out += [float(s.logp.sum()) for s in scorer.token_stats(pairs)]
        else:
            out += scorer.answer_logprobs(pairs)[0].tolist()
    return out


def memory_child(model_spec: str, lora: bool, steps: int) -> None:
    """Run in a child process: a few KL steps, full or LoRA; prints the peak RSS in MiB."""
    from obliviate import api

    _, splits, model, tok = setup(model_spec)

    def stop(step, logs):
        return step >= steps

    cfg = api.UnlearnConfig(epochs=100.0, batch_size=4, checkpoint_every=0, **({"lora_r": 8} if lora else {}))
    api.unlearn(model, tok, splits, "KL", cfg, callbacks=[stop])
    # VmHWM, not ru_maxrss: on Linux ru_maxrss survives exec, so a child would report its parent's peak
    hwm = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM"))
    print(json.dumps({"peak_rss_mib": int(hwm.split()[1]) / 1024}))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--steps", type=int, default=6, help="optimizer steps timed per training kind")
    p.add_argument("--eval-records", type=int, default=20, help="forget and retain records in the scoring work")
    p.add_argument("--out", default="runs/perf.json")
    p.add_argument("--skip", default="", help="comma-separated parts to skip: optimizer, train, score, memory")
    p.add_argument("--memory-child", choices=["full", "lora"], help=argparse.SUPPRESS)
    a = p.parse_args()
    os.environ.setdefault("OBLIVIATE_QUIET", "1")
    if a.memory_child:
        memory_child(a.model, a.memory_child == "lora", steps=3)
        return
    skip = set(a.skip.split(","))
    torch.manual_seed(0)
    results: dict = {"model": a.model, "threads": torch.get_num_threads(), "machine": platform.processor() or
                     platform.machine(), "torch": torch.__version__, "date": time.strftime("%Y-%m-%d")}
    peak = matmul_peak()
    results["matmul_peak_gflops"] = peak / 1e9
    print(f"matmul peak (fp32, 2048^3, {torch.get_num_threads()} threads): {peak / 1e9:.1f} GFLOP/s")
    _, splits, model, tok = setup(a.model)

    if "optimizer" not in skip:  # the trainer's fused AdamW against the default (foreach) one, same parameters
        params = [torch.nn.Parameter(p.detach().clone()) for p in model.parameters()]
        for q in params:
            q.grad = torch.randn_like(q) * 1e-3
        times = {}
        for fused in (False, True):
            opt = torch.optim.AdamW(params, lr=1e-5, fused=fused)
            opt.step()
            t = time.perf_counter()
            for _ in range(3):
                opt.step()
            times["fused" if fused else "foreach"] = (time.perf_counter() - t) / 3
        del params, opt
        results["adamw_step_s"] = times
        print(f"optimizer: AdamW step foreach {times['foreach']:.3f} s, fused {times['fused']:.3f} s "
              f"({times['foreach'] / times['fused']:.1f}x)")

    if "train" not in skip:
        for kind in ("finetune", "unlearn"):
            _, flops, _, n_counted = train_run(model, tok, splits, kind, a.steps, count=True)
            wall, _, tokens, n = train_run(model, tok, splits, kind, a.steps, count=False)
            assert n == n_counted
            achieved = flops / wall
            results[kind] = {"steps": n, "wall_s": wall, "tokens_per_s": tokens / wall,
                             "gflop_per_step": flops / n / 1e9,
                             "achieved_gflops": achieved / 1e9, "fraction_of_peak": achieved / peak}
            print(f"{kind:9s}: {n} steps in {wall:6.1f} s, {tokens / wall:7.1f} tokens/s, "
                  f"{achieved / 1e9:6.1f} GFLOP/s = {achieved / peak:.0%} of peak")

    if "score" not in skip:
        requests = evaluation_requests(splits, a.eval_records)
        n_pairs = sum(len(p) for _, p in requests)
        t = time.perf_counter()
        fast = scorer_scores(model, tok, requests)
        t_fast = time.perf_counter() - t
        t = time.perf_counter()
        slow = naive_scores(model, tok, requests)
        t_slow = time.perf_counter() - t
        diff = float(np.max(np.abs(np.array(fast) - np.array(slow))))
        unique = len({pair for _, pairs in requests for pair in pairs})
        results["scoring"] = {"requests": len(requests), "pairs": n_pairs, "unique_pairs": unique, "scorer_s": t_fast,
                              "naive_s": t_slow, "speedup": t_slow / t_fast, "max_abs_diff": diff}
        print(f"scoring  : {n_pairs} pairs ({unique} distinct) in {len(requests)} requests: scorer {t_fast:6.1f} s, "
              f"naive loop {t_slow:6.1f} s, {t_slow / t_fast:.1f}x; max |diff| {diff:.1e}")

    if "memory" not in skip:
        mem = {}
        for kind in ("full", "lora"):
            out = subprocess.run([sys.executable, __file__, "--model", a.model, "--memory-child", kind],
                                 capture_output=True, text=True, check=True, env={**os.environ})
            mem[kind] = json.loads(out.stdout.strip().splitlines()[-1])["peak_rss_mib"]
        results["memory_kl_peak_rss_mib"] = mem
        print(f"memory   : KL unlearning peak RSS full {mem['full']:.0f} MiB, LoRA r=8 {mem['lora']:.0f} MiB "
              f"({mem['lora'] / mem['full']:.0%})")

    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    from obliviate.core.store import atomic_write_json

    atomic_write_json(a.out, results)
    print(f"written: {a.out}")


if __name__ == "__main__":
    main()
