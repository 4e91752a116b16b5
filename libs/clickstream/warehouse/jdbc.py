"""SQL databases reached over JDBC: PostgreSQL and Redshift.

The driver program talks to the database through the JDBC driver that Spark already
loaded for the executors (`--packages`), over py4j: one connection, plain statements,
no Python database client at run time.

    dialect(url)                 'postgresql' or 'redshift', from the URL's scheme
    column_type(field, dialect)  the database type of a Spark field (target and staging)
    connect(spark, url, ...)     a `Connection`; a bad password, host or database is a
                                 UsageError (exit 2) with one line
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass

import pyspark.sql.types as T
from py4j.protocol import Py4JJavaError
from pyspark.sql import SparkSession

from clickstream.config.errors import UsageError
from clickstream.warehouse.scope import Scope

DRIVERS = {"postgresql": "org.postgresql.Driver", "redshift": "com.amazon.redshift.jdbc42.Driver"}
_URL = re.compile(r"^jdbc:(postgresql|redshift)://([^/?#]+)(/[^?#]*)?(\?.*)?$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
# SQLSTATE classes that mean "the target is wrong", not "the program is wrong":
# connection (08), authorization (28), unknown database (3D), schema (3F), privilege (42501).
_USAGE_STATES = ("08", "28", "3D", "3F", "42501")
CONNECT_TIMEOUT_S = 15


# Driver options that hold a secret, in either form the drivers take: `?k=v&k=v`
# (PostgreSQL, Redshift) or `;K=V;K=V` (Redshift, as AWS documents it). Matched case-
# insensitively on the key: password, PWD, sslpassword, SecretAccessKey, SessionToken...
_SECRET_KEY = re.compile(r"pass|pwd|secret|token|^accesskeyid$|^iamaccesskey", re.IGNORECASE)


def dialect(url: str) -> str:
    """'postgresql' or 'redshift' of a JDBC URL, which must not carry a secret: the URL
    is shown in errors and stored in reports, export records and EMR steps."""
    match = _URL.match(url)
    if not match:
        raise UsageError(f"bad --jdbc-url {redact(url)!r}: use jdbc:postgresql://HOST:PORT/DATABASE "
                         "or jdbc:redshift://HOST:PORT/DATABASE")
    if "@" in redact_options(url):
        raise UsageError(f"--jdbc-url {redact(url)!r} carries a user (and maybe a password) before its host: "
                         "pass the user with --user (or --export-user) and set CLICKSTREAM_JDBC_PASSWORD "
                         "(or PGPASSWORD), and keep secrets out of URLs")
    secrets = [key for key in option_keys(url) if _SECRET_KEY.search(key)]
    if secrets:
        raise UsageError(f"--jdbc-url {redact(url)!r} carries {secrets[0]!r}: set CLICKSTREAM_JDBC_PASSWORD "
                         "(or PGPASSWORD) instead, and keep secrets out of URLs")
    return match.group(1)


def option_keys(url: str) -> list[str]:
    """The keys of a URL's driver options, after the first '?' or ';', split on '&' and ';'."""
    cut = min((i for i in (url.find("?"), url.find(";")) if i >= 0), default=-1)
    if cut < 0:
        return []
    return [part.split("=", 1)[0].strip() for part in re.split(r"[&;?]", url[cut + 1:]) if part.strip()]


def redact_options(url: str) -> str:
    """The URL without its driver options (everything from the first '?' or ';')."""
    return re.split(r"[?;]", url, maxsplit=1)[0]


def redact(url: str) -> str:
    """The URL without its driver options and without a user and password before its
    host ('jdbc:postgresql://u:secret@db/x?password=p' -> 'jdbc:postgresql://db/x'),
    which is what any shown or stored URL is."""
    bare = redact_options(url)
    if "@" in bare:
        scheme, _, rest = bare.partition("://")
        bare = f"{scheme}://{rest.rsplit('@', 1)[1]}" if rest else bare.rsplit("@", 1)[1]
    return bare


