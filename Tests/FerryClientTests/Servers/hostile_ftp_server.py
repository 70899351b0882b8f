#!/usr/bin/env python3
"""A hostile FTP server for testing the client: it logs in anyone and lists names meant to lead the client's
writes out of its target folder (../../escape, /abs/path, a/b, .., ., an empty name, a NUL byte, a part-file
look-alike, an over-long name).

    hostile_ftp_server.py --listing mlsd|list --scenario hostile|symlink --port-file FILE --log FILE

It listens on 127.0.0.1, port 0, writes "PORT PID" to --port-file once listening, and serves (detached) until
killed or until its standard input closes. Every
file's content is derived from the path it was asked for, so the test can check what arrived. Each command
received is appended to --log. Plain FTP only: the client runs with --plain.
"""

import argparse
import hashlib
import os
import signal
import socket
import socketserver
import sys
import threading

MODIFIED = "20240102030405"
LOG_LOCK = threading.Lock()


def content(path):
    """The bytes of the file at `path`: derived from the last component, so any spelling of it gives the same."""
    name = path.rstrip("/").split("/")[-1]
    return ("content of " + name + "\n").encode("utf-8", "surrogateescape") * 3


# Each listed directory: (kind, name) pairs. Directories are "dir", files "file".
def tree(scenario):
    if scenario == "symlink":
        return {
            "": [("dir", "linked"), ("file", "good.txt")],
            "linked": [("file", "inside.txt")],
        }
    return {
        "": [
            ("file", "good.txt"),
            ("file", "../../escape"),
            ("file", "/abs/path"),
            ("file", "a/b"),
            ("file", ".."),
            ("file", "."),
            ("dir", ".."),
            ("file", ""),
            ("file", "nul\0name"),
            ("file", "..\0hidden"),
            ("file", ".good.txt.ferry-part"),
            ("file", "L" * 300),
            ("dir", "../../escdir"),
            ("dir", "/absdir"),
            ("file", "back\\slash"),
            ("dir", "sub"),
        ],
        "sub": [("file", "nested.txt"), ("file", "../../../escape2"), ("dir", "../../../escdir2")],
        # Only an unchecked client would ever ask for these.
        "../../escdir": [("file", "pwned.txt")],
        "/absdir": [("file", "pwned-abs.txt")],
        "sub/../../../escdir2": [("file", "pwned2.txt")],
    }


def mlsd_line(kind, name, path):
    size = len(content(path + "/" + name)) if kind == "file" else 4096
    return "type=%s;size=%d;modify=%s; %s\r\n" % (kind, size, MODIFIED, name)


def list_line(kind, name, path):
    size = len(content(path + "/" + name)) if kind == "file" else 4096
    mode = "drwxr-xr-x" if kind == "dir" else "-rw-r--r--"
    return "%s    1 owner    group    %8d Jan 02  2024 %s\r\n" % (mode, size, name)


