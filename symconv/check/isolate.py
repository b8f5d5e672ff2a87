"""Judge documents in worker processes with real limits, for any caller and any thread.

A :class:`Worker` is one persistent process (a fresh interpreter: nothing of the caller's
threads or state is inherited) that imports the checker once and then judges document
after document; it is replaced only when it dies or is killed.  In it each document is
read and judged under

- an address-space limit (``RLIMIT_AS`` = ``Limits.memory_mb``, the interpreter and SymPy
  included): an allocation beyond it fails — that equation is ``unchecked`` with the
  reason ``resource limit`` — or ends the worker;
- one budget per equation (``Limits.equation_s``) covering its parse, judgement and
  diagnosis: a soft bound (``SIGALRM`` in the worker's main thread), backed by a CPU
  limit (``RLIMIT_CPU``) and by the parent, which kills the worker ``Limits.grace_s``
  after the budget;
- a budget for the whole document (``Limits.document_s``), reading included.

A worker never outlives its parent, however the parent ends (SIGKILL included): on
Linux the kernel kills it when the parent dies (``PR_SET_PDEATHSIG``; every worker is
started from one long-lived thread, since that signal follows the starting thread),
elsewhere a thread of the worker sees that its parent has changed; an idle worker also
ends at the end of its pipe.

A worker that dies or is killed gives the equation it was judging ``unchecked``
(reason ``timeout`` or ``resource limit``); a new worker replays the equations before it
(without diagnoses, to rebuild what the document defined and the step it is at) and
judges the rest.  Equations the document budget leaves no time for are ``unchecked``
(``timeout``).  The file object then carries ``failure``: ``{"reason", "message",
"equations": [labels]}`` (absent when no limit was hit).

Example:
    >>> from symconv.problem import load_problem
    >>> with Worker() as worker:
    ...     data = worker.check("$$\\\\hat{y}_1 = 14$$", load_problem("exercise2"))
    >>> data["equations"][0]["verdict"], "failure" in data
    ('correct', False)
"""

from __future__ import annotations

import atexit
import math
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from symconv.errors import SymconvError, WorkerError

if TYPE_CHECKING:
    from symconv.check.source import Source
    from symconv.problem import Problem

__all__ = [
    "Limits",
    "Worker",
    "borrow",
    "check_isolated",
    "failure_summary",
    "give_back",
    "pool_size",
]

VERDICTS = ("correct", "incorrect", "notation", "unchecked")  # as symconv.check.judge
_START_S = 60.0  # a worker that has not imported the checker by then is broken
# the reasons of an equation cut short (a limit, or the checker's own failure)
_LIMITS = ("timeout", "resource limit", "checker failure")
# what the parent knows of an equation before it is judged: latex, label, line, heading,
# notebook cell, \label name
_Meta = tuple[str, str | None, int, str, int | None, str | None]
_STOPPING: list[subprocess.Popen[bytes]] = []  # workers told to stop, not yet reaped
_CACHED_TRUTHS = 4  # problems whose derivation a worker keeps
_IDLE_CPU_S = 30  # CPU seconds a worker may use between documents (unpickling a text)


@dataclass(frozen=True)
class Limits:
    """The bounds of one document: seconds per equation (parse, judgement and
    diagnosis), seconds per document (reading included), the address space of the worker
    in MB, and the seconds past a budget before the worker is killed."""

    equation_s: float = 2.0
    document_s: float = 120.0
    memory_mb: int = 1024
    grace_s: float = 1.0

    def __post_init__(self) -> None:
        for name in ("equation_s", "document_s", "grace_s"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"Limits.{name} (={value!r}) must be a positive finite number")
        if not (isinstance(self.memory_mb, int) and self.memory_mb >= 128):
            raise ValueError(f"Limits.memory_mb (={self.memory_mb!r}) must be an integer >= 128")


# --- the worker process ------------------------------------------------------------------


