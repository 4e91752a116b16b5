"""Entry point of the `export` job: a warehouse table -> PostgreSQL or Redshift, idempotently.

Options: docs/reference.md, or `./spark-submit.sh export --help`.
"""
import sys

from clickstream.config import cli
from clickstream.runs import export


def main(cfg):
    from clickstream.config.spark_session import build_session

    spark = build_session("clickstream-export")
    export.run(spark, cfg)
    return cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.guarded(export.parse_args, main, sys.argv[1:], "export"))
