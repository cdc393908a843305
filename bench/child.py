"""Measurements that need a fresh interpreter, run as ``python -m bench.child MODE ...``.

``import``: import the handler module, print peak RSS.
``handle EVENT_FILE``: import the handler, load the event, call the handler twice;
print the time of each call and peak RSS after import, after loading the event
and after each call, as the last line of stdout (the handler's EMF lines come
first, as in Lambda). The intake URL and key come from the environment, as in
the Lambda.
"""

from __future__ import annotations

import json
import sys
import time


def _rss_mb() -> float:
    """Peak resident set of this process image, from /proc (Linux).

    ``getrusage(RUSAGE_SELF).ru_maxrss`` would not do: Linux carries it across
    ``exec``, so a child spawned by a large parent starts at the parent's size.
    ``VmHWM`` belongs to the address space, which ``exec`` replaces.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status")


def main(argv: list[str]) -> None:
    mode = argv[0]
    started = time.perf_counter()
    import handlers.firehose

    imported = time.perf_counter()
    out: dict[str, float] = {"import_s": imported - started, "rss_import_mb": _rss_mb()}
    if mode == "handle":
        with open(argv[1], "rb") as f:
            event = json.load(f)
        out["rss_event_mb"] = _rss_mb()
        for n in (1, 2):
            t0 = time.perf_counter()
            response = handlers.firehose.handler(event, None)
            json.dumps(response)
            out[f"call{n}_s"] = time.perf_counter() - t0
            out[f"rss_call{n}_mb"] = _rss_mb()
            del response
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