def _main() -> None:
    """The worker process: ``python -c '…; _main()' IN_FD OUT_FD MEMORY_MB PARENT_PID``."""
    import resource

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent ends its workers on Ctrl-C
    source, sink, memory_mb, parent = (int(arg) for arg in sys.argv[1:5])
    _die_with(parent)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a CPU-limit kill leaves no core file
    import symconv.check.judge
    import symconv.check.report  # noqa: F401 - imported once, before any document

    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    _serve(Connection(source, writable=False), Connection(sink, readable=False))
    os._exit(0)  # nothing to flush: skip tearing down SymPy


_PR_SET_PDEATHSIG = 1  # prctl(2)


def _die_with(parent: int) -> None:
    """End this worker when process ``parent`` ends: the kernel's parent-death signal
    (Linux), else a thread that polls for a new parent (the worker was orphaned)."""
    armed = False
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
        except (OSError, AttributeError):
            armed = False
    if not armed:

        def watch() -> None:
            while os.getppid() == parent:
                time.sleep(0.2)
            os._exit(1)

        threading.Thread(target=watch, name="symconv-parent-watch", daemon=True).start()
    if os.getppid() != parent:
        os._exit(1)  # it ended before the signal was armed


def _serve(conn: Connection, out: Connection) -> None:
    """The worker's loop: ``("check", …)`` messages in, verdicts out, until EOF."""
    out.send(("ready",))
    truths: dict[bytes, Any] = {}
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return  # the parent has gone
        if not isinstance(message, tuple) or message[0] != "check":
            return
        _check_in_worker(out, message[1:], truths)
        _cpu_limit(_IDLE_CPU_S)


def _cpu_limit(seconds: float) -> None:
    """Let this process use ``seconds`` more CPU time (then SIGXCPU ends it)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = math.ceil(usage.ru_utime + usage.ru_stime + max(seconds, 0.0)) + 1
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _truth(payload: bytes, truths: dict[bytes, Any]) -> Any:
    """A fresh Truth of the pickled problem, its derivation shared with earlier documents."""
    import copy

    from symconv.check.truth import Truth

    prototype = truths.get(payload)
    if prototype is None:
        prototype = Truth(pickle.loads(payload))
        _ = prototype.d, prototype.steps  # the derivation and every step's values, built once
        if len(truths) >= _CACHED_TRUTHS:
            truths.pop(next(iter(truths)))
        truths[payload] = prototype
    return copy.copy(prototype)  # ``base`` is the document's own


def _entry(judgement: Any, name: str) -> dict[str, Any]:
    """The JSON object of one judged equation (design.md), with its ``reason``."""
    from symconv.check.judge import reason_of
    from symconv.check.report import file_json

    entry: dict[str, Any] = file_json(name, [judgement])["equations"][0]
    entry["reason"] = reason_of(judgement)
    return entry


def _check_in_worker(conn: Connection, args: tuple[Any, ...], truths: dict[bytes, Any]) -> None:
    from symconv.check.document import Equation, read_equations
    from symconv.check.judge import Judgement, TimedOut, begin_document, judge_next, time_bound

    payload, text, name, limits, skip, resume, deadline = args

    def left() -> float:
        return float(deadline) - time.monotonic()

    _cpu_limit(left() + limits.grace_s)
    try:
        with time_bound(left()):
            said: list[Equation] = []
            equations = read_equations(text, said=said)
    except TimedOut:
        conn.send(("failed", "timeout", f"reading it took over {limits.document_s:g} s"))
        return
    except MemoryError:
        conn.send(("failed", "resource limit", f"reading it needed over {limits.memory_mb} MB"))
        return
    except RecursionError:
        conn.send(("failed", "resource limit", "reading it nested too deeply"))
        return
    except Exception as exc:  # a fault of the reader, not of the document: say so
        why = f"reading it failed in the checker ({type(exc).__name__}: {exc})"[:300]
        conn.send(("failed", "checker failure", why))
        return
    # a notebook's unlabelled equation is named by cell and line ("cell 3, line 2")
    metas = [(e.latex, e.label or e.name, e.line, e.heading, e.cell, e.ref) for e in equations]
    conn.send(("read", metas))
    try:
        prose = text if isinstance(text, str) else "\n".join(p.text for p in text.parts)
        started = begin_document(
            equations,
            _truth(payload, truths),
            time_limit=limits.equation_s,
            text=prose,
            said=[e.latex for e in said],
        )
    except SymconvError as exc:
        conn.send(("error", exc))
        return
    except Exception as exc:  # the binder's fault, not the document's: say so, stay alive
        why = f"binding its notation failed in the checker ({type(exc).__name__}: {exc})"[:300]
        conn.send(("failed", "checker failure", why))
        return
    # the equations judged by an earlier worker: judged again (no diagnosis) for the state
    for index in range(min(resume, len(equations))):
        if index not in skip and not isinstance(started, list) and left() > 0:
            try:
                judge_next(equations[index], started, seconds=left(), diagnose=False)
            except Exception:  # as when it was judged first
                pass
    if not isinstance(started, list):
        binding = started.binding
        conn.send(("bound", {"text": binding.describe(), **binding.to_json()}))
    conn.send(("resumed",))
    for index in range(resume, len(equations)):
        equation: Equation = equations[index]
        budget = min(limits.equation_s, left())
        if isinstance(started, list):
            judgement = started[index]
        elif budget <= 0:
            judgement = Judgement(
                equation,
                "unchecked",
                f"unchecked: the document's budget of {limits.document_s:g} s was used up",
                reason="timeout",
            )
        else:
            _cpu_limit(budget + limits.grace_s)
            try:
                judgement = judge_next(equation, started, seconds=budget)
            except MemoryError:
                judgement = Judgement(
                    equation,
                    "unchecked",
                    f"unchecked: needed more memory than the limit of {limits.memory_mb} MB",
                    reason="resource limit",
                )
            except Exception as exc:  # one equation must not end the document
                judgement = Judgement(
                    equation,
                    "unchecked",
                    f"unchecked: the checker failed on it ({type(exc).__name__}: {exc})"[:300],
                    reason="checker failure",
                )
        conn.send(("result", index, _entry(judgement, name)))
    conn.send(("done", _peak_kb()))


def _peak_kb() -> int:
    """This process's peak resident memory in KiB.

    Linux's ``VmHWM`` belongs to the address space, which ``exec`` makes anew; getrusage's
    ``ru_maxrss`` survives ``exec`` and so counts the parent's memory at the fork too.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


