"""The bad-input table: command lines every ``obliviate`` command must refuse with one line and exit code 2.

Shared by ``tests/test_bad_inputs.py`` (each case a test) and ``benchmarks/bad_inputs.py`` (counts of
clear errors / tracebacks / silently accepted inputs, for docs/BENCHMARKS.md). Every case runs the CLI
in-process (``typer.testing.CliRunner``) in a fresh case folder and must:

- exit with code 2,
- print exactly one non-empty line on stderr, ``error: ...``, matching the case's pattern (the option or
  file at fault),
- leave every file under the inputs folder, the case folder and ``$OBLIVIATE_HOME`` as it was (no file
  created, changed or removed, no folder created or removed).

Every case is refused at parse/validation time: nothing here trains a model. Placeholders in a command
line: ``{I}`` the shared inputs folder (:func:`make_inputs`), ``{C}`` the case's own folder (also the
working directory, so a default ``runs/`` lands there). Cases marked ``owner="safety"`` test the run-folder
protection of issue 21 item 3 (another change); the rest test items 4-5 (parse-time validation).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import signal
import stat
from dataclasses import dataclass, field
from pathlib import Path

from tests.stand_in_data import smarl_k4_files

NOBODY = "nobody/no-such-model"  # a hub id: resolves without a download; loading it fails (offline)
UNWRITABLE = "/proc/obliviate-bad-inputs"  # not creatable, even by root


@dataclass(frozen=True)
class Case:
    id: str
    args: str
    pattern: str
    owner: str = ""  # "safety": run-folder protection (issue 21 item 3), implemented elsewhere

    def argv(self, inputs: Path, case_dir: Path) -> list[str]:
        return shlex.split(self.args.replace("{I}", str(inputs)).replace("{C}", str(case_dir)))


# ------------------------------------------------------------------------------------------ command prefixes
U = f"unlearn --model {NOBODY} --forget {{I}}/forget.jsonl --retain {{I}}/retain.jsonl --runs-dir {{C}}/runs"
F = f"finetune --data {{I}}/forget.jsonl --out {{C}}/out --model {NOBODY}"
E = f"eval --model {NOBODY} --forget {{I}}/forget.jsonl --retain {{I}}/retain.jsonl"
D = "demo --tiny --runs-dir {C}/runs"
DC = "demo --runs-dir {C}/runs --config {I}"
A = f"audit {NOBODY} --tiny"
L = "lens --tiny"
B = "bench --tiny --out {C}/bench"
SW = "sweep --tiny --out {C}/sweep"
GU = "graph unlearn --data-dir {I}/data --runs-dir {C}/runs"
GB = "graph bench --data-dir {I}/data --out {C}/gb"
VU = "vision unlearn --source digits --data-dir {I}/data --runs-dir {C}/runs"  # sklearn's digits: no download
VB = "vision bench --source digits --data-dir {I}/data --out {C}/vb"
ST = "smarl train --data-dir {I}/data --runs-dir {C}/runs"
SE = "smarl eval --data-dir {I}/data --runs-dir {C}/runs --no-build-reference --no-dns-cost"
SS = "smarl simulate --data-dir {I}/data --runs-dir {C}/runs"
SR = "smarl reference --data-dir {I}/data"


def _numbers(prefix: str, tag: str, option: str, values: list[str], pattern: str | None = None) -> list[Case]:
    """One case per bad value of a numeric option."""
    name = option.lstrip("-")
    return [Case(f"{tag}-{name}-{v}", f"{prefix} {option} {v}", pattern or name.replace("-", "[-_]")) for v in values]


NONFINITE = ["nan", "inf", "-inf"]
CASES: list[Case] = [
    # ---------------------------------------------------------------- unlearn
    *_numbers(U, "unlearn", "--epochs", ["nan", "inf", "-1", "0", "1e300"]),
    *_numbers(U, "unlearn", "--lr", ["nan", "inf", "0", "-1e-5"]),
    *_numbers(U, "unlearn", "--batch-size", ["0", "-4"]),
    *_numbers(U, "unlearn", "--grad-accum", ["0", "-1"]),
    *_numbers(U, "unlearn", "--eval-every", ["-1"]),
    *_numbers(U, "unlearn", "--keep-threshold", ["1.5", "-0.1", "nan"]),
    Case("unlearn-keep-nope", f"{U} --keep nope", r"keep"),
    Case("unlearn-stop-at-nope", f"{U} --stop-at never", r"stop"),
    Case("eval-request-no-original", f"eval --model {NOBODY} --forget {{I}}/plain.jsonl", r"--original"),
    Case("eval-request-prompt-nope", f"eval --model {NOBODY} --forget {{I}}/plain.jsonl --original {NOBODY} "
                                     "--prompt nope", r"prompt"),
    Case("eval-request-metric", f"eval --model {NOBODY} --forget {{I}}/plain.jsonl --original {NOBODY} "
                                "--metric memo", r"--metric"),
    Case("eval-topic-holdout-alone", f"eval --model {NOBODY} --topic-holdout {{I}}/plain.jsonl", r"--forget"),
    Case("demo-real-set", "demo --real --set beta=1 --runs-dir {C}/runs", r"--set"),
    Case("demo-forget-without-real", "demo --tiny --forget {I}/plain.jsonl --runs-dir {C}/runs", r"--real"),
    Case("demo-real-retain-alone", "demo --real --retain {I}/plain.jsonl --runs-dir {C}/runs", r"forget"),
    Case("demo-real-forget-missing", "demo --real --forget {I}/nope.jsonl --runs-dir {C}/runs", r"nope\.jsonl"),
    Case("demo-real-method-nope", "demo --real --method nope --runs-dir {C}/runs", r"nope"),
    Case("sweep-real-method-nope", "sweep --real --methods nope --out {C}/rs", r"nope"),
    Case("sweep-real-budget", "sweep --real --budget 3 --out {C}/rs", r"--budget"),
    Case("sweep-real-retain-alone", "sweep --real --retain {I}/plain.jsonl --out {C}/rs", r"forget"),
    Case("sweep-real-forget-missing", "sweep --real --forget {I}/nope.jsonl --out {C}/rs", r"nope\.jsonl"),
    Case("sweep-forget-without-real", "sweep --tiny --forget {I}/plain.jsonl --out {C}/rs", r"--real"),
    Case("unlearn-eval-set-max-per-split-neg", f"{U} --eval-every 2 --eval-set max_per_split=-1", r"max_per_split"),
    Case("unlearn-eval-set-batch-size-0", f"{U} --eval-every 2 --eval-set batch_size=0", r"batch_size"),
    Case("unlearn-eval-set-unknown", f"{U} --eval-every 2 --eval-set nope=1", r"nope"),
    Case("unlearn-eval-set-not-kv", f"{U} --eval-every 2 --eval-set max_forget", r"max_forget"),
    Case("unlearn-lora-save-nope", f"{U} --lora-save nope", r"lora-save"),
    Case("unlearn-lora-save-adapter-no-lora", f"{U} --lora-save adapter", r"lora"),
    Case("unlearn-lora-r0", f"{U} --lora r=0", r"lora"),
    Case("unlearn-lora-r-abc", f"{U} --lora r=abc", r"lora"),
    Case("unlearn-lora-unknown-key", f"{U} --lora r=8,beta=2", r"lora"),
    Case("unlearn-method-nope", f"{U} --method forgetall", r"forgetall"),
    Case("unlearn-set-unknown", f"{U} --set betta=1", r"betta"),
    Case("unlearn-set-nan", f"{U} --set beta=nan", r"beta"),
    Case("unlearn-set-not-kv", f"{U} --set beta", r"beta"),
    Case("unlearn-combiner-nope", f"{U} --combiner nope", r"combiner"),
    Case("unlearn-combiner-set-k0", f"{U} --combiner gu --combiner-set k=0", r"\bk\b"),
    Case("unlearn-sampling-nope", f"{U} --sampling nope", r"sampling"),
    Case("unlearn-neighbours-nope", f"{U} --neighbours nope", r"neighbours|nope"),
    Case("unlearn-gold-without-eval-every", f"{U} --gold {NOBODY}", r"gold"),
    Case("unlearn-keep-best-without-gold", f"{U} --eval-every 2 --keep best", r"keep best|gold"),
    Case("unlearn-runs-dir-unwritable", f"{U} --runs-dir {UNWRITABLE}/runs", r"runs-dir"),
    Case("unlearn-runs-dir-under-a-file", f"{U} --runs-dir {{I}}/a-file.txt/runs", r"runs-dir"),
    Case("unlearn-runs-dir-is-a-file", f"{U} --runs-dir {{I}}/a-file.txt", r"runs-dir"),
    Case("unlearn-model-missing", "unlearn --model {C}/no-model --forget {I}/forget.jsonl --retain {I}/retain.jsonl",
         r"model not found"),
    Case("unlearn-model-folder-no-config", "unlearn --model {I}/data --forget {I}/forget.jsonl "
                                           "--retain {I}/retain.jsonl", r"config\.json"),
    Case("unlearn-forget-without-retain", f"unlearn --model {NOBODY} --forget {{I}}/forget.jsonl", r"retain"),
    Case("unlearn-forget-missing", f"unlearn --model {NOBODY} --forget {{I}}/nope.jsonl --retain {{I}}/retain.jsonl",
         r"nope\.jsonl"),
    Case("unlearn-forget-is-a-folder", f"unlearn --model {NOBODY} --forget {{I}}/data --retain {{I}}/retain.jsonl",
         r"data: no request files"),
    Case("unlearn-forget-not-utf8", f"unlearn --model {NOBODY} --forget {{I}}/nonutf8.jsonl "
                                    "--retain {I}/retain.jsonl", r"nonutf8\.jsonl.*UTF-8"),
    Case("unlearn-forget-bad-json", f"unlearn --model {NOBODY} --forget {{I}}/bad.jsonl --retain {{I}}/retain.jsonl",
         r"bad\.jsonl:1"),
    Case("unlearn-forget-array", f"unlearn --model {NOBODY} --forget {{I}}/array.jsonl --retain {{I}}/retain.jsonl",
         r"array\.jsonl:1"),
    Case("unlearn-forget-missing-field", f"unlearn --model {NOBODY} --forget {{I}}/missing-field.jsonl "
                                         "--retain {I}/retain.jsonl", r"missing-field\.jsonl:1.*answer"),
    Case("unlearn-forget-empty-answer", f"unlearn --model {NOBODY} --forget {{I}}/empty-answer.jsonl "
                                        "--retain {I}/retain.jsonl", r"empty-answer\.jsonl:1.*answer"),
    Case("unlearn-forget-dup-id", f"unlearn --model {NOBODY} --forget {{I}}/dup-id.jsonl --retain {{I}}/retain.jsonl",
         r"dup-id\.jsonl:2.*duplicate"),
    Case("unlearn-forget-huge-line", f"unlearn --model {NOBODY} --forget {{I}}/huge.jsonl --retain {{I}}/retain.jsonl",
         r"huge\.jsonl:1.*answer"),
    Case("unlearn-forget-empty", f"unlearn --model {NOBODY} --forget {{I}}/empty.jsonl --retain {{I}}/retain.jsonl",
         r"empty\.jsonl|no entity"),
    Case("unlearn-retain-missing", f"unlearn --model {NOBODY} --forget {{I}}/forget.jsonl --retain {{I}}/nope.jsonl",
         r"nope\.jsonl"),
    Case("unlearn-retain-huge-line", f"unlearn --model {NOBODY} --forget {{I}}/forget.jsonl "
                                     "--retain {I}/huge.jsonl", r"huge\.jsonl:1"),
    Case("unlearn-holdout-missing", f"{U} --holdout {{I}}/nope.jsonl", r"nope\.jsonl"),
    Case("unlearn-world-missing", f"unlearn --model {NOBODY} --world {{I}}/no-world --runs-dir {{C}}/runs",
         r"no-world"),
    Case("unlearn-split-nope", f"unlearn --model {NOBODY} --world {{I}}/world --split forget99 "
                               "--runs-dir {C}/runs", r"forget99"),
    Case("unlearn-data-no-folder", f"unlearn --model {NOBODY} --data tofu --runs-dir {{C}}/runs", r"--data"),
    Case("unlearn-data-unknown-format", f"unlearn --model {NOBODY} --data nope:{{I}}/data --runs-dir {{C}}/runs",
         r"nope"),
    Case("unlearn-data-and-forget", f"{U} --data tofu:{{I}}/data", r"--data"),
    Case("unlearn-resume-missing", f"{U} --resume {{C}}/no-run", r"no-run"),
    # safety agent (issue 21 item 3): --resume accepts only an unfinished run of the same command
    Case("unlearn-resume-finished-demo", f"{U} --resume {{C}}/finished-demo",
         r"finished-demo", owner="safety"),
    Case("unlearn-resume-config-only", f"{U} --resume {{C}}/config-only", r"config-only", owner="safety"),
    # ---------------------------------------------------------------- finetune
    *_numbers(F, "finetune", "--epochs", ["nan", "inf", "-1", "0"]),
    *_numbers(F, "finetune", "--lr", ["nan", "-inf", "0"]),
    *_numbers(F, "finetune", "--batch-size", ["0"]),
    *_numbers(F, "finetune", "--grad-accum", ["0"]),
    Case("finetune-epochs-not-a-number", f"{F} --epochs many", r"epochs"),
    Case("finetune-lora-r0", f"{F} --lora r=0", r"lora"),
    Case("finetune-data-missing", f"finetune --data {{I}}/nope.jsonl --out {{C}}/out --model {NOBODY}",
         r"nope\.jsonl"),
    Case("finetune-data-not-utf8", f"finetune --data {{I}}/nonutf8.jsonl --out {{C}}/out --model {NOBODY}",
         r"nonutf8\.jsonl"),
    Case("finetune-data-empty", f"finetune --data {{I}}/empty.jsonl --out {{C}}/out --model {NOBODY}",
         r"empty\.jsonl"),
    Case("finetune-data-huge-line", f"finetune --data {{I}}/huge.jsonl --out {{C}}/out --model {NOBODY}",
         r"huge\.jsonl:1"),
    Case("finetune-out-is-a-file", f"finetune --data {{I}}/forget.jsonl --out {{I}}/a-file.txt --model {NOBODY}",
         r"out"),
    Case("finetune-out-unwritable", f"finetune --data {{I}}/forget.jsonl --out {UNWRITABLE}/m --model {NOBODY}",
         r"out"),
    Case("finetune-model-missing", "finetune --data {I}/forget.jsonl --out {C}/out --model {C}/no-model",
         r"model not found"),
    # safety agent (issue 21 item 3): finetune --out <a finished run folder> must not delete the run
    Case("finetune-out-finished-run", f"finetune --data {{I}}/forget.jsonl --out {{C}}/finished-demo "
                                      f"--model {NOBODY}", r"finished-demo", owner="safety"),
    # ---------------------------------------------------------------- eval
    *_numbers(E, "eval", "--max-per-split", ["-1", "0"]),
    Case("eval-metric-nope", f"{E} --metric nope", r"nope"),
    Case("eval-compat-nope", f"{E} --compat tofu", r"compat.*tofu"),
    Case("eval-summary-with-other-metric", f"{E} --metric memo --summary {{C}}/s.json", r"summary"),
    Case("eval-summary-exists", f"{E} --summary {{I}}/a-file.txt", r"summary.*a-file\.txt"),
    Case("eval-summary-is-a-folder", f"{E} --summary {{I}}/data", r"summary"),
    Case("eval-gold-with-other-metric", f"{E} --metric memo --gold {NOBODY}", r"gold"),
    Case("eval-original-with-data", f"eval --model {NOBODY} --data tofu:{{I}}/data --original {NOBODY}", r"--data"),
    Case("eval-out-unwritable", f"{E} --out {UNWRITABLE}/m.json", r"--out"),
    Case("eval-out-under-a-file", f"{E} --out {{I}}/a-file.txt/m.json", r"--out"),
    Case("eval-out-is-a-folder", f"{E} --out {{I}}/data", r"--out"),
    Case("eval-out-not-its-own-file", f"{E} --out {{I}}/a-file.txt", r"a-file\.txt.*not written by", owner="safety"),
    Case("eval-model-missing", "eval --model {C}/no-model --forget {I}/forget.jsonl --retain {I}/retain.jsonl",
         r"model not found"),
    Case("eval-forget-without-retain", f"eval --model {NOBODY} --forget {{I}}/forget.jsonl", r"retain"),
    Case("eval-forget-huge-line", f"eval --model {NOBODY} --forget {{I}}/huge.jsonl --retain {{I}}/retain.jsonl",
         r"huge\.jsonl:1"),
    Case("eval-split-nope", f"eval --model {NOBODY} --world {{I}}/world --split forget99", r"forget99"),
    Case("eval-world-missing", f"eval --model {NOBODY} --world {{I}}/no-world", r"no-world"),
    Case("eval-lm-eval-task-missing", f"{E} --lm-eval nope --lm-eval-dir {{I}}/tasks", r"'nope' not found.*tinyqa"),
    Case("eval-lm-eval-one-of-two-missing", f"{E} --lm-eval tinyqa,nope --lm-eval-dir {{I}}/tasks", r"'nope'"),
    Case("eval-lm-eval-without-dir", f"{E} --lm-eval tinyqa", r"--lm-eval-dir"),
    Case("eval-lm-eval-dir-without-tasks", f"{E} --lm-eval-dir {{I}}/tasks", r"--lm-eval\b"),
    Case("eval-lm-eval-limit-without-tasks", f"{E} --lm-eval-limit 5", r"--lm-eval-limit"),
    Case("eval-lm-eval-empty-name", f"{E} --lm-eval tinyqa, --lm-eval-dir {{I}}/tasks", r"--lm-eval"),
    Case("eval-lm-eval-dir-missing", f"{E} --lm-eval tinyqa --lm-eval-dir {{I}}/no-tasks", r"no-tasks"),
    Case("eval-lm-eval-dir-is-a-file", f"{E} --lm-eval tinyqa --lm-eval-dir {{I}}/a-file.txt", r"a-file\.txt"),
    Case("eval-lm-eval-data-missing", f"{E} --lm-eval nodata --lm-eval-dir {{I}}/tasks", r"nodata.*no-such\.jsonl"),
    *_numbers(f"{E} --lm-eval tinyqa --lm-eval-dir {{I}}/tasks", "eval", "--lm-eval-limit", ["0", "-1"]),
    # ---------------------------------------------------------------- demo (flags and --config YAML)
    Case("demo-config-unlearn-epochs-nan", f"{DC}/unlearn-epochs-nan.yaml", r"epochs"),
    Case("demo-config-finetune-epochs-inf", f"{DC}/finetune-epochs-inf.yaml", r"epochs"),
    Case("demo-config-unlearn-epochs-neg", f"{DC}/unlearn-epochs-neg.yaml", r"epochs"),
    Case("demo-config-unlearn-lr-nan", f"{DC}/unlearn-lr-nan.yaml", r"lr"),
    Case("demo-config-unlearn-lr-neg", f"{DC}/unlearn-lr-neg.yaml", r"lr"),
    Case("demo-config-unlearn-batch-size-0", f"{DC}/unlearn-batch-size-0.yaml", r"batch_size"),
    Case("demo-config-unlearn-grad-accum-0", f"{DC}/unlearn-grad-accum-0.yaml", r"grad_accum"),
    Case("demo-config-unlearn-seed-neg", f"{DC}/unlearn-seed-neg.yaml", r"seed"),
    Case("demo-config-unlearn-warmup-1.5", f"{DC}/unlearn-warmup-ratio.yaml", r"warmup_ratio"),
    Case("demo-config-unlearn-weight-decay-nan", f"{DC}/unlearn-weight-decay-nan.yaml", r"weight_decay"),
    Case("demo-config-unlearn-max-grad-norm-neg", f"{DC}/unlearn-max-grad-norm-neg.yaml", r"max_grad_norm"),
    Case("demo-config-unlearn-checkpoint-every-neg", f"{DC}/unlearn-checkpoint-every-neg.yaml", r"checkpoint_every"),
    Case("demo-config-unlearn-max-loss-abs-0", f"{DC}/unlearn-max-loss-abs-0.yaml", r"max_loss_abs"),
    Case("demo-config-unlearn-epochs-string", f"{DC}/unlearn-epochs-string.yaml", r"epochs"),
    Case("demo-config-world-entities-3", f"{DC}/world-entities-3.yaml", r"n_entities"),
    Case("demo-config-world-entities-huge", f"{DC}/world-entities-huge.yaml", r"n_entities"),
    Case("demo-config-world-seed-neg", f"{DC}/world-seed-neg.yaml", r"seed"),
    Case("demo-config-world-holdout-nan", f"{DC}/world-holdout-nan.yaml", r"holdout_fraction"),
    Case("demo-config-eval-max-per-split-neg", f"{DC}/eval-max-per-split-neg.yaml", r"eval_max_per_split"),
    Case("demo-config-eval-max-per-split-0", f"{DC}/eval-max-per-split-0.yaml", r"eval_max_per_split"),
    Case("demo-config-variant-nope", f"{DC}/variant-nope.yaml", r"forget99|variant"),
    Case("demo-config-method-nope", f"{DC}/method-nope.yaml", r"forgetall"),
    Case("demo-config-method-config-nan", f"{DC}/method-config-nan.yaml", r"beta"),
    Case("demo-config-unknown-key", f"{DC}/unknown-key.yaml", r"epochz"),
    Case("demo-config-not-utf8", f"{DC}/nonutf8.yaml", r"nonutf8\.yaml.*UTF-8"),
    Case("demo-config-not-a-mapping", f"{DC}/list.yaml", r"list\.yaml"),
    Case("demo-config-bad-syntax", f"{DC}/bad-syntax.yaml", r"bad-syntax\.yaml"),
    Case("demo-config-empty", f"{DC}/empty.yaml", r"empty\.yaml"),
    Case("demo-config-missing", f"{DC}/nope.yaml", r"nope\.yaml"),
    Case("demo-config-is-a-folder", f"{DC}/data", r"data"),
    Case("demo-runs-dir-unwritable", f"demo --tiny --runs-dir {UNWRITABLE}/runs", r"runs-dir"),
    Case("demo-runs-dir-under-a-file", "demo --tiny --runs-dir {I}/a-file.txt/runs", r"runs-dir"),
    Case("demo-method-nope", f"{D} --method forgetall", r"forgetall"),
    Case("demo-set-unknown", f"{D} --set betta=1", r"betta"),
    Case("demo-set-nan", f"{D} --set beta=nan", r"beta"),
    Case("demo-set-inf", f"{D} --set beta=inf", r"beta"),
    Case("demo-combiner-nope", f"{D} --combiner nope", r"combiner"),
    Case("demo-combiner-set-unknown", f"{D} --combiner gu --combiner-set nope=1", r"nope"),
    Case("demo-sampling-nope", f"{D} --sampling nope", r"sampling"),
    Case("demo-neighbours-nope", f"{D} --neighbours nope", r"neighbours|nope"),
    Case("demo-model-missing", f"{D} --model {{C}}/no-model", r"model not found"),
    Case("demo-resume-missing", f"{D} --resume {{C}}/no-run", r"no-run"),
    Case("demo-resume-not-a-run", f"{D} --resume {{I}}/data", r"data.*(config\.yaml|run folder|run\.json)"),
    # safety agent (issue 21 item 3): demo --resume <finished run> re-ran it and doubled events.jsonl
    Case("demo-resume-finished", f"{D} --resume {{C}}/finished-demo", r"finished-demo", owner="safety"),
    # ---------------------------------------------------------------- world
    *_numbers("world --out {C}/w", "world", "--entities", ["0", "-5", "7", "100000"]),
    *_numbers("world --out {C}/w", "world", "--seed", ["-1"]),
    Case("world-entities-not-int", "world --out {C}/w --entities 2.5", r"entities"),
    Case("world-profile-nope", "world --out {C}/w --profile huge", r"profile.*huge"),
    Case("bench-profile-nope", "bench --out {C}/bench --profile huge", r"profile.*huge"),
    Case("bench-profile-with-configs", "bench --out {C}/bench --profile standard --configs {I}/a-file.txt",
         r"--profile"),
    Case("sweep-profile-nope", "sweep --out {C}/sweep --profile huge", r"profile.*huge"),
    Case("world-out-is-a-file", "world --out {I}/a-file.txt", r"out"),
    Case("world-out-under-a-file", "world --out {I}/a-file.txt/w", r"out"),
    Case("world-out-unwritable", f"world --out {UNWRITABLE}/w", r"out"),
    # ---------------------------------------------------------------- audit
    Case("audit-forget-nope", f"{A} --forget forget99", r"forget"),
    Case("audit-forget-file-missing", f"{A} --forget {{I}}/nope.jsonl", r"nope\.jsonl"),
    Case("audit-forget-file-huge-line", f"{A} --forget {{I}}/huge.jsonl", r"huge\.jsonl:1"),
    Case("audit-config-epochs-nan", f"audit {NOBODY} --config {{I}}/unlearn-epochs-nan.yaml", r"epochs"),
    Case("audit-config-not-utf8", f"audit {NOBODY} --config {{I}}/nonutf8.yaml", r"nonutf8\.yaml"),
    Case("audit-config-missing", f"audit {NOBODY} --config {{I}}/nope.yaml", r"nope\.yaml"),
    Case("audit-request-no-original", f"audit {NOBODY} --forget {{I}}/plain.jsonl", r"--original"),
    Case("audit-retain-with-a-split", f"{A} --retain {{I}}/retain.jsonl", r"--retain"),
    Case("audit-out-unwritable", f"{A} --out {UNWRITABLE}/a.json", r"--out"),
    Case("audit-out-is-a-folder", f"{A} --out {{I}}/data", r"--out"),
    Case("audit-out-not-its-own-file", f"{A} --out {{I}}/a-file.txt", r"a-file\.txt.*not written by", owner="safety"),
    Case("audit-lora-bad", f"{A} --lora r=0", r"lora"),
    Case("audit-model-missing", "audit {C}/no-model --tiny", r"no-model"),
    # ---------------------------------------------------------------- lens
    *_numbers(L, "lens", "--layer", ["-5"]),
    *_numbers(L, "lens", "--expansion", ["0", "-8"]),
    *_numbers(L, "lens", "--k", ["-1"], r"\bk\b"),
    *_numbers(L, "lens", "--epochs", ["0", "-1"]),
    Case("lens-corpus-missing", f"{L} --corpus {{I}}/nope.txt", r"nope\.txt"),
    Case("lens-corpus-not-utf8", f"{L} --corpus {{I}}/nonutf8.jsonl", r"nonutf8\.jsonl"),
    Case("lens-config-epochs-nan", "lens --config {I}/unlearn-epochs-nan.yaml", r"epochs"),
    Case("lens-out-is-a-file", f"{L} --out {{I}}/a-file.txt", r"--out"),
    Case("lens-out-unwritable", f"{L} --out {UNWRITABLE}/lens", r"--out"),
    Case("lens-out-foreign-folder", f"{L} --out {{I}}/data", r"data.*not an entity lens folder", owner="safety"),
    Case("lens-check-missing", f"{L} --check {{C}}/no-model", r"no-model"),
    # ---------------------------------------------------------------- bench
    Case("bench-seeds-not-ints", f"{B} --seeds a,b", r"seeds"),
    Case("bench-seeds-neg", f"{B} --seeds -1", r"seeds"),
    Case("bench-splits-nope", f"{B} --splits forget99", r"forget99"),
    Case("bench-methods-nope", f"{B} --methods forgetall", r"forgetall"),
    Case("bench-config-lr-nan", "bench --out {C}/bench --config {I}/unlearn-lr-nan.yaml", r"lr"),
    Case("bench-config-not-utf8", "bench --out {C}/bench --config {I}/nonutf8.yaml", r"nonutf8\.yaml"),
    Case("bench-config-unknown-key", "bench --out {C}/bench --config {I}/bench-unknown-key.yaml", r"nope"),
    Case("bench-config-seeds-neg", "bench --out {C}/bench --config {I}/bench-seeds-neg.yaml", r"seeds"),
    Case("bench-config-eval-max-per-split-0", "bench --out {C}/bench --config {I}/eval-max-per-split-0.yaml",
         r"eval_max_per_split"),
    Case("bench-configs-missing", "bench --out {C}/bench --configs {I}/nope.json", r"nope\.json"),
    Case("bench-configs-not-a-sweep", "bench --out {C}/bench --configs {I}/forget.jsonl", r"forget\.jsonl"),
    Case("bench-configs-and-model", f"bench --out {{C}}/bench --configs {{I}}/nope.json --model {NOBODY}",
         r"configs"),
    Case("bench-out-is-a-file", "bench --tiny --out {I}/a-file.txt", r"--out"),
    Case("bench-out-foreign-folder", "bench --tiny --out {I}/world", r"--out.*not a .bench. folder"),
    Case("bench-out-unwritable", f"bench --tiny --out {UNWRITABLE}/bench", r"--out"),
    # ---------------------------------------------------------------- sweep
    *_numbers(SW, "sweep", "--budget", ["0", "-1"]),
    *_numbers(SW, "sweep", "--seed", ["-1"]),
    Case("sweep-methods-nope", f"{SW} --methods forgetall", r"forgetall"),
    Case("sweep-splits-nope", f"{SW} --splits forget99", r"forget99"),
    Case("sweep-config-lr-nan", "sweep --out {C}/sweep --config {I}/unlearn-lr-nan.yaml", r"lr"),
    Case("sweep-config-lr-factors-nan", "sweep --out {C}/sweep --config {I}/sweep-lr-factors-nan.yaml", r"lr_factors"),
    Case("sweep-out-is-a-file", "sweep --tiny --out {I}/a-file.txt", r"--out"),
    Case("sweep-out-foreign-folder", "sweep --tiny --out {I}/bad-run", r"--out.*not a .sweep. folder"),
    Case("sweep-out-unwritable", f"sweep --tiny --out {UNWRITABLE}/sweep", r"--out"),
    # ---------------------------------------------------------------- report, methods, top level
    Case("report-missing", "report {C}/no-run", r"no-run"),
    Case("report-no-metrics", "report {I}/data", r"metrics\.json"),
    Case("report-metrics-not-json", "report {I}/bad-run", r"metrics\.json"),
    Case("methods-unknown-option", "methods --all", r"--all"),
    Case("unknown-command", "forgetall", r"forgetall"),
    Case("unknown-option", f"{U} --epoch 2", r"--epoch"),
    Case("missing-required-option", "unlearn --method npo", r"--model"),
    Case("option-missing-value", f"{U} --epochs", r"--epochs"),
    # ---------------------------------------------------------------- graph
    Case("graph-unlearn-dataset-nope", f"{GU} --dataset pubmed2", r"pubmed2"),
    Case("graph-unlearn-task-nope", f"{GU} --task graph", r"task"),
    Case("graph-unlearn-method-nope", f"{GU} --method forgetall", r"forgetall"),
    Case("graph-unlearn-backbone-nope", f"{GU} --backbone mlp", r"backbone"),
    Case("graph-unlearn-where-nope", f"{GU} --where nowhere", r"where"),
    *_numbers(GU, "graph-unlearn", "--fraction", ["0", "-0.1", "1.5", "nan"]),
    *_numbers(GU, "graph-unlearn", "--seed", ["-1"]),
    Case("graph-unlearn-set-unknown", f"{GU} --set nope=1", r"nope"),
    Case("graph-unlearn-set-nan", f"{GU} --method GradAscent --set lr=nan", r"lr"),
    Case("graph-unlearn-runs-dir-unwritable", f"graph unlearn --data-dir {{I}}/data --runs-dir {UNWRITABLE}/r",
         r"runs-dir"),
    Case("graph-unlearn-runs-dir-is-a-file", "graph unlearn --data-dir {I}/data --runs-dir {I}/a-file.txt",
         r"runs-dir"),
    Case("graph-unlearn-data-dir-missing", "graph unlearn --data-dir {C}/no-data --runs-dir {C}/runs",
         r"no-data|data"),
    Case("graph-bench-methods-nope", f"{GB} --methods forgetall", r"forgetall"),
    Case("graph-bench-datasets-nope", f"{GB} --datasets pubmed2", r"pubmed2"),
    Case("graph-bench-tasks-nope", f"{GB} --tasks graph", r"task"),
    Case("graph-bench-seeds-not-ints", f"{GB} --seeds a", r"seeds"),
    Case("graph-bench-seeds-neg", f"{GB} --seeds -1", r"seeds"),
    Case("graph-bench-seeds-empty", f"{GB} --seeds ,", r"seeds"),
    Case("graph-bench-backbone-nope", f"{GB} --backbone mlp", r"backbone"),
    Case("graph-bench-backbone-list-nope", f"{GB} --backbone gcn,mlp", r"backbone"),
    Case("graph-bench-where-nope", f"{GB} --where nearby", r"where"),
    Case("graph-bench-fraction-not-number", f"{GB} --fraction lots", r"--fraction"),
    Case("graph-bench-fraction-too-big", f"{GB} --fraction 0.005,0.7", r"fraction"),
    Case("graph-bench-node-fraction-zero", f"{GB} --node-fraction 0", r"node_fraction"),
    Case("graph-bench-out-is-a-file", "graph bench --data-dir {I}/data --out {I}/a-file.txt", r"--out"),
    Case("graph-bench-out-foreign-folder", "graph bench --data-dir {I}/data --out {I}/world",
         r"--out.*not a .graph bench. folder"),
    Case("graph-bench-out-unwritable", f"graph bench --data-dir {{I}}/data --out {UNWRITABLE}/gb", r"--out"),
    # ---------------------------------------------------------------- vision
    Case("vision-unlearn-method-nope", f"{VU} --method forgetall", r"forgetall"),
    Case("vision-unlearn-source-nope", f"{VU} --source cifar", r"source"),
    Case("vision-unlearn-model-nope", f"{VU} --model vit", r"model"),
    *_numbers(VU, "vision-unlearn", "--aligned", ["1.5", "-0.1", "nan"]),
    *_numbers(VU, "vision-unlearn", "--forget-class", ["10", "-1"], r"forget[-_]class"),
    *_numbers(VU, "vision-unlearn", "--seed", ["-1"]),
    Case("vision-unlearn-set-unknown", f"{VU} --set nope=1", r"nope"),
    Case("vision-unlearn-set-nan", f"{VU} --method NegGrad --set lr=nan", r"lr"),
    Case("vision-unlearn-runs-dir-unwritable", f"vision unlearn --data-dir {{I}}/data --runs-dir {UNWRITABLE}/r",
         r"runs-dir"),
    Case("vision-unlearn-runs-dir-under-a-file", "vision unlearn --data-dir {I}/data --runs-dir {I}/a-file.txt/r",
         r"runs-dir"),
    Case("vision-unlearn-data-dir-missing", "vision unlearn --data-dir {C}/no-data --runs-dir {C}/runs",
         r"no-data|data"),
    *_numbers(VU, "vision-unlearn", "--stop-at", ["1.5", "nan"], r"stop_at"),
    *_numbers(VU, "vision-unlearn", "--check-every", ["0"], r"check_every"),
    *_numbers(VU, "vision-unlearn", "--budget", ["0", "-1"], r"budget"),
    Case("vision-unlearn-bar-with-cnn", f"{VU} --source bar --model cnn", r"lite0-top"),
    Case("vision-unlearn-digits-with-lite0", f"{VU} --model lite0-top", r"lite0-top"),
    Case("vision-unlearn-bar-class-nope", f"{VU} --source bar --forget-class 6", r"0-5"),
    Case("vision-unlearn-bar-missing", "vision unlearn --source bar --data-dir {C}/no-data --runs-dir {C}/runs",
         r"BAR"),
    Case("vision-bench-methods-nope", f"{VB} --methods forgetall", r"forgetall"),
    *_numbers(VB, "vision-bench", "--stop-at", ["2"], r"stop_at"),
    *_numbers(VB, "vision-bench", "--train-epochs", ["0"], r"train_epochs"),
    Case("vision-bench-seeds-not-ints", f"{VB} --seeds x", r"seeds"),
    Case("vision-bench-seeds-neg", f"{VB} --seeds -3", r"seeds"),
    Case("vision-bench-source-nope", f"{VB} --source cifar", r"source"),
    *_numbers(VB, "vision-bench", "--aligned", ["nan", "2"]),
    Case("vision-bench-out-is-a-file", "vision bench --data-dir {I}/data --out {I}/a-file.txt", r"--out"),
    Case("vision-bench-out-foreign-folder", "vision bench --source digits --data-dir {I}/data --out {I}/world",
         r"--out.*not a .vision bench. folder"),
    Case("vision-bench-out-unwritable", f"vision bench --data-dir {{I}}/data --out {UNWRITABLE}/vb", r"--out"),
    # ---------------------------------------------------------------- SMARL
    Case("smarl-train-case-nope", f"{ST} --case k5", r"k5"),
    *_numbers(ST, "smarl-train", "--n", ["0", "-32", "7"], r"\bn\b"),
    *_numbers(ST, "smarl-train", "--iterations", ["-1"]),
    *_numbers(ST, "smarl-train", "--envs", ["0"]),
    *_numbers(ST, "smarl-train", "--episode-steps", ["0", "-10"], r"episode[-_]steps"),
    *_numbers(ST, "smarl-train", "--rollout", ["0"]),
    *_numbers(ST, "smarl-train", "--seed", ["-1"]),
    *_numbers(ST, "smarl-train", "--time-limit", ["nan", "-1", "inf"], r"time[-_]limit"),
    *_numbers(ST, "smarl-train", "--checkpoint-every", ["0"], r"checkpoint[-_]every"),
    Case("smarl-train-form-nope", f"{ST} --form dynamic", r"form"),
    Case("smarl-train-out-is-a-file", "smarl train --data-dir {I}/data --out {I}/a-file.txt", r"--out"),
    Case("smarl-train-out-foreign-folder", "smarl train --data-dir {I}/data --out {I}/data", r"--out.*data.*not "
         r"overwritten", owner="safety"),
    Case("smarl-train-runs-dir-unwritable", f"smarl train --data-dir {{I}}/data --runs-dir {UNWRITABLE}/r",
         r"runs-dir"),
    Case("smarl-train-resume-no-checkpoint", f"{ST} --resume {{I}}/data", r"checkpoint"),
    Case("smarl-train-resume-missing", f"{ST} --resume {{C}}/no-run", r"no-run"),
    Case("smarl-eval-case-nope", f"{SE} --case k5", r"k5"),
    *_numbers(SE, "smarl-eval", "--n", ["0", "7"], r"\bn\b"),
    *_numbers(SE, "smarl-eval", "--t-end", ["nan", "inf", "-1", "0"], r"t_end"),
    *_numbers(SE, "smarl-eval", "--t-avg", ["nan", "-1", "50"], r"t_avg"),
    Case("smarl-eval-closures-nope", f"{SE} --closures leith,nope", r"nope"),
    Case("smarl-eval-run-missing", f"{SE} --run {{C}}/no-run", r"no-run"),
    Case("smarl-eval-runs-dir-unwritable", f"smarl eval --data-dir {{I}}/data --runs-dir {UNWRITABLE}/r "
                                           "--no-build-reference --no-dns-cost", r"runs-dir"),
    Case("smarl-simulate-closure-nope", f"{SS} --closure nope", r"nope"),
    Case("smarl-simulate-learned-without-run", f"{SS} --closure learned", r"--run"),
    Case("smarl-simulate-case-nope", f"{SS} --case k5", r"k5"),
    *_numbers(SS, "smarl-simulate", "--n", ["0", "-8", "7"], r"\bn\b"),
    *_numbers(SS, "smarl-simulate", "--t-end", ["nan", "inf", "-1"], r"t_end"),
    *_numbers(SS, "smarl-simulate", "--t-avg", ["nan", "-1"], r"t_avg"),
    Case("smarl-simulate-runs-dir-is-a-file", "smarl simulate --data-dir {I}/data --runs-dir {I}/a-file.txt",
         r"runs-dir"),
    Case("smarl-simulate-runs-dir-unwritable", f"smarl simulate --data-dir {{I}}/data --runs-dir {UNWRITABLE}/r",
         r"runs-dir"),
    Case("smarl-reference-case-nope", f"{SR} --case k5", r"k5"),
    *_numbers(SR, "smarl-reference", "--dns-n", ["0", "7"], r"dns_n|\bn\b"),
    *_numbers(SR, "smarl-reference", "--t-end", ["nan", "inf", "-1"], r"t_end"),
    *_numbers(SR, "smarl-reference", "--t-spinup", ["nan", "-1", "100"], r"t_spinup"),
]


# ------------------------------------------------------------------------------------------------ inputs
def _yaml_files() -> dict[str, str]:
    return {
        "unlearn-epochs-nan.yaml": "model: tiny\nunlearn:\n  epochs: .nan\n",
        "finetune-epochs-inf.yaml": "model: tiny\nfinetune:\n  epochs: .inf\n",
        "unlearn-epochs-neg.yaml": "model: tiny\nunlearn:\n  epochs: -2\n",
        "unlearn-lr-nan.yaml": "model: tiny\nunlearn:\n  lr: .nan\n",
        "unlearn-lr-neg.yaml": "model: tiny\nunlearn:\n  lr: -0.001\n",
        "unlearn-batch-size-0.yaml": "model: tiny\nunlearn:\n  batch_size: 0\n",
        "unlearn-grad-accum-0.yaml": "model: tiny\nunlearn:\n  grad_accum: 0\n",
        "unlearn-seed-neg.yaml": "model: tiny\nunlearn:\n  seed: -1\n",
        "unlearn-warmup-ratio.yaml": "model: tiny\nunlearn:\n  warmup_ratio: 1.5\n",
        "unlearn-weight-decay-nan.yaml": "model: tiny\nunlearn:\n  weight_decay: .nan\n",
        "unlearn-max-grad-norm-neg.yaml": "model: tiny\nunlearn:\n  max_grad_norm: -1\n",
        "unlearn-checkpoint-every-neg.yaml": "model: tiny\nunlearn:\n  checkpoint_every: -1\n",
        "unlearn-max-loss-abs-0.yaml": "model: tiny\nunlearn:\n  max_loss_abs: 0\n",
        "unlearn-epochs-string.yaml": "model: tiny\nunlearn:\n  epochs: many\n",
        "world-entities-3.yaml": "model: tiny\nworld:\n  n_entities: 3\n",
        "world-entities-huge.yaml": "model: tiny\nworld:\n  n_entities: 100000000\n",
        "world-seed-neg.yaml": "model: tiny\nworld:\n  seed: -1\n",
        "world-holdout-nan.yaml": "model: tiny\nworld:\n  holdout_fraction: .nan\n",
        "eval-max-per-split-neg.yaml": "model: tiny\neval_max_per_split: -1\n",
        "eval-max-per-split-0.yaml": "model: tiny\neval_max_per_split: 0\n",
        "variant-nope.yaml": "model: tiny\nvariant: forget99\n",
        "method-nope.yaml": "model: tiny\nmethod: forgetall\n",
        "method-config-nan.yaml": "model: tiny\nmethod: npo\nmethod_config:\n  beta: .nan\n",
        "unknown-key.yaml": "model: tiny\nepochz: 3\n",
        "list.yaml": "- model: tiny\n",
        "bad-syntax.yaml": "model: [tiny\n",
        "empty.yaml": "",
        "bench-unknown-key.yaml": "model: tiny\nnope: 1\n",
        "bench-seeds-neg.yaml": "model: tiny\nseeds: [-1]\n",
        "sweep-lr-factors-nan.yaml": "bench:\n  model: tiny\nlr_factors: [.nan]\n",
    }


def make_inputs(root: Path) -> Path:
    """The shared inputs folder: valid and malformed data files, YAML configs, a generated world."""
    from obliviate import api
    from obliviate.llm.data import generate_world, load_jsonl, save_jsonl, save_world

    root.mkdir(parents=True, exist_ok=True)
    save_world(generate_world(16, 0), root / "world", 0.2, 0)  # what `obliviate world` writes, without its CLI
    splits = api.load_world_splits(root / "world", "forget10")
    save_jsonl(splits.forget, root / "forget.jsonl")
    save_jsonl(splits.retain, root / "retain.jsonl")
    rec = splits.forget[0].to_dict()
    lines = {
        "bad.jsonl": "{not json\n",
        "array.jsonl": "[1, 2]\n",
        "empty.jsonl": "",
        "missing-field.jsonl": json.dumps({k: v for k, v in rec.items() if k != "answer"}) + "\n",
        "plain.jsonl": json.dumps({"question": rec["question"], "answer": rec["answer"]}) + "\n",
        "empty-answer.jsonl": json.dumps({**rec, "answer": " "}) + "\n",
        "dup-id.jsonl": json.dumps(rec) + "\n" + json.dumps(rec) + "\n",
        # the 2.4 MB line: refused by length before any tokenizer sees it
        "huge.jsonl": json.dumps({**rec, "answer": "lorem ipsum " * 200_000}) + "\n",
    }
    for name, text in {**lines, **_yaml_files()}.items():
        (root / name).write_text(text, encoding="utf-8")
    (root / "nonutf8.jsonl").write_bytes(b'{"entity": "\xff\xfe caf\xe9"}\n')
    (root / "nonutf8.yaml").write_bytes(b"model: caf\xe9\n")
    (root / "a-file.txt").write_text("a regular file\n")
    (root / "data").mkdir(exist_ok=True)  # $OBLIVIATE_DATA: SMARL stand-in files; no graph or MNIST data
    smarl_k4_files(root / "data")  # SMARL would start simulating if a bad input slipped through
    (root / "bad-run").mkdir(exist_ok=True)
    (root / "bad-run" / "metrics.json").write_text("{not json")
    _lm_eval_tasks(root / "tasks")
    assert load_jsonl(root / "forget.jsonl")
    return root


def _lm_eval_tasks(folder: Path) -> None:
    """An lm-eval task folder (``eval --lm-eval``): ``tinyqa`` with its data file, ``nodata`` without."""
    folder.mkdir(exist_ok=True)
    (folder / "tinyqa.jsonl").write_text(json.dumps({"question": "a b", "choices": ["c", "d"], "label": 0}) + "\n")
    task = ("task: {name}\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: {data}\n"
            "test_split: test\noutput_type: multiple_choice\ndoc_to_text: '{{{{question}}}}'\n"
            "doc_to_choice: '{{{{choices}}}}'\ndoc_to_target: label\nmetric_list:\n  - metric: acc\n")
    (folder / "tinyqa.yaml").write_text(task.format(name="tinyqa", data=folder / "tinyqa.jsonl"))
    (folder / "nodata.yaml").write_text(task.format(name="nodata", data=folder / "no-such.jsonl"))


def make_case_dir(case_dir: Path) -> Path:
    """A fresh case folder: the working directory, a finished demo run folder and one holding only config.yaml."""
    import yaml

    from obliviate import api
    from obliviate.core.config import to_dict

    case_dir.mkdir(parents=True)
    cfg = to_dict(api.tiny_demo_config())
    cfg["runs_dir"] = str(case_dir / "runs")
    finished = case_dir / "finished-demo"
    (finished / "model").mkdir(parents=True)
    (finished / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    metrics = {"method": "npo", "models": {}, "splits": {"variant": "forget10"}}
    (finished / "metrics.json").write_text(json.dumps(metrics))
    (finished / "report.html").write_text("<html>a finished run</html>\n")
    (finished / "events.jsonl").write_text(json.dumps({"step": 1, "loss": 1.0}) + "\n")
    (finished / "model" / "config.json").write_text("{}\n")
    (case_dir / "config-only").mkdir()
    (case_dir / "config-only" / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return case_dir


# ------------------------------------------------------------------------------------------------ snapshots
def snapshot(*roots: Path) -> dict[str, tuple]:
    """Every file (size, mtime, content hash) and folder under ``roots``."""
    out: dict[str, tuple] = {}
    for root in roots:
        if not root.exists():
            continue
        for dirpath, _dirnames, filenames in os.walk(root):
            out[dirpath] = ("dir",)
            for name in filenames:
                p = os.path.join(dirpath, name)
                try:
                    st = os.lstat(p)
                except FileNotFoundError:
                    continue
                if stat.S_ISREG(st.st_mode):
                    with open(p, "rb") as f:
                        digest = hashlib.blake2b(f.read(), digest_size=16).hexdigest()
                    out[p] = ("file", st.st_size, st.st_mtime_ns, digest)
                else:
                    out[p] = ("other", st.st_mode)
    return out


def changes(before: dict[str, tuple], after: dict[str, tuple]) -> list[str]:
    """What differs: ``+ path`` (created), ``- path`` (removed), ``~ path`` (changed)."""
    out = [f"+ {p}" for p in sorted(set(after) - set(before))]
    out += [f"- {p}" for p in sorted(set(before) - set(after))]
    out += [f"~ {p}" for p in sorted(set(before) & set(after)) if before[p] != after[p]]
    return out


# ------------------------------------------------------------------------------------------------ running
class CaseTimeout(Exception):
    """The command was still running after the time limit: it accepted the input and started work."""


@dataclass
class Outcome:
    case: Case
    exit_code: int | None
    stderr: str
    stdout: str
    changed: list[str] = field(default_factory=list)
    exception: BaseException | None = None
    traceback: str = ""
    timed_out: bool = False

    @property
    def lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]

    @property
    def kind(self) -> str:
        """``clear`` (exit 2, one ``error:`` line naming the problem, nothing on disk changed), ``traceback``,
        ``silent`` (exit 0, or still working at the time limit), else ``other``."""
        if self.exception is not None and not self.timed_out:
            return "traceback"
        if self.timed_out or self.exit_code == 0:
            return "silent"
        if self.problems:
            return "other"
        return "clear"

    @property
    def problems(self) -> list[str]:
        """Why this is not a clear refusal (empty when it is)."""
        out = []
        if self.exit_code != 2:
            out.append(f"exit code {self.exit_code}")
        if len(self.lines) != 1 or not self.lines[0].startswith("error: "):
            out.append(f"stderr is not one 'error:' line: {self.lines[:4]!r}")
        elif not re.search(self.case.pattern, self.lines[0]):
            out.append(f"message does not match {self.case.pattern!r}: {self.lines[0]!r}")
        if self.changed:
            out.append(f"disk changed: {self.changed[:6]}")
        return out


def run_case(case: Case, inputs: Path, case_dir: Path, home: Path, timeout: float = 0) -> Outcome:
    """Run ``case`` in-process in ``case_dir`` (made here) with ``$OBLIVIATE_HOME=home``."""
    import traceback as tb

    from typer.testing import CliRunner

    from obliviate.cli import app

    make_case_dir(case_dir)
    roots = (inputs, case_dir, home)
    before = snapshot(*roots)
    env = {"OBLIVIATE_HOME": str(home), "OBLIVIATE_DATA": str(inputs / "data"), "OBLIVIATE_QUIET": "1",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "COLUMNS": "200"}
    cwd = os.getcwd()
    old = None
    if timeout:
        def _alarm(signum, frame):
            raise CaseTimeout(f"still running after {timeout:.0f}s")

        old = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        os.chdir(case_dir)
        result = CliRunner().invoke(app, case.argv(inputs, case_dir), env=env)
    finally:
        if timeout:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
        os.chdir(cwd)
    exc = result.exception if not isinstance(result.exception, SystemExit) else None
    text = "".join(tb.format_exception(exc)) if exc is not None else ""
    return Outcome(case, None if exc is not None else result.exit_code, result.stderr, result.stdout,
                   changes(before, snapshot(*roots)), exc, text, isinstance(exc, CaseTimeout))
