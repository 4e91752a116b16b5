"""Entry point of the `report` job: the warehouse's last days as one self-contained HTML
page (charts, freshness, anomaly flags), the flags also in its run report.

Options: docs/reference.md, or `./spark-submit.sh report --help`.
"""
import sys

from clickstream.config import cli
from clickstream.runs import report


def main(cfg):
    from clickstream.config.spark_session import build_session

    spark = build_session("clickstream-report")
    report.run(spark, cfg)
    return cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.guarded(report.parse_args, main, sys.argv[1:], "report"))