# --- the parent side ---------------------------------------------------------------------

_Started = subprocess.Popen[bytes]
_SPAWNER: tuple[int, queue.SimpleQueue[Any]] | None = None  # (pid, its requests)
_SPAWNER_LOCK = threading.Lock()


def _spawner_loop(requests: queue.SimpleQueue[Any]) -> None:
    while True:
        start, box, done = requests.get()
        try:
            box.append(start())
        except BaseException as exc:  # handed to the caller
            box.append(exc)
        finally:
            done.set()


def _spawn(start: Callable[[], _Started]) -> _Started:
    """``start()`` (a Popen) run in this process's spawner thread: a daemon thread that
    lives as long as the process, so that Linux's parent-death signal, which follows the
    thread that started a worker, comes when the process ends and not when a pool's or a
    caller's thread does."""
    global _SPAWNER
    if not sys.platform.startswith("linux"):
        return start()
    with _SPAWNER_LOCK:
        if _SPAWNER is None or _SPAWNER[0] != os.getpid():  # none yet, or a forked child
            requests: queue.SimpleQueue[Any] = queue.SimpleQueue()
            threading.Thread(
                target=_spawner_loop, args=(requests,), name="symconv-spawner", daemon=True
            ).start()
            _SPAWNER = (os.getpid(), requests)
        requests = _SPAWNER[1]
    box: list[Any] = []
    done = threading.Event()
    requests.put((start, box, done))
    try:
        done.wait()
    except BaseException:
        done.wait(5.0)  # interrupted: the worker is started in a moment; end it
        if box and isinstance(box[0], subprocess.Popen):
            box[0].kill()
            box[0].wait()
        raise
    if isinstance(box[0], BaseException):
        raise box[0]
    process: _Started = box[0]
    return process


