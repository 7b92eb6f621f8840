"""connectkit serve's real client for the interop tier: ADBC's Flight SQL
driver (the Go driver under adbc-driver-flightsql) with pyarrow.

Usage: flight_sql_client.py URI USER PASSWORD SESSIONS SQL
Prints one JSON document: each session's rows (cursor.fetch_arrow_table()),
a prepared query with a parameter, adbc_get_objects(), and the errors of a
wrong password and of a DELETE.
"""

import json
import sys
import warnings

import adbc_driver_flightsql.dbapi as flight_sql

warnings.simplefilter("ignore")  # "Cannot disable autocommit": no transactions, by design.


def connect(uri, user, password):
    return flight_sql.connect(uri, db_kwargs={"username": user, "password": password})


def error_of(fn):
    try:
        fn()
    except Exception as e:  # the DB-API error ADBC raises, with the gRPC status
        return f"{type(e).__name__}: {e}"
    return None


def main():
    uri, user, password, sessions, sql = sys.argv[1:6]
    out = {"sessions": []}
    conns = [connect(uri, user, password) for _ in range(int(sessions))]
    for conn in conns:
        cur = conn.cursor()
        cur.execute(sql)
        out["sessions"].append(cur.fetch_arrow_table().to_pylist())
        cur.close()
    cur = conns[0].cursor()
    cur.execute("SELECT name FROM dot.items WHERE id = ?", parameters=(7,))
    out["prepared"] = [list(r) for r in cur.fetchall()]
    out["delete"] = error_of(lambda: cur.execute("DELETE FROM dot.items"))
    objects = conns[0].adbc_get_objects(depth="all").read_all().to_pylist()
    out["objects"] = [
        [c["catalog_name"], s["db_schema_name"], t["table_name"], [col["column_name"] for col in t["table_columns"]]]
        for c in objects
        for s in c["catalog_db_schemas"]
        for t in s["db_schema_tables"]
    ]
    for conn in conns:
        conn.close()

    def wrong():
        conn = connect(uri, user, password + "-wrong")
        conn.cursor().execute("SELECT 1")

    out["wrong_password"] = error_of(wrong)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
