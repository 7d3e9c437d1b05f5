"""EleutherAI lm-evaluation-harness (``lm-eval``) task suites on a model obliviate has in memory.

``run_lm_eval(model, tokenizer, ["my_task"], "tasks/")`` runs the lm-eval tasks defined by the YAML
files of ``tasks/`` (only that folder is indexed, not the thousands of tasks bundled with lm-eval) on
the model object itself (``HFLM(pretrained=model)``): an unlearned model is scored as it is in memory,
a PEFT/LoRA model with its adapters active. It returns the metrics lm-eval reports per task
(``acc``, ``acc_norm``, their ``_stderr``, ...) beside a count ``n`` of the examples scored.

Everything runs offline: the call sets ``HF_HUB_OFFLINE``/``HF_DATASETS_OFFLINE`` (and the flags
``huggingface_hub``/``datasets`` read them into at import) for its duration, so a task whose data
lives on the hub fails with one line instead of a network wait. The task folder's data files are read
with ``datasets``' packaged builders (``dataset_path: json`` + ``dataset_kwargs.data_files``).

Bad input is a one-line :class:`~obliviate.core.errors.ObliviateError` before the model runs
(:func:`check_tasks`: a missing folder, a task name not in it, a data file that is not there) or a
:class:`~obliviate.core.errors.DataError` naming the task when lm-eval cannot build it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from obliviate.core.errors import ConfigError, DataError
from obliviate.core.progress import quiet

# lm-eval's warnings that only say that a model object (not a hub name) was passed: expected here.
_EXPECTED_WARNINGS = ("`pretrained` model kwarg is not of type `str`", "Passed an already-initialized model")


def _one_line(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0]


def task_index(task_dir: str | Path) -> dict[str, Any]:
    """The lm-eval index of ``task_dir`` alone: ``{name: Entry}`` for every task, group and tag its YAML
    files define (lm-eval's bundled tasks are left out)."""
    folder = Path(task_dir).expanduser()
    if not folder.is_dir():
        what = "is a file, expected a folder" if folder.exists() else "no such folder"
        raise ConfigError(f"lm-eval task folder {task_dir}: {what}")
    # deferred: loads lm_eval
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=str(folder), include_defaults=False).task_index


def _unreadable_yaml(folder: Path) -> list[str]:
    """YAML files of ``folder`` lm-eval cannot parse (its index skips them silently)."""
    # deferred: loads lm_eval
    from lm_eval.tasks._yaml_loader import load_yaml

    bad = []
    for path in sorted(folder.rglob("*.yaml")):
        try:
            load_yaml(path, resolve_func=False, recursive=True)
        except Exception as e:  # noqa: BLE001 - any parse error is reported the same way
            bad.append(f"{path.relative_to(folder)} ({_one_line(e)})")
    return bad


def _local_data_files(cfg: dict) -> list[Path]:
    """The local files a task's ``dataset_kwargs.data_files`` names (globs and URLs left to ``datasets``)."""
    kwargs = cfg.get("dataset_kwargs") or {}
    files = kwargs.get("data_files") if isinstance(kwargs, dict) else None
    if files is None:
        return []
    values = files.values() if isinstance(files, dict) else [files]
    names: list[str] = []
    for v in values:
        names.extend(v if isinstance(v, (list, tuple)) else [v])
    base = Path(str(kwargs.get("data_dir") or "")).expanduser()
    out = []
    for name in names:
        if not isinstance(name, str) or "://" in name or any(c in name for c in "*?["):
            continue
        p = Path(name).expanduser()
        out.append(p if p.is_absolute() else base / p)
    return out