class _Died(Exception):
    """The worker ended (or was killed) before it answered; ``reason`` and text say why."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


class Worker:
    """One persistent worker process (started on first use, replaced when it dies).

    Use from one thread at a time; any thread may (and any other may :meth:`abort` it).
    ``peak_kb`` is the worker's peak resident memory after the last document it finished.
    """

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self.peak_kb = 0
        self._aborted = False
        self._process: subprocess.Popen[bytes] | None = None
        self._send: Connection | None = None
        self._conn: Connection | None = None  # the worker's answers
        self._memory_mb = 0
        self._ready = False

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def pid(self) -> int | None:
        """The worker's process id (None before it is started)."""
        return None if self._process is None else int(self._process.pid)

    def start(self, memory_mb: int | None = None) -> None:
        """Start the worker now (it is started on first use otherwise; it imports the
        checker in the background, :meth:`check` waits for it)."""
        memory_mb = memory_mb or self.limits.memory_mb
        if self._process is not None and self._process.poll() is None:
            if self._memory_mb == memory_mb:
                return
        self.close()  # gone, or an address-space limit that cannot be changed in place
        from_parent, to_worker = os.pipe()  # (read end, write end)
        from_worker, to_parent = os.pipe()
        root = str(Path(__file__).resolve().parents[2])  # the symconv this process runs
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        code = "from symconv.check.isolate import _main; _main()"
        argv = [sys.executable, "-c", code, str(from_parent), str(to_parent), str(memory_mb)]
        argv.append(str(os.getpid()))
        try:
            process = _spawn(
                lambda: subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=None if os.environ.get("SYMCONV_WORKER_STDERR") else subprocess.DEVNULL,
                    pass_fds=(from_parent, to_parent),
                    env=env,
                )
            )
        except BaseException as exc:
            for fd in (to_worker, from_parent, from_worker, to_parent):
                os.close(fd)
            if isinstance(exc, OSError):
                raise WorkerError(f"the checker's worker process cannot start: {exc}") from None
            raise
        os.close(from_parent)
        os.close(to_parent)
        self._process, self._memory_mb, self._ready = process, memory_mb, False
        self._send = Connection(to_worker, readable=False)
        self._conn = Connection(from_worker, writable=False)

    def _wait_ready(self) -> None:
        if self._ready:
            return
        try:
            message = self._receive(time.monotonic() + _START_S, "starting the worker")
        except _Died as died:
            raise WorkerError(f"the checker's worker process cannot start: {died}") from None
        if message != ("ready",):
            self._kill()
            raise WorkerError(f"the checker's worker process answered {message!r}")
        self._ready = True

    def close(self) -> None:
        """End an idle worker: it is told to stop (and exits on its own at once)."""
        send, process = self._send, self._process
        if send is not None:
            try:
                send.send(("stop",))
            except (OSError, ValueError):
                pass
        for conn in (self._send, self._conn):
            if conn is not None:
                conn.close()
        self._process = self._send = self._conn = None
        self._ready = False
        if process is not None and process.poll() is None:
            _STOPPING.append(process)  # reaped later (or by the interpreter at exit)
        _STOPPING[:] = [p for p in _STOPPING if p.poll() is None]

    def _kill(self) -> None:
        process = self._process
        self._process = None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        for conn in (self._send, self._conn):
            if conn is not None:
                conn.close()
        self._send = self._conn = None
        self._ready = False

    def _receive(self, until: float, why: str) -> Any:
        """The next message, or :class:`_Died` when the worker ends or passes ``until``."""
        conn, process = self._conn, self._process
        assert conn is not None and process is not None
        try:
            if conn.poll(max(0.0, until - time.monotonic())):
                return conn.recv()
        except (EOFError, OSError):
            try:
                code: int | None = process.wait(1.0)
            except subprocess.TimeoutExpired:
                code = None
            self._kill()
            if code == -signal.SIGXCPU:
                raise _Died("timeout", f"{why} used up its CPU time") from None
            if code == -signal.SIGKILL:
                raise _Died("resource limit", f"{why}: the worker was killed") from None
            if code is not None and code > 0:
                # an exception ended it: the checker's fault, not a limit the document hit
                raise _Died("checker failure", f"{why}: the checker failed (exit {code})") from None
            raise _Died("resource limit", f"{why}: the worker ended (exit {code})") from None
        self._kill()
        raise _Died("timeout", f"{why} did not finish in its budget; the worker was killed")

    def abort(self) -> None:
        """From any thread: end the document being judged now (its :meth:`check` raises
        :class:`~symconv.errors.WorkerError` at once instead of going on with another
        worker), e.g. when the batch it belongs to is interrupted."""
        self._aborted = True
        process = self._process
        if process is not None and process.poll() is None:
            try:
                process.kill()
            except OSError:
                pass

    def check(
        self,
        text: str | Source,
        problem: Problem | bytes,
        *,
        name: str = "<text>",
        limits: Limits | None = None,
    ) -> dict[str, Any]:
        """The JSON object of one file (design.md), judged within ``limits``.

        ``problem`` may be given pickled (a batch pickles it once).  A SymconvError of
        the problem itself (a derivation too large to build) is raised here.
        """
        try:
            return self._check(text, problem, name, limits or self.limits)
        finally:
            self._aborted = False  # an abort ends one document

    def _check(
        self, text: str | Source, problem: Problem | bytes, name: str, limits: Limits
    ) -> dict[str, Any]:
        payload = problem if isinstance(problem, bytes) else pickle.dumps(problem)
        deadline = time.monotonic() + limits.document_s
        metas: list[_Meta] | None = None
        entries: list[dict[str, Any]] = []
        skip: set[int] = set()
        failures: list[tuple[str, str, str | None]] = []  # reason, message, equation
        error: SymconvError | None = None
        binding: dict[str, Any] | None = None
        broken = 0  # workers found dead before they were given the document
        while True:
            if self._aborted:
                self._kill()
                raise WorkerError("the check was stopped")
            self.start(limits.memory_mb)
            self._wait_ready()
            if metas is None:
                deadline = time.monotonic() + limits.document_s  # the budget starts now
            assert self._send is not None
            try:
                self._send.send(
                    ("check", payload, text, name, limits, frozenset(skip), len(entries), deadline)
                )
            except OSError:
                self._kill()  # it ended while idle: start another
                broken += 1
                if broken > 2:
                    raise WorkerError(
                        "the checker's worker process ends as soon as it starts"
                    ) from None
                continue
            resumed = False
            try:
                while True:
                    if not resumed:
                        why = "reading the document" if metas is None else "replaying"
                        until = deadline + limits.grace_s
                    else:
                        why = f"equation {_label(metas, len(entries))}"
                        until = min(
                            time.monotonic() + limits.equation_s + limits.grace_s,
                            deadline + limits.grace_s,
                        )
                    message = self._receive(until, why)
                    kind = message[0]
                    if kind == "read":
                        metas = message[1]
                    elif kind == "bound":
                        binding = message[1]
                    elif kind == "resumed":
                        resumed = True
                    elif kind == "result":
                        entries.append(message[2])
                    elif kind == "done":
                        self.peak_kb = int(message[1])
                        break
                    elif kind == "failed":
                        failures.append((message[1], f"reading the document: {message[2]}", None))
                        break
                    elif kind == "error":
                        error = message[1]
                        break
            except _Died as died:
                if metas is None or not resumed:
                    failures.append((died.reason, str(died), None))
                    break  # reading or replaying is what failed: not tried again
                label = _label(metas, len(entries))
                failures.append((died.reason, str(died), label))
                entries.append(_unchecked(metas[len(entries)], died.reason, str(died)))
                skip.add(len(entries) - 1)
                if len(entries) < len(metas) and time.monotonic() < deadline:
                    continue  # a new worker judges the rest
            except BaseException:
                self._kill()  # interrupted mid-document: its answers must not be read later
                raise
            break
        if error is not None:
            raise error
        if metas is not None and len(entries) < len(metas):
            # no time (or no worker) left for the rest of the document
            if failures and failures[-1][2] is None:
                reason, message = failures[-1][0], failures[-1][1]  # replaying failed
            else:
                reason = "timeout"
                message = f"the document's budget of {limits.document_s:g} s was used up"
                failures.append((reason, message, None))
            for meta in metas[len(entries) :]:
                entries.append(_unchecked(meta, reason, message))
        data = _file_object(name, entries, failures)
        if binding is not None:
            data["binding"] = binding
        return data


