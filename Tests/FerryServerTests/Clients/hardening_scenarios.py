#!/usr/bin/env python3
"""Regression scenarios for the hardening issue: each one tries to break a rule the way an attacker or a real client
did, and asserts that the rule holds. Each was checked to fail on the code before its fix.

    hardening_scenarios.py NAME --host H --port P --user U --password PW --home DIR --data DIR [--set k=v]

Loopback only; every socket has a timeout; every loop is bounded.
"""
import ftplib
import io
import os
import socket
import ssl
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ftplib_scenarios import (  # noqa: E402
    TIMEOUT,
    connect,
    expect_error,
    no_temporaries,
    retr_bytes,
    stor_bytes,
    tls_context,
)
import ftplib_scenarios  # noqa: E402


def quota_used(ftp):
    """(bytes, files) from SITE QUOTA."""
    text = ftp.sendcmd("SITE QUOTA")
    return text


def disk_usage(home):
    """Bytes of regular files and count of files and directories below `home` (not counting it), no temporaries."""
    size, count = 0, 0
    for root, dirs, files in os.walk(home):
        count += len(dirs)
        for name in files:
            if name.startswith(".ferry-upload-"):
                continue
            size += os.lstat(os.path.join(root, name)).st_size
            count += 1
    return size, count


# --- quota: a rename onto the same file -----------------------------------------------------------------------


def scenario_self_rename_quota(args):
    """RNFR a.bin, RNTO a.bin (in any spelling, or a hard link of it) must change nothing, and above all not the
    usage: it used to subtract the file, so repeating it stored 4 MB under a 1 MiB quota."""
    ftp = connect(args)
    ftp.mkd("d")
    data = os.urandom(600_000)
    stor_bytes(ftp, "a.bin", data)
    before = ftp.sendcmd("SITE QUOTA")
    os.link(os.path.join(args.home, "a.bin"), os.path.join(args.home, "d", "hard.bin"))  # another name, same inode
    for target in ["a.bin", "/a.bin", "./a.bin", "d/../a.bin", "//a.bin", "d/hard.bin"]:
        ftp.sendcmd("RNFR a.bin")
        ftp.sendcmd("RNTO " + target)
        assert ftp.sendcmd("SITE QUOTA") == before, (target, ftp.sendcmd("SITE QUOTA"), before)
    os.unlink(os.path.join(args.home, "d", "hard.bin"))
    assert retr_bytes(ftp, "a.bin") == data
    # The quota (1 MiB) still holds: a second 600 kB file does not fit.
    expect_error("552", stor_bytes, ftp, "b.bin", os.urandom(600_000))
    ftp.quit()


# --- STARTTLS command injection -------------------------------------------------------------------------------


def scenario_starttls_injection(args):
    """Lines sent in clear in the same segment as AUTH TLS must never run as if they had come over TLS."""
    raw = socket.create_connection((args.host, args.port), timeout=TIMEOUT)
    reader = raw.makefile("rb")
    assert reader.readline().startswith(b"220")
    raw.sendall(b"AUTH TLS\r\nUSER " + args.user.encode() + b"\r\nPASS " + args.password.encode() + b"\r\n")
    assert reader.readline().startswith(b"234")
    tls = tls_context(args).wrap_socket(raw, server_hostname=args.host)
    tls_reader = tls.makefile("rb")
    tls.sendall(b"PWD\r\n")
    line = tls_reader.readline()
    assert line.startswith(b"530"), f"an injected login ran after AUTH TLS: {line!r}"
    tls.sendall(b"USER " + args.user.encode() + b"\r\n")
    assert tls_reader.readline().startswith(b"331")
    tls.sendall(b"PASS " + args.password.encode() + b"\r\n")
    assert tls_reader.readline().startswith(b"230")
    tls.sendall(b"QUIT\r\n")
    assert tls_reader.readline().startswith(b"221")
    tls.close()


# --- Python's own ftplib.abort() ------------------------------------------------------------------------------


