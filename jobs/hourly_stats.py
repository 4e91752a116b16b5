"""Entry point of the `hourly_stats` job: the events table -> hourly_stats (or hourly_stats_<dims>).

Options: docs/reference.md, or `./spark-submit.sh hourly_stats --help`.
"""
import sys

from clickstream.config import cli
from clickstream.runs import hourly_stats


def main(cfg):
    from clickstream.config.spark_session import build_session

    spark = build_session("clickstream-hourly-stats")
    hourly_stats.run(spark, cfg)
    return cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.guarded(hourly_stats.parse_args, main, sys.argv[1:], "hourly_stats"))
