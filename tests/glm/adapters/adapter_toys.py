"""Toy models standing in, in offline tests, for code that real gLM checkpoints bring along.

* ``ToyUnpadBert``: DNABERT-2-shaped remote code (saved with ``register_for_auto_class`` and
  loaded with ``trust_remote_code``): it unpads tokens before its blocks, has no
  ``output_hidden_states`` and binds a module-level ``flash_attn_qkvpacked_func`` like
  DNABERT-2's Triton import does.
* ``ToyHyenaDNAModel``, ``ToyCaduceus``, ``ToyGPNModel`` (+ ``ToyCharTokenizer``): each
  reproduces its family's upstream INTERFACE, learnt from reading the upstream modelling code
  (not copied from it): hidden-state count and order, output structure, special tokens, and
  which modules ``_init_weights`` touches. Saved stand-ins are :func:`pretend_trained`, so every
  parameter differs from a fresh initialisation, as in a real pre-trained checkpoint.
"""

import math

import torch
from torch import nn
from transformers import PretrainedConfig, PreTrainedModel, PreTrainedTokenizer
from transformers.modeling_outputs import BaseModelOutput, BaseModelOutputWithNoAttention


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


# ---------------------------------------------------------------- shared by the stand-ins below
def pretend_trained(model, seed=1, scale=0.05):
    """Nudge EVERY floating-point parameter, as pre-training would: a saved stand-in then differs
    from any fresh initialisation in every tensor (LayerNorm ones, constant filters included), so
    a random-init control that leaves one tensor alone is caught."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.is_floating_point():
                p.add_(scale * torch.randn(p.shape, generator=gen))
    return model


def _causal_depthwise(x, kernel):
    """y[:, c, t] = sum_{s <= t} kernel[c, t - s] * x[:, c, s] for x (B, C, L), kernel (C, L)."""
    L = x.shape[-1]
    return nn.functional.conv1d(nn.functional.pad(x, (L - 1, 0)), kernel.flip(-1)[:, None, :], groups=x.shape[1])


class ToyCharTokenizer(PreTrainedTokenizer):
    """HyenaDNA / Caduceus character tokenizer interface (a slow tokenizer shipped as remote code):
    ids [CLS]=0 [SEP]=1 [BOS]=2 [MASK]=3 [PAD]=4 [RESERVED]=5 [UNK]=6, then A C G T N from 7;
    one token per base and ONE special, [SEP], appended at the end (no CLS in front)."""

    model_input_names = ["input_ids"]

    def __init__(self, model_max_length=1024, characters=("A", "C", "G", "T", "N"), **kwargs):
        self.characters = list(characters)
        specials = ["[CLS]", "[SEP]", "[BOS]", "[MASK]", "[PAD]", "[RESERVED]", "[UNK]"]
        self._ids = {t: i for i, t in enumerate(specials + self.characters)}
        self._tokens = {i: t for t, i in self._ids.items()}
        for key, tok in (("cls_token", "[CLS]"), ("sep_token", "[SEP]"), ("bos_token", "[BOS]"),
                         ("eos_token", "[SEP]"), ("mask_token", "[MASK]"), ("pad_token", "[PAD]"),
                         ("unk_token", "[UNK]")):
            kwargs.setdefault(key, tok)
        super().__init__(model_max_length=model_max_length, characters=self.characters, **kwargs)

    @property
    def vocab_size(self):
        return len(self._ids)

    def get_vocab(self):
        return dict(self._ids)

    def _tokenize(self, text, **kwargs):
        return list(text)

    def _convert_token_to_id(self, token):
        return self._ids.get(token, self._ids["[UNK]"])

    def _convert_id_to_token(self, index):
        return self._tokens.get(index, "[UNK]")

    def convert_tokens_to_string(self, tokens):
        return "".join(tokens)

    def build_inputs_with_special_tokens(self, token_ids_0, token_ids_1=None):
        out = list(token_ids_0) + [self.sep_token_id]
        return out + list(token_ids_1) + [self.sep_token_id] if token_ids_1 is not None else out

    def get_special_tokens_mask(self, token_ids_0, token_ids_1=None, already_has_special_tokens=False):
        if already_has_special_tokens:
            return [int(t in self.all_special_ids) for t in token_ids_0]
        out = [0] * len(token_ids_0) + [1]
        return out + [0] * len(token_ids_1) + [1] if token_ids_1 is not None else out

    def save_vocabulary(self, save_directory, filename_prefix=None):
        return ()  # fixed vocabulary: the characters in tokenizer_config.json rebuild it


def _no_attention_output(backbone, input_ids, output_hidden_states, return_dict):
    """HyenaDNA's and Caduceus' output convention: a ModelOutput unless return_dict=False, then
    the last state alone, or (last state, states) when hidden states were asked for."""
    output_hidden_states = bool(output_hidden_states)
    hidden, states = backbone(input_ids, output_hidden_states=output_hidden_states)
    if return_dict is None or return_dict:
        return BaseModelOutputWithNoAttention(last_hidden_state=hidden,
                                              hidden_states=states if output_hidden_states else None)
    return (hidden, states) if output_hidden_states else hidden


# ---------------------------------------------------------------- HyenaDNA (LongSafari/hyenadna-*-hf)
class ToyHyenaConfig(PretrainedConfig):
    model_type = "toy-hyenadna"

    def __init__(self, vocab_size=12, d_model=16, n_layer=2, d_inner=32, max_seq_len=64, filter_order=8,
                 emb_dim=3, activation_freq=1.0, layer_norm_epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.d_model, self.n_layer, self.d_inner = vocab_size, d_model, n_layer, d_inner
        self.max_seq_len, self.filter_order, self.emb_dim = max_seq_len, filter_order, emb_dim
        self.activation_freq, self.layer_norm_epsilon = activation_freq, layer_norm_epsilon


class ToySin(nn.Module):
    """Sine activation with a trainable frequency parameter (HyenaSin.freq)."""

    def __init__(self, config):
        super().__init__()
        self.freq = nn.Parameter(config.activation_freq * torch.ones(1, config.filter_order))

    def forward(self, x):
        return torch.sin(self.freq * x)


class ToyImplicitFilter(nn.Module):
    """Long causal filter from an MLP over positions, plus a per-channel bias parameter."""

    def __init__(self, config):
        super().__init__()
        d, L = config.d_model, config.max_seq_len
        self.bias = nn.Parameter(torch.randn(d))
        t = torch.linspace(0, 1, L)[:, None]
        self.z = nn.Parameter(torch.cat([t, torch.cos(3.0 * t), torch.sin(3.0 * t)], -1)[None])  # (1, L, emb_dim)
        self.mlp = nn.Sequential(nn.Linear(config.emb_dim, config.filter_order), ToySin(config),
                                 nn.Linear(config.filter_order, d, bias=False))
        self.register_buffer("decay", torch.exp(-torch.linspace(0, 4, L))[:, None])

    def forward(self, v):  # v (B, d, L)
        L = v.shape[-1]
        k = (self.mlp(self.z[0, :L]) * self.decay[:L]).transpose(0, 1)  # (d, L)
        return _causal_depthwise(v, k) + v * self.bias[None, :, None]


class ToyHyenaOperator(nn.Module):
    def __init__(self, config):
        super().__init__()
        d = config.d_model
        self.d, self.l_max = d, config.max_seq_len
        self.in_proj = nn.Linear(d, 3 * d)
        self.short_filter = nn.Conv1d(3 * d, 3 * d, 3, padding=2, groups=3 * d)  # causal once cut to L
        self.filter_fn = ToyImplicitFilter(config)
        self.out_proj = nn.Linear(d, d)

    def forward(self, u):
        L = min(u.shape[1], self.l_max)  # like upstream: the filter never covers more than l_max
        x0, x1, v = self.short_filter(self.in_proj(u).transpose(1, 2))[..., :L].split(self.d, dim=1)
        y = self.filter_fn(v * x1) * x0
        return self.out_proj(y.transpose(1, 2))


class ToyHyenaBlock(nn.Module):
    def __init__(self, config):
        super().__init__()
        d = config.d_model
        self.norm1, self.mixer = nn.LayerNorm(d), ToyHyenaOperator(config)
        self.norm2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, config.d_inner), nn.GELU(), nn.Linear(config.d_inner, d))

    def forward(self, x):
        x = x + self.mixer(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ToyWordEmbeddings(nn.Module):
    """``embeddings.word_embeddings``, as HyenaDNA and Caduceus nest them."""

    def __init__(self, config):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.d_model)

    def forward(self, input_ids):
        return self.word_embeddings(input_ids)


class ToyHyenaBackbone(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.embeddings = ToyWordEmbeddings(config)
        self.layers = nn.ModuleList(ToyHyenaBlock(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.d_model, eps=config.layer_norm_epsilon)

    def forward(self, input_ids, output_hidden_states=False):
        hidden = self.embeddings(input_ids)
        states = [hidden]
        for layer in self.layers:
            hidden = layer(hidden)
            states.append(hidden)
        hidden = self.ln_f(hidden)
        states.append(hidden)  # upstream APPENDS the final LayerNorm output: n_layer + 2 states
        return hidden, (states if output_hidden_states else [])


class ToyHyenaDNAModel(PreTrainedModel):
    """HyenaDNAModel interface: no attention mask, ``forward(input_ids, inputs_embeds,
    output_hidden_states, return_dict)``, hidden_states = embeddings, every block, ln_f output;
    ``_init_weights`` touches only Linear and Embedding (the short filter, the filter bias, the
    sine frequency, the positional parameter and the LayerNorms keep what they had)."""

    config_class = ToyHyenaConfig
    base_model_prefix = "hyena"

    def __init__(self, config):
        super().__init__(config)
        self.backbone = ToyHyenaBackbone(config)
        self.post_init()

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)

    def forward(self, input_ids, inputs_embeds=None, output_hidden_states=None, return_dict=None):
        return _no_attention_output(self.backbone, input_ids, output_hidden_states, return_dict)


# ---------------------------------------------------------------- Caduceus (kuleshov-group/caduceus-*)
class ToyCaduceusConfig(PretrainedConfig):
    model_type = "toy-caduceus"

    def __init__(self, vocab_size=12, d_model=16, n_layer=3, d_state=4, d_conv=4, expand=2, rcps=False,
                 fused_add_norm=True, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.d_model, self.n_layer = vocab_size, d_model, n_layer
        self.d_state, self.d_conv, self.expand = d_state, d_conv, expand
        self.rcps, self.fused_add_norm = rcps, fused_add_norm


class ToyMamba(nn.Module):
    """One-direction selective SSM with Mamba's parameter set (in_proj, conv1d, x_proj, dt_proj,
    A_log, D, out_proj), scanned in plain PyTorch (tiny sizes only)."""

    def __init__(self, d, d_state, d_conv, expand):
        super().__init__()
        di, self.dt_rank, self.n = expand * d, max(1, d // 16), d_state
        self.in_proj = nn.Linear(d, 2 * di, bias=False)
        self.conv1d = nn.Conv1d(di, di, d_conv, groups=di, padding=d_conv - 1)
        self.x_proj = nn.Linear(di, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, di)
        with torch.no_grad():  # dt in [1e-3, 1e-1] through softplus, as Mamba initialises it
            dt = torch.exp(torch.rand(di) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3))
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))
        self.dt_proj.bias._no_reinit = True
        self.A_log = nn.Parameter(torch.log(torch.arange(1, d_state + 1, dtype=torch.float32)).repeat(di, 1))
        self.D = nn.Parameter(torch.ones(di))
        self.out_proj = nn.Linear(di, d, bias=False)

    def forward(self, h):
        L = h.shape[1]
        x, z = self.in_proj(h).chunk(2, dim=-1)
        x = nn.functional.silu(self.conv1d(x.transpose(1, 2))[..., :L].transpose(1, 2))
        dt, B, C = self.x_proj(x).split([self.dt_rank, self.n, self.n], dim=-1)
        dt = nn.functional.softplus(self.dt_proj(dt))              # (B, L, di)
        A = -torch.exp(self.A_log)                                  # (di, n)
        state = x.new_zeros(x.shape[0], x.shape[2], self.n)
        ys = []
        for t in range(L):
            state = torch.exp(dt[:, t, :, None] * A) * state + dt[:, t, :, None] * B[:, t, None, :] * x[:, t, :, None]
            ys.append((state * C[:, t, None, :]).sum(-1) + self.D * x[:, t])
        return self.out_proj(torch.stack(ys, 1) * nn.functional.silu(z))


class ToyBiMamba(nn.Module):
    """Forward + reverse Mamba, outputs added (bidirectional 'add'); untied projections, i.e.
    upstream's ``bidirectional_weight_tie=False`` (transformers 5 refuses to save undeclared ties)."""

    def __init__(self, config):
        super().__init__()
        args = (config.d_model, config.d_state, config.d_conv, config.expand)
        self.mamba_fwd, self.mamba_rev = ToyMamba(*args), ToyMamba(*args)

    def forward(self, h):
        return self.mamba_fwd(h) + self.mamba_rev(h.flip(1)).flip(1)