def check_tasks(tasks: Sequence[str], task_dir: str | Path) -> None:
    """Refuse, with one line, task names ``task_dir`` does not define and data files that are not there.

    Reads YAML files only: no dataset is loaded, no model is needed, nothing is written.
    """
    if not tasks or any(not t.strip() for t in tasks):
        raise ConfigError(f"lm-eval task names must be non-empty, got {','.join(tasks)!r}")
    index = task_index(task_dir)
    missing = [t for t in tasks if t not in index]
    if missing:
        found = ", ".join(sorted(index)) or "none"
        bad = _unreadable_yaml(Path(task_dir).expanduser())
        unreadable = f"; unreadable YAML: {'; '.join(bad)}" if bad else ""
        raise ConfigError(f"lm-eval task {', '.join(map(repr, missing))} not found in {task_dir} "
                          f"(tasks there: {found}){unreadable}")
    for name in tasks:
        entry = index[name]
        for path in _local_data_files(entry.cfg or {}):
            if not path.is_file():
                where = f" ({entry.yaml_path})" if entry.yaml_path else ""
                raise DataError(f"lm-eval task {name!r}{where}: data file {path} not found")


class _DropExpected(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(_EXPECTED_WARNINGS)


@contextlib.contextmanager
def _set_attr(obj: Any, name: str, value: Any) -> Iterator[None]:
    if not hasattr(obj, name):  # another lm-eval/datasets version: nothing to patch
        yield
        return
    old = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)


@contextlib.contextmanager
def _env(**values: str) -> Iterator[None]:
    """Set environment variables that are not set, for the duration."""
    added = [k for k in values if k not in os.environ]
    for k in added:
        os.environ[k] = values[k]
    try:
        yield
    finally:
        for k in added:
            os.environ.pop(k, None)


