"""Caduceus (``kuleshov-group/caduceus-{ph,ps}_*``): bidirectional Mamba, character tokens, remote code.

The remote code imports ``mamba_ssm``, whose selective-scan kernels need CUDA: there is no CPU
path, so loading fails early with a clear message when ``mamba_ssm`` is missing or no GPU is
used. The ``ps`` checkpoints are reverse-complement equivariant (``rcps``): every token has
2 x d_model features (forward and reverse-complement channels), kept as they are.
The model takes no attention mask; since it reads in both directions, sequences of
different lengths are embedded in per-length groups so padding never leaks in. Its character
tokenizer appends [SEP] after the bases (no CLS), excluded from the mean by id.

Layers are the RESIDUAL STREAM, captured with block hooks. Caduceus' own ``hidden_states`` are
useless for a layer sweep: a Mamba-style block returns (mixer output, residual) and upstream
records the mixer (branch) output of the previous block, not the stream the next block reads.
Here layer 0 = the embeddings, layer i (1..n_layer - 1) = the sum of block i's two outputs
(the residual stream after block i), and layer n_layer (``last``) = the model's own output,
``norm_f`` of the final stream (its ``last_hidden_state``, what downstream use takes).
(The PyPI package named ``caduceus`` is unrelated.)
"""

from __future__ import annotations

import importlib.util

from glmprobe.errors import UserError
from glmprobe.glm.adapter import register
from glmprobe.glm.adapters.hf import HFAdapter


@register
class CaduceusAdapter(HFAdapter):
    family = "caduceus"
    version = "2"  # layers are the residual stream (v1 returned upstream's branch outputs)
    requires_remote_code = True
    auto_class = "AutoModel"
    use_hooks = True
    last_is_model_output = True
    load_hint = "Caduceus needs mamba_ssm and a CUDA GPU (the caduceus container)"

    def load(self) -> None:
        if importlib.util.find_spec("mamba_ssm") is None:
            raise UserError(f"model '{self.spec.id}' (family caduceus) needs the mamba_ssm package, which is "
                            "not installed", hint="Run it in the caduceus GPU container, or pip install "
                            "mamba-ssm causal-conv1d on a CUDA machine")
        if not str(self.device).startswith("cuda"):
            raise UserError(f"model '{self.spec.id}' (family caduceus) needs a CUDA GPU: mamba_ssm has no "
                            f"CPU kernels (device is {self.device!r})", hint="Use --device cuda on a GPU node")
        super().load()

    def block_state(self, output):
        """A Mamba block returns (mixer output, residual): the stream after it is their sum."""
        hidden, residual = output[0], output[1]
        return hidden if residual is None else hidden + residual.to(hidden.dtype)

    @property
    def hidden_size(self) -> int:
        d = int(self._config_value("d_model", "hidden_size"))
        return 2 * d if self._config_value("rcps", default=False) else d
