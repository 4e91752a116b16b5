"""Entry point of the `show` job: print where the tables are and their first rows.

    ./spark-submit.sh show --warehouse <dir|URI> [--table events] [--rows 5]
"""
import sys

from clickstream import cli, show


def main(argv):
    args = show.parse_args(argv)
    from clickstream.session import build_session

    return show.run(build_session("clickstream-show"), args)


if __name__ == "__main__":
    sys.exit(cli.guarded(main, sys.argv[1:], "show"))
