"""DNABERT-2 (``zhihan1996/DNABERT-2-117M``): BPE tokens, [CLS] ... [SEP], ALiBi, remote code.

Quirks handled here:

* Spans come from the fast tokenizer's offsets (a BPE token covers a variable number of bases).
* No hard context (ALiBi): ``max_length`` in the models sheet caps it; otherwise the batch is as
  long as its longest sequence. ``count_tokens`` gives the dataset-wide maximum, so nothing is
  silently truncated (the study padded lentiMPRA to 59 tokens although 60 occur, paper §8.6).
* Layers are captured with hooks: the remote ``BertEncoder`` unpads tokens and its
  ``output_all_encoded_layers`` returns unpadded tensors, so hooks scatter them back.
* The Triton flash-attention path is kept off (it breaks on many GPUs/driver stacks and does
  not exist on CPU): while the remote code is imported, ``import triton`` fails (so its
  ``flash_attn_triton`` import falls back), and afterwards every ``flash_attn_qkvpacked_func``
  the model's modules bound is set to None, which selects the plain PyTorch attention.
* Run it in the DNABERT-2 container (transformers 4.29): newer transformers reject its config
  class ("config_class ... not consistent").
"""

from __future__ import annotations

import contextlib
import sys

from glmprobe.glm.adapter import register
from glmprobe.glm.adapters.hf import HFAdapter


@contextlib.contextmanager
def triton_blocked():
    """Make ``import triton`` raise ImportError for the duration (restores sys.modules after)."""
    saved = {name: mod for name, mod in sys.modules.items() if name == "triton" or name.startswith("triton.")}
    for name in saved:
        del sys.modules[name]
    sys.modules["triton"] = None  # type: ignore[assignment]  # None in sys.modules => ImportError
    try:
        yield
    finally:
        del sys.modules["triton"]
        sys.modules.update(saved)


def disable_flash_attention(model) -> int:
    """Set ``flash_attn_qkvpacked_func`` to None in every Python module defining the model's layers."""
    names = {type(m).__module__ for m in model.modules()}
    count = 0
    for name in names:
        module = sys.modules.get(name)
        if module is not None and getattr(module, "flash_attn_qkvpacked_func", None) is not None:
            module.flash_attn_qkvpacked_func = None
            count += 1
    return count


@register
class DNABERT2Adapter(HFAdapter):
    family = "dnabert2"
    requires_remote_code = True
    auto_class = "AutoModel"
    use_hooks = True
    load_hint = "DNABERT-2 needs transformers 4.29 (the DNABERT-2 container)"

    def load_model(self, source, kwargs):
        with triton_blocked():
            return super().load_model(source, kwargs)

    def after_load(self) -> None:
        disable_flash_attention(self.model)

    @property
    def max_tokens(self) -> int | None:
        return int(self.spec.max_length) if self.spec.max_length else None  # ALiBi: no position table
