#!/usr/bin/env python3
"""FTP scenarios driven by Python's standard ftplib against a running ferryd.

Each scenario is a function named `scenario_<name>`; it raises (assert) on any deviation.
The Swift test suite starts the server in process and runs one scenario per test:

    ftplib_scenarios.py NAME --host H --port P --user U --password PW --home DIR --data DIR [--set k=v]

Everything talks to loopback only and every socket has a timeout.
"""
import argparse
import ftplib
import hashlib
import io
import os
import socket
import sys
import threading
import time

TIMEOUT = 30


def connect(args, user=None, password=None, login=True, host=None):
    ftp = ftplib.FTP(timeout=TIMEOUT, encoding="utf-8")
    ftp.connect(host or args.host, args.port)
    if login:
        ftp.login(user or args.user, password or args.password)
    return ftp


def expect_error(code, func, *a, **kw):
    """Runs func and asserts it fails with the given reply code (a string prefix like '550')."""
    try:
        result = func(*a, **kw)
    except ftplib.all_errors as e:
        text = str(e)
        assert text.startswith(code), f"expected {code}, got {text!r}"
        return text
    raise AssertionError(f"expected {code}, got success: {result!r}")


def retr_bytes(ftp, path):
    out = io.BytesIO()
    ftp.retrbinary("RETR " + path, out.write)
    return out.getvalue()


def stor_bytes(ftp, path, data, cmd="STOR", rest=None):
    try:
        return ftp.storbinary(f"{cmd} {path}", io.BytesIO(data), rest=rest)
    except (ConnectionResetError, BrokenPipeError):
        # The server ended the upload early (quota, full disk) and closed the data connection while ftplib was still
        # sending. Its reply says why, and raises here as ftplib.error_perm / error_temp.
        reply = ftp.voidresp()
        raise AssertionError(f"the data connection was reset, yet the server replied {reply}")


def drop_control(ftp):
    """Resets the control connection as a crashing client would (ftplib's file object holds the socket too)."""
    ftp.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    ftp.file.close()
    ftp.sock.close()


def epsv_port(ftp):
    """Sends EPSV and returns the port of its reply (RFC 2428 `(|||port|)`)."""
    return int(ftp.sendcmd("EPSV").split("|||")[1].split("|")[0])


def read_to_end(sock):
    """Everything a data connection sends until the server closes it."""
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def retr_on(ftp, conn, name):
    """RETR `name` over the data connection `conn`, already connected to the port of a PASV/EPSV: its bytes."""
    ftp.putcmd("RETR " + name)
    assert ftp.getresp().startswith("150")
    data = read_to_end(conn)
    conn.close()
    ftp.voidresp()
    return data


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def no_temporaries(home, patience=10.0):
    """No temporary upload file is left (a session that was cut off may still be cleaning up: wait a little)."""
    deadline = time.time() + patience
    while True:
        leftovers = []
        for root, _, files in os.walk(home):
            leftovers += [os.path.join(root, f) for f in files if f.startswith(".ferry-upload-")]
        if not leftovers:
            return
        assert time.time() < deadline, f"temporary upload files left behind: {leftovers}"
        time.sleep(0.1)


# --- login ---------------------------------------------------------------------------------------


def scenario_login(args):
    ftp = connect(args, login=False)
    assert ftp.getwelcome().startswith("220")
    resp = ftp.login(args.user, args.password)
    assert resp.startswith("230"), resp
    assert ftp.pwd() == "/"
    ftp.quit()

    # Wrong password and unknown user: the same 530 text (no user enumeration).
    ftp = connect(args, login=False)
    wrong = expect_error("530", ftp.login, args.user, "not-the-password")
    ftp.close()
    ftp = connect(args, login=False)
    reply = ftp.sendcmd("USER nobody-here")
    assert reply.startswith("331"), reply
    unknown = expect_error("530", ftp.sendcmd, "PASS whatever")
    assert wrong == unknown, (wrong, unknown)
    # Session lives on: a correct login on the same connection works.
    ftp.login(args.user, args.password)
    ftp.quit()


def scenario_before_login(args):
    ftp = connect(args, login=False)
    for cmd in ["PWD", "LIST", "RETR x", "STOR x", "CWD /", "PASV", "MKD a", "DELE a", "SIZE a"]:
        expect_error("530", ftp.sendcmd, cmd)
    # Allowed before login.
    assert ftp.sendcmd("SYST").startswith("215")
    assert ftp.sendcmd("NOOP").startswith("200")
    assert ftp.sendcmd("FEAT").startswith("211")
    expect_error("503", ftp.sendcmd, "PASS nouser")  # PASS without USER
    ftp.quit()


def scenario_too_many_failures(args):
    ftp = connect(args, login=False)
    for _ in range(3):
        ftp.sendcmd("USER " + args.user)
        expect_error("530", ftp.sendcmd, "PASS bad")
    # The server closes the connection after the limit with a 421.
    try:
        line = ftp.getline()
        assert line.startswith("421"), line
    except (EOFError, OSError):
        pass


# --- commands ------------------------------------------------------------------------------------


def scenario_info_commands(args):
    ftp = connect(args)
    assert ftp.sendcmd("SYST") == "215 UNIX Type: L8"
    feat = ftp.sendcmd("FEAT").splitlines()
    assert feat[0].startswith("211-") and feat[-1].startswith("211 "), feat
    features = {line.strip().split(" ")[0] for line in feat[1:-1]}
    for f in ["EPRT", "EPSV", "MDTM", "MLST", "PASV", "REST", "SIZE", "UTF8", "TVFS"]:
        assert f in features, (f, feat)
    for line in feat[1:-1]:
        assert line.startswith(" "), f"FEAT lines start with a space: {line!r}"
    assert ftp.sendcmd("OPTS UTF8 ON").startswith("200")
    assert ftp.sendcmd("NOOP").startswith("200")
    assert ftp.sendcmd("TYPE A").startswith("200")
    assert ftp.sendcmd("TYPE A N").startswith("200")
    assert ftp.sendcmd("TYPE I").startswith("200")
    assert ftp.sendcmd("TYPE L 8").startswith("200")
    expect_error("504", ftp.sendcmd, "TYPE E")
    expect_error("501", ftp.sendcmd, "TYPE Z")
    assert ftp.sendcmd("MODE S").startswith("200")
    expect_error("504", ftp.sendcmd, "MODE B")
    assert ftp.sendcmd("STRU F").startswith("200")
    expect_error("504", ftp.sendcmd, "STRU R")
    assert ftp.sendcmd("ALLO").startswith("202")
    assert ftp.sendcmd("ALLO 1000").startswith("200")
    expect_error("501", ftp.sendcmd, "ALLO lots")
    help_text = ftp.sendcmd("HELP")
    assert help_text.startswith("214-") and "RETR" in help_text, help_text
    assert ftp.sendcmd("HELP RETR").startswith("214")
    status = ftp.sendcmd("STAT")
    assert status.startswith("211-") and args.user in status, status
    expect_error("502", ftp.sendcmd, "XYZW")
    expect_error("500", ftp.sendcmd, "HELLOTHERE")
    expect_error("501", ftp.sendcmd, "CWD")
    expect_error("502", ftp.sendcmd, "SITE CHMOD 777 x")
    assert ftp.sendcmd("OPTS MLST type;size;").startswith("200 MLST OPTS type;size;")
    ftp.quit()


def scenario_navigation(args):
    ftp = connect(args)
    assert ftp.mkd("docs") == "/docs"
    assert ftp.sendcmd("XMKD other").startswith("257")
    ftp.cwd("docs")
    assert ftp.pwd() == "/docs"
    assert ftp.sendcmd("XPWD") == '257 "/docs" is the current directory.'
    assert ftp.mkd("sub") == "/docs/sub"
    ftp.cwd("sub")
    assert ftp.pwd() == "/docs/sub"
    ftp.sendcmd("CDUP")
    assert ftp.pwd() == "/docs"
    ftp.sendcmd("XCWD /")
    assert ftp.pwd() == "/"
    ftp.cwd("/docs/sub")
    ftp.cwd("..")
    assert ftp.pwd() == "/docs"
    expect_error("550", ftp.cwd, "nonexistent")
    assert ftp.pwd() == "/docs"
    stor_bytes(ftp, "f.txt", b"content")
    expect_error("550", ftp.cwd, "f.txt")  # not a directory
    expect_error("550", ftp.mkd, "sub")  # exists
    # Rename file and directory.
    ftp.rename("f.txt", "g.txt")
    assert ftp.nlst() == ["g.txt", "sub"], ftp.nlst()
    ftp.rename("/docs/sub", "/docs/sub2")
    assert os.path.isdir(os.path.join(args.home, "docs", "sub2"))
    expect_error("550", ftp.sendcmd, "RNFR missing")
    expect_error("503", ftp.sendcmd, "RNTO x")  # RNTO without RNFR
    # RNFR then another command: the RNFR is forgotten.
    ftp.sendcmd("RNFR g.txt")
    ftp.sendcmd("NOOP")
    expect_error("503", ftp.sendcmd, "RNTO h.txt")
    # A directory cannot move into itself.
    ftp.sendcmd("RNFR /docs")
    expect_error("553", ftp.sendcmd, "RNTO /docs/sub2/inside")
    # SIZE and MDTM.
    assert ftp.size("g.txt") == 7
    mdtm = ftp.sendcmd("MDTM g.txt")
    assert mdtm.startswith("213 ") and len(mdtm) == 18, mdtm
    expect_error("550", ftp.size, "sub2")
    expect_error("550", ftp.size, "missing")
    # Remove.
    expect_error("550", ftp.rmd, "/docs")  # not empty
    expect_error("550", ftp.delete, "sub2")  # directory
    ftp.delete("g.txt")
    assert not os.path.exists(os.path.join(args.home, "docs", "g.txt"))
    expect_error("550", ftp.delete, "g.txt")
    ftp.sendcmd("XRMD sub2")
    ftp.cwd("/")
    ftp.rmd("docs")
    ftp.rmd("other")
    assert os.listdir(args.home) == [], os.listdir(args.home)
    # Removing the working directory moves the session to its parent.
    ftp.mkd("w")
    ftp.cwd("w")
    ftp.rmd("/w")
    assert ftp.pwd() == "/"
    expect_error("550", ftp.rmd, "/")
    ftp.quit()


