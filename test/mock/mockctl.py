#!/usr/bin/python3
"""mockctl.py - drive the mock cloud's control API from tests and scripts.

The mock's port comes from $GW_MOCK_HTTP.  Usage:
  mockctl.py reset
  mockctl.py fault JSON          add fault rule(s): one rule, or {"faults": [...]},
                                 e.g. '{"kind":"echo","forms":["raw","pct"],"where":"message"}'
  mockctl.py instance JSON       create or update one instance
  mockctl.py config JSON         set default_resize_delay_ms / token_ttl_s / temp_ttl_s /
                                 huawei_ecs_agency / iam_token_bytes
  mockctl.py revoke              revoke every issued Huawei IAM token
  mockctl.py expire              expire every issued temporary credential now
  mockctl.py credentials         print {"issued": {...}, "valid": n}
  mockctl.py count [PROVIDER [ACTION]]   how many requests the mock received
  mockctl.py count KEY=VALUE...          ... of those matching every field given
  mockctl.py tokens PROVIDER ACTION      distinct Alibaba Tokens received, one a line
  mockctl.py resizes INSTANCE            how many resizes the mock applied to it
  mockctl.py get PATH            print the JSON answer of GET /_mock/PATH
Prints nothing for the setters; exits non-zero when the mock refuses.
Proxy settings (http_proxy and the like) are ignored: the mock answers 502 to
anything sent to it as to a proxy.
"""
import json
import os
import sys
import urllib.error
import urllib.request


# no ProxyHandler from the environment: talk to the mock directly
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def call(method, path, body=None):
    url = "http://127.0.0.1:%s/_mock/%s" % (os.environ["GW_MOCK_HTTP"], path)
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with _OPENER.open(req, timeout=10) as r:
        return json.loads(r.read() or b"null")


def requests(*args):
    """Request log entries; args are PROVIDER [ACTION] or KEY=VALUE filters."""
    q = []
    for i, a in enumerate(a for a in args if a):
        if "=" in a:
            q.append(a)
        else:
            q.append(("provider=" if i == 0 else "action=") + a)
    return call("GET", "requests" + ("?" + "&".join(q) if q else ""))


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    arg = argv[2] if len(argv) > 2 else None
    if cmd == "reset":
        call("POST", "reset", {})
    elif cmd == "fault":
        call("POST", "faults", json.loads(arg))
    elif cmd == "instance":
        call("POST", "instances", json.loads(arg))
    elif cmd == "config":
        call("POST", "config", json.loads(arg))
    elif cmd == "revoke":
        call("POST", "revoke_tokens", {})
    elif cmd == "expire":
        call("POST", "expire_credentials", {})
    elif cmd == "credentials":
        print(json.dumps(call("GET", "credentials"), sort_keys=True))
    elif cmd == "count":
        print(len(requests(*argv[2:])))
    elif cmd == "tokens":
        for t in sorted({r.get("token") for r in requests(arg, argv[3]) if r.get("token")}):
            print(t)
    elif cmd == "resizes":
        for i in call("GET", "instances"):
            if i.get("instance_id") == arg:
                print(i.get("resizes", 0))
                return 0
        print(0)
    elif cmd == "get":
        print(json.dumps(call("GET", arg), indent=1, sort_keys=True))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except urllib.error.HTTPError as e:          # the mock refused: say why
        sys.stderr.write("mockctl: %s %s\n" % (e.code, e.read().decode("utf-8", "replace")))
        sys.exit(1)
