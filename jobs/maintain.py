"""Entry point of the `maintain` job: OPTIMIZE and VACUUM the warehouse's tables.

    ./spark-submit.sh maintain --warehouse <dir|URI> [--tables events,rejects,...]
                               [--retain-hours 168] [--no-optimize] [--no-vacuum]
"""
import sys

from clickstream import cli, maintain


def main(argv):
    cfg = maintain.parse_args(argv)
    from clickstream.session import build_session

    maintain.run(build_session("clickstream-maintain"), cfg)
    return cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.guarded(main, sys.argv[1:], "maintain"))
