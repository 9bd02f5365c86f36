"""Run a module under cProfile in *every* thread (``python -m cProfile`` sees only the main thread).

    python benchmarks/thread_profile.py MAIN.prof WORKERS.prof -m tap_twilio --config ... --catalog ...

Writes the main thread's stats to MAIN.prof and the merged stats of all other threads (tap-twilio's list and
child workers: HTTP, orjson decoding, retries) to WORKERS.prof; read them with ``pstats``. Times are each
thread's CPU time (``time.thread_time``), not wall time, so threads idling on queues and sockets do not drown
the work. Profiling slows the run down ~2x, so use it for where time goes, not for how long it takes.
"""

from __future__ import annotations

import cProfile
import pstats
import runpy
import sys
import threading
import time

_profiles: list[cProfile.Profile] = []
_lock = threading.Lock()


def _boot(frame, event, arg):
    # threading calls this as the new thread's profile function before run(): swap in a profiler
    sys.setprofile(None)
    profile = cProfile.Profile(time.thread_time)
    with _lock:
        _profiles.append(profile)
    profile.enable()


def main() -> int:
    if len(sys.argv) < 5 or sys.argv[3] != "-m":
        print(__doc__, file=sys.stderr)
        return 2
    out_main, out_workers, module = sys.argv[1], sys.argv[2], sys.argv[4]
    sys.argv = [module, *sys.argv[5:]]
    threading.setprofile(_boot)
    main_profile = cProfile.Profile(time.thread_time)
    code = 0
    main_profile.enable()
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        main_profile.disable()
        threading.setprofile(None)
        main_profile.dump_stats(out_main)
        with _lock:
            profiles = list(_profiles)
        merged: pstats.Stats | None = None
        for profile in profiles:
            try:
                stats = pstats.Stats(profile)
            except (TypeError, ValueError):  # a thread that recorded nothing
                continue
            if merged is None:
                merged = stats
            else:
                merged.add(stats)
        if merged is not None:
            merged.dump_stats(out_workers)
        else:
            cProfile.Profile().dump_stats(out_workers)
    return code


if __name__ == "__main__":
    sys.exit(main())
