"""gLM embedding engine: family adapters, batched multi-layer extraction, the embedding store."""
