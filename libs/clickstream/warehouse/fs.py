"""File-system edges through Hadoop's FileSystem, so local paths, `file://`, `s3://`
and `s3a://` URIs all work the same way (the JVM side of the session does the I/O)."""
from __future__ import annotations

import json
import posixpath
import re
import uuid

from py4j.protocol import Py4JJavaError
from pyspark.sql import SparkSession

from clickstream.config.errors import UsageError


def _path(spark: SparkSession, uri: str):
    jvm = spark.sparkContext._jvm
    try:
        path = jvm.org.apache.hadoop.fs.Path(uri)
        return path, path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    except Py4JJavaError as err:  # the JVM's exception, e.g. no FileSystem for a scheme
        raise UsageError(f"cannot use path {uri}: {first_line(err)}") from None


def first_line(err: BaseException) -> str:
    """The line of an error worth showing: the Java exception's, else the first."""
    # py4j puts the Java error on a line of its own that starts with ": ".
    lines = [text for text in (line.strip().lstrip(": ") for line in str(err).splitlines()) if text]
    java = [line for line in lines if "Exception:" in line]
    return (java or lines or [type(err).__name__])[0]


def literal_path(path: str) -> str:
    """`path` as a glob that matches only itself: Hadoop's glob characters escaped with
    a backslash ('a[1].json' -> 'a\\[1\\].json'). Spark's readers glob every path."""
    return re.sub(r"([\\\[\]{}*?])", r"\\\1", path)


def _hidden(name: str) -> bool:
    # Spark's file sources skip these too (_SUCCESS, .crc files, _delta_log, ...).
    return name.startswith(("_", "."))


def _file_statuses(spark: SparkSession, pattern: str) -> list:
    """The Hadoop FileStatus of every visible file under a file, directory or glob."""
    path, fs = _path(spark, pattern)
    try:
        statuses = fs.globStatus(path)
    except Py4JJavaError as err:  # the JVM's IOException
        raise UsageError(f"cannot read input {pattern}: {first_line(err)}") from None
    files = []
    for status in statuses or []:
        if status.isDirectory():
            it = fs.listFiles(status.getPath(), True)
            while it.hasNext():
                child = it.next()
                rel = child.getPath().toString()[len(status.getPath().toString()):]
                if not any(_hidden(part) for part in rel.split("/") if part):
                    files.append(child)
        elif not _hidden(status.getPath().getName()):
            files.append(status)
    return files


def list_files(spark: SparkSession, pattern: str) -> list[str]:
    """Files under a file, directory or glob, recursively, sorted; [] if none.

    Names are fully qualified (`file:/...`, `s3a://...`), as Spark's `_metadata.file_path`
    gives them. Hidden names (`_*`, `.*`) are skipped, as Spark's file sources skip them.
    """
    return sorted(status.getPath().toString() for status in _file_statuses(spark, pattern))


def file_stats(spark: SparkSession, pattern: str) -> dict[str, tuple[int, int]]:
    """`list_files`, each with its size in bytes and modification time (ms since the epoch)."""
    return {status.getPath().toString(): (status.getLen(), status.getModificationTime())
            for status in _file_statuses(spark, pattern)}


def exists(spark: SparkSession, uri: str) -> bool:
    path, fs = _path(spark, uri)
    return bool(fs.exists(path))


def list_input_files(spark: SparkSession, pattern: str) -> dict[str, tuple[int, int]]:
    """`file_stats`, but a UsageError when nothing matches: a path that does not exist,
    or a glob that matches no file. An existing directory with no (visible) file in it
    is no error: {} (a feed that sent nothing today)."""
    files = dict(sorted(file_stats(spark, pattern).items()))
    if not files and not is_directory(spark, pattern):
        raise UsageError(f"input path matches no files: {pattern}")
    return files


def is_directory(spark: SparkSession, uri: str) -> bool:
    """True for a directory, False for a file or nothing at all. Any other failure (no
    permission, a bucket that does not exist, a store that does not answer) is a
    UsageError that names it, not "not a directory"."""
    path, fs = _path(spark, uri)
    try:
        return bool(fs.getFileStatus(path).isDirectory())
    except Py4JJavaError as err:
        not_found = spark.sparkContext._jvm.java.lang.Class.forName("java.io.FileNotFoundException")
        if not_found.isInstance(err.java_exception):
            return False
        raise UsageError(f"cannot read {uri}: {first_line(err)}") from None


def subdirectories(spark: SparkSession, uri: str) -> list[str]:
    """Names of the directories directly under `uri`, sorted; [] if it does not exist."""
    path, fs = _path(spark, uri)
    if not fs.exists(path):
        return []
    return sorted(s.getPath().getName() for s in fs.listStatus(path) if s.isDirectory())


def normalize(spark: SparkSession, uri: str) -> str:
    """One spelling per file: 'file:///tmp/a' and 'file:/tmp/a' -> 'file:/tmp/a'."""
    return spark.sparkContext._jvm.org.apache.hadoop.fs.Path(uri).toString()


def file_uri(spark: SparkSession, path: str) -> str:
    """A file as Spark's `_metadata.file_path` (and so the tables' `source_file`) spells
    it, escaped as a URI: 'file:/tmp/a b.json' -> 'file:/tmp/a%20b.json'."""
    return spark.sparkContext._jvm.org.apache.hadoop.fs.Path(path).toUri().toString()


def from_uri(spark: SparkSession, uri: str) -> str:
    """The inverse of `file_uri`, as `normalize` spells it: 'file:///tmp/a%20b.json' -> 'file:/tmp/a b.json'."""
    jvm = spark.sparkContext._jvm
    return jvm.org.apache.hadoop.fs.Path(jvm.java.net.URI(uri)).toString()


