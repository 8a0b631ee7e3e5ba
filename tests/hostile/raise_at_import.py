# exercise: gradients -- an honest crash: the module raises while being imported
import torch

WEIGHTS = torch.ones(3) @ torch.ones(4)   # a shape error at import time
