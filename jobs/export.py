"""Entry point of the `export` job: a warehouse table -> PostgreSQL or Redshift, idempotently.

    ./spark-submit.sh export --warehouse <dir|URI> --table hourly_stats|sessions|events|hourly_stats_<dims>
                             --jdbc-url jdbc:postgresql://HOST:PORT/DB --target SCHEMA.TABLE [--user U]
                             [--from YYYY-MM-DD --to YYYY-MM-DD] [--source NAME]

The password comes from CLICKSTREAM_JDBC_PASSWORD (or PGPASSWORD).
"""
import sys

from clickstream import cli, export


def main(argv):
    cfg = export.parse_args(argv)
    from clickstream.session import build_session

    export.run(build_session("clickstream-export"), cfg)
    return cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.guarded(main, sys.argv[1:], "export"))
