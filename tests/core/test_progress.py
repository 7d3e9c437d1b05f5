"""Phase timing (``obliviate.core.progress.timed``): nested and repeated phases, reset on reading."""

import time

from obliviate.core.progress import take_phase_seconds, timed


def test_phases_nest_repeat_and_reset():
    take_phase_seconds()
    with timed("outer"):
        for _ in range(2):
            with timed("inner"):
                time.sleep(0.06)
    first = take_phase_seconds()
    assert first["inner"] >= 0.1  # both calls added up, not the last one only
    assert first["outer"] >= first["inner"]
    assert take_phase_seconds() == {}  # read once: the next run starts afresh
    try:
        with timed("failing"):
            raise ValueError
    except ValueError:
        pass
    assert "failing" in take_phase_seconds()  # a phase that raised still counts its time
