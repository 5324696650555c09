"""Ctrl-C held off inside :func:`acts_gnn.interrupts.interrupts_held` and raised at its end."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from acts_gnn.interrupts import interrupts_held


def test_ctrl_c_inside_the_block_is_raised_when_it_ends():
    handler = signal.getsignal(signal.SIGINT)
    done = []
    with pytest.raises(KeyboardInterrupt):
        with interrupts_held():
            os.kill(os.getpid(), signal.SIGINT)
            for step in range(1000):  # Python code runs on: the signal is only noted
                done.append(step)
    assert len(done) == 1000
    assert signal.getsignal(signal.SIGINT) is handler


def test_a_block_without_a_signal_leaves_the_handlers_as_they_were():
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    with interrupts_held(), interrupts_held():  # blocks nest
        pass
    assert {s: signal.getsignal(s) for s in before} == before


def test_nested_blocks_raise_once_at_the_outer_end():
    reached = []
    with pytest.raises(KeyboardInterrupt):
        with interrupts_held():
            with interrupts_held():
                os.kill(os.getpid(), signal.SIGINT)
            reached.append("after the inner block")
    assert reached == ["after the inner block"]


def test_an_error_in_the_block_comes_with_the_interrupt_it_held():
    with pytest.raises(KeyboardInterrupt) as caught:
        with interrupts_held():
            os.kill(os.getpid(), signal.SIGINT)
            raise ValueError("the block failed")
    assert isinstance(caught.value.__context__, ValueError)


def test_another_thread_runs_the_block_as_it_is():
    errors = []

    def work():
        try:
            with interrupts_held():  # signal.signal may not be called here: nothing is held
                pass
        except Exception as exc:  # any error the test reports
            errors.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert errors == []
