#!/usr/bin/env python3
"""Strict checker for the Prometheus text exposition format (0.0.4) and a tiny query tool.

  check_prom.py scrape URL[,URL...] [EXPR...]   fetch each URL, validate strictly, then print
        one line per EXPR: "name" or "name{k=v,...}" -> sum of the matching samples ("none"
        if none), "#name" -> number of series named name; summed over the URLs, or with a
        "max:" prefix their maximum, with "each:" the per-URL values separated by spaces
  check_prom.py selftest               the checker rejects known-bad inputs

Validation: every line is a HELP, TYPE or sample line (no blank lines, final newline);
names and label names are legal; label values use only the escapes \\\\ \\" \\n; values are
Go floats; at most one HELP/TYPE per family, TYPE before its samples, a family's samples
contiguous, no duplicate series; counters >= 0; histograms have cumulative non-decreasing
_bucket series ending in le="+Inf" equal to _count, and a _sum.
"""
import json
import math
import re
import sys
import urllib.request

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
FLOAT = re.compile(r"^(NaN|[+-]Inf|[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)$")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


class FormatError(Exception):
    pass


def parse_labels(s, pos, lineno):
    """Parses {k="v",...} starting at s[pos] == '{'; returns (dict, next pos)."""
    labels = {}
    pos += 1
    while True:
        if s[pos:pos + 1] == "}":
            return labels, pos + 1
        m = LABEL.match(s, pos)
        if not m:
            raise FormatError(f"line {lineno}: bad label name at {s[pos:pos + 20]!r}")
        key = m.group(0)
        pos = m.end()
        if s[pos:pos + 2] != '="':
            raise FormatError(f"line {lineno}: expected =\" after {key}")
        pos += 2
        val = []
        while True:
            if pos >= len(s):
                raise FormatError(f"line {lineno}: unterminated label value")
            c = s[pos]
            if c == "\\":
                nxt = s[pos + 1:pos + 2]
                if nxt not in ("\\", '"', "n"):
                    raise FormatError(f"line {lineno}: bad escape \\{nxt}")
                val.append("\n" if nxt == "n" else nxt)
                pos += 2
            elif c == '"':
                pos += 1
                break
            elif c == "\n":
                raise FormatError(f"line {lineno}: raw newline in label value")
            else:
                val.append(c)
                pos += 1
        if key in labels:
            raise FormatError(f"line {lineno}: duplicate label {key}")
        labels[key] = "".join(val)
        if s[pos:pos + 1] == ",":
            pos += 1
        elif s[pos:pos + 1] != "}":
            raise FormatError(f"line {lineno}: expected , or }} after label {key}")


def family_of(name, types):
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix):
            base = name[: -len(suffix)]
            if types.get(base) in ("histogram", "summary"):
                return base
    return name


def validate(text):
    if not text.endswith("\n"):
        raise FormatError("output does not end with a newline")
    types, helps, samples = {}, {}, []
    seen_series, finished, current = set(), set(), None
    for lineno, line in enumerate(text[:-1].split("\n"), 1):
        if line == "":
            raise FormatError(f"line {lineno}: blank line")
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                if not NAME.fullmatch(name):
                    raise FormatError(f"line {lineno}: bad metric name {name!r}")
                if parts[1] == "TYPE":
                    if len(parts) != 4 or parts[3] not in TYPES:
                        raise FormatError(f"line {lineno}: bad TYPE line")
                    if name in types:
                        raise FormatError(f"line {lineno}: second TYPE for {name}")
                    if name in finished or current == name:
                        raise FormatError(f"line {lineno}: TYPE after samples of {name}")
                    types[name] = parts[3]
                else:
                    if name in helps:
                        raise FormatError(f"line {lineno}: second HELP for {name}")
                    helps[name] = parts[3] if len(parts) == 4 else ""
                    if re.search(r"\\[^\\n]", helps[name]):
                        raise FormatError(f"line {lineno}: bad escape in HELP")
            continue
        m = NAME.match(line)
        if not m:
            raise FormatError(f"line {lineno}: bad sample line {line!r}")
        name, pos, labels = m.group(0), m.end(), {}
        if line[pos:pos + 1] == "{":
            labels, pos = parse_labels(line, pos, lineno)
        rest = line[pos:]
        if not rest.startswith(" "):
            raise FormatError(f"line {lineno}: expected a space before the value")
        fields = rest[1:].split(" ")
        if len(fields) not in (1, 2) or not FLOAT.match(fields[0]):
            raise FormatError(f"line {lineno}: bad value {rest!r}")
        if len(fields) == 2 and not re.fullmatch(r"-?\d+", fields[1]):
            raise FormatError(f"line {lineno}: bad timestamp")
        value = float(fields[0].replace("Inf", "inf"))
        fam = family_of(name, types)
        if fam != current:
            if fam in finished:
                raise FormatError(f"line {lineno}: samples of {fam} are not contiguous")
            if current is not None:
                finished.add(current)
            current = fam
        key = (name, tuple(sorted(labels.items())))
        if key in seen_series:
            raise FormatError(f"line {lineno}: duplicate series {key}")
        seen_series.add(key)
        if types.get(fam) == "counter" and not value >= 0:
            raise FormatError(f"line {lineno}: negative counter")
        samples.append({"name": name, "labels": labels, "value": value})
    check_histograms(samples, types)
    return samples


