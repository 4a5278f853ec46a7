"""A small HTTP CONNECT proxy for the egress tests: answers `CONNECT host:port` with 200 and then
relays bytes both ways. Names are looked up only in the map given on the command line (never in
this machine's resolver); an unknown name gets 502. Usage:
connect_proxy.py ADDRESS PORT READY_FILE NAME=IPV4 ..."""
import select, socket, sys, threading

address, port, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3]
names = dict(spec.split("=", 1) for spec in sys.argv[4:])

def relay(a, b):
    sockets = [a, b]
    try:
        while True:
            readable, _, _ = select.select(sockets, [], [], 30)
            if not readable:
                return
            for s in readable:
                data = s.recv(65536)
                if not data:
                    return
                (b if s is a else a).sendall(data)
    finally:
        a.close()
        b.close()

def serve(client):
    header = b""
    while b"\r\n\r\n" not in header:
        data = client.recv(4096)
        if not data:
            client.close()
            return
        header += data
    head, _, rest = header.partition(b"\r\n\r\n")
    words = head.split(b"\r\n")[0].split()
    if len(words) < 2 or words[0] != b"CONNECT":
        client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
        client.close()
        return
    host, _, target_port = words[1].decode().rpartition(":")
    ip = names.get(host.strip("[]").lower(), host if host.replace(".", "").isdigit() else None)
    try:
        upstream = socket.create_connection((ip, int(target_port)), timeout=5) if ip else None
    except OSError:
        upstream = None
    if upstream is None:
        client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
        client.close()
        return
    upstream.settimeout(None)
    client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
    if rest:
        upstream.sendall(rest)
    relay(client, upstream)

listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind((address, port))
listener.listen(64)
open(ready, "w").close()
while True:
    connection, _ = listener.accept()
    threading.Thread(target=serve, args=(connection,), daemon=True).start()