def read_text(spark: SparkSession, uri: str) -> str | None:
    """A whole (small) text file, or None when it does not exist."""
    path, fs = _path(spark, uri)
    if not fs.exists(path):
        return None
    stream = fs.open(path)
    try:
        reader = spark.sparkContext._jvm.java.io.BufferedReader(
            spark.sparkContext._jvm.java.io.InputStreamReader(stream, "UTF-8"))
        lines = []
        line = reader.readLine()
        while line is not None:
            lines.append(line)
            line = reader.readLine()
        return "\n".join(lines)
    finally:
        stream.close()


def read_first_line(spark: SparkSession, uri: str) -> str | None:
    """The first line of a file as UTF-8 text, without its line break, or None for an
    empty file: a CSV header, read without reading the rest of the file. A compressed
    file (.gz, .bz2, ... by its suffix, as Spark's text reader decides) is decompressed."""
    path, fs = _path(spark, uri)
    jvm = spark.sparkContext._jvm
    stream = fs.open(path)
    try:
        codec = _codecs(spark).getCodec(path)
        text = codec.createInputStream(stream) if codec is not None else stream
        return jvm.java.io.BufferedReader(jvm.java.io.InputStreamReader(text, "UTF-8")).readLine()
    finally:
        stream.close()


def _codecs(spark: SparkSession):
    """Hadoop's compression codecs by file suffix, as Spark's text reader picks them."""
    return spark.sparkContext._jvm.org.apache.hadoop.io.compress.CompressionCodecFactory(
        spark.sparkContext._jsc.hadoopConfiguration())


def compressed(spark: SparkSession, uris) -> set[str]:
    """The URIs among `uris` that Spark's text reader decompresses: those whose suffix
    names one of Hadoop's compression codecs (asked once per suffix)."""
    jvm, codecs = spark.sparkContext._jvm, _codecs(spark)
    by_suffix: dict[str, bool] = {}
    out = set()
    for uri in uris:
        name = uri.rsplit("/", 1)[-1]
        suffix = name.rsplit(".", 1)[-1] if "." in name else ""
        if suffix not in by_suffix:
            probe = jvm.org.apache.hadoop.fs.Path(f"x.{suffix}")  # the codec goes by the name's suffix alone
            by_suffix[suffix] = bool(suffix) and codecs.getCodec(probe) is not None
        if by_suffix[suffix]:
            out.add(uri)
    return out


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


# Object stores: a file appears whole when its one PUT completes (and a rename is a copy).
OBJECT_STORES = ("s3", "s3a", "s3n", "gs", "abfs", "abfss", "wasb", "wasbs")


def write_text_atomic(spark: SparkSession, uri: str, text: str) -> None:
    """Write a whole (small) text file so that a reader sees the old file or the new
    one, never half of one: on an object store one PUT; elsewhere a hidden temporary
    name in the same directory, then a rename over the target."""
    path, fs = _path(spark, uri)
    if (path.toUri().getScheme() or fs.getUri().getScheme()) in OBJECT_STORES:
        write_text(spark, uri, text)
        return
    temporary = join(uri.rsplit("/", 1)[0], f".{path.getName()}.{uuid.uuid4().hex[:12]}.tmp")
    write_text(spark, temporary, text)
    temp_path, _ = _path(spark, temporary)
    # A local file system renames over the target; HDFS refuses to: then replace it.
    if not fs.rename(temp_path, path) and not (fs.delete(path, False) and fs.rename(temp_path, path)):
        fs.delete(temp_path, False)
        raise RuntimeError(f"could not write {uri}")


def write_json(spark: SparkSession, uri: str, data: dict) -> None:
    """Write a run report or another small JSON document, atomically."""
    write_text_atomic(spark, uri, json.dumps(data, indent=2, sort_keys=True) + "\n")


def join(base: str, *parts: str) -> str:
    return posixpath.join(base.rstrip("/"), *parts)


def move_parts(spark: SparkSession, directory: str, suffix: str, target_for, expect: int | None = None) -> list[str]:
    """Move the `part-*<suffix>` files Spark wrote in `directory`, in name order, to
    `target_for(0)`, `target_for(1)`, ... (replacing them), then delete `directory`."""
    dir_path, fs = _path(spark, directory)
    parts = sorted((s.getPath() for s in fs.listStatus(dir_path)
                    if s.getPath().getName().startswith("part-") and s.getPath().getName().endswith(suffix)),
                   key=lambda p: p.getName())
    if expect is not None and len(parts) != expect:
        raise RuntimeError(f"expected {expect} {suffix} part file(s) in {directory}, found {len(parts)}")
    targets = []
    for i, part in enumerate(parts):
        target = target_for(i)
        target_path, target_fs = _path(spark, target)
        if target_fs.exists(target_path):
            target_fs.delete(target_path, False)
        parent = target_path.getParent()
        if parent is not None:
            target_fs.mkdirs(parent)
        if not fs.rename(part, target_path):
            raise RuntimeError(f"could not move {part.toString()} to {target}")
        targets.append(target)
    fs.delete(dir_path, True)
    return targets


def move_single_part(spark: SparkSession, directory: str, target: str, suffix: str) -> None:
    """Move the one `part-*<suffix>` file Spark wrote in `directory` to `target`, then
    delete `directory`. `target` is replaced."""
    move_parts(spark, directory, suffix, lambda _: target, expect=1)
