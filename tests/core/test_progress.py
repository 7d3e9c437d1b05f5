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


def _logged(monkeypatch, run):
    """The lines ``progress`` writes to a log (no terminal) while ``run(advance)`` runs."""
    from obliviate.core import progress as P

    lines: list[str] = []
    monkeypatch.delenv("OBLIVIATE_QUIET", raising=False)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("OBLIVIATE_FORCE_BAR", raising=False)
    monkeypatch.setattr(P, "log", lines.append)
    with P.progress(10, "phase") as advance:
        run(advance)
    return lines


def test_a_quick_phase_writes_nothing_to_a_log(monkeypatch):
    """The old log wrote a line every 25% of every phase: 880 'scoring forget: 1/1 (0s)' lines in one bench."""
    monkeypatch.setenv("OBLIVIATE_HEARTBEAT", "30")
    assert _logged(monkeypatch, lambda advance: [advance() for _ in range(10)]) == []


def test_a_long_phase_beats_while_a_step_runs_and_closes_with_one_line(monkeypatch):
    monkeypatch.setenv("OBLIVIATE_HEARTBEAT", "0.2")
    monkeypatch.setattr("obliviate.core.progress.MIN_PHASE_SECONDS", 0.5)

    def run(advance):
        advance(4, loss="0.5")
        time.sleep(0.75)  # one long step: no advance call, the heartbeat still writes

    lines = _logged(monkeypatch, run)
    beats, final = lines[:-1], lines[-1]
    assert 1 <= len(beats) <= 4, lines  # every 0.2 s of 0.75 s: 3 (a loaded machine may delay one); broken: 0
    assert all(b.startswith("phase: 4/10 after ") and "left" in b and "loss=0.5" in b for b in beats), beats
    assert final.startswith("phase: 4/10 in ") and "left" not in final


def test_quiet_silences_the_heartbeat(monkeypatch):
    monkeypatch.setenv("OBLIVIATE_HEARTBEAT", "0.1")

    def run(advance):
        monkeypatch.setenv("OBLIVIATE_QUIET", "1")
        time.sleep(0.35)

    assert _logged(monkeypatch, run) == []


def test_a_long_phase_says_early_how_long_it_will_take(monkeypatch):
    monkeypatch.setenv("OBLIVIATE_HEARTBEAT", "30")
    monkeypatch.setattr("obliviate.core.progress.ESTIMATE_AFTER_SECONDS", 0.2)
    monkeypatch.setattr("obliviate.core.progress.MIN_PHASE_SECONDS", 99)
    monkeypatch.setattr("obliviate.core.progress.ESTIMATE_MIN_SECONDS", 0.5)

    def run(advance):  # 10 steps of 0.1 s measured after 3: "about" the whole phase, said once
        for _ in range(3):
            time.sleep(0.1)
            advance()
        advance(7)

    lines = _logged(monkeypatch, run)
    assert len(lines) == 1 and lines[0].startswith("phase: 10 steps, about ") and "in all" in lines[0], lines
    monkeypatch.setattr("obliviate.core.progress.ESTIMATE_MIN_SECONDS", 60)  # a short phase: no estimate
    assert _logged(monkeypatch, run) == []
