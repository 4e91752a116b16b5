"""Entry point of the `show` job: where the warehouse's tables are, how big, and their first rows.

Options: README, "Command line", or `./spark-submit.sh show --help`.
"""
import sys

from clickstream import cli, show


def main(cfg):
    from clickstream.session import build_session

    spark = build_session("clickstream-show")
    return show.run(spark, cfg)


if __name__ == "__main__":
    sys.exit(cli.guarded(show.parse_args, main, sys.argv[1:], "show"))
