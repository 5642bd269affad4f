"""Ctrl-C a blocking `Client` at random moments; run as a script by test_sync_interrupts.py.

Usage: python interrupt_client.py BASE_URL get|iter_results INTERRUPTS SEED

Each trial starts a bulk call of its own ids (`t<trial>-<n>`) and sends SIGINT after a
random delay (a third of them within the first 3 ms), to the main thread or to the
process. After the call, the trial sends one marker request (`marker-<trial>`) through
the same client. One JSON line per trial on stdout: what happened and when
(`time.monotonic()`, which the server's log shares on Linux).
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import threading
import time
from typing import Any

from atomscale_async import Client

IDS_PER_CALL = 40
MAX_TRIALS_FACTOR = 2


def trial(client: Client, mode: str, number: int, rng: random.Random) -> dict[str, Any]:
    ids = [f"t{number}-{n}" for n in range(IDS_PER_CALL)]
    delay = rng.uniform(0, 0.003) if rng.random() < 1 / 3 else rng.uniform(0, 0.1)
    target = rng.choice(["main-thread", "process"])
    record: dict[str, Any] = {"trial": number, "delay": delay, "target": target}
    cancelled = threading.Event()
    main_thread = threading.main_thread().ident
    assert main_thread is not None

    def fire() -> None:
        if cancelled.wait(delay):
            return
        record["fired"] = time.monotonic()
        if target == "main-thread":
            signal.pthread_kill(main_thread, signal.SIGINT)
        else:
            os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Thread(target=fire)
    try:
        try:
            record["started"] = time.monotonic()
            timer.start()
            if mode == "get":
                client.get(ids, data_type="oes", errors="return")
            else:
                for _ in client.iter_results(ids, data_type="oes"):
                    pass
            record["outcome"] = "completed"
        except KeyboardInterrupt:
            record["returned"] = time.monotonic()
            record["outcome"] = "interrupted"
        cancelled.set()
        timer.join()
        time.sleep(0.01)  # a signal sent just after the call completed lands here
    except KeyboardInterrupt:
        record["outcome"] = "after-the-call"
    try:
        client.oes.get(f"marker-{number}")
        record["marker"] = "ok"
    except Exception as exc:
        record["marker"] = repr(exc)
    return record


def main() -> None:
    base_url, mode, interrupts, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    rng = random.Random(f"{mode}-{seed}")
    done = 0
    with Client("sk-interrupt", base_url=base_url, max_concurrency=4, max_retries=0) as client:
        # Once uninterrupted first: the first call imports the transport, which no
        # cancellation can cut short.
        client.oes.get("marker-warm-up")
        for number in range(interrupts * MAX_TRIALS_FACTOR):
            record = trial(client, mode, number, rng)
            print(json.dumps(record), flush=True)
            done += record["outcome"] == "interrupted"
            if done >= interrupts:
                break


if __name__ == "__main__":
    main()