def check_histograms(samples, types):
    for fam, t in types.items():
        if t != "histogram":
            continue
        groups = {}
        for s in samples:
            if family_of(s["name"], types) != fam:
                continue
            other = tuple(sorted((k, v) for k, v in s["labels"].items() if k != "le"))
            groups.setdefault(other, {"buckets": [], "sum": None, "count": None})
            g = groups[other]
            if s["name"] == fam + "_bucket":
                if "le" not in s["labels"]:
                    raise FormatError(f"{fam}: bucket without le")
                g["buckets"].append((float(s["labels"]["le"].replace("Inf", "inf")), s["value"]))
            elif s["name"] == fam + "_sum":
                g["sum"] = s["value"]
            elif s["name"] == fam + "_count":
                g["count"] = s["value"]
            else:
                raise FormatError(f"{fam}: unexpected sample {s['name']}")
        for other, g in groups.items():
            b = g["buckets"]
            if not b or b[-1][0] != math.inf:
                raise FormatError(f"{fam}{other}: no +Inf bucket last")
            for (le1, c1), (le2, c2) in zip(b, b[1:]):
                if not le2 > le1 or c2 < c1:
                    raise FormatError(f"{fam}{other}: buckets not increasing/cumulative")
            if g["sum"] is None or g["count"] is None or g["count"] != b[-1][1]:
                raise FormatError(f"{fam}{other}: _sum/_count missing or _count != +Inf bucket")


BAD = [
    "m 1",  # no final newline
    "m 1\n\nm2 1\n",  # blank line
    "9m 1\n",  # bad name
    "m{a=\"x\\q\"} 1\n",  # bad escape
    "m{a=\"x\"} one\n",  # bad value
    "# TYPE m counter\nm -1\n",  # negative counter
    "# TYPE m gauge\n# TYPE m gauge\nm 1\n",  # second TYPE
    "m 1\n# TYPE m gauge\n",  # TYPE after samples
    "a 1\nb 1\na{x=\"1\"} 1\n",  # not contiguous
    "m 1\nm 2\n",  # duplicate series
    "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
    "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",  # no +Inf
    "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n",  # count mismatch
]
GOOD = ("# HELP h x\\ny\n# TYPE h histogram\nh_bucket{a=\"q\\\"\\n\",le=\"0.5\"} 1\n"
        "h_bucket{a=\"q\\\"\\n\",le=\"+Inf\"} 2\nh_sum{a=\"q\\\"\\n\"} 3.5\n"
        "h_count{a=\"q\\\"\\n\"} 2\ng NaN\ng2 -Inf\ng3 1e-07\n")


def selftest():
    for i, text in enumerate(BAD):
        try:
            validate(text)
        except FormatError:
            continue
        print(f"selftest: bad input {i} accepted: {text!r}", file=sys.stderr)
        return 1
    samples = validate(GOOD)
    assert query(samples, "h_count") == "2" and query(samples, "#h_bucket") == "2"
    assert samples[0]["labels"]["a"] == 'q"\n'
    print("selftest ok")
    return 0


def query(samples, expr):
    """name or name{k=v,...}: sum of matching samples ("none" if none); #name: series count."""
    if expr.startswith("#"):
        return str(sum(1 for s in samples if s["name"] == expr[1:]))
    name, want = expr, {}
    if "{" in expr:
        name, rest = expr.split("{", 1)
        want = dict(a.split("=", 1) for a in rest.rstrip("}").split(",") if a)
    hits = [s["value"] for s in samples
            if s["name"] == name and all(s["labels"].get(k) == v for k, v in want.items())]
    if not hits:
        return "none"
    v = sum(hits)
    return str(int(v)) if v == int(v) else str(v)


def main():
    cmd = sys.argv[1]
    if cmd == "scrape":
        per_url = []
        for url in sys.argv[2].split(","):
            with urllib.request.urlopen(url, timeout=30) as r:
                ctype = r.headers.get("Content-Type", "")
                text = r.read().decode("utf-8")
            if not ctype.startswith("text/plain") or "version=0.0.4" not in ctype:
                raise FormatError(f"{url}: bad Content-Type {ctype!r}")
            try:
                per_url.append(validate(text))
            except FormatError as e:
                raise FormatError(f"{url}: {e}")
        for expr in sys.argv[3:]:
            mode = "sum"
            if expr.startswith(("each:", "max:")):
                mode, expr = expr.split(":", 1)
            vals = [query(samples, expr) for samples in per_url]
            if mode == "each":
                print(" ".join(vals))
                continue
            nums = [float(v) for v in vals if v != "none"]
            if not nums:
                print("none")
                continue
            v = max(nums) if mode == "max" else sum(nums)
            print(int(v) if v == int(v) else v)
        return 0
    if cmd == "selftest":
        return selftest()
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main())
    except FormatError as e:
        print(f"FORMAT ERROR: {e}", file=sys.stderr)
        sys.exit(1)
