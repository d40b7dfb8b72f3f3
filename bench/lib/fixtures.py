"""The benchmark's data: `users(id int primary key, name text, age int, city text)` with 100,000
rows in PostgreSQL, MariaDB and SQLite, in databases of the benchmark's own (`sluice_bench`;
nothing else is touched). Creating them is idempotent: a table with the expected rows is kept.

Row i: name `user_<i>`, age 18 + (7 i mod 63), city number (13 i mod 20) of CITIES, so that
every city holds 5,000 rows and the list query (city = X, limit 50) always fills its page."""
import os
import sqlite3

from common import BenchError, RUN, log, sh, which

DB = "sluice_bench"
ROWS = 100_000
CITIES = [
    "Amsterdam", "Berlin", "Cairo", "Delhi", "Edinburgh", "Florence", "Geneva", "Hanoi",
    "Istanbul", "Jakarta", "Kyoto", "Lisbon", "Madrid", "Nairobi", "Oslo", "Prague",
    "Quito", "Rome", "Seoul", "Toronto",
]
SQLITE_PATH = os.path.join(RUN, "sluice_bench.sqlite")
# P1's validation sides: three query parameters their schemas accept (bench/conf/sluice.yaml).
P1_QUERY = "id=4217&fields=name,email,city&lang=de"
PG = dict(host="127.0.0.1", port=5432, user="postgres")
MY = dict(host="127.0.0.1", port=3306, user="root")
POSTGREST_ROLE = "sluice_bench_web"  # the anonymous role PostgREST switches to


def city_of(i):
    return CITIES[(13 * i) % 20]


def row(i):
    return (i, f"user_{i}", 18 + (7 * i) % 63, city_of(i))


def psql(sql, db=DB):
    # Through stdin, so that several statements run one by one (VACUUM cannot run in the one
    # transaction that -c would wrap them in).
    return sh(["psql", "-h", PG["host"], "-p", str(PG["port"]), "-U", PG["user"], "-d", db,
               "-v", "ON_ERROR_STOP=1", "-qAtX"], input="SET client_min_messages = warning;\n" + sql).strip()


def mysql(sql, db=DB):
    args = ["mysql", "-h", MY["host"], "-P", str(MY["port"]), "-u", MY["user"], "-N", "-B"]
    return sh(args + ([db] if db else []) + ["-e", sql]).strip()


def _count(run, sql):
    try:
        return int(run(sql) or -1)
    except (BenchError, ValueError):
        return -1


def ensure_postgres():
    if not which("psql"):
        raise BenchError("psql (PostgreSQL client) is missing: run ./scripts/test once, or apt-get install postgresql-client")
    if psql(f"SELECT 1 FROM pg_database WHERE datname = '{DB}'", db="postgres") != "1":
        psql(f"CREATE DATABASE {DB}", db="postgres")
    if _count(psql, "SELECT count(*) FROM users") != ROWS:
        log(f"PostgreSQL: creating {DB}.users ({ROWS} rows)")
        cities = ",".join(f"'{c}'" for c in CITIES)
        psql(f"""
            DROP TABLE IF EXISTS users;
            CREATE TABLE users (id int PRIMARY KEY, name text, age int, city text);
            INSERT INTO users
              SELECT i, 'user_' || i, 18 + (7 * i) % 63, (ARRAY[{cities}])[1 + (13 * i) % 20]
              FROM generate_series(1, {ROWS}) AS i;
            CREATE INDEX users_city_id ON users (city, id);
            VACUUM ANALYZE users;""")
    # PostgREST answers anonymous requests as this role: it may read users, nothing else.
    psql(f"""DO $$ BEGIN
               IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{POSTGREST_ROLE}') THEN
                 CREATE ROLE {POSTGREST_ROLE} NOLOGIN;
               END IF; END $$;
             GRANT USAGE ON SCHEMA public TO {POSTGREST_ROLE};
             GRANT SELECT ON users TO {POSTGREST_ROLE};""")


def ensure_mariadb():
    if not which("mysql"):
        raise BenchError("mysql (MariaDB client) is missing: run ./scripts/test once, or apt-get install mariadb-client")
    mysql(f"CREATE DATABASE IF NOT EXISTS {DB}", db=None)
    if _count(mysql, "SELECT count(*) FROM users") != ROWS:
        log(f"MariaDB: creating {DB}.users ({ROWS} rows)")
        cities = ",".join(f"'{c}'" for c in CITIES)
        mysql(f"""
            DROP TABLE IF EXISTS users;
            CREATE TABLE users (id int PRIMARY KEY, name text, age int, city varchar(64),
                                INDEX users_city_id (city, id)) ENGINE=InnoDB;
            INSERT INTO users
              SELECT seq, CONCAT('user_', seq), 18 + (7 * seq) % 63, ELT(1 + (13 * seq) % 20, {cities})
              FROM seq_1_to_{ROWS};
            ANALYZE TABLE users;""")


def ensure_sqlite():
    try:
        with sqlite3.connect(f"file:{SQLITE_PATH}?mode=ro", uri=True) as db:
            if db.execute("SELECT count(*) FROM users").fetchone()[0] == ROWS:
                return
    except sqlite3.Error:
        pass
    log(f"SQLite: creating {SQLITE_PATH} ({ROWS} rows)")
    os.makedirs(RUN, exist_ok=True)
    tmp = SQLITE_PATH + ".tmp"
    if os.path.exists(tmp):
        os.remove(tmp)
    db = sqlite3.connect(tmp)
    db.executescript("""
        CREATE TABLE users (id int PRIMARY KEY, name text, age int, city text);
        CREATE INDEX users_city_id ON users (city, id);""")
    db.executemany("INSERT INTO users VALUES (?, ?, ?, ?)", (row(i) for i in range(1, ROWS + 1)))
    db.commit()
    db.execute("ANALYZE")
    db.close()
    os.replace(tmp, SQLITE_PATH)


def ensure_sysbench_table(sysbench):
    """sysbench's own table for oltp_point_select (sbtest1, 100,000 rows) in sluice_bench."""
    if _count(mysql, "SELECT count(*) FROM sbtest1") == ROWS:
        return
    log(f"MariaDB: creating {DB}.sbtest1 for sysbench ({ROWS} rows)")
    mysql("DROP TABLE IF EXISTS sbtest1")
    sh([sysbench, "oltp_point_select", "--db-driver=mysql", f"--mysql-host={MY['host']}",
        f"--mysql-port={MY['port']}", f"--mysql-user={MY['user']}", f"--mysql-db={DB}",
        "--tables=1", f"--table-size={ROWS}", "prepare"])


def ensure_all():
    ensure_postgres()
    ensure_mariadb()
    ensure_sqlite()


def postgres_pid():
    """The postmaster's pid (its backends are its children)."""
    data_dir = psql("SHOW data_directory")
    with open(os.path.join(data_dir, "postmaster.pid")) as f:
        return int(f.readline())


def mariadb_pid():
    with open(mysql("SELECT @@pid_file", db=None)) as f:
        return int(f.read().split()[0])


def server_versions():
    return {
        "postgresql": psql("SHOW server_version"),
        "mariadb": mysql("SELECT VERSION()", db=None),
        "sqlite (python's, for the fixture)": sqlite3.sqlite_version,
    }
