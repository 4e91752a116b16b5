"""Entry point of the `events` job: raw event lines -> the events and rejects tables.

Options: README, "Command line", or `./spark-submit.sh events --help`.
"""
import sys

from clickstream import cli, events


def main(cfg):
    from clickstream.session import build_session

    spark = build_session("clickstream-events")
    return events.run(spark, cfg).exit_code


if __name__ == "__main__":
    sys.exit(cli.guarded(events.parse_args, main, sys.argv[1:], "events"))