def location(url: str) -> str:
    """'jdbc:postgresql://db:5432/analytics?ssl=true' -> 'db:5432/analytics'."""
    match = _URL.match(redact(url))
    return (match.group(2) + (match.group(3) or "")) if match else redact(url)


def identifier(value: str, what: str) -> str:
    """A plain SQL identifier, folded to lower case as the database folds unquoted names."""
    if not _IDENT.match(value):
        raise UsageError(f"bad {what} {value!r}: use letters, digits and '_' (not starting with a digit, "
                         "at most 63)")
    return value.lower()


def parse_target(value: str) -> tuple[str, str]:
    """'analytics.hourly_stats' -> ('analytics', 'hourly_stats'); 'hourly_stats' -> ('public', ...)."""
    parts = value.split(".")
    if len(parts) > 2:
        raise UsageError(f"bad --target {value!r}: use SCHEMA.TABLE or TABLE")
    schema, table = parts if len(parts) == 2 else ("public", parts[0])
    return identifier(schema, "--target schema"), identifier(table, "--target table")


def quote(*names: str) -> str:
    """'"schema"."table"': each name a quoted identifier, an embedded '"' doubled (names
    are checked by `identifier` first; this keeps SQL whole whatever reaches it)."""
    return ".".join('"' + n.replace('"', '""') + '"' for n in names)


def literal(value: str) -> str:
    """A string literal in PostgreSQL's and Redshift's SQL (standard quoting, no escapes)."""
    return "'" + value.replace("'", "''") + "'"


def where(scope: Scope) -> str | None:
    """The scope's rows in the database's SQL; PostgreSQL and Redshift spell it the same."""
    return scope.render(quote, literal)


@dataclass(frozen=True)
class ColumnType:
    """How one Spark field is stored: `target` (DDL of the published table), `staging`
    (DDL of the staging table Spark writes; JSON goes as text), `accepts` (the
    information_schema data_type names an existing target column may have)."""

    target: str
    staging: str
    accepts: tuple[str, ...]

    @property
    def is_json(self) -> bool:
        return self.target in ("jsonb", "super")


def column_type(data_type: T.DataType, dialect_name: str) -> ColumnType:
    redshift = dialect_name == "redshift"
    text = ColumnType("varchar(65535)", "varchar(65535)", ("character varying",)) if redshift else \
        ColumnType("text", "text", ("text", "character varying"))
    if isinstance(data_type, T.StringType):
        return text
    if isinstance(data_type, (T.MapType, T.ArrayType, T.StructType)):
        # Nested values are published as JSON: jsonb in PostgreSQL, JSON text in Redshift.
        return text if redshift else ColumnType("jsonb", "text", ("jsonb", "json", "text"))
    if isinstance(data_type, T.DecimalType):
        decl = f"numeric({data_type.precision},{data_type.scale})"
        return ColumnType(decl, decl, ("numeric",))
    simple = {
        T.LongType: ("bigint", ("bigint",)),
        T.IntegerType: ("integer", ("integer", "bigint")),
        T.ShortType: ("smallint", ("smallint", "integer", "bigint")),
        T.ByteType: ("smallint", ("smallint", "integer", "bigint")),
        T.DoubleType: ("double precision", ("double precision",)),
        T.FloatType: ("real", ("real", "double precision")),
        T.BooleanType: ("boolean", ("boolean",)),
        T.DateType: ("date", ("date",)),
        # UTC wall-clock times: the export's JVMs run with -Duser.timezone=UTC.
        T.TimestampType: ("timestamp", ("timestamp without time zone",)),
        T.TimestampNTZType: ("timestamp", ("timestamp without time zone",)),
        T.BinaryType: ("varbyte" if redshift else "bytea", ("varbyte" if redshift else "bytea",)),
    }
    for spark_type, (decl, accepts) in simple.items():
        if isinstance(data_type, spark_type):
            return ColumnType(decl, decl, accepts)
    raise UsageError(f"cannot publish a column of type {data_type.simpleString()}")


