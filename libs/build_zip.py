"""Build the library zip that spark-submit ships with --py-files.

usage: python libs/build_zip.py LIBS_DIR OUT_ZIP
"""
import os
import sys
import zipfile


def build(libs_dir: str, out_zip: str) -> None:
    os.makedirs(os.path.dirname(out_zip) or ".", exist_ok=True)
    tmp = out_zip + ".tmp"
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
