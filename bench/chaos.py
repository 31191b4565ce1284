"""The long chaos run: real workers killed 50 times while one user's runs come and go,
over a few hundred persons; prints what the address book ends with against the rules.

    python bench/chaos.py [--kills 50] [--seed N]

It runs the suite's chaos test (tests/syncengine/test_chaos.py) with its long settings,
so the two can never drift apart: the same phases, the same expected set read from the
sandbox, the same counts (missing, extra, duplicates). Needs what the test command
needs; start it through scripts/bench, or with REDIS_URL set. Prints; never asserts.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--kills", type=int, default=50, help="worker kills in the run")
    parser.add_argument("--seed", type=int, default=None, help="replay a seed")
    options = parser.parse_args()
    env = {**os.environ, "CHAOS_KILLS": str(options.kills), "CHAOS_LONG": "1"}
    env.setdefault("DEBUG", "true")
    if options.seed is not None:
        env["CHAOS_SEED"] = str(options.seed)
    started = time.monotonic()
    finished = subprocess.run(  # noqa: S603 - our own test, with our own interpreter
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/syncengine/test_chaos.py",
            "-q",
            "-s",
            "-p",
            "no:cacheprovider",
        ],
        cwd=REPOSITORY_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in finished.stdout.splitlines() if line.startswith("chaos seed")]
    print("\n".join(lines) or finished.stdout[-3000:])
    verdict = "converged" if finished.returncode == 0 else "DID NOT CONVERGE (see above)"
    print(f"{verdict} in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
