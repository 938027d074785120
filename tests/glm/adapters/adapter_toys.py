"""Toy models standing in, in offline tests, for code that real gLM checkpoints bring along.

* ``ToyUnpadBert``: DNABERT-2-shaped remote code (saved with ``register_for_auto_class`` and
  loaded with ``trust_remote_code``): it unpads tokens before its blocks, has no
  ``output_hidden_states`` and binds a module-level ``flash_attn_qkvpacked_func`` like
  DNABERT-2's Triton import does.
* ``ToyConvModel``: a GPN-shaped package-registered model: bidirectional convolutions, no
  attention mask, only a last hidden state.
"""

import torch
from torch import nn
from transformers import PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import BaseModelOutput


def _triton_flash_attention(*args, **kwargs):
    raise RuntimeError("the Triton flash-attention path was used")


flash_attn_qkvpacked_func = _triton_flash_attention  # what DNABERT-2 binds when triton imports


class ToyUnpadConfig(PretrainedConfig):
    model_type = "toy-unpad-bert"

    def __init__(self, vocab_size=64, hidden_size=16, num_hidden_layers=2, pad_token_id=0, **kwargs):
        super().__init__(pad_token_id=pad_token_id, **kwargs)
        self.vocab_size, self.hidden_size, self.num_hidden_layers = vocab_size, hidden_size, num_hidden_layers


class UnpadBlock(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.lin = nn.Linear(d, d)

    def forward(self, hidden, cu_seqlens=None):
        if flash_attn_qkvpacked_func is not None:
            flash_attn_qkvpacked_func(hidden)
        return hidden + torch.tanh(self.lin(hidden))


class ToyEncoder(nn.Module):
    def __init__(self, d, n):
        super().__init__()
        self.layer = nn.ModuleList(UnpadBlock(d) for _ in range(n))


class ToyUnpadBert(PreTrainedModel):
    config_class = ToyUnpadConfig
    base_model_prefix = "bert"

    def __init__(self, config):
        super().__init__(config)
        self.embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.encoder = ToyEncoder(config.hidden_size, config.num_hidden_layers)
        self.post_init()

    def _init_weights(self, module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            module.weight.data.normal_(0.0, 0.5)

    def forward(self, input_ids, attention_mask=None, output_all_encoded_layers=False, **kwargs):
        real = (attention_mask if attention_mask is not None else torch.ones_like(input_ids)).bool()
        hidden = self.embeddings(input_ids)[real]  # (n_real_tokens, D), as DNABERT-2 unpads
        layers = []
        for block in self.encoder.layer:
            hidden = block(hidden)
            layers.append(hidden)
        padded = hidden.new_zeros((*input_ids.shape, hidden.shape[-1]))
        padded[real] = hidden
        return (layers if output_all_encoded_layers else padded), None


class ToyConvConfig(PretrainedConfig):
    model_type = "toy-conv"

    def __init__(self, vocab_size=8, hidden_size=12, n_layers=2, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.hidden_size, self.n_layers = vocab_size, hidden_size, n_layers


class ConvBlock(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.conv = nn.Conv1d(d, d, 5, padding=2)  # sees 2 bases on each side: padding would leak in

    def forward(self, hidden):
        return hidden + torch.tanh(self.conv(hidden.transpose(1, 2)).transpose(1, 2))


class ToyConvModel(PreTrainedModel):
    config_class = ToyConvConfig
    base_model_prefix = "model"

    def __init__(self, config):
        super().__init__(config)
        self.embedding = nn.Embedding(config.vocab_size, config.hidden_size)
        self.blocks = nn.ModuleList(ConvBlock(config.hidden_size) for _ in range(config.n_layers))
        self.post_init()

    def _init_weights(self, module):
        if isinstance(module, (nn.Conv1d, nn.Embedding)):
            module.weight.data.normal_(0.0, 0.3)

    def forward(self, input_ids=None, **kwargs):
        hidden = self.embedding(input_ids)
        for block in self.blocks:
            hidden = block(hidden)
        return BaseModelOutput(last_hidden_state=hidden)
