"""Is an adapter folder fit to serve? Checked before anything is loaded: a peft LoRA adapter whose
adapter_config.json changes nothing but LoRA layers (a whitelist), complete safetensors weights,
and modules and shapes that exist in the base model. Shared by every engine that hosts adapters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class AdapterError(ValueError):
    """An adapter folder that cannot be served (missing, unreadable, or for another base model)."""



# adapter_config.json keys that only describe LoRA layers added beside the base model's; any other
# key (layer_replication copies base layers, modules_to_save replaces modules, trainable tokens
# change the embeddings...) is refused unless it holds its "off" value below.
LORA_CONFIG_KEYS = frozenset({
    "peft_type", "task_type", "auto_mapping", "peft_version", "base_model_name_or_path", "revision",
    "inference_mode", "r", "target_modules", "exclude_modules", "lora_alpha", "lora_dropout",
    "fan_in_fan_out", "use_rslora", "init_lora_weights", "layers_to_transform", "layers_pattern",
    "rank_pattern", "alpha_pattern", "megatron_core", "qalora_group_size", "use_qalora",
    "ensure_weight_tying", "use_dora",  # DoRA: a magnitude vector beside each adapted layer
})  # fmt: skip
# keys accepted only with these values: what peft writes when the feature is off
LORA_CONFIG_OFF: dict[str, tuple[Any, ...]] = {
    "bias": ("none",),
    "lora_bias": (False,),
    **{key: (None,) for key in (
        "layer_replication", "modules_to_save", "trainable_token_indices", "target_parameters",
        "megatron_config", "alora_invocation_tokens", "eva_config", "corda_config", "lora_ga_config",
        "velora_config", "monteclora_config", "arrow_config", "kasa_config", "use_bdlora", "runtime_config",
    )},  # fmt: skip
    "loftq_config": ({}, None),
}


def adapter_config_problems(config: dict[str, Any]) -> list[str]:
    """Every adapter_config.json key that could change the base model's structure (a whitelist)."""
    problems = []
    for key, value in sorted(config.items()):
        if key in LORA_CONFIG_KEYS:
            continue
        if key not in LORA_CONFIG_OFF:
            problems.append(f"{key}: not an accepted LoRA option")
        elif value not in LORA_CONFIG_OFF[key] and not (value == [] and None in LORA_CONFIG_OFF[key]):
            problems.append(f"{key}={value!r} changes the base model (accepted: {LORA_CONFIG_OFF[key][0]!r})")
    return problems


def validate_adapter(path: Path, base_model: Any) -> dict[str, Any]:
    """Check an adapter folder before anything is loaded; returns its adapter_config.

    Checks: the folder and adapter_config.json exist and parse; it is a LoRA adapter; the weights
    are in a complete safetensors file; every adapted module exists in ``base_model`` with matching
    shapes. Raises ``AdapterError`` naming the problem.
    """
    if not path.is_dir():
        raise AdapterError(f"adapter folder {path} does not exist")
    config_file = path / "adapter_config.json"
    if not config_file.is_file():
        raise AdapterError(f"{path} has no adapter_config.json (not a peft adapter folder)")
    try:
        config = json.loads(config_file.read_text())
    except (OSError, ValueError) as exc:
        raise AdapterError(f"{config_file} is not valid JSON: {exc}") from exc
    if not isinstance(config, dict) or config.get("peft_type") != "LORA":
        raise AdapterError(f"{config_file}: peft_type must be 'LORA', got {config.get('peft_type')!r}")
    problems = adapter_config_problems(config)
    if problems:
        raise AdapterError(f"{config_file} is refused: " + "; ".join(problems))
    weights = path / "adapter_model.safetensors"
    if not weights.is_file():
        extra = " (pickled .bin adapters are refused: use safetensors)" if (path / "adapter_model.bin").exists() else ""
        raise AdapterError(f"{path} has no adapter_model.safetensors{extra}")
    try:
        from safetensors import safe_open  # the serve extra: agent.backends imports this module

        shapes: dict[str, tuple[int, ...]] = {}
        with safe_open(str(weights), framework="pt") as handle:
            for key in handle.keys():  # noqa: SIM118 - safe_open is not a Mapping
                tensor = handle.get_tensor(key)
                shapes[key] = tuple(tensor.shape)
    except Exception as exc:
        raise AdapterError(f"{weights} is unreadable or truncated: {exc}") from exc
    if not shapes:
        raise AdapterError(f"{weights} holds no tensors")
    _check_against_base(shapes, base_model, path)
    return config


def _check_against_base(shapes: dict[str, tuple[int, ...]], base_model: Any, path: Path) -> None:
    modules = dict(base_model.named_modules())
    missing: list[str] = []
    mismatched: list[str] = []
    for key, shape in shapes.items():
        if ".lora_A." not in key and ".lora_B." not in key:
            continue
        name = key.split(".lora_")[0]
        if name.startswith("base_model.model."):
            name = name[len("base_model.model.") :]
        module = modules.get(name)
        if module is None:
            missing.append(name)
            continue
        module = getattr(module, "base_layer", module)
        in_f, out_f = getattr(module, "in_features", None), getattr(module, "out_features", None)
        if in_f is None or out_f is None or len(shape) != 2:
            continue
        if (".lora_A." in key and shape[1] != in_f) or (".lora_B." in key and shape[0] != out_f):
            mismatched.append(f"{name} {shape} vs base ({out_f}, {in_f})")
    if missing:
        raise AdapterError(
            f"adapter {path} targets modules the base model lacks (trained on another model?): "
            + ", ".join(sorted(set(missing))[:5])
        )
    if mismatched:
        raise AdapterError(
            f"adapter {path} does not fit the base model's shapes (trained on another model?): "
            + "; ".join(mismatched[:5])
        )
