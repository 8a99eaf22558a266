"""A tiny JSON-lines worker for tests/test_workerproc.py: each stdin line is a job, `{"do": …}`.

    echo        answers {"echo": job}
    garbage     writes lines that are not JSON objects, then answers
    die         writes to stderr and exits 3 before answering
    hang        sleeps without answering
    grandchild  starts `sleep 600` (in a session of its own with "setsid": true) and answers its pid
"""

import json
import subprocess
import sys
import time

for line in sys.stdin:
    job = json.loads(line)
    do = job.get("do")
    if do == "garbage":
        print("not json at all", flush=True)
        print("[1, 2, 3]", flush=True)
        print('"a string"', flush=True)
        print("{broken", flush=True)
    if do == "die":
        print("Traceback (most recent call last):\n  boom: the toy worker failed on purpose", file=sys.stderr, flush=True)
        sys.exit(3)
    if do == "hang":
        time.sleep(600)
    if do == "grandchild":
        child = subprocess.Popen(["sleep", "600"], start_new_session=bool(job.get("setsid")))
        print(json.dumps({"grandchild": child.pid}), flush=True)
        continue
    print(json.dumps({"echo": job}), flush=True)
