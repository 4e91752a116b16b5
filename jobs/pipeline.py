"""Entry point of the `pipeline` job: events, hourly_stats and sessions in one application.

Options: docs/reference.md, or `./spark-submit.sh pipeline --help`.
"""
import sys

from clickstream.config import cli
from clickstream.runs import pipeline


def main(cfg):
    from clickstream.config.spark_session import build_session

    spark = build_session("clickstream-pipeline")
    return pipeline.run(spark, cfg)


if __name__ == "__main__":
    sys.exit(cli.guarded(pipeline.parse_args, main, sys.argv[1:], "pipeline"))
