"""Check the Go connection codecs against Airflow's own Connection class.

Usage: python conformance.py CASES.jsonl

Each input line is a JSON object:
  i           case number
  fields      the connection's fields (conn_type, host, login, password,
              schema, port, extra as a string or null)
  uri         the Go ConnectionURI output
  uri_expect  the fields the Go ParseConnectionURI gives for uri, or null
              when it gives an error
  json        the Go ConnectionJSON output
  json_expect the fields Airflow should read from json

For each case this prints one line "RESULT <json>" with:
  i, ok, problems   whether Airflow read uri and json as expected
  airflow_uri       Airflow's get_uri() of the fields (or airflow_uri_error)
  airflow_fields    Airflow's reading of airflow_uri (or airflow_parse_error)
Airflow's log output goes to stderr.
"""

import json
import sys

from airflow.models.connection import Connection

FIELDS = ("conn_type", "host", "login", "password", "schema", "port")


def read(conn, description=False):
    out = {f: getattr(conn, f) for f in FIELDS}
    out["extra"] = conn.extra_dejson
    if description:
        out["description"] = conn.description
    return out


def expected(fields, description=False):
    out = {f: fields.get(f) for f in FIELDS}
    extra = fields.get("extra")
    out["extra"] = json.loads(extra) if extra else {}
    if description:
        out["description"] = fields.get("description")
    return out


def compare(label, got, want, problems):
    for key in want:
        if got.get(key) != want[key]:
            problems.append(f"{label} {key}: airflow {got.get(key)!r}, go {want[key]!r}")


def main(path):
    with open(path, encoding="utf-8") as f:
        lines = [json.loads(line) for line in f if line.strip()]
    for case in lines:
        problems = []
        result = {"i": case["i"]}

        # Airflow reading our URI.
        try:
            got = read(Connection(conn_id="x", uri=case["uri"]))
        except Exception as e:  # noqa: BLE001
            got = None
            if case["uri_expect"] is not None:
                problems.append(f"uri: airflow error {e!r}, go parsed it")
        if got is not None:
            if case["uri_expect"] is None:
                problems.append(f"uri: airflow read {got!r}, go gave an error")
            else:
                compare("uri", got, expected(case["uri_expect"]), problems)

        # Airflow reading our JSON form, as for a "{"-prefixed AIRFLOW_CONN_ value.
        try:
            got = read(Connection.from_json(value=case["json"], conn_id="x"), description=True)
            compare("json", got, expected(case["json_expect"], description=True), problems)
        except Exception as e:  # noqa: BLE001
            problems.append(f"json: airflow error {e!r}")

        # Airflow's own URI of the fields, and its reading of it.
        fields = case["fields"]
        try:
            conn = Connection(
                conn_id="x",
                conn_type=fields.get("conn_type"),
                host=fields.get("host"),
                login=fields.get("login"),
                password=fields.get("password"),
                schema=fields.get("schema"),
                port=fields.get("port"),
                extra=fields.get("extra"),
            )
            result["airflow_uri"] = conn.get_uri()
        except Exception as e:  # noqa: BLE001
            result["airflow_uri_error"] = repr(e)
        if "airflow_uri" in result:
            try:
                result["airflow_fields"] = read(Connection(conn_id="x", uri=result["airflow_uri"]))
            except Exception as e:  # noqa: BLE001
                result["airflow_parse_error"] = repr(e)

        result["ok"] = not problems
        result["problems"] = problems
        sys.stdout.write("RESULT " + json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1])
