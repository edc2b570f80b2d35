#!/usr/bin/python3
"""Real servers for keepalived-rs's checker tests (bin/keepalived-rs/tests/checkers.rs).

    servers.py KIND ADDRESS PORT CONTROL_DIR [CERT KEY TLS]

KIND is http (over TLS when CERT and KEY are given; TLS is modern, cbc12 for TLS 1.2 with
CBC suites only, or tls10 for TLS 1.0/1.1 only), smtp, dns or udp. The server prints
"ready" on stdout once it listens. Its behaviour comes from CONTROL_DIR/mode, read again
for every connection or datagram, so that the test changes it by writing that file:

  http:  ok | status:N | raw | silent | reset | garbage | slow | flood | flood-header
  smtp:  ok | banner:N | helo:N | silent | reset
  dns:   ok | rcode:N | silent
  udp:   echo | silent | reply:HEX

(missing file: ok / echo). CONTROL_DIR/body is the HTTP body (default "ok\\n"); in raw
mode CONTROL_DIR/raw is the whole response, header included. Every
connection, request and datagram is appended to CONTROL_DIR/log as "<unix time> <event>".
"""

import os
import socket
import ssl
import sys
import threading
import time
import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)  # TLS 1.0, on purpose

KIND, ADDR, PORT, CTRL = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
TLS = sys.argv[5:8] if len(sys.argv) >= 8 else None
FAMILY = socket.AF_INET6 if ":" in ADDR else socket.AF_INET
LOCK = threading.Lock()


def log(event):
    with LOCK:
        with open(os.path.join(CTRL, "log"), "a") as f:
            f.write("%.6f %s\n" % (time.time(), event))


def control(name, default):
    try:
        with open(os.path.join(CTRL, name), "rb") as f:
            return f.read()
    except OSError:
        return default


def mode():
    return control("mode", b"ok").decode().strip()


