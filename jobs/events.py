"""Entry point of the `events` job: raw event lines -> events and rejects tables.

    ./spark-submit.sh events --input <file|dir|glob|URI> --warehouse <dir|URI> [--source hipages]
                             [--date D | --from D [--to D] [--layout L] | --new-files-only]
                             [--max-reject-rate 0.05] [--run-id ID] [--csv PATH]
"""
import sys

from clickstream import cli, events


def main(argv):
    cfg = events.parse_args(argv)
    from clickstream.session import build_session

    spark = build_session("clickstream-events")
    return events.run(spark, cfg).exit_code


if __name__ == "__main__":
    sys.exit(cli.guarded(main, sys.argv[1:], "events"))
