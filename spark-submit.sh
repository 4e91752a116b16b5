#!/usr/bin/env bash
# Run a clickstream job with spark-submit, on a laptop or a cluster.
#
#   ./spark-submit.sh [--env NAME[,NAME]] [spark-submit options] <job> [job options]
#   ./spark-submit.sh events --input data/sample --warehouse /tmp/wh
#   ./spark-submit.sh --env cluster --master spark://host:7077 events ...
#   ./spark-submit.sh emr-steps --date 2026-11-23 --code s3://b/clickstream ...   (prints EMR steps)
#   ./spark-submit.sh path/to/script.py ARGS    (your own PySpark script, with the same settings)
#
# Finds spark-submit ($SPARK_HOME, else the one installed with pyspark), ships the
# library (with the source profiles) as dist/clickstream.zip with --py-files, applies
# conf/spark/<env>.properties (default: local) as --conf pairs, adds the pinned JVM
# packages (Delta Lake; hadoop-aws when an argument is an s3a:// URI; the PostgreSQL
# JDBC driver when one is a jdbc:postgresql: URL), runs the JVMs in UTC, and runs
# jobs/<job>.py. Your own --conf and --packages come after ours and win.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
die() { echo "spark-submit.sh: error: $*" >&2; exit 2; }

if [[ -n "${CLICKSTREAM_PYTHON:-}" ]]; then PY="$CLICKSTREAM_PYTHON"
elif [[ -x "$ROOT/.venv/bin/python" ]]; then PY="$ROOT/.venv/bin/python"
else PY="$(command -v python3 || true)"; fi
[[ -n "$PY" ]] || die "python3 not found; install Python 3.10+"