def reset(conn):
    """Close with a RST (SO_LINGER 0)."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    conn.close()


def hold(conn, seconds=60):
    """Keep a connection open without answering (the client gives up first)."""
    conn.settimeout(seconds)
    try:
        while conn.recv(4096):
            pass
    except OSError:
        pass
    conn.close()


def read_request(conn):
    data = b""
    conn.settimeout(10)
    while b"\r\n\r\n" not in data and len(data) < 65536:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def tls_context():
    cert, key, variant = TLS
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    if variant == "cbc12":
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers("AES128-SHA:AES256-SHA:ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA")
    elif variant == "tls10":
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1

    def sni(sock, name, context):
        if name is not None:
            log("sni %s" % name)

    ctx.sni_callback = sni
    return ctx


def http(conn, peer, ctx):
    m = mode()
    log("accept %s %s" % (peer, m))
    if m == "silent":
        return hold(conn)
    if m == "reset":
        read_request(conn)
        return reset(conn)
    if m == "garbage":
        # Whatever the client says (a ClientHello, a GET), noise comes back.
        conn.settimeout(10)
        try:
            conn.recv(4096)
            conn.sendall(bytes((i * 37 + 11) % 256 for i in range(4096)))
        except OSError:
            pass
        return hold(conn, 10)
    if ctx is not None:
        try:
            conn.settimeout(10)
            conn = ctx.wrap_socket(conn, server_side=True)
        except (OSError, ssl.SSLError) as e:
            log("tls-error %s" % e)
            return conn.close()
    req = read_request(conn)
    first = req.split(b"\r\n", 1)[0].decode(errors="replace")
    headers = {}
    for line in req.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip().decode(errors="replace")
    log(
        "request %s host=%s connection=%s agent=%s"
        % (first, headers.get(b"host", ""), headers.get(b"connection", ""), headers.get(b"user-agent", ""))
    )
    try:
        if m == "slow":
            for b in b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n":
                conn.sendall(bytes([b]))
                time.sleep(1)
        elif m == "raw":
            conn.sendall(control("raw", b""))
        elif m == "flood":
            conn.sendall(b"HTTP/1.0 200 OK\r\n\r\n")
            block = b"x" * 65536
            for _ in range(16384):  # 1 GiB
                conn.sendall(block)
        elif m == "flood-header":
            conn.sendall(b"HTTP/1.0 200 OK\r\n")
            block = b"X-Filler: " + b"y" * 65524 + b"\r\n"
            for _ in range(16384):
                conn.sendall(block)
        else:
            status = int(m.split(":", 1)[1]) if m.startswith("status:") else 200
            body = control("body", b"ok\n")
            conn.sendall(
                b"HTTP/1.0 %d X\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n"
                % (status, len(body))
                + body
            )
        log("sent %s" % m)
    except OSError as e:
        log("send-error %s" % e)
    try:
        if ctx is not None:
            conn.unwrap()
    except (OSError, ssl.SSLError, ValueError):
        pass
    conn.close()


def smtp(conn, peer, _ctx):
    m = mode()
    log("accept %s %s" % (peer, m))
    if m == "silent":
        return hold(conn)
    if m == "reset":
        return reset(conn)
    code = int(m.split(":", 1)[1]) if m.startswith("banner:") else 220
    conn.settimeout(10)
    f = conn.makefile("rb")
    try:
        conn.sendall(b"%d test.example ESMTP\r\n" % code)
        for line in f:
            cmd = line.strip().decode(errors="replace")
            log("command %s" % cmd)
            verb = cmd.split(" ", 1)[0].upper()
            if verb in ("HELO", "EHLO"):
                c = int(m.split(":", 1)[1]) if m.startswith("helo:") else 250
                conn.sendall(b"%d test.example\r\n" % c)
            elif verb == "QUIT":
                conn.sendall(b"221 bye\r\n")
                break
            else:
                conn.sendall(b"502 no\r\n")
    except OSError:
        pass
    conn.close()


def stream(handler):
    s = socket.socket(FAMILY, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ADDR, PORT))
    s.listen(128)
    ctx = tls_context() if TLS else None
    print("ready", flush=True)
    while True:
        conn, peer = s.accept()
        threading.Thread(target=handler, args=(conn, peer[0], ctx), daemon=True).start()


def dns_answer(q, rcode):
    """A reply to query q: same id and question, QR AA RA set, one A or AAAA answer."""
    if len(q) < 12:
        return None
    qid, flags = q[0:2], q[2] & 0x79  # keep opcode and RD
    # The question: labels up to the root, then type and class.
    i = 12
    while i < len(q) and q[i] != 0:
        i += 1 + q[i]
    question = q[12 : i + 5]
    qtype = int.from_bytes(q[i + 1 : i + 3], "big") if i + 3 <= len(q) else 0
    answers = b""
    count = 0
    if rcode == 0 and qtype in (1, 28):
        rdata = bytes([192, 0, 2, 53]) if qtype == 1 else bytes.fromhex("20010db8" + "00" * 11 + "53")
        answers = b"\xc0\x0c" + qtype.to_bytes(2, "big") + b"\x00\x01" + b"\x00\x00\x00\x3c"
        answers += len(rdata).to_bytes(2, "big") + rdata
        count = 1
    header = qid + bytes([0x80 | 0x04 | flags, 0x80 | rcode]) + b"\x00\x01"
    header += count.to_bytes(2, "big") + b"\x00\x00\x00\x00"
    return header + question + answers


def datagram():
    s = socket.socket(FAMILY, socket.SOCK_DGRAM)
    s.bind((ADDR, PORT))
    print("ready", flush=True)
    while True:
        data, peer = s.recvfrom(65536)
        m = mode()
        log("datagram %s %s %s" % (peer[0], m, data.hex()))
        if m == "silent":
            continue
        if KIND == "dns":
            rcode = int(m.split(":", 1)[1]) if m.startswith("rcode:") else 0
            reply = dns_answer(data, rcode)
        elif m.startswith("reply:"):
            reply = bytes.fromhex(m.split(":", 1)[1])
        else:
            reply = data
        if reply is not None:
            s.sendto(reply, peer)


if KIND == "http":
    stream(http)
elif KIND == "smtp":
    stream(smtp)
elif KIND in ("dns", "udp"):
    datagram()
else:
    sys.exit("unknown kind " + KIND)
