"""The quiet console's filters (libs/clickstream/console.py), line by line."""

from __future__ import annotations

from clickstream.deploy import console

from helpers import IVY_REPORT, QUIET_REPORT


def lines(text: bytes) -> list[bytes]:
    return text.splitlines(keepends=True)


def test_stderr_keeps_a_download_the_problems_and_everything_after_the_report():
    assert b"".join(console.quiet_stderr(lines(IVY_REPORT))) == QUIET_REPORT


def test_a_failed_resolution_shows_its_problems_and_the_exception_with_its_stack():
    failed = (b":: loading settings :: file = /x/ivysettings.xml\n"
              b":: resolving dependencies :: org.apache.spark#spark-submit-parent-1;1.0\n"
              b"\t\tmodule not found: io.delta#delta-spark_4.2_2.13;9.9.9\n"
              b"\t::::::::::::::::::::::::::::::::::::::::::::::\n"
              b"\t::          UNRESOLVED DEPENDENCIES         ::\n"
              b"\t:: io.delta#delta-spark_4.2_2.13;9.9.9: not found\n"
              b"Exception in thread \"main\" java.lang.RuntimeException: [unresolved dependency: x]\n"
              b"\tat org.apache.spark.util.MavenUtils$.resolveMavenCoordinates(MavenUtils.scala:1)\n")
    assert list(console.quiet_stderr(lines(failed))) == lines(failed)[2:]


def test_a_jobs_own_lines_pass_untouched_even_when_they_look_like_ivys():
    job = [b"events run_id=r status=succeeded\n", b"\tindented\n", b"\n", b":: not ivy\n", b"\xff\xfe bytes\n",
           b"no newline at the end"]
    assert list(console.quiet_stderr(job)) == job
    assert list(console.quiet_stdout([b":: loading settings :: file = /x/ivysettings.xml\n", *job])) == job


def test_datasketches_note_on_java_17_is_left_out_of_both_streams():
    """DataSketches prints it once per JVM on Java 17 (`make run` showed it); it needs no
    off-heap memory here. A line that only mentions it stays."""
    note = b"Warning: Java versions > Java 11 can only operate in restricted mode where no off-heap operations are allowed!\n"
    kept = [b"events run_id=r\n", b"a line that quotes " + note]
    assert list(console.quiet_stderr([note, *kept])) == kept
    assert list(console.quiet_stdout([*kept, note])) == kept