def scenario_streamed_listing(args):
    """1,234 entries in batches of 97: every name once, in byte order, also links and a subdirectory; an upload in
    progress stays hidden."""
    big = os.path.join(args.home, "big")
    os.mkdir(big)
    names = [f"e{i:05d}.txt" for i in range(1234)] + ["Zeta", "alpha", "\u00e9t\u00e9.txt", "sub"]
    for name in names[:-1]:
        with open(os.path.join(big, name), "wb") as f:
            f.write(b"x" * (len(name) % 7))
    os.mkdir(os.path.join(big, "sub"))
    os.symlink("e00001.txt", os.path.join(big, "link"))
    names.append("link")
    expected = sorted(names, key=lambda n: n.encode())
    ftp = connect(args)
    nlst = ftp.nlst("big")
    assert nlst == ["big/" + n for n in expected], (len(nlst), nlst[:3])
    lines = []
    ftp.retrlines("LIST big", lines.append)
    assert [line.rsplit(" ", 1)[-1] for line in lines] == expected, lines[:3]
    assert lines[expected.index("sub")].startswith("d")
    mlsd = list(ftp.mlsd("big"))
    entries = [(name, facts["type"]) for name, facts in mlsd if facts["type"] != "cdir"]
    assert [name for name, _ in entries] == expected, entries[:3]
    assert dict(entries)["sub"] == "dir" and dict(entries)["e00002.txt"] == "file"
    assert dict(entries)["link"] == "file"  # a link inside the jail is described by its target
    sizes = {name: int(facts["size"]) for name, facts in mlsd if facts["type"] == "file"}
    assert sizes["e00010.txt"] == len("e00010.txt") % 7
    ftp.quit()


def scenario_listings(args):
    ftp = connect(args)
    ftp.mkd("dir one")
    stor_bytes(ftp, "a.bin", b"x" * 1234)
    stor_bytes(ftp, "dir one/inner.txt", b"hi")
    lines = []
    ftp.retrlines("LIST", lines.append)
    assert len(lines) == 2, lines
    assert lines[0].startswith("-rw") and lines[0].endswith(" a.bin") and " 1234 " in lines[0], lines
    assert lines[1].startswith("d") and lines[1].endswith(" dir one"), lines
    for opts in ["LIST -la", "LIST -a", "LIST -l"]:
        other = []
        ftp.retrlines(opts, other.append)
        assert other == lines, (opts, other)
    one = []
    ftp.retrlines("LIST a.bin", one.append)
    assert len(one) == 1 and one[0].endswith(" a.bin"), one
    sub = []
    ftp.retrlines("LIST dir one", sub.append)
    assert len(sub) == 1 and sub[0].endswith(" inner.txt"), sub
    assert sorted(ftp.nlst()) == ["a.bin", "dir one"]
    assert ftp.nlst("dir one") == ["dir one/inner.txt"]
    expect_error("550", ftp.nlst, "missing")
    entries = dict(ftp.mlsd())
    assert entries["a.bin"]["type"] == "file" and entries["a.bin"]["size"] == "1234", entries
    assert entries["dir one"]["type"] == "dir", entries
    assert entries["."]["type"] == "cdir", entries
    for facts in entries.values():
        assert set(facts) >= {"type", "modify", "perm", "unique"}, facts
        assert len(facts["modify"]) == 14
    assert "r" in entries["a.bin"]["perm"] and "w" in entries["a.bin"]["perm"]
    assert "e" in entries["dir one"]["perm"] and "l" in entries["dir one"]["perm"]
    sub_entries = dict(ftp.mlsd("dir one"))
    assert sub_entries["inner.txt"]["size"] == "2"
    expect_error("501", lambda: list(ftp.mlsd("a.bin")))
    mlst = ftp.sendcmd("MLST a.bin").splitlines()
    assert mlst[0].startswith("250-") and mlst[-1].startswith("250 "), mlst
    assert mlst[1].startswith(" type=file;size=1234;") and mlst[1].endswith(" /a.bin"), mlst
    # unique: the same for one file in MLSD and MLST, different between entries.
    mlst_facts = dict(f.split("=", 1) for f in mlst[1].strip().split(" ", 1)[0].split(";") if f)
    assert entries["a.bin"]["unique"] == mlst_facts["unique"] != "", (entries, mlst_facts)
    assert entries["a.bin"]["unique"] != entries["dir one"]["unique"], entries
    root = ftp.sendcmd("MLST").splitlines()
    assert "type=cdir" in root[1], root
    # OPTS MLST selects facts.
    ftp.sendcmd("OPTS MLST type;size;")
    assert ftp.sendcmd("MLST a.bin").splitlines()[1] == " type=file;size=1234; /a.bin"
    ftp.sendcmd("OPTS MLST type;size;modify;perm;unique;")
    # STAT path lists over the control connection.
    stat = ftp.sendcmd("STAT /").splitlines()
    assert stat[0].startswith("213-") and stat[-1].startswith("213 "), stat
    assert any(line.endswith(" a.bin") for line in stat), stat
    one = ftp.sendcmd("STAT a.bin").splitlines()
    assert len(one) == 3 and one[1].startswith("-rw") and one[1].endswith(" a.bin"), one
    expect_error("550", ftp.sendcmd, "STAT /missing")
    ftp.quit()


def scenario_utf8_and_spaces(args):
    ftp = connect(args)
    names = ["with space.txt", "ünïcødé-файл-文件.txt", " leading space", "quote\"name"]
    for i, name in enumerate(names):
        stor_bytes(ftp, name, f"data {i}".encode())
    assert sorted(ftp.nlst()) == sorted(names), ftp.nlst()
    for i, name in enumerate(names):
        assert retr_bytes(ftp, name) == f"data {i}".encode(), name
        assert os.path.exists(os.path.join(args.home, name)), name
    ftp.mkd("répertoire é")
    ftp.cwd("répertoire é")
    assert ftp.pwd() == "/répertoire é"
    # 257 doubles quotes inside the path (RFC 959 appendix II).
    ftp.cwd("/")
    reply = ftp.sendcmd('MKD dir"q')
    assert reply.startswith('257 "/dir""q"'), reply
    ftp.quit()


def scenario_ascii_mode(args):
    ftp = connect(args)
    text = b"line one\r\nline two\r\nlast"
    ftp.storlines("STOR text.txt", io.BytesIO(text))
    on_disk = open(os.path.join(args.home, "text.txt"), "rb").read()
    assert on_disk == b"line one\nline two\nlast\n" or on_disk == b"line one\nline two\nlast", on_disk
    # Download in ASCII gives CRLF on the wire; binary gives the disk bytes.
    ftp.voidcmd("TYPE A")
    raw = io.BytesIO()
    conn = ftp.transfercmd("RETR text.txt")
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            break
        raw.write(chunk)
    conn.close()
    ftp.voidresp()
    assert raw.getvalue() == on_disk.replace(b"\n", b"\r\n"), raw.getvalue()
    assert retr_bytes(ftp, "text.txt") == on_disk
    ftp.quit()


# --- transfers -----------------------------------------------------------------------------------


def scenario_integrity(args):
    ftp = connect(args)
    sizes = [0, 1, 10 * 1024 * 1024 + 7]
    for size in sizes:
        data = os.urandom(size)
        name = f"file-{size}.bin"
        stor_bytes(ftp, name, data)
        assert ftp.size(name) == size
        with open(os.path.join(args.home, name), "rb") as f:
            assert sha256(f.read()) == sha256(data), f"disk copy of {name} differs"
        assert sha256(retr_bytes(ftp, name)) == sha256(data), f"download of {name} differs"
    no_temporaries(args.home)
    ftp.quit()


def scenario_large_file(args):
    """A large file (default 256 MiB) up and down, compared by SHA-256, streamed in chunks."""
    size = int(args.settings.get("size", str(256 * 1024 * 1024)))
    chunk = os.urandom(1 << 20)
    source = hashlib.sha256()

    class Source(io.RawIOBase):
        def __init__(self):
            self.left = size

        def readable(self):
            return True

        def readinto(self, b):
            n = min(len(b), self.left, len(chunk))
            b[:n] = chunk[:n]
            source.update(chunk[:n])
            self.left -= n
            return n

    ftp = connect(args)
    ftp.storbinary("STOR big.bin", Source(), blocksize=1 << 20)
    assert os.path.getsize(os.path.join(args.home, "big.bin")) == size
    down = hashlib.sha256()
    count = [0]

    def sink(data):
        down.update(data)
        count[0] += len(data)

    ftp.retrbinary("RETR big.bin", sink, blocksize=1 << 20)
    assert count[0] == size, count[0]
    assert down.hexdigest() == source.hexdigest()
    ftp.quit()