def _label(metas: list[_Meta] | None, index: int) -> str:
    if metas is None or index >= len(metas):
        return "?"
    _, label, line, *_ = metas[index]
    return label if label else f"line {line}"


def _unchecked(meta: _Meta, reason: str, why: str) -> dict[str, Any]:
    """The JSON object of an equation no worker could judge."""
    latex, label, line, _, cell, ref = meta
    return {
        "label": label if label else f"line {line}",
        "line": line,
        "cell": cell,
        "ref": ref,
        "verdict": "unchecked",
        "message": f"unchecked: {why}",
        "expected": None,
        "diagnosis": None,
        "diagnosis_kind": None,
        "latex": latex,
        "quantity": None,
        "step": None,
        "entry": None,
        "value": None,
        "links": [],
        "reason": reason,
    }


def _file_object(
    name: str, entries: list[dict[str, Any]], failures: list[tuple[str, str, str | None]]
) -> dict[str, Any]:
    counts = dict.fromkeys(VERDICTS, 0)
    for entry in entries:
        counts[entry["verdict"]] += 1
    data: dict[str, Any] = {"file": name, "equations": entries, "summary": counts}
    # an equation cut short inside the worker (its own budget, or memory) hit a limit too
    noted = {label for _, _, label in failures}
    for entry in entries:
        if entry.get("reason") in _LIMITS and entry["label"] not in noted:
            why = entry["message"].removeprefix("unchecked: ")
            failures.append((entry["reason"], why, entry["label"]))
            noted.add(entry["label"])
    if failures:
        reasons = list(dict.fromkeys(reason for reason, _, _ in failures))
        data["failure"] = {
            "reason": reasons[0],
            "message": "; ".join(list(dict.fromkeys(message for _, message, _ in failures))[:3]),
            "equations": [label for _, _, label in failures if label is not None],
        }
    return data