class ToyMambaBlock(nn.Module):
    """Mamba's Add -> LN -> mixer block: returns (mixer output, residual stream); the residual
    stream after the block is their SUM, which the next block forms first."""

    def __init__(self, config):
        super().__init__()
        self.norm, self.mixer = nn.LayerNorm(config.d_model), ToyBiMamba(config)

    def forward(self, hidden_states, residual=None, inference_params=None):
        residual = hidden_states + residual if residual is not None else hidden_states
        return self.mixer(self.norm(residual)), residual


class ToyCaduceusMixer(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.fused_add_norm = config.fused_add_norm
        self.embeddings = ToyWordEmbeddings(config)
        self.layers = nn.ModuleList(ToyMambaBlock(config) for _ in range(config.n_layer))
        self.norm_f = nn.LayerNorm(config.d_model)

    def forward(self, input_ids, inputs_embeds=None, output_hidden_states=False):
        states = []
        hidden, residual = self.embeddings(input_ids), None
        for layer in self.layers:
            if output_hidden_states:
                states.append(hidden)  # the BRANCH output of the previous block, not the residual stream
            hidden, residual = layer(hidden, residual)
        hidden = self.norm_f(hidden + residual)
        if output_hidden_states and self.fused_add_norm:  # upstream appends the final state only on this path
            states.append(hidden)
        return hidden, states


class ToyCaduceus(PreTrainedModel):
    """Caduceus interface: no attention mask, ``forward(input_ids, inputs_embeds,
    output_hidden_states, return_dict)``; ``_init_weights`` zeroes Linear biases (not dt_proj's),
    redraws Embeddings and rescales ``out_proj.weight`` only: in_proj, x_proj, dt_proj weights,
    conv1d, A_log, D and the LayerNorms keep what they had."""

    config_class = ToyCaduceusConfig
    base_model_prefix = "caduceus"

    def __init__(self, config):
        super().__init__(config)
        self.backbone = ToyCaduceusMixer(config)
        self.post_init()

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            if module.bias is not None and not getattr(module.bias, "_no_reinit", False):
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)
        for name, p in module.named_parameters():
            if name == "out_proj.weight":
                nn.init.kaiming_uniform_(p, a=math.sqrt(5))
                with torch.no_grad():
                    p /= math.sqrt(self.config.n_layer)

    def forward(self, input_ids=None, inputs_embeds=None, output_hidden_states=None, return_dict=None):
        return _no_attention_output(self.backbone, input_ids, output_hidden_states, return_dict)


