"""Entry point of the `events` job: raw event lines -> the events and rejects tables.

Options: docs/reference.md, or `./spark-submit.sh events --help`.
"""
import sys

from clickstream.config import cli
from clickstream.runs import events


def main(cfg):
    from clickstream.config.spark_session import build_session

    spark = build_session("clickstream-events")
    return events.run(spark, cfg).exit_code


if __name__ == "__main__":
    sys.exit(cli.guarded(events.parse_args, main, sys.argv[1:], "events"))
