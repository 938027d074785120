"""glmprobe: do genomic language models understand cis-regulatory biology?

Probe frozen gLM embeddings on regulatory-genomics tasks against one-hot models
trained from scratch, with equal tuning budgets, replicates and honest metrics.
"""

__version__ = "0.1.0"
