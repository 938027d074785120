"""GENA-LM (``AIRI-Institute/gena-lm-*``): BPE BERT, [CLS] ... [SEP], 512 tokens, remote code.

Tokenization is the generic fast-tokenizer path (spans from BPE offsets); layers come from
``output_hidden_states``. The sparse-attention (BigBird) variants need DeepSpeed, which is not
part of glmprobe's images: use the dense ``gena-lm-bert-*`` checkpoints.
"""

from __future__ import annotations

from glmprobe.glm.adapter import register
from glmprobe.glm.adapters.hf import HFAdapter


@register
class GENALMAdapter(HFAdapter):
    family = "gena"
    requires_remote_code = True
    auto_class = "AutoModel"
    load_hint = "Sparse (BigBird) GENA-LM variants need DeepSpeed; use a dense gena-lm-bert-* checkpoint"