# ---------------------------------------------------------------- GPN (songlab/gpn-*, via the gpn package)
class ToyGPNConfig(PretrainedConfig):
    model_type = "toy-gpn"

    def __init__(self, vocab_size=7, hidden_size=12, n_layers=3, kernel_size=5, dilation_max=4, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.hidden_size, self.n_layers = vocab_size, hidden_size, n_layers
        self.kernel_size, self.dilation_max = kernel_size, dilation_max


class Transpose(nn.Module):
    def forward(self, x):
        return x.transpose(1, 2)


class ToyGPNLayer(nn.Module):
    """Dilated 'same' convolution -> GELU -> LayerNorm, then Linear -> GELU -> LayerNorm, each residual."""

    def __init__(self, config, dilation):
        super().__init__()
        d = config.hidden_size
        self.conv = nn.Sequential(Transpose(), nn.Conv1d(d, d, config.kernel_size, padding="same", dilation=dilation),
                                  Transpose(), nn.GELU(), nn.LayerNorm(d))
        self.ffn = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.LayerNorm(d))

    def forward(self, x):
        x = x + self.conv(x)
        return x + self.ffn(x)


class ToyOneHot(nn.Module):
    """GPN's input layer: one-hot token ids padded to hidden_size, no parameters."""

    def __init__(self, size):
        super().__init__()
        self.size = size

    def forward(self, ids):
        return nn.functional.one_hot(ids, num_classes=self.size).float()


class ToyGPNModel(PreTrainedModel):
    """GPN ConvNetModel interface: ``forward(input_ids, **kwargs)`` returns a ModelOutput with the
    last hidden state ONLY (no hidden_states, no attention mask); ``_init_weights`` touches Linear,
    Embedding and LayerNorm, never the dilated Conv1d."""

    config_class = ToyGPNConfig
    base_model_prefix = "model"

    def __init__(self, config):
        super().__init__(config)
        self.embedding = ToyOneHot(config.hidden_size)
        self.encoder = nn.Sequential(*[ToyGPNLayer(config, min(config.dilation_max, 2 ** i))
                                       for i in range(config.n_layers)])
        self.post_init()

    def _init_weights(self, module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            module.weight.data.normal_(0.0, 0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                module.bias.data.zero_()
        elif isinstance(module, nn.LayerNorm):
            module.weight.data.fill_(1.0)
            module.bias.data.zero_()

    def forward(self, input_ids=None, **kwargs):
        return BaseModelOutput(last_hidden_state=self.encoder(self.embedding(input_ids)))