def scenario_resume(args):
    ftp = connect(args)
    data = os.urandom(300_000)
    # REST + RETR: the rest of the file from the offset.
    stor_bytes(ftp, "r.bin", data)
    out = io.BytesIO()
    ftp.retrbinary("RETR r.bin", out.write, rest=100_000)
    assert out.getvalue() == data[100_000:]
    expect_error("554", ftp.retrbinary, "RETR r.bin", lambda b: None, rest=400_000)
    # REST + STOR resumes an upload: the first part stays, the rest is written from the offset.
    stor_bytes(ftp, "u.bin", data[:120_000])
    stor_bytes(ftp, "u.bin", data[120_000:], rest=120_000)
    assert retr_bytes(ftp, "u.bin") == data
    # REST beyond the end of the file for STOR is refused, the file stays.
    try:
        stor_bytes(ftp, "u.bin", b"zz", rest=10_000_000)
        raise AssertionError("REST past the end accepted")
    except ftplib.error_perm:
        pass
    assert retr_bytes(ftp, "u.bin") == data
    # APPE appends, and creates a missing file.
    stor_bytes(ftp, "a.bin", data[:1000])
    stor_bytes(ftp, "a.bin", data[1000:2000], cmd="APPE")
    assert retr_bytes(ftp, "a.bin") == data[:2000]
    stor_bytes(ftp, "new.bin", b"fresh", cmd="APPE")
    assert retr_bytes(ftp, "new.bin") == b"fresh"
    # STOR replaces; a REST is consumed by the next command only.
    stor_bytes(ftp, "a.bin", b"short")
    assert retr_bytes(ftp, "a.bin") == b"short"
    ftp.sendcmd("REST 3")
    ftp.sendcmd("NOOP")
    assert retr_bytes(ftp, "a.bin") == b"short"
    expect_error("501", ftp.sendcmd, "REST -5")
    expect_error("501", ftp.sendcmd, "REST abc")
    no_temporaries(args.home)
    ftp.quit()


def scenario_interrupted_upload(args):
    """An upload cut off mid-way (data connection reset, control dropped) leaves the old file intact."""
    old = os.urandom(50_000)
    ftp = connect(args)
    stor_bytes(ftp, "keep.bin", old)
    ftp.voidcmd("TYPE I")
    conn = ftp.transfercmd("STOR keep.bin")
    conn.sendall(os.urandom(2_000_000))
    # Reset instead of a clean close, then drop the control connection as a crashing client would.
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    conn.close()
    drop_control(ftp)
    time.sleep(1.0)
    path = os.path.join(args.home, "keep.bin")
    assert open(path, "rb").read() == old, "old file changed by an interrupted upload"
    # A client that closes data cleanly but has lost its control connection: still no commit.
    ftp = connect(args)
    ftp.voidcmd("TYPE I")
    conn = ftp.transfercmd("STOR keep.bin")
    conn.sendall(b"partial")
    drop_control(ftp)
    time.sleep(0.3)
    conn.close()
    time.sleep(1.0)
    assert open(path, "rb").read() == old, "old file replaced after the control connection died"
    no_temporaries(args.home)
    # A new session works and sees the old file.
    ftp = connect(args)
    assert retr_bytes(ftp, "keep.bin") == old
    ftp.quit()


def scenario_abort(args):
    ftp = connect(args)
    big = os.urandom(64 * 1024 * 1024)
    stor_bytes(ftp, "big.bin", big)
    # ABOR during RETR: 426 for the transfer then 226 for ABOR, and the session goes on.
    ftp.voidcmd("TYPE I")
    conn = ftp.transfercmd("RETR big.bin")
    conn.recv(65536)
    ftp.sock.sendall(b"\xff\xf4\xff")
    ftp.sock.sendall(b"\xf2", socket.MSG_OOB)
    ftp.sock.sendall(b"ABOR\r\n")
    first = ftp.getmultiline()
    second = ftp.getmultiline()
    conn.close()
    assert first.startswith("426") and second.startswith("226"), (first, second)
    assert ftp.sendcmd("NOOP").startswith("200")
    # ABOR during STOR: the previous file stays, no temporary is left.
    old = b"previous version"
    stor_bytes(ftp, "doc.txt", old)
    conn = ftp.transfercmd("STOR doc.txt")
    conn.sendall(os.urandom(1_000_000))
    ftp.sock.sendall(b"ABOR\r\n")
    first = ftp.getmultiline()
    second = ftp.getmultiline()
    conn.close()
    assert first.startswith("426") and second.startswith("226"), (first, second)
    assert open(os.path.join(args.home, "doc.txt"), "rb").read() == old
    no_temporaries(args.home)
    # ABOR with no transfer.
    assert ftp.sendcmd("ABOR")[:3] in ("225", "226")
    # STAT during a transfer answers at once.
    assert retr_bytes(ftp, "doc.txt") == old
    ftp.quit()


def scenario_active_mode(args):
    ftp = connect(args)
    ftp.set_pasv(False)
    data = os.urandom(200_000)
    stor_bytes(ftp, "act.bin", data)
    assert retr_bytes(ftp, "act.bin") == data
    assert ftp.nlst() == ["act.bin"]
    # EPRT explicitly.
    ftp.af = socket.AF_INET
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    assert ftp.sendcmd(f"EPRT |1|127.0.0.1|{port}|").startswith("200")
    ftp.sendcmd("TYPE I")
    ftp.putcmd("RETR act.bin")
    conn, _ = sock.accept()
    received = b""
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            break
        received += chunk
    conn.close()
    assert ftp.getresp().startswith("150") or True
    ftp.voidresp()
    assert received == data
    # SECURITY: no FTP bounce: another host or a privileged port is refused.
    expect_error("504", ftp.sendcmd, "PORT 127,0,0,2,31,144")
    expect_error("504", ftp.sendcmd, "PORT 127,0,0,1,0,21")
    expect_error("504", ftp.sendcmd, "EPRT |1|10.1.2.3|6000|")
    expect_error("501", ftp.sendcmd, "PORT 127,0,0,1,300,1")
    expect_error("501", ftp.sendcmd, "PORT 1,2,3")
    expect_error("522", ftp.sendcmd, "EPRT |2|::1|6000|")
    expect_error("501", ftp.sendcmd, "EPRT garbage")
    ftp.quit()


def scenario_passive_modes(args):
    ftp = connect(args)
    stor_bytes(ftp, "p.bin", b"abc")
    reply = ftp.sendcmd("EPSV")
    assert reply.startswith("229 Entering Extended Passive Mode (|||"), reply
    ftp.sendcmd("ABOR")
    expect_error("522", ftp.sendcmd, "EPSV 2")
    # PASV reply in the parenthesised form.
    reply = ftp.sendcmd("PASV")
    assert reply.startswith("227 Entering Passive Mode (127,0,0,1,"), reply
    # The next PASV replaces the previous listener; transfers work with the last one.
    assert retr_bytes(ftp, "p.bin") == b"abc"
    # EPSV ALL: afterwards PASV/PORT/EPRT are refused, EPSV works.
    assert ftp.sendcmd("EPSV ALL").startswith("200")
    expect_error("503", ftp.sendcmd, "PASV")
    expect_error("503", ftp.sendcmd, "PORT 127,0,0,1,100,100")
    ftp.af = socket.AF_INET6  # makes ftplib use EPSV
    assert retr_bytes(ftp, "p.bin") == b"abc"
    # A transfer command without PASV/PORT first.
    ftp2 = connect(args)
    expect_error("425", ftp2.sendcmd, "RETR p.bin")
    ftp2.quit()
    ftp.quit()


def scenario_passive_port_reuse(args):
    """A session keeps its passive port between transfers; each EPSV admits exactly one connection, and a connection
    nobody asked for retires the port (the next EPSV gets another one)."""
    ftp = connect(args)
    stor_bytes(ftp, "a.bin", b"first")
    stor_bytes(ftp, "b.bin", b"second")
    ftp.voidcmd("TYPE I")

    def refuses(port):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
            return False
        except (ConnectionRefusedError, socket.timeout):
            return True

    # Transfers reuse the port, and each gets its own bytes.
    first = epsv_port(ftp)
    conn = socket.create_connection(("127.0.0.1", first), timeout=10)
    assert retr_on(ftp, conn, "a.bin") == b"first"
    assert epsv_port(ftp) == first
    ftp.sendcmd("ABOR")
    assert retr_bytes(ftp, "b.bin") == b"second"
    assert retr_bytes(ftp, "a.bin") == b"first"
    # A connection between transfers gets nothing. The next EPSV finds it waiting: the port is retired (closed and
    # not announced again), and the connection with it.
    probe = socket.create_connection(("127.0.0.1", first), timeout=5)
    second = epsv_port(ftp)
    assert second != first
    probe.settimeout(5)
    try:
        assert read_to_end(probe) == b"", "a connection between transfers got data"
    except ConnectionResetError:
        pass
    probe.close()
    assert refuses(first), "a probed port stayed open"
    # A second connection for one EPSV gets nothing; the first is the data connection; then the port is retired.
    # (Connections wait in the queue until the transfer command says who accepts them.)
    conn = socket.create_connection(("127.0.0.1", second), timeout=10)
    extra = socket.create_connection(("127.0.0.1", second), timeout=10)
    assert retr_on(ftp, conn, "b.bin") == b"second"
    try:
        assert read_to_end(extra) == b"", "a second connection for one EPSV got data"
    except ConnectionResetError:
        pass
    extra.close()
    third = epsv_port(ftp)
    assert third != second
    assert refuses(second)
    # The port belongs to the session: it closes with it.
    ftp.quit()
    time.sleep(0.5)
    assert refuses(third), "passive port still open after the session ended"


def scenario_passive_other_host(args):
    """SECURITY: a data connection to a PASV port from another address (127.0.0.2) is refused."""
    ftp = connect(args)
    stor_bytes(ftp, "secret.bin", b"top secret")
    ftp.voidcmd("TYPE I")
    reply = ftp.sendcmd("EPSV")
    port = int(reply.split("|||")[1].split("|")[0])
    thief = socket.socket()
    thief.settimeout(5)
    thief.bind(("127.0.0.2", 0))
    thief.connect(("127.0.0.1", port))
    stolen = b""
    try:
        ftp.putcmd("RETR secret.bin")
        # The thief is closed at once and gets nothing.
        while True:
            chunk = thief.recv(1024)
            if not chunk:
                break
            stolen += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    thief.close()
    assert stolen == b"", stolen
    # The real client can still connect and gets the file.
    real = socket.create_connection(("127.0.0.1", port), timeout=10)
    assert ftp.getresp().startswith("150")
    data = read_to_end(real)
    real.close()
    ftp.voidresp()
    assert data == b"top secret"
    # The same for an upload, when both connect before STOR (the thief first): the thief is closed, the client's
    # bytes are stored, and the port is not announced again.
    port = epsv_port(ftp)
    thief = socket.socket()
    thief.settimeout(5)
    thief.bind(("127.0.0.2", 0))
    thief.connect(("127.0.0.1", port))
    real = socket.create_connection(("127.0.0.1", port), timeout=10)
    ftp.putcmd("STOR upload.bin")
    assert ftp.getresp().startswith("150")
    real.sendall(b"uploaded by the client")
    real.close()
    ftp.voidresp()
    try:
        assert thief.recv(1024) == b""
    except ConnectionResetError:
        pass
    thief.close()
    assert open(os.path.join(args.home, "upload.bin"), "rb").read() == b"uploaded by the client"
    assert epsv_port(ftp) != port, "a port a stranger found was reused"
    ftp.quit()


