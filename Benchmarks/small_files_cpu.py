#!/usr/bin/env python3
"""Where the time of a small-file loop goes: client and server CPU per file, user and kernel.

One ftplib session downloads the same small files over and over (TYPE I, PASV, RETR per file, as ftplib does),
against each server in turn, for a few alternated rounds. For every round it prints files/s and, per file, the
client's and the server's user and kernel CPU time (the server's whole process tree, so forking servers count
too).

In such a loop each side waits for the other, so the wall time of a file is close to client CPU + server CPU. That
gives two bounds, as ratios to the best server:
- `no server user`: a server that spent no user time at all would take `wall - server user` per file. It shows how
  far a server's own code can take it, with the kernel work of its system calls left in.
- `kernel only`: with no user time on either side, a file still takes the kernel time of both sides' system calls
  (client sys + server sys). No server and no client with those system calls can go faster on this machine.

Loopback only, bounded in count and time. Usage (servers already running, each with a folder of small files):

    small_files_cpu.py --server ferryd=2300:bench --server pure-ftpd=2102:bench --rounds 3 --count 10000
"""
import argparse
import ftplib
import os
import statistics
import subprocess
import time

CLK = os.sysconf("SC_CLK_TCK")


def listening_pid(port):
    out = subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, timeout=10).stdout
    for part in out.replace(",", " ").split():
        if part.startswith("pid="):
            return int(part[4:])
    raise SystemExit(f"no process listens on port {port} (ss -ltnp)")


def tree_cpu(root):
    """User and system seconds of `root` and its descendants, with their reaped children."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo.extend(child for child, parent in parents.items() if parent == pid)
    user = system = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        user += int(fields[11]) + int(fields[13])
        system += int(fields[12]) + int(fields[14])
    return user / CLK, system / CLK


def one_round(host, port, user, password, directory, count, timeout):
    pid = listening_pid(port)
    ftp = ftplib.FTP()
    ftp.connect(host, port, timeout=timeout)
    ftp.login(user, password)
    names = sorted(n for n in ftp.nlst(directory) if n.endswith(".bin"))
    if not names:
        raise SystemExit(f"no .bin files in {directory} on port {port}")
    names = [n if "/" in n else f"{directory}/{n}" for n in names]
    ftp.retrbinary("RETR " + names[0], lambda block: None)  # warm: passive port, caches
    server0, client0, start = tree_cpu(pid), os.times(), time.perf_counter()
    deadline = start + timeout * 10
    done = 0
    while done < count and time.perf_counter() < deadline:
        ftp.retrbinary("RETR " + names[done % len(names)], lambda block: None)
        done += 1
    wall = time.perf_counter() - start
    client1, server1 = os.times(), tree_cpu(pid)
    ftp.quit()
    micro = 1e6 / done
    return {
        "files_per_s": done / wall,
        "wall": wall * micro,
        "client_user": (client1.user - client0.user) * micro,
        "client_sys": (client1.system - client0.system) * micro,
        "server_user": (server1[0] - server0[0]) * micro,
        "server_sys": (server1[1] - server0[1]) * micro,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", action="append", required=True, metavar="LABEL=PORT:USER")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--password", default="benchpass")
    parser.add_argument("--dir", default="small")
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=30)
    args = parser.parse_args()
    if args.host not in ("127.0.0.1", "::1", "localhost"):
        raise SystemExit("loopback only")
    servers = []
    for spec in args.server:
        label, _, rest = spec.partition("=")
        port, _, user = rest.partition(":")
        servers.append((label, int(port), user or "bench"))

    results = {label: [] for label, _, _ in servers}
    print(f"{'round':>5} {'server':<12} {'files/s':>8} {'wall':>6} {'cli usr':>8} {'cli sys':>8} "
          f"{'srv usr':>8} {'srv sys':>8}   (µs per file)")
    for number in range(1, args.rounds + 1):
        for label, port, user in servers:
            r = one_round(args.host, port, user, args.password, args.dir, args.count, args.timeout)
            results[label].append(r)
            print(f"{number:>5} {label:<12} {r['files_per_s']:>8.0f} {r['wall']:>6.0f} {r['client_user']:>8.0f} "
                  f"{r['client_sys']:>8.0f} {r['server_user']:>8.0f} {r['server_sys']:>8.0f}")

    def median(label, key):
        return statistics.median(r[key] for r in results[label])

    best = max(median(label, "files_per_s") for label in results)
    print()
    print(f"{'server':<12} {'files/s':>8} {'ratio':>6} {'srv usr':>8} {'srv sys':>8} {'cli sys':>8} "
          f"{'no server user':>15} {'kernel only':>12}   (medians; bounds as ratios to the best files/s)")
    for label in results:
        rate = median(label, "files_per_s")
        no_user = 1e6 / max(median(label, "wall") - median(label, "server_user"), 1) / best
        kernel = 1e6 / max(median(label, "client_sys") + median(label, "server_sys"), 1) / best
        print(f"{label:<12} {rate:>8.0f} {rate / best:>6.2f} {median(label, 'server_user'):>8.0f} "
              f"{median(label, 'server_sys'):>8.0f} {median(label, 'client_sys'):>8.0f} {no_user:>14.2f}x "
              f"{kernel:>11.2f}x")


if __name__ == "__main__":
    main()
