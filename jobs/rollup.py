"""Entry point of the `rollup` job: hourly_stats (or hourly_stats_<dims>) -> daily_stats,
weekly_stats or monthly_stats, with unique users from the union of HLL sketches.

Options: docs/reference.md, or `./spark-submit.sh rollup --help`.
"""
import sys

from clickstream.config import cli
from clickstream.runs import rollup


def main(cfg):
    from clickstream.config.spark_session import build_session

    spark = build_session("clickstream-rollup")
    rollup.run(spark, cfg)
    return cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.guarded(rollup.parse_args, main, sys.argv[1:], "rollup"))