@contextlib.contextmanager
def _lm_eval_context(model) -> Iterator[None]:
    """Offline, quiet, and without side effects on the caller's random state or the model's mode."""
    # deferred: loads datasets, huggingface_hub, lm_eval, numpy, torch
    import datasets
    import huggingface_hub.constants as hub_constants
    import lm_eval.evaluator as evaluator
    import numpy as np
    import torch

    logger = logging.getLogger("lm_eval")
    old_level = logger.level
    if logger.getEffectiveLevel() < logging.WARNING:
        logger.setLevel(logging.WARNING)  # its INFO lines (seeds, devices, task lists)
    drop = _DropExpected()
    hf_logger = logging.getLogger("lm_eval.models.huggingface")
    hf_logger.addFilter(drop)
    bars_off = not datasets.are_progress_bars_disabled() and quiet()
    if bars_off:
        datasets.disable_progress_bars()  # "Generating test split"; lm-eval's own bars stay
    device = getattr(model, "device", torch.device("cpu"))
    rng_devices = [device] if getattr(device, "type", "cpu") == "cuda" else []
    py_state, np_state = random.getstate(), np.random.get_state()
    modes = [(m, m.training) for m in model.modules()]
    try:
        with contextlib.ExitStack() as stack:
            stack.enter_context(_env(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1"))
            stack.enter_context(_set_attr(hub_constants, "HF_HUB_OFFLINE", True))
            stack.enter_context(_set_attr(datasets.config, "HF_HUB_OFFLINE", True))
            stack.enter_context(_set_attr(datasets.config, "HF_DATASETS_OFFLINE", True))
            # the results' environment report (`pip list`, ~1 s) and `git describe` (a "fatal:" line
            # outside a git work tree): neither is part of what we report
            stack.enter_context(_set_attr(evaluator, "add_env_info", lambda storage: None))
            stack.enter_context(_set_attr(evaluator, "get_git_commit_hash", lambda: None))
            stack.enter_context(torch.random.fork_rng(devices=rng_devices))  # simple_evaluate seeds torch
            yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
        for m, training in modes:  # HFLM puts the model in eval mode
            m.train(training)
        if bars_off:
            datasets.enable_progress_bars()
        hf_logger.removeFilter(drop)
        logger.setLevel(old_level)


def _hf_model(model):
    """What HFLM accepts: a PEFT model's base model, which carries the (active) LoRA layers."""
    get_base = getattr(model, "get_base_model", None)
    if get_base is not None and type(model).__module__.startswith("peft"):
        return get_base()
    return model


def _metrics(task_results: dict, n: dict | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in task_results.items():
        if "," not in key or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue  # "alias", "name", and a stderr lm-eval could not compute ("N/A")
        metric, filt = key.split(",", 1)
        out[metric if filt == "none" else key] = float(value)
    if n and "effective" in n:
        out["n"] = int(n["effective"])
    return out


def run_lm_eval(
    model,
    tokenizer,
    tasks: Sequence[str],
    task_dir: str | Path,
    *,
    limit: int | None = None,
    batch_size: int = 8,
    num_fewshot: int | None = None,
) -> dict[str, dict[str, float]]:
    """Run lm-eval tasks from ``task_dir`` on ``model`` and return ``{task: {metric: value}}``.

    Args:
        model: a causal LM (``transformers`` model or a PEFT model: its adapters stay active).
        tokenizer: its tokenizer.
        tasks: task (or group/tag) names defined by the YAML files of ``task_dir``.
        task_dir: the folder of task YAML files; only it is indexed.
        limit: score at most this many examples per task (>= 1).
        batch_size: requests per forward pass.
        num_fewshot: few-shot examples per prompt (default: the task's own, else 0).

    Returns:
        Per task (and group), the metrics lm-eval reports without its ``,none`` filter suffix
        (``acc``, ``acc_stderr``, ``acc_norm``, ``acc_norm_stderr``, ...; another filter keeps its
        ``metric,filter`` key) and ``n``, the number of examples scored.

    Raises:
        ConfigError: the folder is missing, a task is not in it, or a number is out of range.
        DataError: a data file is missing, or lm-eval cannot build a task (e.g. its data is on the hub).
    """
    tasks = list(dict.fromkeys(tasks))  # a name given twice runs once
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ConfigError(f"lm-eval limit must be an integer >= 1 (examples per task), got {limit!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"lm-eval batch_size must be an integer >= 1, got {batch_size!r}")
    if num_fewshot is not None and (isinstance(num_fewshot, bool) or not isinstance(num_fewshot, int)
                                    or num_fewshot < 0):
        raise ConfigError(f"lm-eval num_fewshot must be an integer >= 0, got {num_fewshot!r}")
    check_tasks(tasks, task_dir)

    # deferred: loads jinja2, lm_eval
    import jinja2
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    hf_model = _hf_model(model)
    with _lm_eval_context(hf_model):
        manager = TaskManager(include_path=str(Path(task_dir).expanduser()), include_defaults=False)
        built: list = []
        for name in tasks:  # one at a time, so an error names its task
            try:
                loaded = manager.load([name])
            except jinja2.TemplateError as e:  # doc_to_text/doc_to_choice name a field the data lacks
                raise DataError(f"lm-eval task {name!r} in {task_dir}: a template of its YAML: "
                                f"{_one_line(e)}") from None
            except (OSError, ValueError, KeyError, TypeError, ImportError) as e:
                # OSError covers a missing file and ConnectionError (hub data while offline)
                raise DataError(f"lm-eval task {name!r} in {task_dir}: {_one_line(e)}") from None
            groups = loaded.get("groups") or {}
            built.extend([groups[name]] if name in groups else loaded["tasks"].values())
        lm = HFLM(pretrained=hf_model, tokenizer=tokenizer, batch_size=batch_size)
        try:
            results = lm_eval.simple_evaluate(model=lm, tasks=built, task_manager=manager, limit=limit,
                                              num_fewshot=num_fewshot, log_samples=False)
        except jinja2.TemplateError as e:  # a template that only fails on a later example
            raise DataError(f"lm-eval task {', '.join(map(repr, tasks))} in {task_dir}: a template of its "
                            f"YAML: {_one_line(e)}") from None
    n_samples = results.get("n-samples") or {}
    return {name: _metrics(res, n_samples.get(name)) for name, res in results["results"].items()}
