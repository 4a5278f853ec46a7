"""A DNS server that answers every A/AAAA query after a delay: the slow nameserver of the egress
and getaddrinfo tests. Usage: late_dns.py ADDRESS DELAY_SECONDS NAME=IPV4[,IPV6] ...
Names not listed get NXDOMAIN (after the same delay). Single-threaded: answers are scheduled,
so queries that arrive together are answered together."""
import heapq, ipaddress, select, socket, struct, sys, time

address, delay = sys.argv[1], float(sys.argv[2])
records = {}
for spec in sys.argv[3:]:
    name, _, values = spec.partition("=")
    records[name.lower().rstrip(".")] = [ipaddress.ip_address(v) for v in values.split(",") if v]

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind((address, 53))
pending = []

def answer(query):
    qid, flags, qd = struct.unpack(">HHH", query[:6])
    at, labels = 12, []
    while query[at]:
        labels.append(query[at + 1:at + 1 + query[at]].decode())
        at += 1 + query[at]
    qtype = struct.unpack(">H", query[at + 1:at + 3])[0]
    question = query[12:at + 5]
    name = ".".join(labels).lower()
    found = records.get(name)
    answers = b""
    count = 0
    for ip in found or []:
        if (qtype == 1 and ip.version == 4) or (qtype == 28 and ip.version == 6):
            answers += b"\xc0\x0c" + struct.pack(">HHIH", qtype, 1, 60, len(ip.packed)) + ip.packed
            count += 1
    rcode = 0 if found is not None else 3
    header = struct.pack(">HHHHHH", qid, 0x8180 | rcode, 1, count, 0, 0)
    return header + question + answers

while True:
    timeout = max(0, pending[0][0] - time.monotonic()) if pending else None
    ready, _, _ = select.select([sock], [], [], timeout)
    if ready:
        data, peer = sock.recvfrom(4096)
        try:
            heapq.heappush(pending, (time.monotonic() + delay, id(data), answer(data), peer))
        except Exception:
            pass
    now = time.monotonic()
    while pending and pending[0][0] <= now:
        _, _, reply, peer = heapq.heappop(pending)
        sock.sendto(reply, peer)
