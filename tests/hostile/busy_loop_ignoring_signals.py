# exercise: broadcasting -- ignore every catchable signal and spin for up to 60 s
import signal
import time

for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM, signal.SIGXCPU, signal.SIGHUP, signal.SIGUSR1):
    signal.signal(sig, signal.SIG_IGN)


def broadcast_shape(*shapes):
    end = time.monotonic() + 60
    while time.monotonic() < end:
        pass
    return ("hostile",)


can_broadcast = broadcast_to = unbroadcast = broadcast_shape
