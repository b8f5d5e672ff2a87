"""The checker's in-process time bound holds off the main thread (issue 13, item 1).

``judge_document`` / ``begin_document`` / ``judge_next`` are public and judge in the
caller's process.  Their bound was ``SIGALRM``, which only the main thread has: from any
other thread (a web server's, a pool's) an equation had no bound at all; SLOW below ran
for ~21 s there (measured) whatever ``time_limit`` said.  Now a timer thread raises the
timeout in the judging thread.  ``check_text`` from a thread is bounded by its worker.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from symconv.check.document import read_equations
from symconv.check.isolate import Limits
from symconv.check.judge import (
    DocState,
    TimedOut,
    begin_document,
    judge_document,
    judge_next,
    time_bound,
)
from symconv.check.run import check_text
from symconv.check.truth import Truth
from symconv.problem import load_problem

PROBLEM = load_problem("exercise2")


@pytest.fixture(autouse=True)
def _cold_cache() -> None:
    """SymPy caches results across tests: a power another test (the fuzzing suite) already
    expanded would come back at once, and SLOW would not be slow."""
    from sympy.core.cache import clear_cache

    clear_cache()

# CPU-bound SymPy work with little memory (~21 s unbounded): only a time bound stops it
SLOW = r"\hat{y}_1 = (\sqrt{2}+\sqrt{13})^{4091}"
GOOD = r"\hat{y}_2 = 20"  # the exercise's ŷ₂ = 2·2 + 1·3 + 3·4 + 1 (by hand)
SLACK = 2.5  # seconds beyond a budget: the rest of the document, a loaded machine


def _in_thread(function: Callable[[], Any], seconds: float = 30.0) -> tuple[Any, float]:
    """``function()`` on a new thread: its result and how long it took."""
    box: list[Any] = []

    def run() -> None:
        started = time.perf_counter()
        try:
            box.append(function())
        except BaseException as exc:  # shown by the assertion below
            box.append(exc)
        box.append(time.perf_counter() - started)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s: no bound"
    assert not isinstance(box[0], BaseException), box[0]
    return box[0], box[1]


def _equations() -> list[Any]:
    return read_equations(f"$${SLOW}$$\n\n$${GOOD}$$\n")


def test_judge_document_on_another_thread_keeps_its_time_limit() -> None:
    judged, elapsed = _in_thread(
        lambda: judge_document(_equations(), Truth(PROBLEM), time_limit=1.0)
    )
    assert [(j.verdict, j.reason) for j in judged] == [("unchecked", "timeout"), ("correct", None)]
    assert "timed out after 1 s" in judged[0].message
    assert elapsed < 1.0 + SLACK, elapsed


def test_judge_next_on_a_pool_thread_keeps_its_budget() -> None:
    def judge() -> tuple[list[str], float]:
        equations = _equations()
        state = begin_document(equations, Truth(PROBLEM), text="")
        assert isinstance(state, DocState)
        started = time.perf_counter()
        first = judge_next(equations[0], state, seconds=0.5)
        spent = time.perf_counter() - started
        return [first.verdict, judge_next(equations[1], state).verdict], spent

    with ThreadPoolExecutor(max_workers=1) as pool:
        verdicts, spent = pool.submit(judge).result(timeout=30)
    assert verdicts == ["unchecked", "correct"]
    assert spent < 0.5 + SLACK, spent


def test_two_threads_each_get_their_own_bound() -> None:
    """Each thread's timer stops its own thread: the short budget does not cut the long
    one, and the long one does not leave the short one unbounded."""
    results: dict[float, tuple[list[str], float]] = {}

    def judge(limit: float) -> None:
        started = time.perf_counter()
        judged = judge_document(_equations(), Truth(PROBLEM), time_limit=limit)
        results[limit] = ([j.verdict for j in judged], time.perf_counter() - started)

    threads = [threading.Thread(target=judge, args=(limit,)) for limit in (0.5, 2.0)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads)
    for limit, (verdicts, elapsed) in results.items():
        assert verdicts == ["unchecked", "correct"], limit
        assert limit * 0.9 < elapsed < limit + SLACK, (limit, elapsed)


def test_no_timeout_arrives_after_its_block_ends() -> None:
    """Blocks that end about when their timer fires: TimedOut is raised inside the block
    or not at all, never later in the caller's code (a timer that raised blindly fails
    here: measured, most runs)."""

    def spin(seconds: float) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            pass

    spins = (0.001, 0.0015, 0.002, 0.0025, 0.003, 0.02)  # around a 2 ms bound, one past

    def many() -> tuple[int, int]:
        fired = 0
        for number in range(200):
            try:
                with time_bound(0.002):
                    spin(spins[number % len(spins)])
            except TimedOut:
                fired += 1
            spin(0.001)  # a late TimedOut would be raised here, out of the try
        spin(0.3)
        return fired, 200 - fired

    (fired, ended), _ = _in_thread(many)
    assert fired > 0 and ended > 0  # both endings happened: the race was run


def test_library_code_that_catches_every_exception_does_not_swallow_the_timeout() -> None:
    """SymPy has ``except Exception`` fallbacks; a TimedOut raised inside one (timer thread
    or alarm) must pass through it.  With TimedOut an Exception, the loop runs its 5 s:
    the gap a full CI run once showed."""

    def swallowing() -> str:
        give_up = time.perf_counter() + 5.0  # the failure is an unbounded loop: ended here
        with time_bound(0.3):
            while time.perf_counter() < give_up:
                try:
                    time.perf_counter()
                except Exception:  # what a library's fallback does
                    pass
        return "ended"

    with pytest.raises(TimedOut):  # the main thread's alarm
        swallowing()
    started = time.perf_counter()
    with pytest.raises(TimedOut), ThreadPoolExecutor(max_workers=1) as pool:  # the timer's
        pool.submit(swallowing).result(timeout=10)
    assert time.perf_counter() - started < 0.3 + SLACK


def test_a_swallowed_timeout_is_raised_again() -> None:
    """Python drops an exception raised in a gc callback or a __del__ ("Exception ignored
    in ..."): a full CI run saw the asynchronous TimedOut land in hypothesis's gc callback
    and the equation run on to a verdict.  Here the first TimedOut is swallowed on purpose;
    the bound raises it again (a bound that raises once runs the loop its full 5 s and fails
    here, shown)."""

    def swallowing_once() -> int:
        swallowed = 0
        give_up = time.perf_counter() + 5.0
        with time_bound(0.3):
            while time.perf_counter() < give_up:
                try:
                    while time.perf_counter() < give_up:
                        pass
                except TimedOut:
                    swallowed += 1  # dropped, as a gc callback drops it
                    if swallowed > 1:
                        raise
        return swallowed

    def outcome() -> str:
        try:
            return f"ended, {swallowing_once()} swallowed"
        except TimedOut:
            return "timed out"

    started = time.perf_counter()
    assert outcome() == "timed out"  # the main thread's alarm
    assert time.perf_counter() - started < 0.3 + 1 + SLACK
    result, elapsed = _in_thread(outcome)  # the timer thread's
    assert result == "timed out" and elapsed < 0.3 + 1 + SLACK


def test_the_main_thread_still_uses_the_alarm() -> None:
    assert threading.current_thread() is threading.main_thread()
    started = time.perf_counter()
    with pytest.raises(TimedOut), time_bound(0.3):
        while True:
            pass
    assert 0.25 < time.perf_counter() - started < 0.3 + SLACK


def test_check_text_on_another_thread_is_bounded_by_its_worker() -> None:
    data, elapsed = _in_thread(
        lambda: check_text(f"$${SLOW}$$\n\n$${GOOD}$$\n", PROBLEM, limits=Limits(equation_s=0.5))
    )
    verdicts = [(e["verdict"], e["reason"]) for e in data["equations"]]
    assert verdicts == [("unchecked", "timeout"), ("correct", None)]
    assert elapsed < 0.5 + 1.0 + 5.0, elapsed  # the budget, its grace, a worker's start
