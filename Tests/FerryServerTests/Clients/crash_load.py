#!/usr/bin/env python3
"""Load and checks for the crash-consistency test (CrashConsistencyTests.swift).

The Swift test starts the real ferryd, runs `load` here, kills ferryd with SIGKILL in the middle of it, restarts
ferryd on the same data folder and runs `check`. Two subcommands:

    crash_load.py load  --host H --port P --user U --password PW --home DIR --journal DIR --round N --seed S
                        [--workers N] [--ops N] [--max-seconds T] [--shared]
    crash_load.py check --host H --port P --user U --password PW --home DIR --journal DIR [--shared]

`load` runs worker threads, each with its own FTP session. Without --shared, worker K owns the folder `wK` in the
home and nobody else touches it, so the worker knows exactly what it holds; it runs a mix of STOR, REST+STOR, APPE
(onto its `log`), RNFR/RNTO, DELE, MKD, RMD and listings. With --shared, every worker APPEs framed records onto the
same few files in `shared/`. Before sending an operation a worker writes it to its journal
(JOURNAL/round-N/worker-K.jsonl), and after the final reply it writes the outcome: `ok` (226/250/257), `fail` (a
4xx/5xx reply: the server says nothing changed) or `unknown` (the connection died: the operation may or may not have
happened). A worker stops at its first `unknown` (the server is gone). Before the workers start, `load` copies the
worker's part of the home into the journal as the round's baseline.

`check` replays each worker's journal over its baseline. An `ok` operation happened, a `fail` did not, and the single
`unknown` one at the end either did or did not, so a worker's folder must equal one of at most two states exactly
(every file byte for byte, no extra or missing entry). It also lists the whole home over FTP (MLSD and NLST) and
compares it with the disk, and asks SITE QUOTA for the usage. It prints one JSON object:

    {"violations": [{"kind": ..., "detail": ...}], "quota": {"bytes": B, "files": F}, "stats": {...}}

Payloads are derived from a tag unique to each operation (SHAKE-256), so each acknowledged version can be recomputed.
Everything talks to loopback only and every socket has a timeout.
"""
import argparse
import ftplib
import hashlib
import io
import json
import os
import random
import re
import sys
import threading
import time

TIMEOUT = 10
TEMPORARY_PREFIX = ".ferry-upload-"
DIRECTORY = None  # the value of a folder in a state: {relative path: bytes of a file, or None for a folder}


def payload(tag, size):
    """The bytes of a STOR or REST+STOR identified by `tag`."""
    return hashlib.shake_256(tag.encode()).digest(size)


