#!/usr/bin/env python3
"""What durable uploads cost: ferryd with its default (fsync of every upload before it becomes visible, and of its
directory after) against the same binary with --unsafe-no-fsync, alternated, on the same disk.

Two loads, each for a few alternated rounds:
- `large`: one STOR of SIZE MiB (ftplib, binary, passive), MB/s.
- `small`: COUNT STORs of 10 KiB files in one session, files/s.
For every run it prints the wall rate and the server's CPU time (user + system) per operation, which moves far less
than throughput on a shared machine. The data folder must be on a real disk (fsync on tmpfs costs nothing).

Loopback only, bounded in count and time:

    fsync_cost.py --ferryd .build/release/ferryd --dir /work/fsync-bench --rounds 3 --size 512 --count 500
"""
import argparse
import ftplib
import io
import os
import shutil
import socket
import statistics
import subprocess
import time

CLK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(ferryd, data, durable):
    port = free_port()
    flags = [] if durable else ["--unsafe-no-fsync"]
    proc = subprocess.Popen(
        [ferryd, "serve", "--data", data, "--port", str(port), "--tls", "off", "--log-level", "warning", *flags],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("ferryd did not start")


def run(ferryd, root, durable, load, size_mib, count):
    data = os.path.join(root, "durable" if durable else "nofsync")
    shutil.rmtree(data, ignore_errors=True)
    subprocess.run(
        [ferryd, "user", "add", "bench", "--data", data, "--password-stdin", "--quota", "unlimited",
         "--files", "unlimited"],
        input=b"bench\n", check=True, capture_output=True, timeout=120,
    )
    proc, port = start(ferryd, data, durable)
    try:
        ftp = ftplib.FTP(timeout=120)
        ftp.connect("127.0.0.1", port)
        ftp.login("bench", "bench")
        ftp.voidcmd("TYPE I")
        cpu0 = cpu_seconds(proc.pid)
        t0 = time.perf_counter()
        if load == "large":
            block = os.urandom(1 << 20)

            class Source(io.RawIOBase):
                left = size_mib

                def readinto(self, b):
                    if self.left == 0:
                        return 0
                    self.left -= 1
                    b[: len(block)] = block
                    return len(block)

            ftp.storbinary("STOR large.bin", Source(), blocksize=1 << 20)
            ops, amount = 1, size_mib * 1.048576
        else:
            payload = os.urandom(10 << 10)
            for i in range(count):
                ftp.storbinary(f"STOR f{i}.bin", io.BytesIO(payload))
            ops, amount = count, count
        wall = time.perf_counter() - t0
        cpu = cpu_seconds(proc.pid) - cpu0
        ftp.quit()
        return amount / wall, cpu / ops
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(data, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ferryd", required=True)
    parser.add_argument("--dir", required=True, help="a folder on a real disk")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size", type=int, default=512, help="MiB of the large upload")
    parser.add_argument("--count", type=int, default=500, help="small files")
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    for load, unit in (("large", "MB/s"), ("small", "files/s")):
        results = {True: [], False: []}
        for r in range(args.rounds):
            for durable in ((True, False) if r % 2 == 0 else (False, True)):
                rate, cpu = run(args.ferryd, args.dir, durable, load, args.size, args.count)
                results[durable].append((rate, cpu))
                name = "durable" if durable else "no fsync"
                print(f"{load:5} round {r} {name:8}: {rate:9.1f} {unit}, server CPU {cpu * 1e6:9.0f} µs/op", flush=True)
        d = statistics.median(x[0] for x in results[True])
        n = statistics.median(x[0] for x in results[False])
        dc = statistics.median(x[1] for x in results[True])
        nc = statistics.median(x[1] for x in results[False])
        print(f"{load:5} median: durable {d:.1f} vs no fsync {n:.1f} {unit} = {d / n:.2f}x; "
              f"server CPU {dc * 1e6:.0f} vs {nc * 1e6:.0f} µs/op")


if __name__ == "__main__":
    main()
