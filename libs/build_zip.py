"""Build the library zip that spark-submit ships with --py-files.

usage: python libs/build_zip.py ROOT OUT_ZIP

Puts ROOT/libs/clickstream/**/*.py in the zip, with the source profiles
ROOT/conf/sources/*.json and the Spark settings ROOT/conf/spark/*.properties as
clickstream/conf/..., so that a driver which has only the zip (cluster deploy
mode) still finds them.
"""
import os
import sys
import tempfile
import zipfile

# The conf/ files that travel inside the package: (folder, suffix). setup.py ships
# the same ones in the wheel.
CONF_FILES = (("sources", ".json"), ("spark", ".properties"))


def members(root: str):
    """(path on disk, name in the zip) for every file the zip holds, in a stable order."""
    libs = os.path.join(root, "libs")
    for folder, dirs, files in os.walk(os.path.join(libs, "clickstream")):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                yield path, os.path.relpath(path, libs)
    for folder, suffix in CONF_FILES:
        directory = os.path.join(root, "conf", folder)
        for name in sorted(os.listdir(directory)):
            if name.endswith(suffix):
                yield os.path.join(directory, name), f"clickstream/conf/{folder}/{name}"


def build(root: str, out_zip: str) -> None:
    out_dir = os.path.dirname(out_zip) or "."
    os.makedirs(out_dir, exist_ok=True)
    # A private temporary name, then an atomic rename: runs started at the same time
    # may all rebuild the zip, and none sees a half-written one.
    fd, tmp = tempfile.mkstemp(prefix=".clickstream-", suffix=".zip", dir=out_dir)
    os.close(fd)
    os.chmod(tmp, 0o644)
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, name in members(root):
            zf.write(path, name)
    os.replace(tmp, out_zip)
    print(f"built {out_zip}")


if __name__ == "__main__":
    build(sys.argv[1], sys.argv[2])