def scenario_ftplib_abort(args):
    """ftplib.FTP.abort() sends ABOR as urgent data; without SO_OOBINLINE the kernel took its last byte out of the
    stream, the server never saw the line end, abort() hung for the timeout and the session was out of step."""
    ftp = connect(args)
    ftp.timeout = 10
    ftp.sock.settimeout(10)
    data = os.urandom(64 << 20)
    stor_bytes(ftp, "big.bin", data)
    ftp.voidcmd("TYPE I")
    conn = ftp.transfercmd("RETR big.bin")
    conn.recv(65536)  # the transfer runs
    started = time.time()
    reply = ftp.abort()
    assert reply[:3] in ("426", "225", "226"), reply
    if reply.startswith("426"):
        # RFC 959 §4.1.3: the transfer's 426, then the 226 of the ABOR itself.
        assert ftp.getresp().startswith("226")
    assert time.time() - started < 8, f"abort took {time.time() - started:.1f} s"
    conn.close()
    # The session is in step: the next command gets its own reply.
    assert ftp.sendcmd("NOOP").startswith("200")
    assert retr_bytes(ftp, "big.bin") == data
    # abort() with nothing running: a plain ABOR answered at once.
    assert ftp.abort()[:3] in ("225", "226")
    assert ftp.sendcmd("NOOP").startswith("200")
    ftp.quit()


# --- appends that got 226 are never lost ----------------------------------------------------------------------


