"""Build the library zip that spark-submit ships with --py-files.

usage: python libs/build_zip.py LIBS_DIR OUT_ZIP
"""
import os
import sys
import tempfile
import zipfile


def build(libs_dir: str, out_zip: str) -> None:
    out_dir = os.path.dirname(out_zip) or "."
    os.makedirs(out_dir, exist_ok=True)
    # A private temporary name, then an atomic rename: runs started at the same time
    # may all rebuild the zip, and none sees a half-written one.
    fd, tmp = tempfile.mkstemp(prefix=".clickstream-", suffix=".zip", dir=out_dir)
    os.close(fd)
    os.chmod(tmp, 0o644)
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for root, dirs, files in os.walk(os.path.join(libs_dir, "clickstream")):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                if name.endswith(".py"):
                    path = os.path.join(root, name)
                    zf.write(path, os.path.relpath(path, libs_dir))
    os.replace(tmp, out_zip)
    print(f"built {out_zip}")


if __name__ == "__main__":
    build(sys.argv[1], sys.argv[2])
