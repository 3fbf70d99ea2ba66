#!/usr/bin/env python3
"""File-system workloads for bench/run.sh, run against any directory (a chunkfs mount, a
MooseFS mount or a local directory). Each command prints `seconds=<s>` (and, for metaops, one
line per phase). Exit status 1 with a message on the first failed system call.

  fsops.py create DIR N SIZE   mkdir DIR, then N files of SIZE random bytes (open/write/close)
  fsops.py stat DIR N          stat the N files made by create
  fsops.py rm DIR N            unlink the N files, then rmdir DIR
  fsops.py mkdirs DIR N        mkdir DIR, then N subdirectories (timed); removes them (untimed)
  fsops.py syncs DIR N         N appends of 64 bytes to DIR/log, each followed by fdatasync (the
                               cost of one durable record on this disk); removes the file
  fsops.py mkdirs_durable DIR N   like mkdirs, but each mkdir is followed by fsync of DIR (what
                               a local file system pays to make each mkdir durable)
  fsops.py metaops DIR T N     T threads, each in DIR/t<k>: N creates (O_EXCL, closed at once),
                               then N stats, N renames, N unlinks; a barrier between phases;
                               prints `phase=<p> threads=<T> ops=<n> seconds=<s> ops_per_s=<r>`
"""
import os
import sys
import threading
import time


def name(d, i):
    return os.path.join(d, "f%06d" % i)


def cmd_create(d, n, size):
    data = os.urandom(size)
    os.mkdir(d)
    t0 = time.monotonic()
    for i in range(n):
        fd = os.open(name(d, i), os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o644)
        try:
            if os.write(fd, data) != size:
                raise OSError("short write")
        finally:
            os.close(fd)
    return time.monotonic() - t0


def cmd_stat(d, n):
    t0 = time.monotonic()
    for i in range(n):
        os.stat(name(d, i))
    return time.monotonic() - t0


def cmd_rm(d, n):
    t0 = time.monotonic()
    for i in range(n):
        os.unlink(name(d, i))
    os.rmdir(d)
    return time.monotonic() - t0


def cmd_mkdirs(d, n):
    os.mkdir(d)
    t0 = time.monotonic()
    for i in range(n):
        os.mkdir(name(d, i))
    secs = time.monotonic() - t0
    for i in range(n):
        os.rmdir(name(d, i))
    os.rmdir(d)
    return secs


def cmd_syncs(d, n):
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "log")
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND | os.O_TRUNC, 0o644)
    rec = b"r" * 64
    try:
        t0 = time.monotonic()
        for _ in range(n):
            if os.write(fd, rec) != len(rec):
                raise OSError("short write")
            os.fdatasync(fd)
        secs = time.monotonic() - t0
    finally:
        os.close(fd)
    os.unlink(path)
    return secs


def cmd_mkdirs_durable(d, n):
    os.mkdir(d)
    dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    try:
        t0 = time.monotonic()
        for i in range(n):
            os.mkdir(name(d, i))
            os.fsync(dfd)
        secs = time.monotonic() - t0
    finally:
        os.close(dfd)
    for i in range(n):
        os.rmdir(name(d, i))
    os.rmdir(d)
    return secs


def cmd_metaops(d, threads, n):
    phases = ["create", "stat", "rename", "unlink"]
    barrier = threading.Barrier(threads)
    start = {}
    end = {}
    errors = []
    os.mkdir(d)
    dirs = [os.path.join(d, "t%d" % k) for k in range(threads)]
    for sub in dirs:
        os.mkdir(sub)

    def work(sub):
        for ph in phases:
            if barrier.wait() == 0:
                start[ph] = time.monotonic()
            try:
                if not errors:
                    for i in range(n):
                        f = name(sub, i)
                        if ph == "create":
                            os.close(os.open(f, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o644))
                        elif ph == "stat":
                            os.stat(f)
                        elif ph == "rename":
                            os.rename(f, f + ".r")
                        else:
                            os.unlink(f + ".r")
            except OSError as e:
                errors.append(e)
            if barrier.wait() == 0:
                end[ph] = time.monotonic()

    ts = [threading.Thread(target=work, args=(sub,)) for sub in dirs]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise errors[0]
    for sub in dirs:
        os.rmdir(sub)
    os.rmdir(d)
    for ph in phases:
        secs = end[ph] - start[ph]
        print("phase=%s threads=%d ops=%d seconds=%.3f ops_per_s=%.1f"
              % (ph, threads, n * threads, secs, n * threads / secs if secs > 0 else 0.0))
    return sum(end[ph] - start[ph] for ph in phases)


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, d = argv[1], argv[2]
    try:
        if cmd == "create" and len(argv) == 5:
            secs = cmd_create(d, int(argv[3]), int(argv[4]))
        elif cmd == "stat" and len(argv) == 4:
            secs = cmd_stat(d, int(argv[3]))
        elif cmd == "rm" and len(argv) == 4:
            secs = cmd_rm(d, int(argv[3]))
        elif cmd == "mkdirs" and len(argv) == 4:
            secs = cmd_mkdirs(d, int(argv[3]))
        elif cmd == "syncs" and len(argv) == 4:
            secs = cmd_syncs(d, int(argv[3]))
        elif cmd == "mkdirs_durable" and len(argv) == 4:
            secs = cmd_mkdirs_durable(d, int(argv[3]))
        elif cmd == "metaops" and len(argv) == 5:
            secs = cmd_metaops(d, int(argv[3]), int(argv[4]))
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except OSError as e:
        print("fsops.py %s %s: %s" % (cmd, d, e), file=sys.stderr)
        return 1
    print("seconds=%.6f" % secs)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