def failure_summary(files: list[dict[str, Any]]) -> dict[str, Any]:
    """How many files hit a limit, and why: ``{"files", "failed", "reasons": {reason: n}}``.

    Example:
        >>> failure_summary([{"file": "a"}, {"file": "b", "failure": {"reason": "timeout"}}])
        {'files': 2, 'failed': 1, 'reasons': {'timeout': 1}}
    """
    reasons: dict[str, int] = {}
    for data in files:
        failure = data.get("failure")
        if failure:
            reasons[failure["reason"]] = reasons.get(failure["reason"], 0) + 1
    return {"files": len(files), "failed": sum(reasons.values()), "reasons": reasons}


# --- a pool of idle workers for any caller ------------------------------------------------

_IDLE: list[Worker] = []
_IDLE_LOCK = threading.Lock()


def pool_size() -> int:
    """Idle workers kept for later calls (one per CPU)."""
    return max(1, os.cpu_count() or 1)


def borrow() -> Worker:
    """An idle worker of the pool (a new one if none is idle); :func:`give_back` it."""
    with _IDLE_LOCK:
        if _IDLE:
            return _IDLE.pop()
    return Worker()


def give_back(worker: Worker) -> None:
    with _IDLE_LOCK:
        if len(_IDLE) < pool_size():
            _IDLE.append(worker)
            return
    worker.close()


def check_isolated(
    text: str | Source,
    problem: Problem | bytes,
    *,
    name: str = "<text>",
    limits: Limits | None = None,
) -> dict[str, Any]:
    """:meth:`Worker.check` on an idle worker of the pool (from any thread)."""
    worker = borrow()
    try:
        return worker.check(text, problem, name=name, limits=limits)
    finally:
        give_back(worker)


def _close_idle() -> None:
    with _IDLE_LOCK:
        workers, _IDLE[:] = list(_IDLE), []
    for worker in workers:
        worker.close()


atexit.register(_close_idle)
