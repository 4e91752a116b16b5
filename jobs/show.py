"""Entry point of the `show` job: where the warehouse's tables are, how big, and their first rows.

Options: docs/reference.md, or `./spark-submit.sh show --help`.
"""
import sys

from clickstream.config import cli
from clickstream.runs import show


def main(cfg):
    from clickstream.config.spark_session import build_session

    spark = build_session("clickstream-show")
    return show.run(spark, cfg)


if __name__ == "__main__":
    sys.exit(cli.guarded(show.parse_args, main, sys.argv[1:], "show"))