def scenario_upload_paths(args):
    """One upload of each kind, in a known order (the Swift test checks how the server received each): binary
    passive STOR, APPE and REST+STOR, then ASCII, active mode and SITE EXPECT. Every file is checked on disk."""
    ftp = connect(args)
    home = args.home
    data = os.urandom(3_000_000)
    stor_bytes(ftp, "plain.bin", data)
    stor_bytes(ftp, "plain.bin", data[:1000], cmd="APPE")
    stor_bytes(ftp, "resumed.bin", data[:100_000])
    stor_bytes(ftp, "resumed.bin", data[100_000:], rest=100_000)
    ftp.storlines("STOR text.txt", io.BytesIO(b"one\ntwo\n"))
    ftp.set_pasv(False)
    stor_bytes(ftp, "active.bin", data[:5000])
    ftp.set_pasv(True)
    ftp.sendcmd(f"SITE EXPECT SHA-256 {hashlib.sha256(data).hexdigest()} {len(data)}")
    stor_bytes(ftp, "expected.bin", data)
    ftp.quit()
    assert open(os.path.join(home, "plain.bin"), "rb").read() == data + data[:1000]
    assert open(os.path.join(home, "resumed.bin"), "rb").read() == data
    assert open(os.path.join(home, "text.txt"), "rb").read() == b"one\ntwo\n"
    assert open(os.path.join(home, "active.bin"), "rb").read() == data[:5000]
    assert open(os.path.join(home, "expected.bin"), "rb").read() == data
    no_temporaries(home)


def scenario_download_paths(args):
    """One download of each kind, in a known order (the Swift test checks how the server sent each): binary passive
    RETR of a small file, with REST, of an empty file, of 8 MiB to a reader that waits with a small receive buffer
    (more than the sender's socket buffer takes: the rest goes out when there is room), then a file over the direct
    size limit (16 MiB in this test), ASCII and active mode."""
    ftp = connect(args)
    small = os.urandom(4096)
    mid = os.urandom(8 << 20)
    big = os.urandom(24 << 20)
    stor_bytes(ftp, "small.bin", small)
    stor_bytes(ftp, "empty.bin", b"")
    stor_bytes(ftp, "mid.bin", mid)
    stor_bytes(ftp, "big.bin", big)
    ftp.storlines("STOR text.txt", io.BytesIO(b"one\ntwo\n"))
    assert retr_bytes(ftp, "small.bin") == small
    out = io.BytesIO()
    ftp.retrbinary("RETR small.bin", out.write, rest=1000)
    assert out.getvalue() == small[1000:]
    assert retr_bytes(ftp, "empty.bin") == b""
    ftp.voidcmd("TYPE I")
    port = epsv_port(ftp)
    conn = socket.socket()
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    conn.settimeout(20)
    conn.connect(("127.0.0.1", port))
    ftp.putcmd("RETR mid.bin")
    assert ftp.getresp().startswith("150")
    time.sleep(0.5)
    received = read_to_end(conn)
    conn.close()
    ftp.voidresp()
    assert received == mid, (len(received), len(mid))
    assert retr_bytes(ftp, "big.bin") == big
    lines = []
    ftp.retrlines("RETR text.txt", lines.append)
    assert lines == ["one", "two"], lines
    ftp.set_pasv(False)
    assert retr_bytes(ftp, "small.bin") == small
    ftp.quit()


def scenario_uploads_while_busy(args):
    """With every direct-upload thread taken (one, in this test) by an upload that is still sending, another
    upload goes through at once, and both files arrive whole."""
    slow = connect(args)
    slow.voidcmd("TYPE I")
    first = os.urandom(2_000_000)
    conn = slow.transfercmd("STOR slow.bin")
    conn.sendall(first[:1_000_000])
    fast = connect(args)
    second = os.urandom(2_000_000)
    stor_bytes(fast, "fast.bin", second)
    assert open(os.path.join(args.home, "fast.bin"), "rb").read() == second
    conn.sendall(first[1_000_000:])
    conn.close()
    slow.voidresp()
    assert open(os.path.join(args.home, "slow.bin"), "rb").read() == first
    slow.quit()
    fast.quit()
    no_temporaries(args.home)


def scenario_stalled_upload(args):
    """An upload whose sender stops (data idle timeout is 1 s in this test) fails with 426 and leaves the previous
    file as it was; the session goes on."""
    ftp = connect(args)
    old = b"the previous version"
    stor_bytes(ftp, "doc.bin", old)
    ftp.voidcmd("TYPE I")
    conn = ftp.transfercmd("STOR doc.bin")
    conn.sendall(os.urandom(300_000))
    ftp.sock.settimeout(20)
    reply = ftp.getmultiline()
    assert reply.startswith("426"), reply
    conn.close()
    assert open(os.path.join(args.home, "doc.bin"), "rb").read() == old
    no_temporaries(args.home)
    assert retr_bytes(ftp, "doc.bin") == old
    ftp.quit()


def scenario_command_after_connect(args):
    """A client that connects right after PASV/EPSV and sends its command later than the data connection timeout
    (1 s in this test) still gets its transfer: the wait for the connection counts from the command."""
    ftp = connect(args)
    stor_bytes(ftp, "f.bin", b"late but fine")
    ftp.voidcmd("TYPE A")
    conn = socket.create_connection(("127.0.0.1", epsv_port(ftp)), timeout=10)
    time.sleep(2.5)
    assert retr_on(ftp, conn, "f.bin") == b"late but fine"
    ftp.voidcmd("TYPE I")
    conn = socket.create_connection(("127.0.0.1", epsv_port(ftp)), timeout=10)
    time.sleep(2.5)
    ftp.putcmd("STOR g.bin")
    assert ftp.getresp().startswith("150")
    conn.sendall(b"uploaded late")
    conn.close()
    ftp.voidresp()
    assert retr_bytes(ftp, "g.bin") == b"uploaded late"
    ftp.quit()


def scenario_pasv_never_connect(args):
    """A PASV that nobody connects to times out (dataConnectionTimeout is short in this test)."""
    ftp = connect(args)
    stor_bytes(ftp, "f.bin", b"x")
    for _ in range(20):
        ftp.sendcmd("PASV")
    reply = ftp.sendcmd("EPSV")
    port = int(reply.split("|||")[1].split("|")[0])
    ftp.putcmd("RETR f.bin")
    resp = ftp.getresp() if False else None
    try:
        resp = ftp.getmultiline()
    except ftplib.all_errors as e:
        resp = str(e)
    assert resp.startswith("425"), resp
    # Nothing is expected any more: a connection to the port (still lingering for a next PASV) gets no data, and is
    # closed with the port when it lingers out (0.5 s in this test).
    # (Generous timeouts: on a loaded machine the 0.5 s timer may fire seconds late; what matters is that it does.)
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.settimeout(20)
        try:
            assert s.recv(1) == b"", "a connection after the timeout was kept open"
        except ConnectionResetError:
            pass
        s.close()
    except ConnectionRefusedError:
        pass
    # Unused for longer than its linger time (0.5 s in this test), the port is closed.
    deadline = time.time() + 20
    while True:
        time.sleep(0.5)
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
            s.close()
            assert time.time() < deadline, "passive port still open after its linger time"
        except (ConnectionRefusedError, socket.timeout):
            break
    assert ftp.sendcmd("NOOP").startswith("200")
    ftp.quit()


# --- jail ----------------------------------------------------------------------------------------


