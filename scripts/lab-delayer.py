#!/usr/bin/env python3
"""Delay every packet of one NFQUEUE by a fixed time: the netns lab's latency fault.

This kernel has no tc netem, so `gatehouse lab fault latency REGION MS` sends the packets that
cross the router through the region's leg to an nftables `queue` (see src/lab/faults.ts), and
this program gives each its ACCEPT verdict MS milliseconds after it arrived. It speaks
nfnetlink_queue over a plain netlink socket (no library to install): bind the queue, copy
metadata only, read packet ids, send verdicts. With a constant delay the packets leave in the
order they came, so a FIFO is enough. Verdicts are out of band of the packet's path: if this
program dies, the rule's `bypass` lets packets through undelayed.
"""
import argparse
import collections
import os
import select
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG = 0, 1, 2
NFQA_CFG_CMD, NFQA_CFG_PARAMS, NFQA_CFG_QUEUE_MAXLEN = 1, 2, 3
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NFQA_PACKET_HDR = 1
NFQA_VERDICT_HDR = 2
NF_ACCEPT = 1
NLM_F_REQUEST = 1
NLMSG_ERROR = 2


def attr(kind, payload):
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * ((4 - length % 4) % 4)


def message(msg, queue, attrs, seq=0):
    body = struct.pack("!BBH", socket.AF_UNSPEC, 0, queue) + b"".join(attrs)
    kind = (NFNL_SUBSYS_QUEUE << 8) | msg
    return struct.pack("=IHHII", 16 + len(body), kind, NLM_F_REQUEST, seq, 0) + body


def packet_ids(data):
    """The ids of the queued packets in one netlink datagram (it may hold several messages)."""
    offset = 0
    while offset + 16 <= len(data):
        length, kind = struct.unpack_from("=IH", data, offset)
        if length < 16:
            break
        if kind == NLMSG_ERROR:
            (error,) = struct.unpack_from("=i", data, offset + 16)
            if error != 0:
                raise OSError(-error, os.strerror(-error))
        elif kind & 0xFF == NFQNL_MSG_PACKET:
            pos = offset + 20
            while pos + 4 <= offset + length:
                alen, atype = struct.unpack_from("=HH", data, pos)
                if alen < 4:
                    break
                if atype & 0x7FFF == NFQA_PACKET_HDR:
                    yield struct.unpack_from("!I", data, pos + 4)[0]
                pos += (alen + 3) & ~3
        offset += (length + 3) & ~3


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queue", type=int, required=True)
    parser.add_argument("--delay-ms", type=float, required=True)
    args = parser.parse_args()
    delay = args.delay_ms / 1000.0

    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.bind((0, 0))
    cmd = struct.pack("!BBH", NFQNL_CFG_CMD_BIND, 0, 0)
    sock.send(message(NFQNL_MSG_CONFIG, args.queue, [attr(NFQA_CFG_CMD, cmd)], 1))
    params = struct.pack("!IB", 0xFFFF, NFQNL_COPY_META)
    sock.send(
        message(
            NFQNL_MSG_CONFIG,
            args.queue,
            [attr(NFQA_CFG_PARAMS, params), attr(NFQA_CFG_QUEUE_MAXLEN, struct.pack("!I", 65536))],
            2,
        )
    )
    print(f"ready: queue {args.queue}, delay {args.delay_ms} ms", flush=True)

    due = collections.deque()
    while True:
        timeout = max(0.0, due[0][0] - time.monotonic()) if due else None
        readable, _, _ = select.select([sock], [], [], timeout)
        if readable:
            try:
                data = sock.recv(1 << 20)
            except OSError as e:  # ENOBUFS: the kernel dropped some; go on with the rest
                print(f"recv: {e}", file=sys.stderr, flush=True)
                continue
            now = time.monotonic()
            for pid in packet_ids(data):
                due.append((now + delay, pid))
        now = time.monotonic()
        while due and due[0][0] <= now:
            _, pid = due.popleft()
            verdict = struct.pack("!II", NF_ACCEPT, pid)
            sock.send(message(NFQNL_MSG_VERDICT, args.queue, [attr(NFQA_VERDICT_HDR, verdict)]))


if __name__ == "__main__":
    main()
