"""Entry point of the `sessions` job: events table -> sessions table, with conversion flags.

    ./spark-submit.sh sessions --warehouse <dir|URI> [--source NAME] [--gap-minutes N]
                               [--conversion REGEX] [--from YYYY-MM-DD --to YYYY-MM-DD]
"""
import sys

from clickstream import cli, sessions


def main(argv):
    cfg = sessions.parse_args(argv)
    from clickstream.session import build_session

    sessions.run(build_session("clickstream-sessions"), cfg)
    return cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.guarded(main, sys.argv[1:], "sessions"))
