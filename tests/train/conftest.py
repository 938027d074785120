import torch

torch.set_num_threads(1)  # tiny models: one thread is fastest and behaves on a shared CI core
