"""Tiny random models built from configs, for unit and training tests (seconds on a CPU).

``make_tiny_model_dir(path)`` writes a folder that ``AutoModelForCausalLM.from_pretrained`` and
``AutoTokenizer.from_pretrained`` load like any Hugging Face model: a Gemma-3 architecture with
hidden size 32 and 2 layers, and a byte-level BPE tokenizer trained on ReAct-shaped text.
"""

from __future__ import annotations

from pathlib import Path

from agent.prompt import render_prompt

_CORPUS = [
    render_prompt("What is the capital of Australia?"),
    " I need to find the capital.\nAction: Search\nAction Input: capital of Australia\nObservation: Canberra",
    "I now know the final answer\nFinal Answer: Canberra is the capital. 0123456789 + - * / ( ) . , %",
    "Calculator: Useful for when you need to answer questions about math.",
    "Question: What is 37 * 12 + 5? Thought: Action: Calculator Action Input: 37 * 12 + 5 Observation: 449",
]


def make_tiny_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<pad>", "<eos>", "<bos>", "<unk>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS * 4, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>", unk_token="<unk>"
    )


def make_tiny_model(vocab_size: int, seed: int = 0):
    import torch
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    torch.manual_seed(seed)
    config = Gemma3TextConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        max_position_embeddings=2048,
        sliding_window=64,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=2,
    )
    return Gemma3ForCausalLM(config).eval()


def make_tiny_model_dir(path: str | Path, seed: int = 0) -> Path:
    """Save a tiny tokenizer + random Gemma-3 model into ``path`` and return it."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = make_tiny_tokenizer()
    model = make_tiny_model(len(tokenizer), seed=seed)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def make_lora_adapter(
    model_dir: str | Path,
    folder: str | Path,
    seed: int,
    *,
    std: float | None = None,
    target_modules: tuple[str, ...] | list[str] = ("q_proj", "v_proj"),
    **lora,
) -> Path:
    """A LoRA r=4 adapter for the model in ``model_dir``, saved to ``folder`` (peft format).

    ``std=None``: peft's own init (B = 0, the adapter changes nothing); a number: every LoRA weight
    drawn from N(0, std), so the adapter visibly changes the output.
    """
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    base = AutoModelForCausalLM.from_pretrained(str(model_dir))
    init = {} if std is None else {"init_lora_weights": False}
    config = LoraConfig(r=4, lora_alpha=8, target_modules=list(target_modules), **init, **lora)
    model = get_peft_model(base, config)
    if std is not None:
        with torch.no_grad():
            for name, param in model.named_parameters():
                if "lora_" in name:
                    param.normal_(0, std)
    model.save_pretrained(folder)
    return Path(folder)


_TINY_GGUF_CONVERT = """
import runpy, sys
engine_py, model_dir, out = sys.argv[1:4]
sys.path[:0] = [engine_py + "/gguf-py", engine_py]
import conversion.base as base
# the tiny byte-level BPE tokenizer is no published model's: name its pre-tokenizer (GPT-2's regex, as
# the tokenizers library's ByteLevel uses) instead of llama.cpp's table of known tokenizer hashes
base.TextModel.get_vocab_base_pre = lambda self, tokenizer: "gpt-2"
script = engine_py + "/convert_hf_to_gguf.py"
sys.argv = [script, model_dir, "--outfile", out, "--outtype", "f32"]
runpy.run_path(script, run_name="__main__")
"""


def make_tiny_gguf(model_dir: str | Path, engine_dir: str | Path, out: str | Path) -> Path:
    """The tiny model of ``model_dir`` as a GGUF, written by the engine's own ``convert_hf_to_gguf.py``."""
    import subprocess
    import sys

    out = Path(out)
    command = [sys.executable, "-c", _TINY_GGUF_CONVERT, str(Path(engine_dir) / "py"), str(model_dir), str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0 or not out.is_file():
        raise RuntimeError(f"tiny GGUF conversion failed: {done.stderr[-2000:]}")
    return out
