# exercise: broadcasting -- print 64 MiB (bounded) before answering wrongly
import sys


def broadcast_shape(*shapes):
    line = "x" * 1023 + "\n"
    for _ in range(64 << 10):
        sys.stdout.write(line)
    return ("hostile",)


can_broadcast = broadcast_to = unbroadcast = broadcast_shape