def frame(tag, size):
    """An APPE record: `[tag|size|hex…]` and a newline; hex only inside, so a cut or mixed record shows."""
    body = hashlib.shake_256(tag.encode()).hexdigest((size + 1) // 2)[:size]
    return f"[{tag}|{size}|{body}]\n".encode()


def parse_frames(data):
    """The tags of the whole records in `data`, in order, and the offsets where something else is (a cut record).
    After such a spot the parse goes on at the next whole record, so the records after it are still found."""
    tags = []
    broken = []
    offset = 0
    pattern = re.compile(rb"\[([^|\]\n]+)\|(\d+)\|")
    while offset < len(data):
        match = pattern.match(data, offset)
        if match:
            tag = match.group(1).decode()
            size = int(match.group(2))
            end = match.end() + size + 2
            if data[offset:end] == frame(tag, size):
                tags.append(tag)
                offset = end
                continue
        broken.append(offset)
        following = data.find(b"[", offset + 1)
        offset = following if following >= 0 else len(data)
    return tags, broken


def read_tree(home, root):
    """The state of `home/root` on disk: every entry under it (root included), temporary uploads left out."""
    state = {}
    top = os.path.join(home, root)
    if not os.path.isdir(top):
        return state
    state[root] = DIRECTORY
    for directory, folders, files in os.walk(top):
        relative = os.path.relpath(directory, home)
        for name in folders:
            state[os.path.join(relative, name)] = DIRECTORY
        for name in files:
            if name.startswith(TEMPORARY_PREFIX):
                continue
            with open(os.path.join(directory, name), "rb") as f:
                state[os.path.join(relative, name)] = f.read()
    return state


def encode_state(state):
    return {path: (None if value is None else value.hex()) for path, value in state.items()}


def decode_state(encoded):
    return {path: (None if value is None else bytes.fromhex(value)) for path, value in encoded.items()}


def apply(state, op):
    """The state after `op` succeeded. Raises KeyError if the operation could not have succeeded on `state`."""
    new = dict(state)
    kind = op["op"]
    if kind == "STOR":
        new[op["path"]] = payload(op["tag"], op["size"])
    elif kind == "REST":
        old = state[op["path"]]
        new[op["path"]] = old[: op["offset"]] + payload(op["tag"], op["size"])
    elif kind == "APPE":
        new[op["path"]] = state.get(op["path"], b"") + frame(op["tag"], op["size"])
    elif kind == "RENAME":
        new[op["to"]] = new.pop(op["from"])
    elif kind == "DELE":
        del new[op["path"]]
    elif kind == "MKD":
        new[op["path"]] = DIRECTORY
    elif kind == "RMD":
        del new[op["path"]]
    return new


def describe(value):
    if value is None:
        return "folder"
    return f"{len(value)} bytes sha256 {hashlib.sha256(value).hexdigest()[:16]}"


def compare(actual, expected):
    """Differences between two states, as sentences."""
    differences = []
    for path in sorted(set(actual) | set(expected)):
        if path not in actual:
            differences.append(f"{path}: missing (expected {describe(expected[path])})")
        elif path not in expected:
            differences.append(f"{path}: unexpected {describe(actual[path])}")
        elif actual[path] != expected[path]:
            differences.append(f"{path}: {describe(actual[path])}, expected {describe(expected[path])}")
    return differences


# MARK: load


class Worker(threading.Thread):
    def __init__(self, args, index, journal_path, baseline, stop):
        super().__init__(daemon=True)
        self.args = args
        self.index = index
        self.root = "shared" if args.shared else f"w{index}"
        self.rng = random.Random(f"{args.seed}:{args.round}:{index}")
        self.journal = open(journal_path, "w", buffering=1)
        self.state = dict(baseline)
        self.stop = stop
        self.sequence = 0
        self.ftp = None

    def note(self, record):
        # One line per event, flushed at once: the journal must hold everything sent even if this process dies.
        self.journal.write(json.dumps(record) + "\n")
        self.journal.flush()

    def run(self):
        try:
            self.ftp = ftplib.FTP(timeout=TIMEOUT, encoding="utf-8")
            self.ftp.connect(self.args.host, self.args.port)
            self.ftp.login(self.args.user, self.args.password)
            self.ftp.voidcmd("TYPE I")
        except (OSError, EOFError, ftplib.Error) as e:
            self.note({"event": "login-failed", "error": repr(e)})
            return
        finally:
            self.ready.set()
        self.note({"event": "ready"})
        deadline = time.monotonic() + self.args.max_seconds
        count = 0
        while not self.stop.is_set() and time.monotonic() < deadline and (self.args.ops == 0 or count < self.args.ops):
            count += 1
            op = self.choose()
            if op is None:
                continue
            if not self.perform(op):
                return
        try:
            self.ftp.quit()
        except (OSError, EOFError, ftplib.Error):
            pass

    # The operations a worker chooses from, given what it knows it holds.

    def files(self):
        return sorted(p for p, v in self.state.items() if v is not None)

    def folders(self):
        return sorted(p for p, v in self.state.items() if v is None and p != self.root)

    def tag(self):
        self.sequence += 1
        return f"r{self.args.round}w{self.index}s{self.sequence}"

    def upload(self, op):
        """Sets an upload's size: mostly small; some large and trickled (`slow`), so that the kill finds uploads in
        flight; some large and fast, so that it also finds commits in progress (the time to make a large upload
        visible is a window a non-atomic commit would be caught in)."""
        op["size"] = self.rng.choice([1, 100, 1000, 5000, 20000, 60000, 200000, 400000, 1000000, 2000000])
        op["slow"] = op["size"] >= 200000 and self.rng.random() < 0.15
        return op

    def choose(self):
        if self.args.shared:
            log = f"{self.root}/log{self.rng.randrange(2)}"
            return {"op": "APPE", "path": log, "tag": self.tag(), "size": self.rng.randrange(50, 3000)}
        if self.root not in self.state:
            return {"op": "MKD", "path": self.root}
        files = [f for f in self.files() if not f.endswith("/log")]
        folders = self.folders()
        log = f"{self.root}/log"
        roll = self.rng.random()
        if roll < 0.30 or not files:
            if len(files) >= 8:
                return {"op": "DELE", "path": self.rng.choice(files)}
            where = self.rng.choice([self.root] + folders)
            return self.upload({"op": "STOR", "path": f"{where}/f{self.rng.randrange(6)}", "tag": self.tag()})
        if roll < 0.50:
            if len(self.state.get(log) or b"") > 100000:
                return {"op": "DELE", "path": log}
            return {"op": "APPE", "path": log, "tag": self.tag(), "size": self.rng.randrange(50, 5000)}
        if roll < 0.62:
            path = self.rng.choice(files)
            offset = self.rng.randrange(len(self.state[path]) + 1)
            return self.upload({"op": "REST", "path": path, "offset": offset, "tag": self.tag()})
        if roll < 0.77:
            source = self.rng.choice(files)
            where = self.rng.choice([self.root] + folders)
            target = f"{where}/f{self.rng.randrange(6)}"
            if target == source or self.state.get(target, b"") is None:
                return None
            return {"op": "RENAME", "from": source, "to": target}
        if roll < 0.84:
            return {"op": "DELE", "path": self.rng.choice(files)}
        if roll < 0.90:
            if len(folders) < 2:
                return {"op": "MKD", "path": f"{self.root}/d{self.rng.randrange(2)}"}
            empty = [d for d in folders if not any(p.startswith(d + "/") for p in self.state)]
            return {"op": "RMD", "path": self.rng.choice(empty)} if empty else None
        return {"op": "LIST", "path": self.rng.choice([self.root] + folders)}

    def perform(self, op):
        """Runs `op`, journals it and its outcome, updates the state. False when the outcome is unknown."""
        self.note({"event": "sent", "op": op})
        ftp = self.ftp
        try:
            kind = op["op"]
            if kind in ("STOR", "REST", "APPE"):
                data = frame(op["tag"], op["size"]) if kind == "APPE" else payload(op["tag"], op["size"])
                command = ("APPE " if kind == "APPE" else "STOR ") + op["path"]
                source = io.BytesIO(data)
                if op.get("slow"):
                    source = Slow(source)
                try:
                    reply = ftp.storbinary(command, source, blocksize=32768, rest=op.get("offset"))
                except (ConnectionResetError, BrokenPipeError):
                    # The data connection broke: either the server is gone, or it refused the upload midway (552 over
                    # the quota) and closed it. Its reply, if it can still send one, says which; a 4xx/5xx one raises
                    # below as a known failure.
                    reply = ftp.voidresp()
                    self.note({"event": "unknown", "error": f"data connection reset, then {reply}"})
                    return False
            elif kind == "RENAME":
                ftp.sendcmd("RNFR " + op["from"])
                reply = ftp.voidcmd("RNTO " + op["to"])
            elif kind == "DELE":
                reply = ftp.voidcmd("DELE " + op["path"])
            elif kind == "MKD":
                reply = ftp.voidcmd("MKD " + op["path"])
            elif kind == "RMD":
                reply = ftp.voidcmd("RMD " + op["path"])
            elif kind == "LIST":
                return self.listing(op)
        except (ftplib.error_perm, ftplib.error_temp) as e:
            # A 4xx/5xx final reply: the server states the operation did not happen (e.g. 552 over the quota).
            self.note({"event": "fail", "reply": str(e)})
            return True
        except (OSError, EOFError, ftplib.Error) as e:
            self.note({"event": "unknown", "error": repr(e)})
            return False
        self.note({"event": "ok", "reply": reply})
        self.state = apply(self.state, op)
        return True

    def listing(self, op):
        """NLST and MLSD of one of the worker's folders must show exactly what it holds there, never a temporary."""
        try:
            names = self.ftp.nlst(op["path"])
            facts = list(self.ftp.mlsd(op["path"], facts=["type", "size"]))
        except (ftplib.error_perm, ftplib.error_temp) as e:
            self.note({"event": "fail", "reply": str(e)})
            return True
        except (OSError, EOFError, ftplib.Error) as e:
            self.note({"event": "unknown", "error": repr(e)})
            return False
        prefix = op["path"] + "/"
        expected = {
            p[len(prefix):]: v for p, v in self.state.items() if p.startswith(prefix) and "/" not in p[len(prefix):]
        }
        listed = {}
        for name, fact in facts:
            if fact.get("type") in ("cdir", "pdir"):
                continue
            listed[name] = None if fact.get("type") == "dir" else int(fact.get("size", -1))
        want = {name: (None if v is None else len(v)) for name, v in expected.items()}
        basenames = sorted(n.rsplit("/", 1)[-1] for n in names)
        problems = []
        if any(TEMPORARY_PREFIX in n for n in list(listed) + basenames):
            problems.append(f"temporary upload listed: {sorted(listed)} {basenames}")
        if listed != want:
            problems.append(f"MLSD {listed} != held {want}")
        if basenames != sorted(want):
            problems.append(f"NLST {basenames} != held {sorted(want)}")
        self.note({"event": "ok", "reply": "listed", "problems": problems})
        return True


class Slow(io.RawIOBase):
    """An upload source that trickles: 32 KiB every 20 ms, so large uploads are in flight for a while."""

    def __init__(self, inner):
        self.inner = inner

    def read(self, size=-1):
        time.sleep(0.02)
        return self.inner.read(size)


def load(args):
    directory = os.path.join(args.journal, f"round-{args.round}")
    os.makedirs(directory, exist_ok=True)
    stop = threading.Event()
    workers = []
    if args.shared and not os.path.isdir(os.path.join(args.home, "shared")):
        ftp = ftplib.FTP(timeout=TIMEOUT, encoding="utf-8")
        ftp.connect(args.host, args.port)
        ftp.login(args.user, args.password)
        ftp.mkd("shared")
        ftp.quit()
    for index in range(args.workers):
        root = "shared" if args.shared else f"w{index}"
        baseline = read_tree(args.home, root)
        if index == 0 or not args.shared:
            with open(os.path.join(directory, f"baseline-{root}.json"), "w") as f:
                json.dump(encode_state(baseline), f)
        worker = Worker(args, index, os.path.join(directory, f"worker-{index}.jsonl"), baseline, stop)
        worker.ready = threading.Event()
        workers.append(worker)
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.ready.wait(timeout=TIMEOUT)
    # The test waits for this file before it starts counting down to the kill.
    open(os.path.join(directory, "ready"), "w").close()
    for worker in workers:
        worker.join(timeout=args.max_seconds + 2 * TIMEOUT)
    print(json.dumps({"sequences": {w.index: w.sequence for w in workers}}))


# MARK: check


def journal_outcomes(path):
    """The operations of one journal with their outcomes: [(op, "ok"|"fail"|"unknown", reply)]."""
    outcomes = []
    pending = None
    with open(path) as f:
        for line in f:
            if not line.endswith("\n"):
                break
            record = json.loads(line)
            event = record["event"]
            if event == "sent":
                pending = record["op"]
            elif event in ("ok", "fail", "unknown") and pending is not None:
                outcomes.append((pending, event, record))
                pending = None
    if pending is not None:
        # Sent, and no outcome written: the load process ended first (it should not); it may have happened.
        outcomes.append((pending, "unknown", {}))
    return outcomes


def candidates(baseline, outcomes):
    """The states a worker's folder may be in: one per way the operations without a known outcome went."""
    states = [baseline]
    for op, outcome, _ in outcomes:
        if op["op"] == "LIST" or outcome == "fail":
            continue
        nexts = []
        for state in states:
            try:
                changed = apply(state, op)
            except KeyError:
                changed = None
            if outcome == "ok":
                nexts.append(changed if changed is not None else state)
            else:
                nexts.append(state)
                if changed is not None:
                    nexts.append(changed)
        states = nexts
    return states


def check_worker(args, round_directory, index, violations, stats):
    root = f"w{index}"
    with open(os.path.join(round_directory, f"baseline-{root}.json")) as f:
        baseline = decode_state(json.load(f))
    outcomes = journal_outcomes(os.path.join(round_directory, f"worker-{index}.jsonl"))
    for op, outcome, record in outcomes:
        stats[outcome] = stats.get(outcome, 0) + 1
        if outcome == "ok" and op["op"] not in ("LIST",):
            stats["acknowledged " + op["op"]] = stats.get("acknowledged " + op["op"], 0) + 1
        if outcome == "unknown" and op["op"] != "LIST":
            stats["in flight at the kill"] = stats.get("in flight at the kill", 0) + 1
        for problem in record.get("problems", []):
            violations.append({"kind": "listing during load", "detail": f"{root} {op['path']}: {problem}"})
    actual = read_tree(args.home, root)
    states = candidates(baseline, outcomes)
    if any(actual == state for state in states):
        return
    closest = min((compare(actual, state) for state in states), key=len)
    last = [f"{op['op']} {op.get('path') or op.get('from') + ' -> ' + op['to']}: {outcome}"
            for op, outcome, _ in outcomes[-3:]]
    violations.append({
        "kind": "content",
        "detail": f"{root} matches none of the {len(states)} acceptable states; closest differs: "
        + "; ".join(closest) + f" (last operations: {last})",
    })


def check_shared(args, round_directory, violations, stats):
    """Concurrent APPE: every acknowledged record is in its file once and intact, each worker's in its order."""
    with open(os.path.join(round_directory, "baseline-shared.json")) as f:
        baseline = decode_state(json.load(f))
    actual = read_tree(args.home, "shared")
    records = {}  # tag -> (path, outcome)
    order = {}  # worker -> [tags acknowledged, in order]
    index = 0
    while os.path.exists(os.path.join(round_directory, f"worker-{index}.jsonl")):
        for op, outcome, _ in journal_outcomes(os.path.join(round_directory, f"worker-{index}.jsonl")):
            stats[outcome] = stats.get(outcome, 0) + 1
            if op["op"] == "APPE":
                records[op["tag"]] = (op["path"], outcome)
                if outcome == "ok":
                    order.setdefault(index, []).append(op["tag"])
        index += 1
    found = {}
    for path, content in sorted(actual.items()):
        if content is None:
            continue
        before = baseline.get(path) or b""
        if not content.startswith(before):
            violations.append({"kind": "append prefix", "detail": f"{path}: lost the content it had before the round"})
            continue
        tags, broken = parse_frames(content[len(before):])
        if broken:
            where = [len(before) + offset for offset in broken]
            violations.append({"kind": "append record cut", "detail": f"{path}: not whole records at {where}"})
        for tag in tags:
            if tag in found:
                violations.append({"kind": "append record", "detail": f"{path}: record {tag} twice"})
            found[tag] = path
            expected = records.get(tag)
            if expected is None or expected[0] != path or expected[1] == "fail":
                violations.append({"kind": "append record", "detail": f"{path}: record {tag} was not appended there"})
    lost = sorted(t for t, (p, o) in records.items() if o == "ok" and found.get(t) != p)
    stats["acknowledged APPE"] = sum(1 for _, o in records.values() if o == "ok")
    stats["acknowledged APPE lost"] = len(lost)
    if lost:
        violations.append({
            "kind": "concurrent append lost",
            "detail": f"{len(lost)} of {stats['acknowledged APPE']} acknowledged appends missing, e.g. {lost[:5]}",
        })
    positions = {}  # tag -> (path, index in that file)
    for path, content in actual.items():
        if content is not None:
            tags, _ = parse_frames(content[len(baseline.get(path) or b""):])
            positions.update({tag: (path, i) for i, tag in enumerate(tags)})
    for worker, tags in sorted(order.items()):
        # A worker sends its next APPE only after the previous one got 226: its records are in its order.
        for path in sorted(set(records[t][0] for t in tags)):
            present = [positions[t][1] for t in tags if positions.get(t, (None,))[0] == path]
            if present != sorted(present):
                violations.append({"kind": "append order", "detail": f"worker {worker}: {path} records out of order"})


def check_listing(ftp, args, violations):
    """MLSD and NLST of every folder show exactly what is on disk (no temporary uploads), sizes included."""
    disk = {}
    for directory, folders, files in os.walk(args.home):
        relative = os.path.relpath(directory, args.home)
        for name in folders + files:
            path = os.path.normpath(os.path.join(relative, name))
            full = os.path.join(directory, name)
            disk[path] = None if os.path.isdir(full) else os.path.getsize(full)
    listed = {}
    pending = ["."]
    while pending:
        folder = pending.pop()
        names = [n.rsplit("/", 1)[-1] for n in ftp.nlst("/" + folder if folder != "." else "/")]
        mlsd = [(n, f) for n, f in ftp.mlsd("/" + folder if folder != "." else "/", facts=["type", "size"])
                if f.get("type") not in ("cdir", "pdir")]
        if sorted(names) != sorted(n for n, _ in mlsd):
            violations.append({"kind": "listing", "detail": f"{folder}: NLST {sorted(names)} != MLSD"})
        for name, fact in mlsd:
            path = os.path.normpath(os.path.join(folder, name))
            listed[path] = None if fact["type"] == "dir" else int(fact["size"])
            if fact["type"] == "dir":
                pending.append(path)
    for path in listed:
        if TEMPORARY_PREFIX in path:
            violations.append({"kind": "temporary listed", "detail": path})
    if listed != {p: v for p, v in disk.items() if TEMPORARY_PREFIX not in p}:
        violations.append(
            {"kind": "listing", "detail": f"listing {sorted(listed.items())} != disk {sorted(disk.items())}"}
        )


def check(args):
    violations = []
    stats = {}
    round_directory = os.path.join(args.journal, f"round-{args.round}")
    if args.shared:
        check_shared(args, round_directory, violations, stats)
    else:
        for index in range(args.workers):
            check_worker(args, round_directory, index, violations, stats)
        owned = {f"w{index}" for index in range(args.workers)}
        for name in os.listdir(args.home):
            if name not in owned:
                violations.append({"kind": "stray", "detail": f"{name} in the home belongs to no worker"})
    ftp = ftplib.FTP(timeout=TIMEOUT, encoding="utf-8")
    ftp.connect(args.host, args.port)
    ftp.login(args.user, args.password)
    check_listing(ftp, args, violations)
    reply = ftp.sendcmd("SITE QUOTA")
    ftp.quit()
    used = re.search(r"Bytes: .*?\((\d+) bytes\) used", reply)
    files = re.search(r"Files: (\d+)", reply)
    quota = {"bytes": int(used.group(1)), "files": int(files.group(1))} if used and files else None
    if quota is None:
        violations.append({"kind": "quota reply", "detail": reply})
    print(json.dumps({"violations": violations, "quota": quota, "stats": stats}))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["load", "check"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--home", required=True)
    parser.add_argument("--journal", required=True)
    parser.add_argument("--round", type=int, default=0)
    parser.add_argument("--seed", default="0")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--ops", type=int, default=0, help="operations per worker (0: until the server dies)")
    parser.add_argument("--max-seconds", type=float, default=8)
    parser.add_argument("--shared", action="store_true")
    args = parser.parse_args()
    if args.host not in ("127.0.0.1", "::1", "localhost"):
        sys.exit("loopback only")
    load(args) if args.command == "load" else check(args)


if __name__ == "__main__":
    main()
