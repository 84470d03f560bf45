"""Print a free TCP port: `make faults` puts its private PostgreSQL cluster there."""

import socket

if __name__ == "__main__":
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        print(sock.getsockname()[1])
