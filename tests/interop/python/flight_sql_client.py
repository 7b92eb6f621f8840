"""connectkit serve's real client for the interop tier: ADBC's Flight SQL
driver (the Go driver under adbc-driver-flightsql) with pyarrow and polars.

Usage: flight_sql_client.py [--ca CA.pem] URI USER PASSWORD SESSIONS SQL
       flight_sql_client.py --queries URI USER PASSWORD SQL...
Prints one JSON document: each session's rows (cursor.fetch_arrow_table()),
the same query through polars.read_database, a prepared query with a
parameter, adbc_get_objects(), and the errors of a wrong password and of a
DELETE. With --ca (a grpc+tls:// URI), the driver trusts that CA's PEM
(DatabaseOptions.TLS_ROOT_CERTS) and the document also holds the error of a
client that does not. With --queries: each query's rows (one session),
polars.read_database's rows of the first, and adbc_get_objects()'s tables.
"""

import json
import sys
import warnings

import adbc_driver_flightsql.dbapi as flight_sql
import polars
from adbc_driver_flightsql import DatabaseOptions

warnings.simplefilter("ignore")  # "Cannot disable autocommit": no transactions, by design.


CA = None  # the PEM of --ca


def connect(uri, user, password, ca=None):
    kwargs = {"username": user, "password": password}
    if ca is not None:
        kwargs[DatabaseOptions.TLS_ROOT_CERTS.value] = ca
    return flight_sql.connect(uri, db_kwargs=kwargs)


def error_of(fn):
    try:
        fn()
    except Exception as e:  # the DB-API error ADBC raises, with the gRPC status
        return f"{type(e).__name__}: {e}"
    return None


def objects_of(conn):
    objects = conn.adbc_get_objects(depth="all").read_all().to_pylist()
    return [
        [c["catalog_name"], s["db_schema_name"], t["table_name"], [col["column_name"] for col in t["table_columns"]]]
        for c in objects
        for s in c["catalog_db_schemas"]
        for t in s["db_schema_tables"]
    ]


def queries(uri, user, password, sqls):
    conn = connect(uri, user, password)
    out = {"results": []}
    cur = conn.cursor()
    for sql in sqls:
        cur.execute(sql)
        out["results"].append(cur.fetch_arrow_table().to_pylist())
    cur.close()
    out["polars"] = polars.read_database(sqls[0], connection=conn).to_dicts()
    out["objects"] = objects_of(conn)
    conn.close()
    print(json.dumps(out))


def main():
    args = sys.argv[1:]
    if args[0] == "--queries":
        return queries(args[1], args[2], args[3], args[4:])
    ca = None
    if args[0] == "--ca":
        with open(args[1]) as f:
            ca = f.read()
        args = args[2:]
    uri, user, password, sessions, sql = args[:5]
    out = {"sessions": []}
    conns = [connect(uri, user, password, ca) for _ in range(int(sessions))]
    for conn in conns:
        cur = conn.cursor()
        cur.execute(sql)
        out["sessions"].append(cur.fetch_arrow_table().to_pylist())
        cur.close()
    out["polars"] = polars.read_database(sql, connection=conns[0]).to_dicts()
    cur = conns[0].cursor()
    cur.execute("SELECT name FROM dot.items WHERE id = ?", parameters=(7,))
    out["prepared"] = [list(r) for r in cur.fetchall()]
    out["delete"] = error_of(lambda: cur.execute("DELETE FROM dot.items"))
    out["objects"] = objects_of(conns[0])
    for conn in conns:
        conn.close()

    def wrong():
        conn = connect(uri, user, password + "-wrong", ca)
        conn.cursor().execute("SELECT 1")

    out["wrong_password"] = error_of(wrong)
    if ca is not None:

        def untrusted():
            conn = connect(uri, user, password)  # the system's roots only
            conn.cursor().execute("SELECT 1")

        out["untrusted"] = error_of(untrusted)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
