"""Entry point of the `sessions` job: the events table -> sessions, with conversion flags.

Options: docs/reference.md, or `./spark-submit.sh sessions --help`.
"""
import sys

from clickstream.config import cli
from clickstream.runs import sessions


def main(cfg):
    from clickstream.config.spark_session import build_session

    spark = build_session("clickstream-sessions")
    sessions.run(spark, cfg)
    return cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.guarded(sessions.parse_args, main, sys.argv[1:], "sessions"))
