"""File-system edges through Hadoop's FileSystem, so local paths, `file://`, `s3://`
and `s3a://` URIs all work the same way (the JVM side of the session does the I/O)."""
from __future__ import annotations

import posixpath

from pyspark.sql import SparkSession

from clickstream.errors import UsageError


def _path(spark: SparkSession, uri: str):
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    return path, path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())


def _hidden(name: str) -> bool:
    # Spark's file sources skip these too (_SUCCESS, .crc files, _delta_log, ...).
    return name.startswith(("_", "."))


def list_input_files(spark: SparkSession, pattern: str) -> list[str]:
    """Files under a file, directory or glob, recursively, sorted; UsageError if none.

    Names are fully qualified (`file:/...`, `s3a://...`), as Spark's `_metadata.file_path`
    gives them.
    """
    path, fs = _path(spark, pattern)
    try:
        statuses = fs.globStatus(path)
    except Exception as err:  # py4j wraps the JVM's IOException
        raise UsageError(f"cannot read input {pattern}: {str(err).splitlines()[0]}") from None
    files = []
    for status in statuses or []:
        if status.isDirectory():
            it = fs.listFiles(status.getPath(), True)
            while it.hasNext():
                child = it.next().getPath()
                rel = child.toString()[len(status.getPath().toString()):]
                if not any(_hidden(part) for part in rel.split("/") if part):
                    files.append(child.toString())
        elif not _hidden(status.getPath().getName()):
            files.append(status.getPath().toString())
    if not files:
        raise UsageError(f"input path matches no files: {pattern}")
    return sorted(files)


def qualify(spark: SparkSession, uri: str) -> str:
    """A path made absolute and given its scheme: 'wh' -> 'file:/home/me/wh'."""
    path, fs = _path(spark, uri)
    return fs.makeQualified(path).toString()


def write_text(spark: SparkSession, uri: str, text: str) -> None:
    """Write a whole (small) text file, replacing it."""
    path, fs = _path(spark, uri)
    out = fs.create(path, True)
    try:
        out.write(bytearray(text.encode("utf-8")))
    finally:
        out.close()


def join(base: str, *parts: str) -> str:
    return posixpath.join(base.rstrip("/"), *parts)