def scenario_jail(args):
    other_home = os.path.join(args.data, "homes", "bob")
    with open(os.path.join(other_home, "bob-private.txt"), "w") as f:
        f.write("bob's secret")
    # Links placed in the home by someone else: to /etc, to another home, to a file outside, inside-only.
    os.symlink("/etc", os.path.join(args.home, "etc-link"))
    os.symlink(other_home, os.path.join(args.home, "bob-link"))
    os.symlink("/etc/passwd", os.path.join(args.home, "passwd-link"))
    os.symlink("../../../../../../etc", os.path.join(args.home, "relative-escape"))
    os.mkdir(os.path.join(args.home, "real"))
    with open(os.path.join(args.home, "real", "inside.txt"), "w") as f:
        f.write("inside")
    os.symlink("real", os.path.join(args.home, "good-link"))
    os.symlink(os.path.join(os.path.realpath(args.home), "real", "inside.txt"), os.path.join(args.home, "abs-inside"))

    ftp = connect(args)
    ftp.cwd("../..")
    assert ftp.pwd() == "/"
    ftp.cwd("/../../..")
    assert ftp.pwd() == "/"
    lines = []
    ftp.retrlines("LIST", lines.append)
    names = {line.split(" ")[-1] for line in lines}
    assert "bob-private.txt" not in " ".join(lines)
    for path in ["../bob/bob-private.txt", "/../../etc/passwd", "../../../../etc/passwd", "/../bob/bob-private.txt",
                 "..\\..\\etc\\passwd", "etc-link/passwd", "bob-link/bob-private.txt", "passwd-link",
                 "relative-escape/passwd", "/etc/passwd"]:
        expect_error("550", retr_bytes, ftp, path)
    for path in ["etc-link", "bob-link", "relative-escape", "../bob", "/etc"]:
        expect_error("550", ftp.cwd, path)
        assert ftp.pwd() == "/"
    expect_error("550", ftp.nlst, "etc-link")
    expect_error("550", lambda: list(ftp.mlsd("bob-link")))
    expect_error("550", ftp.sendcmd, "SIZE passwd-link")
    expect_error("550", ftp.sendcmd, "MLST etc-link/passwd")
    expect_error("550", ftp.sendcmd, "STAT etc-link")
    # Writes through links that leave the home are refused and leave nothing outside.
    expect_error("550", stor_bytes, ftp, "bob-link/planted.txt", b"evil")
    assert not os.path.exists(os.path.join(other_home, "planted.txt"))
    expect_error("550", ftp.mkd, "bob-link/newdir")
    assert not os.path.exists(os.path.join(other_home, "newdir"))
    expect_error("550", ftp.sendcmd, "RNFR bob-link/bob-private.txt")
    expect_error("550", ftp.delete, "bob-link/bob-private.txt")
    assert os.path.exists(os.path.join(other_home, "bob-private.txt"))
    # Renaming something of ours into another home through a link is refused.
    stor_bytes(ftp, "mine.txt", b"mine")
    ftp.sendcmd("RNFR mine.txt")
    expect_error("550", ftp.sendcmd, "RNTO bob-link/mine.txt")
    assert not os.path.exists(os.path.join(other_home, "mine.txt"))
    # Deleting a link removes the link, never its target.
    ftp.delete("passwd-link")
    assert os.path.exists("/etc/passwd")
    # Links that stay inside the home work.
    assert retr_bytes(ftp, "good-link/inside.txt") == b"inside"
    assert retr_bytes(ftp, "abs-inside") == b"inside"
    ftp.cwd("good-link")
    assert ftp.nlst() == ["inside.txt"]
    ftp.cwd("/")
    # NUL, over-long names.
    expect_error("501", ftp.sendcmd, "RETR a\x00b")
    expect_error("553", ftp.sendcmd, "MKD " + "n" * 256)
    assert ftp.mkd("n" * 255).endswith("n" * 255)
    # Temporary upload names are not addressable.
    expect_error("550", ftp.sendcmd, "SIZE .ferry-upload-abc")
    ftp.quit()
    # The other user never sees alice's files and vice versa.
    bob = connect(args, user="bob", password="bob-secret")
    assert "mine.txt" not in bob.nlst()
    expect_error("550", retr_bytes, bob, "../alice/mine.txt")
    bob.quit()


def scenario_hostile_input(args):
    ftp = connect(args)
    # A huge line gets 500 and the session lives.
    ftp.sock.sendall(b"NOOP " + b"A" * 100_000 + b"\r\n")
    assert ftp.getmultiline().startswith("500")
    assert ftp.sendcmd("NOOP").startswith("200")
    # A pipelined burst of commands is answered in order: a short one, and one of many reads while the server holds
    # most of it back (it queues only a few lines per session), with a line cut between two sends.
    ftp.sock.sendall(b"NOOP\r\n" * 50 + b"PWD\r\n")
    for _ in range(50):
        assert ftp.getmultiline().startswith("200")
    assert ftp.getmultiline().startswith("257")
    burst = b"".join(b"MKD d%d\r\n" % i for i in range(3000)) + b"CWD d2999\r\nPW"
    ftp.sock.sendall(burst)
    time.sleep(0.2)
    ftp.sock.sendall(b"D\r\n")
    for i in range(3000):
        reply = ftp.getmultiline()
        assert reply.startswith('257 "/d%d"' % i), reply
    assert ftp.getmultiline().startswith("250")
    assert ftp.getmultiline().startswith('257 "/d2999"')
    ftp.cwd("/")
    # Bare LF line endings are accepted.
    ftp.sock.sendall(b"NOOP\n")
    assert ftp.getmultiline().startswith("200")
    # Empty line and garbage.
    ftp.sock.sendall(b"\r\n")
    assert ftp.getmultiline().startswith("500")
    ftp.sock.sendall(b"\x01\x02\x03\r\n")
    assert ftp.getmultiline().startswith("500")
    # Invalid UTF-8 in a name does not crash the session.
    ftp.sock.sendall(b"CWD \xff\xfe\r\n")
    assert ftp.getmultiline()[:3] in ("550", "501")
    assert ftp.sendcmd("NOOP").startswith("200")
    ftp.quit()
    # A client that connects and vanishes mid-command, and one that drops mid-transfer.
    s = socket.create_connection((args.host, args.port), timeout=5)
    s.recv(100)
    s.sendall(b"USER ali")
    s.close()
    ftp = connect(args)
    stor_bytes(ftp, "big.bin", os.urandom(32 * 1024 * 1024))
    ftp.voidcmd("TYPE I")
    conn = ftp.transfercmd("RETR big.bin")
    conn.recv(1000)
    conn.close()
    ftp.sock.close()
    # The server is fine.
    ftp = connect(args)
    assert ftp.size("big.bin") == 32 * 1024 * 1024
    ftp.quit()


def scenario_idle_timeout(args):
    ftp = connect(args)
    time.sleep(float(args.settings.get("wait", "6")))
    line = ftp.getline()
    assert line.startswith("421"), line


def scenario_login_timeout(args):
    """A client that connects but never logs in is closed (loginTimeout is short in this test),
    even if it keeps sending commands that are allowed before login."""
    ftp = connect(args, login=False)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            reply = ftp.sendcmd("NOOP")
        except ftplib.error_temp as e:
            assert str(e).startswith("421"), e
            return
        except (EOFError, OSError):
            return
        assert reply.startswith("200"), reply
        time.sleep(0.2)
    raise AssertionError("still connected long after the login timeout")


def scenario_concurrent(args):
    """20 clients of three users at once, each uploading then downloading its own files."""
    users = [("alice", "alice-secret"), ("bob", "bob-secret"), ("carol", "carol-secret")]
    errors = []

    def worker(index):
        try:
            user, password = users[index % len(users)]
            ftp = connect(args, user=user, password=password)
            data = os.urandom(512 * 1024 + index)
            name = f"c-{index}.bin"
            stor_bytes(ftp, name, data)
            for _ in range(3):
                assert retr_bytes(ftp, name) == data
            lines = ftp.nlst()
            assert name in lines
            ftp.quit()
            home = os.path.join(args.data, "homes", user)
            assert open(os.path.join(home, name), "rb").read() == data
        except Exception as e:  # noqa: BLE001 - collected and reported
            errors.append(f"worker {index}: {e!r}")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors


def scenario_ipv6(args):
    ftp = ftplib.FTP(timeout=TIMEOUT)
    ftp.connect("::1", args.port)
    ftp.login(args.user, args.password)
    data = os.urandom(100_000)
    stor_bytes(ftp, "v6.bin", data)  # ftplib uses EPSV on IPv6
    assert retr_bytes(ftp, "v6.bin") == data
    expect_error("522", ftp.sendcmd, "PASV")
    expect_error("522", ftp.sendcmd, "EPSV 1")
    ftp.set_pasv(False)  # EPRT |2|::1|port|
    assert retr_bytes(ftp, "v6.bin") == data
    ftp.quit()


def scenario_dual_stack(args):
    """A listener on `::` serves IPv4 clients as IPv4 clients: PASV announces their IPv4 address, PORT and EPRT |1|
    are accepted, transfers (direct and not) work; an IPv6 client on the same listener still gets 522 for PASV."""
    data = os.urandom(100_000)
    ftp = connect(args, host="127.0.0.1")
    assert ftp.sendcmd("PASV").startswith("227 Entering Passive Mode (127,0,0,1,"), "PASV over IPv4 on ::"
    stor_bytes(ftp, "v4.bin", data)  # ftplib uses PASV on IPv4
    assert retr_bytes(ftp, "v4.bin") == data
    lines = []
    ftp.retrlines("LIST", lines.append)
    assert any(line.endswith(" v4.bin") for line in lines), lines
    assert ftp.sendcmd("EPSV 1").startswith("229")
    ftp.set_pasv(False)  # PORT 127,0,0,1,…
    assert retr_bytes(ftp, "v4.bin") == data
    stor_bytes(ftp, "v4-active.bin", data)
    ftp.quit()
    assert open(os.path.join(args.home, "v4-active.bin"), "rb").read() == data
    six = connect(args, host="::1")
    expect_error("522", six.sendcmd, "PASV")
    assert retr_bytes(six, "v4.bin") == data
    six.quit()


# --- quotas --------------------------------------------------------------------------------------


def quota_report(ftp):
    """Parses SITE QUOTA: returns (used_bytes, limit_bytes or None, used_files)."""
    text = ftp.sendcmd("SITE QUOTA")
    assert text.startswith("200-"), text
    byte_line = [line for line in text.splitlines() if "Bytes:" in line][0]
    numbers = [int(part.split(" bytes")[0]) for part in byte_line.split("(")[1:]]
    files_line = [line for line in text.splitlines() if "Files:" in line][0]
    files = int(files_line.split("Files:")[1].split()[0].strip(","))
    limit = numbers[1] if "no limit" not in byte_line else None
    return numbers[0], limit, files


def disk_usage(home):
    total = 0
    for root, _, files in os.walk(home):
        for f in files:
            if not f.startswith(".ferry-upload-"):
                total += os.path.getsize(os.path.join(root, f))
    return total