class Handler(socketserver.StreamRequestHandler):
    def send(self, text):
        self.wfile.write((text + "\r\n").encode("utf-8", "surrogateescape"))
        self.wfile.flush()

    def log(self, line):
        with LOG_LOCK:
            with open(self.server.options.log, "a", encoding="utf-8", errors="backslashreplace") as f:
                f.write(line + "\n")

    def open_passive(self):
        if getattr(self, "passive", None) is not None:
            self.passive.close()
        self.passive = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.passive.bind(("127.0.0.1", 0))
        self.passive.listen(1)
        self.passive.settimeout(30)
        return self.passive.getsockname()[1]

    def send_data(self, data):
        if getattr(self, "passive", None) is None:
            self.send("425 Use EPSV or PASV first")
            return
        self.send("150 Opening data connection")
        connection, _ = self.passive.accept()
        connection.sendall(data)
        connection.close()
        self.passive.close()
        self.passive = None
        self.send("226 Transfer complete")

    def relative(self, argument):
        """The listed directory for a LIST/MLSD argument: the part after the mirrored root, /tree."""
        path = argument
        if path.startswith("/tree"):
            path = path[len("/tree"):]
        return path[1:] if path.startswith("/") else path

    def handle(self):
        options = self.server.options
        directories = tree(options.scenario)
        self.passive = None
        self.send("220 hostile test server")
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            line = raw.decode("utf-8", "surrogateescape").rstrip("\r\n")
            self.log(line)
            verb, _, argument = line.partition(" ")
            verb = verb.upper()
            if verb == "USER":
                self.send("331 Any password will do")
            elif verb == "PASS":
                self.send("230 Logged in")
            elif verb == "FEAT":
                features = ["EPSV", "PASV", "SIZE", "MDTM", "HASH SHA-256*"]
                if options.listing == "mlsd":
                    features.append("MLST type*;size*;modify*;")
                self.wfile.write(
                    ("211-Features:\r\n" + "".join(" " + f + "\r\n" for f in features) + "211 End\r\n").encode()
                )
                self.wfile.flush()
            elif verb == "PWD":
                self.send('257 "/" is the current directory')
            elif verb in ("TYPE", "MODE", "STRU", "NOOP"):
                self.send("200 OK")
            elif verb == "OPTS":
                self.send("200 OK")
            elif verb == "CWD":
                self.send("250 OK")
            elif verb == "EPSV":
                self.send("229 Entering Extended Passive Mode (|||%d|)" % self.open_passive())
            elif verb == "PASV":
                port = self.open_passive()
                self.send("227 Entering Passive Mode (127,0,0,1,%d,%d)" % (port >> 8, port & 0xFF))
            elif verb in ("MLSD", "LIST"):
                relative = self.relative(argument)
                entries = directories.get(relative)
                if entries is None:
                    self.send("550 No such directory")
                    continue
                make = mlsd_line if verb == "MLSD" else list_line
                text = ""
                if verb == "MLSD":
                    text += "type=cdir;modify=%s; %s\r\n" % (MODIFIED, argument or "/")
                    text += "type=pdir;modify=%s; ..\r\n" % MODIFIED
                else:
                    text += "total 42\r\n"
                text += "".join(make(kind, name, argument) for kind, name in entries)
                self.send_data(text.encode("utf-8", "surrogateescape"))
            elif verb == "NLST":
                entries = directories.get(self.relative(argument))
                if entries is None:
                    self.send("550 No such directory")
                    continue
                self.send_data("".join(name + "\r\n" for _, name in entries).encode("utf-8", "surrogateescape"))
            elif verb == "SIZE":
                self.send("213 %d" % len(content(argument)))
            elif verb == "MDTM":
                self.send("213 " + MODIFIED)
            elif verb == "HASH":
                data = content(argument)
                self.send("213 SHA-256 0-%d %s %s" % (len(data), hashlib.sha256(data).hexdigest(), argument))
            elif verb == "RETR":
                self.send_data(content(argument))
            elif verb == "QUIT":
                self.send("221 Bye")
                return
            else:
                self.send("502 Not implemented")


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--listing", choices=["mlsd", "list"], required=True)
    parser.add_argument("--scenario", choices=["hostile", "symlink"], default="hostile")
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--log", required=True)
    options = parser.parse_args()
    # Detach: the test's Foundation.Process watches a socket this process inherits and, once it closes, waits for
    # the process with a blocking waitpid on the one thread that reaps every child. So the process it started exits
    # now, and the server runs in a child of it that then closes everything inherited: the test process's own
    # servers' sockets must not stay open here either. The test stops the server by the pid in the port file.
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    os.closerange(3, 1 << 16)
    # The test process's threads block signals, and a spawned child inherits the mask: without this, SIGTERM
    # would never arrive.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])
    # And the test holds our standard input: when it closes (the test ends, or dies), so do we.
    threading.Thread(target=lambda: (sys.stdin.buffer.read(), os._exit(0)), daemon=True).start()
    server = Server(("127.0.0.1", 0), Handler)
    server.options = options
    with open(options.port_file + ".tmp", "w") as f:
        f.write("%d %d" % (server.server_address[1], os.getpid()))
    # Renamed into place: the test never reads a half-written port.
    os.rename(options.port_file + ".tmp", options.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