# Split: our --env, spark-submit options, then the job name, then the job's own options.
ENVS="local"
SPARK_OPTS=()
DRIVER_JAVA_OPTS=""
MASTER=""
USER_PACKAGES=""
JOB=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --env) [[ $# -ge 2 ]] || die "--env needs a value"; ENVS="$2"; shift 2 ;;
    --env=*) ENVS="${1#*=}"; shift ;;
    --driver-java-options) [[ $# -ge 2 ]] || die "--driver-java-options needs a value"
        DRIVER_JAVA_OPTS="$2"; shift 2 ;;
    --driver-java-options=*) DRIVER_JAVA_OPTS="${1#*=}"; shift ;;
    --packages) [[ $# -ge 2 ]] || die "--packages needs a value"; USER_PACKAGES="$2"; shift 2 ;;
    --packages=*) USER_PACKAGES="${1#*=}"; shift ;;
    --master) [[ $# -ge 2 ]] || die "--master needs a value"; MASTER="$2"; SPARK_OPTS+=("$1" "$2"); shift 2 ;;
    --master=*) MASTER="${1#*=}"; SPARK_OPTS+=("$1"); shift ;;
    --verbose|-v|--supervise) SPARK_OPTS+=("$1"); shift ;;
    --*=*) SPARK_OPTS+=("$1"); shift ;;
    -*) [[ $# -ge 2 ]] || die "spark-submit option $1 needs a value"
        SPARK_OPTS+=("$1" "$2"); shift 2 ;;
    *) JOB="$1"; shift; break ;;
  esac
done
JOBS="$(cd "$ROOT/jobs" && ls -1 *.py 2>/dev/null | sed 's/\.py$//' | grep -v '^_' | tr '\n' ' ')emr-steps"
[[ -n "$JOB" ]] || die "no job given; usage: ./spark-submit.sh [--env NAME] [spark-submit options] <job> [job options]; jobs: $JOBS"

# EMR steps are rendered, not run: plain Python, no Spark.
if [[ "$JOB" == "emr-steps" ]]; then
  PYTHONPATH="$ROOT/libs" exec "$PY" -m clickstream.deploy.emr "$@"
fi
# A path to a .py file instead of a job: that script, with everything a job gets
# (settings, packages, the zipped library), and no argument check of ours.
# A job is one of the names in jobs/ (never a path: '../tools/bench' is no job).
if [[ "$JOB" == *.py ]]; then
  [[ -f "$JOB" ]] || die "no such script: $JOB"
  APP="$(cd "$(dirname "$JOB")" && pwd)/$(basename "$JOB")"
elif [[ "$JOB" =~ ^[a-z][a-z0-9_]*$ && -f "$ROOT/jobs/$JOB.py" ]]; then
  APP="$ROOT/jobs/$JOB.py"
else
  die "unknown job '$JOB'; jobs: $JOBS (or a path to a .py file)"
fi

# The job's own argument checks, in plain Python before any JVM starts: a bad option,
# profile or date costs under a second and prints the same one line as the driver
# would. Skipped in cluster deploy mode, where --conf-dir and the like name paths on
# the cluster; there the driver checks them.
DEPLOY_MODE=""
for ((i = 0; i < ${#SPARK_OPTS[@]}; i++)); do
  case "${SPARK_OPTS[$i]}" in
    --deploy-mode) DEPLOY_MODE="${SPARK_OPTS[$((i + 1))]:-}" ;;
    --deploy-mode=*) DEPLOY_MODE="${SPARK_OPTS[$i]#*=}" ;;
  esac
done
if [[ "$DEPLOY_MODE" != "cluster" && "$JOB" != *.py ]]; then
  PYTHONPATH="$ROOT/libs${PYTHONPATH:+:$PYTHONPATH}" "$PY" -m clickstream.config.cli check "$APP" "$@" \
    || exit $?
  for arg in "$@"; do
    [[ "$arg" == "-h" || "$arg" == "--help" ]] && exit 0  # the check printed the help
  done
fi

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

# The library and the source profiles, zipped for executors and cluster-mode drivers
# (a .whl on --py-files is not importable by Python workers). Rebuilt when anything
# under libs/, conf/sources/ or conf/spark/ is newer than the zip.
ZIP="$ROOT/dist/clickstream.zip"
if [[ ! -f "$ZIP" ]] || [[ -n "$(find "$ROOT/libs" "$ROOT/conf/sources" "$ROOT/conf/spark" \( -name "*.py" -o -name "*.json" -o -name "*.properties" \) -newer "$ZIP" -print -quit)" ]]; then
  "$PY" "$ROOT/libs/build_zip.py" "$ROOT" "$ZIP" >/dev/null
fi

# conf/spark/<env>.properties as --conf pairs, the driver's Python, and --packages.
EXTRA="$(PYTHONPATH="$ROOT/libs" "$PY" -m clickstream.deploy.submit --root "$ROOT" --env "$ENVS" --python "$PY" \
  --spark-dir "$(dirname "$(dirname "$SUBMIT")")" ${MASTER:+--master "$MASTER"} --packages "$USER_PACKAGES" \
  -- "$@")" || exit 2
readarray -t SUBMIT_ARGS <<< "$EXTRA"

# A quiet console (libs/clickstream/console.py): the job's own lines, warnings and
# errors, without Ivy's resolution report; CLICKSTREAM_VERBOSE=1 shows everything,
# with Spark's INFO logs (conf/log4j2.properties keeps warnings and errors).
LOG4J="-Dlog4j2.configurationFile=file:$ROOT/conf/log4j2.properties "
[[ "${CLICKSTREAM_VERBOSE:-0}" == "0" ]] || LOG4J=""
CMD=("$SUBMIT" "${SUBMIT_ARGS[@]}" --conf "spark.jars.ivySettings=$ROOT/conf/ivysettings.xml"
     --driver-java-options "$LOG4J-Duser.timezone=UTC $DRIVER_JAVA_OPTS" --py-files "$ZIP"
     "${SPARK_OPTS[@]+"${SPARK_OPTS[@]}"}" "$APP" "$@")
[[ -z "$LOG4J" ]] && exec "${CMD[@]}"
console() { PYTHONPATH="$ROOT/libs" "$PY" -m clickstream.deploy.console "$@"; }
exec "${CMD[@]}" > >(console stdout) 2> >(console stderr >&2)
