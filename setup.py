"""clickstream: a PySpark batch pipeline from raw web-event lines to Delta Lake tables."""
import sys
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

sys.path.insert(0, str(Path(__file__).parent / "libs"))
from build_zip import CONF_FILES  # noqa: E402 - the one list of what conf/ ships


class BuildPy(build_py):
    """Ship conf/sources/*.json and conf/spark/*.properties inside the package, as
    libs/build_zip.py does for the zip (clickstream/conf/...)."""

    def run(self):
        super().run()
        for folder, suffix in CONF_FILES:
            target = Path(self.build_lib) / "clickstream" / "conf" / folder
            target.mkdir(parents=True, exist_ok=True)
            for path in sorted((Path(__file__).parent / "conf" / folder).glob(f"*{suffix}")):
                self.copy_file(str(path), str(target / path.name))


setup(
    name="clickstream",
    version="0.1.0",
    description="Raw web-event JSON lines to validated, partitioned Delta Lake tables",
    python_requires=">=3.9",
    package_dir={"": "libs"},
    packages=find_packages("libs"),
    cmdclass={"build_py": BuildPy},
    install_requires=[
        # Spark 3.5 (EMR 7) up to the newest Spark that delta-spark supports.
        "pyspark>=3.5,<4.3",
        # delta-spark 4.4.1 is excluded: its JVM artifact is not on Maven Central,
        # so `--packages` cannot fetch it (see libs/clickstream/deploy/packages.py).
        "delta-spark>=3.2,<4.5,!=4.4.1",
    ],
    extras_require={
        # The report job's charts, on the driver only (docs/report.md).
        "report": ["matplotlib>=3.7,<4"],
        "dev": [
            "matplotlib>=3.7,<4",
            "pytest>=8,<10",
            # make test runs the suite's modules on two processes (docs/development.md)
            "pytest-xdist>=3.5,<4",
            "chispa>=0.10,<0.13",
            "deltalake>=0.25,<2",
            "pyarrow>=15",
            # EMR steps checked against the AWS API model and moto's EMR; S3 tests
            # against moto's server; awscli turns the `aws emr add-steps` form back.
            "boto3>=1.34,<2",
            "moto[server]>=5,<6",
            "awscli>=1.32,<2",
            # the benchmark's yardstick (make bench), never a runtime dependency
            "duckdb>=1.1,<2",
            # reads back what `export` published into the tests' PostgreSQL server
            "psycopg[binary]>=3.1,<4",
            # reads a user sketch as another engine would (docs/analysts.md)
            "datasketches>=5,<6",
        ],
    },
)