def sql_state(err: Exception) -> tuple[str | None, str]:
    """(SQLSTATE, message) of the first java.sql.SQLException in a py4j error's causes."""
    java = getattr(err, "java_exception", None)
    seen = 0
    while java is not None and seen < 10:
        name = java.getClass().getName()
        if name.endswith("SQLException") or "PSQLException" in name or "SQLException" in _superclasses(java):
            message = java.getMessage() or name
            return java.getSQLState(), message.splitlines()[0].strip()
        java, seen = java.getCause(), seen + 1
    text = str(err).strip().splitlines()
    return None, text[0] if text else type(err).__name__


def _superclasses(java) -> str:
    names, cls = [], java.getClass().getSuperclass()
    while cls is not None:
        names.append(cls.getName())
        cls = cls.getSuperclass()
    return " ".join(names)


def is_usage_state(state: str | None) -> bool:
    return bool(state) and any(state.startswith(prefix) for prefix in _USAGE_STATES)


class Connection:
    """One JDBC connection of the driver program, autocommit on outside `transaction()`."""

    def __init__(self, jconn, url: str):
        self._conn, self.url = jconn, url

    @contextmanager
    def _statement(self, sql: str):
        """A statement; a database error that is the target's fault (no such schema, no
        privilege, connection lost) becomes a UsageError naming the statement."""
        stmt = self._conn.createStatement()
        try:
            yield stmt
        except Py4JJavaError as err:  # an SQLException, sorted below
            state, message = sql_state(err)
            if is_usage_state(state):
                raise UsageError(f"{redact(self.url)}: {message} (in: {sql[:120]})") from None
            raise
        finally:
            stmt.close()

    def execute(self, sql: str) -> int:
        with self._statement(sql) as stmt:
            return stmt.executeUpdate(sql)

    def query(self, sql: str) -> list[tuple]:
        """The rows of a small catalog query, every value as text (None for NULL)."""
        with self._statement(sql) as stmt:
            result = stmt.executeQuery(sql)
            width = result.getMetaData().getColumnCount()
            rows = []
            while result.next():
                rows.append(tuple(result.getString(i) for i in range(1, width + 1)))
            return rows

    def server_version(self) -> int:
        return self._conn.getMetaData().getDatabaseMajorVersion()

    @contextmanager
    def transaction(self):
        """Statements inside run in one transaction: committed at the end of the block,
        rolled back when it raises (and by the server when this process dies)."""
        self._conn.setAutoCommit(False)
        try:
            yield self
            self._conn.commit()
        except BaseException:
            self._conn.rollback()
            raise
        finally:
            self._conn.setAutoCommit(True)

    def close(self) -> None:
        self._conn.close()


def connection_properties(user: str | None, password: str | None) -> dict[str, str]:
    props = {"connectTimeout": str(CONNECT_TIMEOUT_S), "loginTimeout": str(CONNECT_TIMEOUT_S),
             "ApplicationName": "clickstream-export"}
    if user:
        props["user"] = user
    if password:
        props["password"] = password
    return props


def connect(spark: SparkSession, url: str, user: str | None, password: str | None) -> Connection:
    name = dialect(url)
    jvm = spark.sparkContext._jvm
    props = jvm.java.util.Properties()
    for key, value in connection_properties(user, password).items():
        props.setProperty(key, value)
    try:
        loader = jvm.java.lang.Thread.currentThread().getContextClassLoader()
        driver = jvm.java.lang.Class.forName(DRIVERS[name], True, loader).newInstance()
    except Py4JJavaError as err:  # ClassNotFoundException: a missing driver jar is a setup problem
        raise UsageError(f"the JDBC driver {DRIVERS[name]} is not on Spark's classpath "
                         f"({sql_state(err)[1]}); run through ./spark-submit.sh, which adds it with --packages") \
            from None
    try:
        jconn = driver.connect(url, props)
    except Py4JJavaError as err:  # an SQLException, sorted into the target's fault or ours below
        state, message = sql_state(err)
        if is_usage_state(state) or state is None:
            raise UsageError(f"cannot connect to {redact(url)} as {user or '(default user)'}: {message}") from None
        raise
    if jconn is None:
        raise UsageError(f"the driver {DRIVERS[name]} does not accept the URL {redact(url)}")
    return Connection(jconn, url)
