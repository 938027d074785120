"""HyenaDNA (``LongSafari/hyenadna-*-seqlen-hf``): single-base tokens, causal, remote code.

Only the ``-hf`` repositories load through transformers. Their character tokenizer appends one
special, [SEP], after the bases (no CLS in front); it is kept and identified by id (the study
averaged its CLS/SEP in, paper §8.4; here they are not). The model is causal and takes no
attention mask: batches are right-padded, so a base never sees padding and its embedding does
not depend on the batch. There is no CLS summary (the first token has seen nothing), so
``cls`` pooling is refused; use ``mean``.

Layers: the model returns n_layer + 2 hidden states (the embeddings, every block's output, and
the final LayerNorm's output APPENDED). glmprobe keeps the usual numbering, 0 = embeddings,
1..n_layer - 1 = blocks, and makes layer n_layer (``last``) the post-LayerNorm output, which is
the model's own ``last_hidden_state`` and what the study embedded; the pre-LayerNorm output of
the last block is not exposed.
"""

from __future__ import annotations

from glmprobe.glm.adapter import register
from glmprobe.glm.adapters.hf import HFAdapter


@register
class HyenaDNAAdapter(HFAdapter):
    family = "hyenadna"
    version = "2"  # layer n_layer = post-LayerNorm output (v1 refused the n_layer + 2 states)
    requires_remote_code = True
    auto_class = "AutoModel"
    causal = True
    load_hint = "Only the LongSafari/hyenadna-*-hf repositories load through transformers"

    def _forward(self, ids, mask, depth=None):
        states = super()._forward(ids, mask, depth)
        if len(states) == self.num_layers + 2:  # ln_f(last block) appended after the blocks
            del states[self.num_layers]         # -> layer n_layer is the post-LayerNorm output
        return states
