#!/usr/bin/env bash
# Run a clickstream job with spark-submit, on a laptop or a cluster.
#
#   ./spark-submit.sh [spark-submit options] <job> [job options]
#   ./spark-submit.sh events --input data/sample --warehouse /tmp/wh
#   ./spark-submit.sh --master spark://host:7077 --conf k=v events ...
#
# Finds spark-submit ($SPARK_HOME, else the one installed with pyspark), ships the
# library as a .zip with --py-files, adds the pinned JVM packages (Delta Lake) and
# runs jobs/<job>.py. The master is local[*] unless you pass --master.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
die() { echo "spark-submit.sh: error: $*" >&2; exit 2; }

if [[ -n "${CLICKSTREAM_PYTHON:-}" ]]; then PY="$CLICKSTREAM_PYTHON"
elif [[ -x "$ROOT/.venv/bin/python" ]]; then PY="$ROOT/.venv/bin/python"
else PY="$(command -v python3 || true)"; fi
[[ -n "$PY" ]] || die "python3 not found; install Python 3.10+"

if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then JAVA="$JAVA_HOME/bin/java"
else JAVA="$(command -v java || true)"; fi
[[ -n "$JAVA" ]] || die "Java not found: install Java 17+ (Debian/Ubuntu: sudo apt-get install openjdk-17-jre-headless; macOS: brew install openjdk@17) or set JAVA_HOME"

if [[ -n "${SPARK_HOME:-}" ]]; then SUBMIT="$SPARK_HOME/bin/spark-submit"
else
  SPARK_DIR="$("$PY" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))' 2>/dev/null)" \
    || die "pyspark is not installed for $PY: run 'make setup' or set SPARK_HOME"
  SUBMIT="$SPARK_DIR/bin/spark-submit"
fi
[[ -x "$SUBMIT" ]] || die "spark-submit not found at $SUBMIT"

# Split: spark-submit options, then the job name, then the job's own options.
SPARK_OPTS=()
DRIVER_JAVA_OPTS=""
JOB=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --driver-java-options) [[ $# -ge 2 ]] || die "--driver-java-options needs a value"
        DRIVER_JAVA_OPTS="$2"; shift 2 ;;
    --driver-java-options=*) DRIVER_JAVA_OPTS="${1#*=}"; shift ;;
    --verbose|-v|--supervise) SPARK_OPTS+=("$1"); shift ;;
    --*=*) SPARK_OPTS+=("$1"); shift ;;
    -*) [[ $# -ge 2 ]] || die "spark-submit option $1 needs a value"
        SPARK_OPTS+=("$1" "$2"); shift 2 ;;
    *) JOB="$1"; shift; break ;;
  esac
done
JOBS="$(cd "$ROOT/jobs" && ls -1 *.py 2>/dev/null | sed 's/\.py$//' | grep -v '^_' | tr '\n' ' ')"
[[ -n "$JOB" ]] || die "no job given; usage: ./spark-submit.sh [spark-submit options] <job> [job options]; jobs: $JOBS"
[[ -f "$ROOT/jobs/$JOB.py" ]] || die "unknown job '$JOB'; jobs: $JOBS"

# The library, zipped for executors (a .whl on --py-files is not importable by
# Python workers). Rebuilt when any file under libs/ is newer than the zip.
ZIP="$ROOT/dist/clickstream.zip"
if [[ ! -f "$ZIP" ]] || [[ -n "$(find "$ROOT/libs" -name "*.py" -newer "$ZIP" -print -quit)" ]]; then
  "$PY" "$ROOT/libs/build_zip.py" "$ROOT/libs" "$ZIP" >&2
fi

HAS_MASTER=0
for opt in "${SPARK_OPTS[@]+"${SPARK_OPTS[@]}"}"; do
  [[ "$opt" == --master || "$opt" == --master=* ]] && HAS_MASTER=1
done
DEFAULTS=()
if [[ $HAS_MASTER -eq 0 ]]; then
  # Local mode: one machine's cores. Spark's 200 shuffle partitions and Delta's 50
  # log-replay partitions are sized for clusters and cost seconds per step here
  # (AQE still coalesces small shuffles). Any --conf you pass wins over these.
  CORES="$(nproc 2>/dev/null || sysctl -n hw.ncpu 2>/dev/null || echo 2)"
  DEFAULTS+=(--master "local[*]"
    --conf "spark.sql.shuffle.partitions=$((CORES * 4))"
    --conf "spark.databricks.delta.snapshotPartitions=$CORES")
fi
PACKAGES="$(PYTHONPATH="$ROOT/libs" "$PY" -m clickstream.packages)" || exit 2

exec "$SUBMIT" \
  "${DEFAULTS[@]+"${DEFAULTS[@]}"}" \
  --packages "$PACKAGES" \
  --conf spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension \
  --conf spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog \
  --conf spark.sql.session.timeZone=UTC \
  --driver-java-options "-Dlog4j2.configurationFile=file:$ROOT/conf/log4j2.properties $DRIVER_JAVA_OPTS" \
  --conf spark.pyspark.python="$PY" \
  --py-files "$ZIP" \
  "${SPARK_OPTS[@]+"${SPARK_OPTS[@]}"}" \
  "$ROOT/jobs/$JOB.py" "$@"
