#!/usr/bin/env python3
"""Write the signing vectors as seeds for fuzz_sign (see its input format).

Usage: make_seeds.py VECTOR_DIR OUT_DIR
Reads the cases through test/vectors/run_vectors.py, so the seeds are the
requests the vector test signs.  Prints the number of seeds written.
"""
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "vectors"))
import run_vectors  # noqa: E402


def seed(record):
    """One run_vectors record (hex fields, one per line) as fuzz input."""
    fixed = {k: b"" for k in ("method", "path", "ak", "sk", "date", "body")}
    query, headers = [], []
    for line in record.splitlines():
        tag, *vals = line.split(" ")
        vals = [bytes.fromhex(v) for v in vals]
        if tag in fixed:
            fixed[tag] = vals[0] if vals else b""
        elif tag in ("q", "h"):
            (query if tag == "q" else headers).append(
                (vals[0], vals[1] if len(vals) > 1 else b""))
    nq = min(len(query), 15)
    pairs = (query + headers)[:32]
    fields = list(fixed.values()) + [x for kv in pairs for x in kv]
    return bytes([nq]) + b"\0".join(fields)


def main():
    vdir, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    cases = list(run_vectors.aliyun_cases(vdir / "aliyun-rpc-and-acs3.jsonl"))
    cases += list(run_vectors.huawei_cases(vdir / "huawei-sdk-hmac-sha256.jsonl"))
    for n, (cid, record, _) in enumerate(cases, 1):
        name = "%02d-%s" % (n, re.sub(r"[^A-Za-z0-9_.-]+", "_", cid))
        (out / name).write_bytes(seed(record))
    print(len(cases))


if __name__ == "__main__":
    main()
