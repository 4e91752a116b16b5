"""Entry point of the `export` job: a warehouse table -> PostgreSQL or Redshift, idempotently.

Options: README, "Command line", or `./spark-submit.sh export --help`.
"""
import sys

from clickstream import cli, export


def main(cfg):
    from clickstream.session import build_session

    spark = build_session("clickstream-export")
    export.run(spark, cfg)
    return cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.guarded(export.parse_args, main, sys.argv[1:], "export"))
