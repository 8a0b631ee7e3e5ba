# exercise: broadcasting -- allocate and touch 6 GiB (bounded), then answer wrongly
import torch


def broadcast_shape(*shapes):
    block = torch.empty(6 << 30, dtype=torch.uint8)
    block.fill_(1)
    return ("hostile", int(block[0]))


can_broadcast = broadcast_to = unbroadcast = broadcast_shape