def scenario_quota_boundary(args):
    """Quota of 1 MiB (set by the test): exact fit, one byte over, overwrite, APPE, REST, RNTO, DELE."""
    limit = 1 << 20
    ftp = connect(args)
    assert quota_report(ftp) == (0, limit, 0)
    assert ftp.sendcmd("AVBL") == f"213 {limit}"
    # Exactly the remaining bytes succeed...
    stor_bytes(ftp, "full.bin", b"a" * limit)
    assert quota_report(ftp) == (limit, limit, 1)
    assert ftp.sendcmd("AVBL") == "213 0"
    # ...one byte more fails with 552 naming used and allowed bytes, and leaves nothing behind.
    text = expect_error("552", stor_bytes, ftp, "one-more.bin", b"b")
    assert str(limit) in text and "used" in text and "allowed" in text, text
    assert not os.path.exists(os.path.join(args.home, "one-more.bin"))
    no_temporaries(args.home)
    # Overwrite with the same size: growth 0, allowed. A bigger overwrite fails and keeps the old file.
    stor_bytes(ftp, "full.bin", b"c" * limit)
    expect_error("552", stor_bytes, ftp, "full.bin", b"d" * (limit + 1))
    assert open(os.path.join(args.home, "full.bin"), "rb").read() == b"c" * limit
    # APPE past the quota: 552, the original stays.
    expect_error("552", stor_bytes, ftp, "full.bin", b"e", cmd="APPE")
    assert os.path.getsize(os.path.join(args.home, "full.bin")) == limit
    # A smaller overwrite frees space at once.
    stor_bytes(ftp, "full.bin", b"f" * 1000)
    assert quota_report(ftp) == (1000, limit, 1)
    # REST+STOR past the quota fails; within it works.
    expect_error("552", stor_bytes, ftp, "full.bin", b"g" * limit, rest=500)
    assert open(os.path.join(args.home, "full.bin"), "rb").read() == b"f" * 1000
    stor_bytes(ftp, "full.bin", b"h" * 2000, rest=1000)
    assert quota_report(ftp) == (3000, limit, 1)
    # RNTO over an existing file frees the replaced file.
    stor_bytes(ftp, "other.bin", b"i" * 5000)
    assert quota_report(ftp) == (8000, limit, 2)
    ftp.rename("other.bin", "full.bin")
    assert quota_report(ftp) == (5000, limit, 1)
    # DELE frees; a directory counts as a file (MKD +1, RMD -1), with no bytes.
    ftp.mkd("d")
    assert quota_report(ftp) == (5000, limit, 2)
    stor_bytes(ftp, "d/x.bin", b"j" * 100)
    assert quota_report(ftp) == (5100, limit, 3)
    ftp.delete("d/x.bin")
    ftp.rmd("d")
    assert quota_report(ftp) == (5000, limit, 1)
    # Reporting: MLST / carries the facts, STAT lists them.
    mlst = ftp.sendcmd("MLST /").splitlines()[1]
    assert f"X.quota-used=5000;" in mlst and f"X.quota-limit={limit};" in mlst, mlst
    assert "Bytes:" in ftp.sendcmd("STAT")
    assert disk_usage(args.home) == 5000
    no_temporaries(args.home)
    ftp.quit()


def scenario_quota_stops_midway(args):
    """A big upload over the quota stops during the transfer (not after), with 552."""
    limit = 1 << 20
    ftp = connect(args)
    ftp.voidcmd("TYPE I")
    conn = ftp.transfercmd("STOR big.bin")
    sent = 0
    chunk = b"x" * 65536
    try:
        while sent < 200 * limit:
            conn.sendall(chunk)
            sent += len(chunk)
    except OSError:
        pass
    conn.close()
    reply = ftp.getmultiline()
    assert reply.startswith("552"), reply
    assert sent < 50 * limit, f"server kept reading {sent} bytes past a {limit}-byte quota"
    assert not os.path.exists(os.path.join(args.home, "big.bin"))
    no_temporaries(args.home)
    assert quota_report(ftp)[0] == 0
    ftp.quit()


def scenario_quota_concurrent(args):
    """8 sessions of one user upload 300 KiB each at once against a 1 MiB quota: never more than the limit."""
    limit = 1 << 20
    size = 300 * 1024
    results = []
    barrier = threading.Barrier(8)

    def worker(index):
        ftp = connect(args)
        ftp.voidcmd("TYPE I")
        barrier.wait()
        try:
            stor_bytes(ftp, f"c{index}.bin", bytes([index]) * size)
            results.append(("ok", index))
        except ftplib.error_perm as e:
            results.append((str(e)[:3], index))
        ftp.quit()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    ok = [i for status, i in results if status == "ok"]
    failed = [status for status, _ in results if status != "ok"]
    assert len(results) == 8, results
    assert all(status == "552" for status in failed), results
    on_disk = disk_usage(args.home)
    overshoot = max(0, on_disk - limit)
    print(f"concurrent quota race: {len(ok)} of 8 uploads stored, {on_disk} bytes on disk, limit {limit}, overshoot {overshoot}")
    assert overshoot == 0
    # Space is reserved as bytes arrive, first come first served: an upload whose next bytes do not fit gets 552
    # even if another one will fail later, so 1 to 3 of the 8 are stored; never more than fits.
    assert len(ok) == on_disk // size and 1 <= len(ok) <= 3, (ok, on_disk)
    for i in ok:
        assert open(os.path.join(args.home, f"c{i}.bin"), "rb").read() == bytes([i]) * size
    ftp = connect(args)
    assert quota_report(ftp) == (on_disk, limit, len(ok))
    no_temporaries(args.home)
    ftp.quit()


def scenario_quota_files(args):
    """A file-count limit of 3 (set by the test)."""
    ftp = connect(args)
    for i in range(3):
        stor_bytes(ftp, f"f{i}", b"x")
    text = expect_error("552", stor_bytes, ftp, "f3", b"x")
    assert "3 files" in text, text
    stor_bytes(ftp, "f0", b"replaced")  # overwriting is not a new file
    ftp.delete("f1")
    stor_bytes(ftp, "f3", b"x")
    assert sorted(ftp.nlst()) == ["f0", "f2", "f3"]
    ftp.quit()


def scenario_quota_two_users(args):
    """alice has 1 MiB, bob 2 MiB (set by the test): each is held to their own."""
    alice = connect(args)
    bob = connect(args, user="bob", password="bob-secret")
    stor_bytes(bob, "b.bin", b"b" * (2 << 20))
    expect_error("552", stor_bytes, alice, "a.bin", b"a" * ((1 << 20) + 1))
    stor_bytes(alice, "a.bin", b"a" * (1 << 20))
    expect_error("552", stor_bytes, bob, "b2.bin", b"b")
    assert quota_report(alice)[:2] == (1 << 20, 1 << 20)
    assert quota_report(bob)[:2] == (2 << 20, 2 << 20)
    alice.quit()
    bob.quit()


def scenario_quota_after_rescan(args):
    """The test put 600 KiB into the home from outside and recounted: the server sees it."""
    ftp = connect(args)
    used, limit, files = quota_report(ftp)
    assert used == 600 * 1024 and files == 1, (used, files)
    expect_error("552", stor_bytes, ftp, "more.bin", b"m" * (500 * 1024))
    stor_bytes(ftp, "more.bin", b"m" * (400 * 1024))
    ftp.quit()


def scenario_disk_full(args):
    """The home is on a 1 MiB file system: an upload that fills it fails with 452 and leaves nothing behind."""
    ftp = connect(args)
    stor_bytes(ftp, "keep.txt", b"previous")
    ftp.voidcmd("TYPE I")
    # The server stops reading when a write fails, so the sender may see its data connection reset before the
    # whole file is sent; the verdict is the reply on the control connection.
    conn = ftp.transfercmd("STOR keep.txt")
    data = os.urandom(3 << 20)
    try:
        for offset in range(0, len(data), 65536):
            conn.sendall(data[offset : offset + 65536])
    except OSError:
        pass
    conn.close()
    reply = ftp.getmultiline()
    assert reply.startswith("452"), reply
    assert open(os.path.join(args.home, "keep.txt"), "rb").read() == b"previous"
    no_temporaries(args.home)
    # The space came back: a small upload works.
    stor_bytes(ftp, "small.txt", b"fits")
    ftp.quit()


# --- checksums -----------------------------------------------------------------------------------

import zlib  # noqa: E402


def reference_digest(name, data):
    if name == "CRC32":
        return format(zlib.crc32(data) & 0xFFFFFFFF, "08x")
    return hashlib.new({"SHA-256": "sha256", "SHA-512": "sha512", "SHA-1": "sha1", "MD5": "md5"}[name], data).hexdigest()


ALGORITHMS = ["SHA-256", "SHA-512", "SHA-1", "MD5", "CRC32"]
LEGACY = {"XSHA256": "SHA-256", "XSHA512": "SHA-512", "XSHA1": "SHA-1", "XMD5": "MD5", "XCRC": "CRC32"}


def parse_hash(reply):
    # 213 ALGO START-END HEX PATH
    code, algo, rng, hexdigest, path = reply.split(" ", 4)
    assert code == "213", reply
    start, end = (int(x) for x in rng.split("-"))
    return algo, start, end, hexdigest, path


