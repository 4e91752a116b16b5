"""Entry point of the `generate` job: generated hipages-format JSON lines, for load tests.

Options: docs/reference.md, or `./spark-submit.sh generate --help`.
"""
import sys

from clickstream.config import cli
from clickstream.runs import generate


def main(cfg):
    from clickstream.config.spark_session import build_session

    spark = build_session("clickstream-generate")
    generate.run(spark, cfg)
    return cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.guarded(generate.parse_args, main, sys.argv[1:], "generate"))
