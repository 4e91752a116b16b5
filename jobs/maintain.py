"""Entry point of the `maintain` job: OPTIMIZE and VACUUM the warehouse's tables.

Options: README, "Command line", or `./spark-submit.sh maintain --help`.
"""
import sys

from clickstream import cli, maintain


def main(cfg):
    from clickstream.session import build_session

    spark = build_session("clickstream-maintain")
    maintain.run(spark, cfg)
    return cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.guarded(maintain.parse_args, main, sys.argv[1:], "maintain"))
