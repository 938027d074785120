"""HyenaDNA (``LongSafari/hyenadna-*-seqlen-hf``): single-base tokens, causal, remote code.

Only the ``-hf`` repositories load through transformers. The tokenizer's own specials are kept
and identified by id (the study's CLS/SEP were averaged in, paper §8.4; here they are not).
The model is causal and takes no attention mask: batches are right-padded, so a base never
sees padding and its embedding does not depend on the batch. There is no CLS summary (the
first token has seen nothing), so ``cls`` pooling is refused; use ``mean``.
"""

from __future__ import annotations

from glmprobe.glm.adapter import register
from glmprobe.glm.adapters.hf import HFAdapter


@register
class HyenaDNAAdapter(HFAdapter):
    family = "hyenadna"
    requires_remote_code = True
    auto_class = "AutoModel"
    causal = True
    load_hint = "Only the LongSafari/hyenadna-*-hf repositories load through transformers"
