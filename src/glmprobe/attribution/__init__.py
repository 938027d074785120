"""Nucleotide-level attribution maps for one-hot baselines and gLM probes, scored against ground truth.

One operation per module: :mod:`.loader` (a trained model from its record folder),
:mod:`.onehot_maps` (saliency, grad x input, ISM, DeepLIFT/SHAP, integrated gradients),
:mod:`.glm_ism` (ISM through tokenizer -> gLM -> head), :mod:`.zeroshot` (masked-LM entropy,
probe-gradient x entropy, log-likelihood ratios), :mod:`.select` (which sequences, windows),
:mod:`.mapstore` (maps streamed to disk), :mod:`.evaluate` (ground truth and agreement),
:mod:`.motifs` (modisco-lite + TOMTOM), :mod:`.gia` (global importance analysis) and
:mod:`.logos` (logomaker figures). The step is :mod:`glmprobe.steps.attribute`.
"""
