"""A warehouse on a full file system: the events job stops with one line and exit 1,
and no table holds half a commit. The file system is a tmpfs of its own, mounted by
a system call (no process), so that filling it fills nothing else."""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os

import pytest

from helpers import hipages_line as L
from helpers import run_events, run_job, state, write_lines

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MiB tmpfs at tmp_path/disk, unmounted after the test whatever happens."""
    target = tmp_path / "disk"
    target.mkdir()
    if _libc.mount(b"tmpfs", str(target).encode(), b"tmpfs", 0, b"size=4m") != 0:
        err = ctypes.get_errno()
        if err == errno.EPERM:
            pytest.skip("mounting a tmpfs needs CAP_SYS_ADMIN, which this machine does not give")
        raise OSError(err, os.strerror(err), str(target))
    try:
        yield target
    finally:
        _libc.umount2(str(target).encode(), 2)  # MNT_DETACH


def fill(directory) -> None:
    """Write until the file system is full."""
    with open(directory / "filler", "wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 65536)
        except OSError as err:
            assert err.errno == errno.ENOSPC


def test_a_full_disk_is_one_line_exit_1_and_no_half_written_commit(spark, hipages_profile, small_disk, tmp_path,
                                                                   capsys):
    wh = small_disk / "wh"
    run_events(spark, hipages_profile, write_lines(tmp_path / "a.json", [L("a1"), "{bad"]), wh, "before")
    before = state(spark, wh)
    fill(small_disk)
    src = write_lines(tmp_path / "b.json", [L(f"b{i}") for i in range(50)] + ["{bad"])
    assert run_job(spark, "events", "--input", str(src), "--warehouse", str(wh), "--run-id", "full",
                   "--allow-unsalted") == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("events: error: the storage refused: ") and "No space left on device" in line, line
    (small_disk / "filler").unlink()
    assert state(spark, wh) == before
    assert not (wh / "_runs" / "full.events.json").exists()