def scenario_checksums(args):
    ftp = connect(args)
    feat = ftp.sendcmd("FEAT")
    assert " HASH SHA-256*;SHA-512;SHA-1;MD5;CRC32" in feat, feat
    assert " RANG STREAM" in feat and " XSHA256" in feat and " SITE EXPECT" in feat, feat
    files = {"empty.bin": b"", "one.bin": b"\x7f", "mib.bin": os.urandom(1 << 20), "my file.txt": b"hello world\n" * 100}
    for name, data in files.items():
        stor_bytes(ftp, name, data)
    for algorithm in ALGORITHMS:
        assert ftp.sendcmd("OPTS HASH " + algorithm.lower()) == "200 " + algorithm
        assert ftp.sendcmd("OPTS HASH") == "200 " + algorithm
        assert (f"HASH {algorithm}*") in ftp.sendcmd("FEAT") or (f";{algorithm}*") in ftp.sendcmd("FEAT")
        for name, data in files.items():
            algo, start, end, hexdigest, path = parse_hash(ftp.sendcmd("HASH " + name))
            assert (algo, start, end, path) == (algorithm, 0, max(0, len(data) - 1), name), (algo, start, end, path)
            assert hexdigest == reference_digest(algorithm, data), (algorithm, name)
        # A range: RANG 10 99 then HASH covers bytes 10..99 inclusive; it is used once.
        data = files["mib.bin"]
        assert ftp.sendcmd("RANG 10 99").startswith("350")
        algo, start, end, hexdigest, _ = parse_hash(ftp.sendcmd("HASH mib.bin"))
        assert (start, end) == (10, 99) and hexdigest == reference_digest(algorithm, data[10:100])
        assert parse_hash(ftp.sendcmd("HASH mib.bin"))[1:3] == (0, len(data) - 1)
        # An end past the file is clamped; a start past it is refused.
        ftp.sendcmd(f"RANG {len(data) - 5} {len(data) + 100}")
        _, start, end, hexdigest, _ = parse_hash(ftp.sendcmd("HASH mib.bin"))
        assert (start, end) == (len(data) - 5, len(data) - 1) and hexdigest == reference_digest(algorithm, data[-5:])
        ftp.sendcmd(f"RANG {len(data)} {len(data) + 1}")
        expect_error("554", ftp.sendcmd, "HASH mib.bin")
    expect_error("501", ftp.sendcmd, "OPTS HASH CRC-37")
    assert ftp.sendcmd("OPTS HASH") == "200 CRC32"  # unchanged
    ftp.sendcmd("OPTS HASH SHA-256")
    assert ftp.sendcmd("RANG 1 0").startswith("350")  # reset form
    expect_error("501", ftp.sendcmd, "RANG 5 2")
    expect_error("501", ftp.sendcmd, "RANG x y")
    expect_error("550", ftp.sendcmd, "HASH missing.bin")
    ftp.mkd("dir")
    expect_error("550", ftp.sendcmd, "HASH dir")
    expect_error("550", ftp.sendcmd, "HASH ../../etc/passwd")
    # Legacy commands: 250 and upper-case hex; optional start/end (end exclusive).
    data = files["mib.bin"]
    for verb, algorithm in LEGACY.items():
        reply = ftp.sendcmd(f"{verb} mib.bin")
        assert reply == "250 " + reference_digest(algorithm, data).upper(), (verb, reply)
        reply = ftp.sendcmd(f"{verb} mib.bin 100 5000")
        assert reply == "250 " + reference_digest(algorithm, data[100:5000]).upper(), (verb, reply)
        reply = ftp.sendcmd(f'{verb} "my file.txt"')
        assert reply == "250 " + reference_digest(algorithm, files["my file.txt"]).upper(), (verb, reply)
    expect_error("501", ftp.sendcmd, "XSHA256 mib.bin 5000 100")
    expect_error("550", ftp.sendcmd, "XMD5 nothing.bin")
    # RANG with RETR: exactly the range; REST and RANG cancel each other.
    ftp.sendcmd("TYPE I")
    ftp.sendcmd("RANG 1000 1999")
    out = io.BytesIO()
    ftp.retrbinary("RETR mib.bin", out.write)
    assert out.getvalue() == data[1000:2000]
    ftp.sendcmd("RANG 0 9")
    out = io.BytesIO()
    ftp.retrbinary("RETR mib.bin", out.write, rest=100)  # REST after RANG: REST wins
    assert out.getvalue() == data[100:]
    ftp.sendcmd("RANG 0 9")
    expect_error("504", stor_bytes, ftp, "x.bin", b"data")  # RANG is not for uploads
    ftp.quit()


def scenario_checksum_cache(args):
    """HASH after an upload is right whether it was recorded while writing (--hash-uploads) or read from disk
    afterwards; any change on disk invalidates a cached digest."""
    ftp = connect(args)
    data = os.urandom(3 << 20)
    stor_bytes(ftp, "c.bin", data)
    assert parse_hash(ftp.sendcmd("HASH c.bin"))[3] == hashlib.sha256(data).hexdigest()
    # Changed outside the server, same size: the cache must not answer for the old content.
    changed = bytes([data[0] ^ 1]) + data[1:]
    with open(os.path.join(args.home, "c.bin"), "r+b") as f:
        f.write(changed[:1])
    assert parse_hash(ftp.sendcmd("HASH c.bin"))[3] == hashlib.sha256(changed).hexdigest()
    # APPE and REST+STOR record digests of the whole resulting file.
    stor_bytes(ftp, "c.bin", b"tail", cmd="APPE")
    assert parse_hash(ftp.sendcmd("HASH c.bin"))[3] == hashlib.sha256(changed + b"tail").hexdigest()
    stor_bytes(ftp, "c.bin", b"XYZ", rest=10)
    assert parse_hash(ftp.sendcmd("HASH c.bin"))[3] == hashlib.sha256(changed[:10] + b"XYZ").hexdigest()
    ftp.quit()


def scenario_expect(args):
    """SITE EXPECT: verify before commit."""
    ftp = connect(args)
    old = b"the previous version"
    stor_bytes(ftp, "doc.bin", old)
    good = os.urandom(200_000)
    digest = hashlib.sha256(good).hexdigest()
    assert ftp.sendcmd(f"SITE EXPECT SHA-256 {digest} {len(good)}").startswith("200")
    stor_bytes(ftp, "doc.bin", good)
    assert open(os.path.join(args.home, "doc.bin"), "rb").read() == good
    # A corrupted upload (what arrives differs from what was announced) is never visible.
    corrupted = bytearray(good)
    corrupted[1234] ^= 0xFF
    ftp.sendcmd(f"SITE EXPECT SHA-256 {digest}")
    text = expect_error("550", stor_bytes, ftp, "doc.bin", bytes(corrupted))
    assert digest in text and hashlib.sha256(corrupted).hexdigest() in text, text
    assert open(os.path.join(args.home, "doc.bin"), "rb").read() == good
    no_temporaries(args.home)
    # Wrong size, other algorithms, and the expectation applies to one upload only.
    ftp.sendcmd(f"SITE EXPECT MD5 {hashlib.md5(good).hexdigest()} {len(good) + 1}")
    expect_error("550", stor_bytes, ftp, "new.bin", good)
    assert not os.path.exists(os.path.join(args.home, "new.bin"))
    ftp.sendcmd(f"SITE EXPECT CRC32 {format(zlib.crc32(b'abc') & 0xFFFFFFFF, '08x')}")
    stor_bytes(ftp, "abc.txt", b"abc")
    stor_bytes(ftp, "free.txt", b"no expectation now")
    expect_error("501", ftp.sendcmd, "SITE EXPECT SHA-256 1234")
    expect_error("501", ftp.sendcmd, "SITE EXPECT WHIRLPOOL " + "0" * 64)
    ftp.quit()


def scenario_hash_large(args):
    """A large file (written by the test) hashed with every algorithm, while another client keeps downloading."""
    path = os.path.join(args.home, "large.bin")
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        references = {name: (hashlib.new(h) if h else None) for name, h in
                      [("SHA-256", "sha256"), ("SHA-512", "sha512"), ("SHA-1", "sha1"), ("MD5", "md5"), ("CRC32", None)]}
        crc = 0
        while True:
            block = f.read(1 << 22)
            if not block:
                break
            for name, h in references.items():
                if h:
                    h.update(block)
            crc = zlib.crc32(block, crc)
    expected = {name: (h.hexdigest() if h else format(crc & 0xFFFFFFFF, "08x")) for name, h in references.items()}

    # A second client downloads slowly the whole time and records when bytes arrive.
    progress = []
    stop = threading.Event()

    def downloader():
        other = connect(args)
        other.voidcmd("TYPE I")
        conn = other.transfercmd("RETR large.bin")
        while not stop.is_set():
            chunk = conn.recv(65536)
            if not chunk:
                break
            progress.append(time.monotonic())
            time.sleep(0.01)
        conn.close()
        other.close()

    thread = threading.Thread(target=downloader)
    thread.start()
    time.sleep(0.3)
    ftp = connect(args)
    hashing = []
    for name in ALGORITHMS:
        ftp.sendcmd("OPTS HASH " + name)
        began = time.monotonic()
        algo, start, end, hexdigest, _ = parse_hash(ftp.sendcmd("HASH large.bin"))
        hashing.append((began, time.monotonic()))
        assert (algo, start, end) == (name, 0, size - 1)
        assert hexdigest == expected[name], name
    stop.set()
    thread.join(30)
    # The downloader made progress while the server was hashing (no stall of other sessions).
    first, last = hashing[0][0], hashing[-1][1]
    during = [t for t in progress if first <= t <= last]
    print(f"hashed {size} bytes x {len(ALGORITHMS)} in {last - first:.2f}s; downloader got {len(during)} chunks meanwhile")
    assert len(during) >= 10, (len(during), last - first)
    ftp.quit()


def scenario_hash_during_upload(args):
    """While a new version is being uploaded, HASH answers for the last complete version."""
    old = os.urandom(100_000)
    ftp = connect(args)
    stor_bytes(ftp, "v.bin", old)
    ftp.voidcmd("TYPE I")
    conn = ftp.transfercmd("STOR v.bin")
    conn.sendall(os.urandom(500_000))
    other = connect(args)
    assert parse_hash(other.sendcmd("HASH v.bin"))[3] == hashlib.sha256(old).hexdigest()
    other.quit()
    conn.close()
    ftp.voidresp()
    ftp.quit()


# --- abuse defences ------------------------------------------------------------------------------


def greeting(args):
    s = socket.create_connection((args.host, args.port), timeout=TIMEOUT)
    line = s.makefile("rb").readline().decode()
    return s, line


def scenario_connection_limit(args):
    """maximumConnectionsPerAddress is 3 in this test."""
    held = [greeting(args) for _ in range(3)]
    assert all(line.startswith("220") for _, line in held), held
    extra, line = greeting(args)
    assert line.startswith("421") and "limit 3" in line, line
    assert extra.recv(100) == b""  # closed after the 421
    extra.close()
    held[0][0].close()
    time.sleep(0.3)
    again, line = greeting(args)
    assert line.startswith("220"), line
    again.close()
    for s, _ in held[1:]:
        s.close()


