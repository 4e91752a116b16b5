"""Entry point of the `generate` job: deterministic hipages-format JSON lines for load tests.

    ./spark-submit.sh generate --events N --files K --output DIR [--days D] [--users U]
                               [--bad-rate R] [--seed S] [--start YYYY-MM-DD]
"""
import sys

from clickstream import cli, generate


def main(argv):
    cfg = generate.parse_args(argv)
    from clickstream.session import build_session

    generate.run(build_session("clickstream-generate"), cfg)
    return cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.guarded(main, sys.argv[1:], "generate"))
