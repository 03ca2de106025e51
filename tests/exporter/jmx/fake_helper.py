"""A stand-in for the JMX helper JVM, speaking its line protocol, for tests of the Python side without Java.

Run as ``fake_helper.py MODE -jar JAR`` (the helper's launch line with this script as ``java``). Each request is
appended to the file named by ``FAKE_HELPER_LOG`` with the script's argv. What it answers depends on the URL:
``refused`` → an ``unreachable`` error whose message carries the password (the client must scrub it), ``odd`` → an
unknown reason, ``hang`` → no answer, ``die`` → exit 3 after a line on stderr, ``slow`` → the answer after 0.5 s
(from another thread, so later requests overtake it); anything else → one row per query.
"""

from __future__ import annotations

import json
import os
import sys
import threading


def reply(lock: threading.Lock, message: dict[str, object]) -> None:
    with lock:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()


def main() -> int:
    mode = sys.argv[1]
    if mode == "nostart":
        sys.stderr.write("Picked up JAVA_TOOL_OPTIONS: -Djavax.net.ssl.trustStorePassword=tool-secret\n")
        sys.stderr.write("Error: UnsupportedClassVersionError: kafkaobs/jmx/JmxHelper (class file version 61.0)\n")
        return 1
    lock = threading.Lock()
    reply(lock, {"ready": True, "protocol": 1})
    for line in sys.stdin:
        request = json.loads(line)
        with open(os.environ["FAKE_HELPER_LOG"], "a", encoding="utf-8") as log:
            log.write(json.dumps({"argv": sys.argv, "request": request}) + "\n")
        url, rid = request["url"], request["id"]
        if "refused" in url:
            message = f"cannot read: ConnectException: Connection refused (told {request.get('password')})"
            reply(lock, {"id": rid, "ok": False, "reason": "unreachable", "message": message})
        elif "odd" in url:
            reply(lock, {"id": rid, "ok": False, "reason": "martian", "message": "???"})
        elif "hang" in url:
            continue
        elif "die" in url:
            sys.stderr.write("boom: the helper fell over\n")
            sys.stderr.flush()
            return 3
        else:
            rows = [[q["pattern"], q["attributes"][0], None, 1] for q in request["queries"]]
            answer = {"id": rid, "ok": True, "connected": True, "rows": rows}
            if "slow" in url:
                threading.Timer(0.5, reply, (lock, answer)).start()
            else:
                reply(lock, answer)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