def scenario_session_limit(args):
    """maximumSessionsPerUser is 2 in this test."""
    first = connect(args)
    second = connect(args)
    third = connect(args, login=False)
    third.sendcmd("USER " + args.user)
    try:
        reply = third.sendcmd("PASS " + args.password)
        raise AssertionError(f"third session admitted: {reply}")
    except ftplib.error_temp as e:
        assert str(e).startswith("421") and "Too many sessions" in str(e), e
    # Another user is not affected; when a session ends, a new one is admitted.
    bob = connect(args, user="bob", password="bob-secret")
    bob.quit()
    first.quit()
    time.sleep(0.3)
    fourth = connect(args)
    fourth.quit()
    second.quit()


def scenario_ban(args):
    """failuresBeforeBan is 4 and banDuration 6 s in this test."""
    ftp = connect(args, login=False)
    for _ in range(2):
        ftp.sendcmd("USER " + args.user)
        expect_error("530", ftp.sendcmd, "PASS wrong")
    # A success does not clear the address's count (one valid account must not allow unlimited guessing of others):
    # one more failure does not ban yet...
    ftp.login(args.user, args.password)
    ftp.close()
    for _ in range(1):
        ftp = connect(args, login=False)
        ftp.sendcmd("USER nobody")
        expect_error("530", ftp.sendcmd, "PASS wrong")
        ftp.close()
    # ...the fourth failure bans the address: 530, then 421, and new connections get 421 at once.
    ftp = connect(args, login=False)
    ftp.sendcmd("USER " + args.user)
    expect_error("530", ftp.sendcmd, "PASS wrong")
    line = ftp.getline()
    assert line.startswith("421") and "banned" in line, line
    ftp.close()
    s, line = greeting(args)
    assert line.startswith("421") and "failed logins" in line, line
    s.close()
    # After the ban, the address may log in again.
    time.sleep(6.5)
    ftp = connect(args)
    ftp.quit()


def scenario_slow_client(args):
    """A client sending one byte at a time costs only its own session: others transfer meanwhile."""
    slow = socket.create_connection((args.host, args.port), timeout=30)
    assert slow.recv(100).startswith(b"220")
    line = b"USER " + args.user.encode() + b"\r\n"
    fast = connect(args)
    data = os.urandom(4 << 20)
    stor_bytes(fast, "f.bin", data)
    done = []
    for i, byte in enumerate(line):
        slow.sendall(bytes([byte]))
        if i % 3 == 0:
            assert retr_bytes(fast, "f.bin") == data
            done.append(i)
        time.sleep(0.05)
    assert slow.recv(100).startswith(b"331")
    assert len(done) >= 4
    slow.close()
    fast.quit()


def scenario_pasv_flood(args):
    """Hundreds of PASV without connecting keep one listener; the session still works."""
    ftp = connect(args)
    ports = set()
    for _ in range(300):
        reply = ftp.sendcmd("EPSV")
        ports.add(int(reply.split("|||")[1].split("|")[0]))
    last = epsv_port(ftp)
    open_ports = 0
    for port in list(ports)[:50]:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            open_ports += 1
        except OSError:
            pass
    assert open_ports <= 1, open_ports  # an old port may have been reused by the newest listener
    stor_bytes(ftp, "ok.bin", b"still fine")
    ftp.quit()


# --- FTPS ----------------------------------------------------------------------------------------

import ssl  # noqa: E402


def tls_context(args):
    """Trusts exactly the server's certificate (the test's data folder holds it)."""
    ctx = ssl.create_default_context(cafile=os.path.join(args.data, "tls", "cert.pem"))
    ctx.check_hostname = False  # the certificate names localhost/127.0.0.1/::1; checked separately below
    return ctx


def connect_tls(args, user=None, password=None, protect=True, port=None):
    ftp = ftplib.FTP_TLS(context=tls_context(args), timeout=TIMEOUT, encoding="utf-8")
    ftp.connect(args.host, port or args.port)
    assert ftp.auth().startswith("234")
    ftp.login(user or args.user, password or args.password)
    if protect:
        assert ftp.prot_p().startswith("200")
    return ftp


def scenario_ftps_explicit(args):
    # The certificate verifies for the host name too.
    strict = ssl.create_default_context(cafile=os.path.join(args.data, "tls", "cert.pem"))
    ftp = ftplib.FTP_TLS(context=strict, timeout=TIMEOUT)
    ftp.connect("localhost" if args.host == "127.0.0.1" else args.host, args.port)
    ftp.auth()
    assert ftp.sock.version() in ("TLSv1.2", "TLSv1.3"), ftp.sock.version()
    ftp.quit()
    feat = connect(args, login=False).sendcmd("FEAT")
    assert " AUTH TLS" in feat and " PBSZ" in feat and " PROT" in feat, feat
    ftp = connect_tls(args)
    for size in [0, 1, 5 * 1024 * 1024 + 3]:
        data = os.urandom(size)
        stor_bytes(ftp, f"s{size}.bin", data)
        assert retr_bytes(ftp, f"s{size}.bin") == data
        assert open(os.path.join(args.home, f"s{size}.bin"), "rb").read() == data
    assert sorted(ftp.nlst()) == ["s0.bin", "s1.bin", "s5242883.bin"]
    assert len(list(ftp.mlsd())) == 4
    # Active mode with PROT P: the server connects and is still the TLS server.
    ftp.set_pasv(False)
    assert retr_bytes(ftp, "s1.bin") and True
    ftp.set_pasv(True)
    # PROT C switches back to clear data connections.
    assert ftp.prot_c().startswith("200")
    assert retr_bytes(ftp, "s1.bin") is not None
    # Resume over TLS.
    data = os.urandom(100_000)
    stor_bytes(ftp, "r.bin", data[:40_000])
    ftp.prot_p()
    stor_bytes(ftp, "r.bin", data[40_000:], rest=40_000)
    assert retr_bytes(ftp, "r.bin") == data
    # Order and refusals: CCC, PROT before PBSZ, AUTH twice, unknown mechanisms and levels.
    expect_error("534", ftp.sendcmd, "CCC")
    expect_error("503", ftp.sendcmd, "AUTH TLS")
    expect_error("536", ftp.sendcmd, "PROT S")
    expect_error("504", ftp.sendcmd, "PROT X")
    ftp.quit()
    plain = connect(args, login=False)
    expect_error("503", plain.sendcmd, "PBSZ 0")
    expect_error("503", plain.sendcmd, "PROT P")
    expect_error("504", plain.sendcmd, "AUTH KERBEROS_V4")
    plain.quit()


def scenario_ftps_abort_and_integrity(args):
    ftp = connect_tls(args)
    data = os.urandom(8 << 20)
    stor_bytes(ftp, "big.bin", data)
    assert parse_hash(ftp.sendcmd("HASH big.bin"))[3] == hashlib.sha256(data).hexdigest()
    ftp.voidcmd("TYPE I")
    conn = ftp.transfercmd("RETR big.bin")
    conn.recv(65536)
    ftp.sock.sendall(b"ABOR\r\n")
    first = ftp.getmultiline()
    second = ftp.getmultiline()
    conn.close()
    assert first.startswith("426") and second.startswith("226"), (first, second)
    assert retr_bytes(ftp, "big.bin") == data
    ftp.quit()


def scenario_ftps_implicit(args):
    port = int(args.settings["implicit"])
    raw = socket.create_connection((args.host, port), timeout=TIMEOUT)
    sock = tls_context(args).wrap_socket(raw, server_hostname=None)
    f = sock.makefile("rb")
    assert f.readline().startswith(b"220")
    sock.sendall(f"USER {args.user}\r\n".encode())
    assert f.readline().startswith(b"331")
    sock.sendall(f"PASS {args.password}\r\n".encode())
    assert f.readline().startswith(b"230")
    sock.sendall(b"PBSZ 0\r\n")
    assert f.readline().startswith(b"200")
    sock.sendall(b"PROT P\r\n")
    assert f.readline().startswith(b"200")
    sock.sendall(b"QUIT\r\n")
    assert f.readline().startswith(b"221")
    sock.close()
    # Plain text on the implicit port ends that connection only.
    garbage = socket.create_connection((args.host, port), timeout=TIMEOUT)
    garbage.sendall(b"USER alice\r\nPASS x\r\n" + os.urandom(300))
    try:
        leftover = garbage.recv(1000)
    except ConnectionResetError:
        leftover = b""
    assert not leftover.startswith(b"2"), leftover
    garbage.close()
    # A truncated handshake too.
    half = socket.create_connection((args.host, port), timeout=TIMEOUT)
    half.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
    half.close()
    ftp = connect_tls(args)
    assert ftp.sendcmd("NOOP").startswith("200")
    ftp.quit()


def scenario_tls_required(args):
    """Policy `required`: USER before AUTH TLS is refused; after AUTH TLS it works."""
    plain = connect(args, login=False)
    text = expect_error("530", plain.sendcmd, "USER " + args.user)
    assert "TLS required" in text, text
    plain.quit()
    ftp = connect_tls(args)
    ftp.quit()


def scenario_tls_data_required(args):
    """Policy `--tls-data required`: transfers on clear data connections are refused, PROT C too."""
    ftp = connect_tls(args, protect=False)
    text = expect_error("521", ftp.nlst)
    assert "PROT P" in text, text
    assert ftp.sendcmd("PBSZ 0").startswith("200")
    expect_error("534", ftp.sendcmd, "PROT C")
    ftp.prot_p()
    stor_bytes(ftp, "ok.bin", b"protected")
    assert retr_bytes(ftp, "ok.bin") == b"protected"
    ftp.quit()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", default="alice")
    parser.add_argument("--password", default="alice-secret")
    parser.add_argument("--home", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--set", action="append", default=[])
    args = parser.parse_args()
    args.settings = dict(item.split("=", 1) for item in args.set)
    func = globals().get("scenario_" + args.scenario)
    if func is None:
        print(f"unknown scenario {args.scenario}", file=sys.stderr)
        sys.exit(2)
    func(args)
    print(f"scenario {args.scenario}: ok")


if __name__ == "__main__":
    main()
