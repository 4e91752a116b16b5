"""Entry point of the `hourly_stats` job: events table -> hourly activity table.

    ./spark-submit.sh hourly_stats --warehouse <dir|URI> [--from YYYY-MM-DD] [--to YYYY-MM-DD]
                                   [--dimensions url_level2[,url_level3]] [--csv PATH]
"""
import sys

from clickstream import cli, hourly_stats


def main(argv):
    cfg = hourly_stats.parse_args(argv)
    from clickstream.session import build_session

    hourly_stats.run(build_session("clickstream-hourly-stats"), cfg)
    return cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.guarded(main, sys.argv[1:], "hourly_stats"))
