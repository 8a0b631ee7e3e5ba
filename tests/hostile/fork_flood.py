# exercise: broadcasting -- fork up to 300 sleeping children (bounded), then answer wrongly
import os
import time


def broadcast_shape(*shapes):
    for _ in range(300):
        try:
            if os.fork() == 0:
                time.sleep(30)
                os._exit(0)
        except OSError:
            break
    return ("hostile",)


can_broadcast = broadcast_to = unbroadcast = broadcast_shape
