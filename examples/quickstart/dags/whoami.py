"""Who am I, through the quickstart's two connections, with Airflow's own hooks.

aws_whoami assumes airflow-analytics through aws_analytics (the workers' Google
ID token, exchanged with STS) and asks STS who it is; gcp_whoami acts as the
BigQuery loader through google_bigquery's impersonation chain and asks Google's
tokeninfo who it is. Neither holds a key. Run it with
`airflow dags test quickstart_whoami` on a worker (make demo does, against its
sandbox).
"""

from __future__ import annotations

import datetime

from airflow.sdk import dag, task


@dag(schedule=None, start_date=datetime.datetime(2026, 1, 1), catchup=False, tags=["quickstart"])
def quickstart_whoami():
    @task
    def aws_whoami() -> str:
        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

        session = AwsBaseHook(aws_conn_id="aws_analytics", client_type="sts").get_session()
        arn = session.client("sts").get_caller_identity()["Arn"]
        print(f"whoami: AWS says {arn}")
        return arn

    @task
    def gcp_whoami() -> str:
        import requests
        from google.auth.transport.requests import Request

        from airflow.providers.google.common.hooks.base_google import GoogleBaseHook

        creds = GoogleBaseHook(gcp_conn_id="google_bigquery").get_credentials()
        creds.refresh(Request())
        info = requests.get("https://oauth2.googleapis.com/tokeninfo", params={"access_token": creds.token}, timeout=10)
        info.raise_for_status()
        email = info.json()["email"]
        print(f"whoami: Google says {email}")
        return email

    aws_whoami()
    gcp_whoami()


quickstart_whoami()
