"""Entry point of the `maintain` job: OPTIMIZE and VACUUM the warehouse's tables.

Options: docs/reference.md, or `./spark-submit.sh maintain --help`.
"""
import sys

from clickstream.config import cli
from clickstream.runs import maintain


def main(cfg):
    from clickstream.config.spark_session import build_session

    spark = build_session("clickstream-maintain")
    maintain.run(spark, cfg)
    return cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.guarded(maintain.parse_args, main, sys.argv[1:], "maintain"))
