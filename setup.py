"""clickstream: a PySpark batch pipeline from raw web-event lines to Delta Lake tables."""
from setuptools import find_packages, setup

setup(
    name="clickstream",
    version="0.1.0",
    description="Raw web-event JSON lines to validated, partitioned Delta Lake tables",
    python_requires=">=3.9",
    package_dir={"": "libs"},
    packages=find_packages("libs"),
    install_requires=[
        # Spark 3.5 (EMR 7) up to the newest Spark that delta-spark supports.
        "pyspark>=3.5,<4.3",
        # delta-spark 4.4.1 is excluded: its JVM artifact is not on Maven Central,
        # so `--packages` cannot fetch it (see libs/clickstream/packages.py).
        "delta-spark>=3.2,<4.5,!=4.4.1",
    ],
    extras_require={
        "dev": [
            "pytest>=8,<10",
            "chispa>=0.10,<0.13",
            "deltalake>=0.25,<2",
            "pyarrow>=15",
        ],
    },
)
