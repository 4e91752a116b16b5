"""Which errors mean "the change data feed is gone" (tables.change_feed_gone): the
conditions and Java classes Delta and Spark raise, reproduced in tests/runs/test_change_feed.py
(a vacuumed feed) and by hand (a feed switched off for some versions: DELTA_MISSING_CHANGE_DATA
from AnalysisException; commit files cleaned by log retention: DeltaFileNotFoundException with
DELTA_LOG_FILE_NOT_FOUND inside a Py4JJavaError). Anything else is not "gone"."""
from __future__ import annotations

import pytest

from clickstream.warehouse import tables


class Java:
    """A stand-in for a py4j JavaObject: its class name, its condition, its cause."""

    def __init__(self, name, condition=None, cause=None):
        self.name, self.condition, self.cause = name, condition, cause

    def getClass(self):
        return self

    def getName(self):
        return self.name

    def getCondition(self):
        return self.condition

    def getCause(self):
        return self.cause


class Captured(Exception):
    """PySpark's captured errors: a condition of their own."""

    def __init__(self, condition):
        super().__init__(condition)
        self.condition = condition

    def getCondition(self):
        return self.condition


class Py4J(Exception):
    """py4j's Py4JJavaError: the Java exception, with its cause chain."""

    def __init__(self, java):
        super().__init__("An error occurred while calling o1.load.")
        self.java_exception = java


@pytest.mark.parametrize("err, gone", [
    (Captured("DELTA_MISSING_CHANGE_DATA"), True),
    (Py4J(Java("org.apache.spark.sql.delta.DeltaFileNotFoundException", "DELTA_LOG_FILE_NOT_FOUND")), True),
    (Py4J(Java("org.apache.spark.SparkException", None,
               Java("org.apache.spark.SparkException", "FAILED_READ_FILE.FILE_NOT_EXIST"))), True),
    (Py4J(Java("org.apache.spark.SparkException", None, Java("java.io.FileNotFoundException"))), True),
    (Py4J(Java("org.apache.spark.SparkException", None, Java("org.apache.spark.SparkFileNotFoundException"))),
     True),  # a vacuumed file on Spark 3.5
    (Captured("INSUFFICIENT_PERMISSIONS"), False),
    (Py4J(Java("java.nio.file.AccessDeniedException")), False),
    (Py4J(Java("org.apache.spark.SparkException", None,
               Java("com.amazonaws.services.s3.model.AmazonS3Exception", None))), False),
    (RuntimeError("credentials expired"), False),
])
def test_only_the_errors_of_a_gone_feed_count_as_gone(err, gone):
    assert tables.change_feed_gone(err) is gone