def slow_upload(args, cmd, name, payload, started, results, index, pieces=8):
    """Opens a data connection, sends `payload` in pieces with pauses (so uploads overlap), records the reply."""
    try:
        ftp = connect(args)
        ftp.voidcmd("TYPE I")
        conn = ftp.transfercmd(f"{cmd} {name}")
        started.wait(10)
        step = max(1, len(payload) // pieces)
        try:
            for offset in range(0, len(payload), step):
                conn.sendall(payload[offset : offset + step])
                time.sleep(0.02)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped the upload (quota): its reply says why
        conn.close()
        try:
            results[index] = ftp.voidresp()
        except ftplib.all_errors as e:
            results[index] = str(e)
        ftp.quit()
    except Exception as e:  # noqa: BLE001 - recorded and asserted by the caller
        results[index] = f"error: {e!r}"


def scenario_concurrent_appends(args):
    """Several sessions APPE to one file at once: every append that got 226 is in the file, whole and once."""
    ftp = connect(args)
    stor_bytes(ftp, "log.txt", b"start\n")
    payloads = [(f"[writer {i}]" * 5000 + "\n").encode() for i in range(6)]
    results = [None] * len(payloads)
    started = threading.Event()
    threads = [
        threading.Thread(target=slow_upload, args=(args, "APPE", "log.txt", p, started, results, i))
        for i, p in enumerate(payloads)
    ]
    for t in threads:
        t.start()
    time.sleep(0.3)
    started.set()
    for t in threads:
        t.join(60)
    assert all(r is not None and r.startswith("226") for r in results), results
    content = retr_bytes(ftp, "log.txt")
    assert content.startswith(b"start\n"), content[:40]
    for p in payloads:
        assert content.count(p) == 1, f"an acknowledged append is missing or mangled ({p[:20]!r})"
    assert len(content) == 6 + sum(len(p) for p in payloads), (len(content), 6 + sum(len(p) for p in payloads))
    ftp.quit()


def scenario_append_races_store(args):
    """An APPE that commits after a STOR of the same file adds to the STOR's file; it used to put back the old file
    plus its bytes, so the acknowledged STOR was lost."""
    ftp = connect(args)
    stor_bytes(ftp, "f.txt", b"old\n")
    results = [None]
    started = threading.Event()
    appender = threading.Thread(
        target=slow_upload, args=(args, "APPE", "f.txt", b"appended\n" * 1000, started, results, 0, 20)
    )
    appender.start()
    time.sleep(0.3)
    started.set()
    time.sleep(0.1)
    stor_bytes(ftp, "f.txt", b"new\n")  # commits while the APPE is still receiving
    appender.join(60)
    assert results[0] and results[0].startswith("226"), results
    assert retr_bytes(ftp, "f.txt") == b"new\n" + b"appended\n" * 1000
    ftp.quit()


def scenario_resume_at_end_is_append(args):
    """REST n + STOR with n the file's size (the usual resume) adds the rest; if the file changed size meanwhile the
    upload is refused with 450 and the file is left as it is."""
    ftp = connect(args)
    data = os.urandom(300_000)
    stor_bytes(ftp, "r.bin", data[:100_000])
    stor_bytes(ftp, "r.bin", data[100_000:], rest=100_000)
    assert retr_bytes(ftp, "r.bin") == data
    # REST below the end keeps the prefix and replaces the rest.
    stor_bytes(ftp, "r.bin", b"tail", rest=10)
    assert retr_bytes(ftp, "r.bin") == data[:10] + b"tail"
    expect_error("55", stor_bytes, ftp, "r.bin", b"x", rest=1000)  # beyond the end: refused, nothing changes
    assert retr_bytes(ftp, "r.bin") == data[:10] + b"tail"
    no_temporaries(args.home)
    ftp.quit()


# --- quota: directories, temporary names ----------------------------------------------------------------------


def scenario_mkd_counts_files(args):
    """A directory counts as a file: MKD cannot create entries without bound (file quota 3 in this test)."""
    ftp = connect(args)
    ftp.mkd("a")
    ftp.mkd("b")
    stor_bytes(ftp, "f.txt", b"x")
    expect_error("552", ftp.mkd, "c")
    expect_error("552", stor_bytes, ftp, "g.txt", b"y")
    ftp.rmd("b")
    ftp.mkd("c")
    # Renaming an empty directory over another frees one.
    ftp.rename("c", "a")
    ftp.mkd("d")
    size, count = disk_usage(args.home)
    assert count == 3, count
    ftp.quit()


def scenario_temporary_names_by_bytes(args):
    """A name that starts with the temporary prefix in bytes but not in Swift characters (a combining accent on
    its hyphen) is refused like any temporary name: it could be stored and never listed nor counted."""
    ftp = connect(args)
    for name in [".ferry-upload-\u0301x", ".ferry-upload-abc"]:
        expect_error("550", stor_bytes, ftp, name, b"hidden")
    assert not [n for n in os.listdir(args.home) if n.startswith(".ferry-upload-")]
    ftp.quit()


# --- bans on a dual-stack listener ----------------------------------------------------------------------------


def scenario_dual_stack_ban(args):
    """On a `::` listener, IPv4 clients arrive as ::ffff:a.b.c.d: failures and connections must be counted under
    one address, or the ban never applies (failuresBeforeBan is 3 in this test)."""
    for _ in range(3):
        ftp = connect(args, login=False, host="127.0.0.1")
        ftp.sendcmd("USER " + args.user)
        expect_error("530", ftp.sendcmd, "PASS wrong")
        ftp.close()
    s = socket.create_connection(("127.0.0.1", args.port), timeout=TIMEOUT)
    line = s.makefile("rb").readline()
    assert line.startswith(b"421"), f"a banned IPv4 client was let in on a dual-stack listener: {line!r}"
    s.close()




# --- sessions of accounts the administrator changed -----------------------------------------------------------


def scenario_revoked_sessions(args):
    """`ferryd user passwd` and `user remove` (then `user add` of the same name) end the sessions already logged in
    at their next command; other users' sessions go on. The test passes the ferryd binary as --set ferryd=PATH."""
    import subprocess

    ferryd = args.settings["ferryd"]
    alice = connect(args, "alice", "alice-secret")
    bob = connect(args, "bob", "bob-secret")
    carol = connect(args, "carol", "carol-secret")

    def admin(*words, password=None):
        subprocess.run(
            [ferryd, "user", *words, "--data", args.data]
            + (["--password-stdin"] if password else []),
            input=(password + "\n").encode() if password else None,
            check=True,
            capture_output=True,
            timeout=60,
        )

    admin("passwd", "alice", password="new-alice-secret")
    admin("remove", "bob")
    admin("add", "bob", password="bob-secret")
    deadline = time.time() + 30  # a second in practice; generous for a loaded machine
    ended = set()
    while time.time() < deadline and ended != {"alice", "bob"}:
        time.sleep(0.3)
        for name, ftp in (("alice", alice), ("bob", bob)):
            if name in ended:
                continue
            try:
                ftp.voidcmd("NOOP")
            except ftplib.error_temp as e:
                assert str(e).startswith("421"), e
                ended.add(name)
    assert ended == {"alice", "bob"}, f"sessions still running after the account changed: {ended}"
    assert carol.voidcmd("NOOP").startswith("200")
    carol.quit()
    # The new password works, the old does not; the recreated bob logs in with his new account.
    connect(args, "alice", "new-alice-secret").quit()
    expect_error("530", connect, args, "alice", "alice-secret")
    connect(args, "bob", "bob-secret").quit()


# --- uploads that end early ---------------------------------------------------------------------------------


def scenario_allo_early_end(args):
    """With ALLO n, an upload the client ends cleanly before n bytes is not stored and the old file stays; the
    right size is stored. Over TLS, an upload that ends without close_notify does not replace an existing file."""
    ftp = connect(args)
    stor_bytes(ftp, "f.bin", b"old content")
    ftp.sendcmd("ALLO 1000")
    text = expect_error("426", stor_bytes, ftp, "f.bin", b"x" * 600)
    assert "600" in text and "1000" in text, text
    assert retr_bytes(ftp, "f.bin") == b"old content"
    ftp.sendcmd("ALLO 1000")
    stor_bytes(ftp, "f.bin", b"y" * 1000)
    assert retr_bytes(ftp, "f.bin") == b"y" * 1000
    # The ALLO applies to one upload only.
    stor_bytes(ftp, "f.bin", b"z" * 10)
    no_temporaries(args.home)
    ftp.quit()

    tls = ftplib_scenarios.connect_tls(args)
    tls.voidcmd("TYPE I")
    conn = tls.transfercmd("STOR f.bin")
    conn.sendall(b"truncated")
    # End the TCP connection without TLS's close_notify, as a client cut off mid-upload looks.
    socket.socket(fileno=conn.detach()).close()
    try:
        reply = tls.getresp()
    except ftplib.all_errors as e:
        reply = str(e)
    assert not reply.startswith("226"), reply
    assert retr_bytes(tls, "f.bin") == b"z" * 10
    tls.quit()


# --- listings with bounded memory ----------------------------------------------------------------------------


def scenario_listing_bounds(args):
    """STAT path streams any directory over the control connection, and a name cannot end the reply early; a
    directory whose names pass the listing limit (maximumListingNameBytes is 20,000 in this test) gets 550 for LIST,
    NLST, MLSD and STAT, and the session goes on."""
    small = os.path.join(args.home, "small")
    big = os.path.join(args.home, "big")
    os.mkdir(small)
    os.mkdir(big)
    for i in range(300):
        open(os.path.join(small, f"f{i:04}"), "w").close()
    open(os.path.join(small, "evil\r\n213 End of status"), "w").close()
    for i in range(2000):
        open(os.path.join(big, f"entry-{i:06}"), "w").close()
    ftp = connect(args)
    lines = []
    ftp.putcmd("STAT small")
    first = ftp.getline()
    assert first.startswith("213-"), first
    while True:
        line = ftp.getline()
        if line.startswith("213 "):
            break
        lines.append(line)
    assert line == "213 End of status", line
    assert len([x for x in lines if " f0" in x]) == 300, len(lines)
    assert len([x for x in lines if "evil" in x]) == 1
    for cmd in ("LIST big", "NLST big", "MLSD big"):
        expect_error("550", ftp.retrlines, cmd, lambda _: None)
    expect_error("550", ftp.sendcmd, "STAT big")
    assert len([n for n in ftp.nlst("small") if "/f0" in n]) == 300
    assert ftp.sendcmd("NOOP").startswith("200")
    ftp.quit()


# --- rescan while serving, quota credit ------------------------------------------------------------------------


def scenario_rescan_during_upload(args):
    """`ferryd user rescan` while an upload runs keeps the upload's temporary file (it used to delete it, and the
    upload then failed), still removes a stale one, and the usage it stores matches the disk."""
    import subprocess

    ferryd = args.settings["ferryd"]
    stale = os.path.join(args.home, ".ferry-upload-stale0000000000")
    open(stale, "wb").write(b"left by a crash")
    ftp = connect(args)
    ftp.voidcmd("TYPE I")
    conn = ftp.transfercmd("STOR live.bin")
    payload = os.urandom(1 << 20)
    conn.sendall(payload[: 1 << 19])
    time.sleep(0.3)
    result = subprocess.run(
        [ferryd, "user", "rescan", "alice", "--data", args.data], capture_output=True, timeout=60, text=True
    )
    assert result.returncode == 0, result.stderr
    conn.sendall(payload[1 << 19 :])
    conn.close()
    assert ftp.voidresp().startswith("226")
    assert retr_bytes(ftp, "live.bin") == payload
    assert not os.path.exists(stale), "a stale temporary upload was kept"
    ftp.quit()


def scenario_replace_credit_once(args):
    """Two concurrent STORs over one 600 kB file under a 1 MiB quota: only one may count the old file's size as
    credit, or together they hold 1.2 MB of new data on disk; the other reserves what it writes and gets 552."""
    ftp = connect(args)
    stor_bytes(ftp, "f.bin", os.urandom(600_000))
    results = [None, None]
    # Both STORs are begun (and their books opened) before either sends a byte, however slow the machine is.
    started = threading.Barrier(2, timeout=30)
    threads = [
        threading.Thread(
            target=slow_upload, args=(args, "STOR", "f.bin", os.urandom(600_000), started, results, i, 10)
        )
        for i in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    codes = sorted((r or "")[:3] for r in results)
    assert codes == ["226", "552"], results
    no_temporaries(args.home)
    ftp.quit()


def main():
    ftplib_scenarios.main.__globals__.update({k: v for k, v in globals().items() if k.startswith("scenario_")})
    ftplib_scenarios.main()


if __name__ == "__main__":
    main()
