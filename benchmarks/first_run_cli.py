"""``arrears run`` as a user runs it, with its phases timed (issue 20: the first day of a store).

    /usr/bin/time -v .venv/bin/python benchmarks/first_run_cli.py -w WORKSPACE run --summary

The command line itself (``arrears.cli.app.main``, the same arguments), with the service's
own :class:`arrears.services.cycle.Timings` passed to ``run_cycle`` so that read, score, decide
and commit seconds (and the process's CPU seconds) are printed on stderr after the command's
output. Run it under ``/usr/bin/time -v`` for the peak resident memory.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import arrears.cli.cycle as cli_cycle
from arrears.cli.app import main
from arrears.services.cycle import Timings


def timed() -> int:
    timings = Timings()
    run_cycle = cli_cycle.run_cycle
    start = time.perf_counter()

    def with_timings(*args: Any, **kwargs: Any) -> Any:
        return run_cycle(*args, timings=timings, **kwargs)

    cli_cycle.run_cycle = with_timings  # type: ignore[assignment]
    try:
        return main(sys.argv[1:])
    finally:
        print(
            json.dumps(
                {
                    "read_s": round(timings.read, 2),
                    "score_s": round(timings.score, 2),
                    "decide_s": round(timings.decide, 2),
                    "commit_s": round(timings.commit, 2),
                    "wall_s": round(time.perf_counter() - start, 2),
                    "cpu_s": round(time.process_time(), 2),
                    "rows": timings.rows,
                }
            ),
            file=sys.stderr,
        )


if __name__ == "__main__":
    sys.exit(timed())
