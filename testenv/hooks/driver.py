"""Runs Airflow's own hooks as a worker would, for internal/provider/hooks_test.go.

    python driver.py aws CONN_ID        AwsBaseHook(aws_conn_id).get_session(), then STS GetCallerIdentity
    python driver.py google CONN_ID     GoogleBaseHook(gcp_conn_id).get_credentials(), refreshed, then tokeninfo
    python driver.py idtoken AUDIENCE   the claims (not the token) of the ID token the AWS hook would send
    python driver.py pod JSON           the executor_config JSON, loaded as the resource's documentation says
                                        (PodGenerator.deserialize_model_dict), through PodGenerator.from_obj

Connections come from Airflow's database (AIRFLOW_HOME and
AIRFLOW__DATABASE__SQL_ALCHEMY_CONN of the running server), as the provider
wrote them. Prints one JSON object: the identity, or {"error": ...} with exit
status 2 when the hook fails. Never prints a token.
"""

import json
import sys
import warnings


def aws(conn_id):
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        hook = AwsBaseHook(aws_conn_id=conn_id, client_type="sts")
        session = hook.get_session()
        ident = session.client("sts").get_caller_identity()
    return {
        "arn": ident["Arn"],
        "account": ident["Account"],
        "warnings": sorted({str(w.message) for w in caught if "expected connection type" in str(w.message)}),
    }


def google(conn_id):
    import requests
    from google.auth.transport.requests import Request

    from airflow.providers.google.common.hooks.base_google import GoogleBaseHook

    hook = GoogleBaseHook(gcp_conn_id=conn_id)
    creds = hook.get_credentials()
    creds.refresh(Request())
    info = requests.get("https://oauth2.googleapis.com/tokeninfo", params={"access_token": creds.token}, timeout=10)
    info.raise_for_status()
    return {"email": info.json().get("email"), "project": hook.project_id}


def idtoken(audience):
    import jwt
    from google.auth.transport.requests import Request

    from airflow.providers.google.common.utils.id_token_credentials import get_default_id_token_credentials

    creds = get_default_id_token_credentials(target_audience=audience)
    creds.refresh(Request())
    claims = jwt.decode(creds.token, options={"verify_signature": False})
    return {k: claims.get(k) for k in ("aud", "azp", "sub", "email")}


def pod(executor_config):
    from airflow.providers.cncf.kubernetes.pod_generator import PodGenerator

    cfg = json.loads(executor_config)
    p = PodGenerator.from_obj({"pod_override": PodGenerator.deserialize_model_dict(cfg["pod_override"])})
    return {"service_account_name": p.spec.service_account_name}


def main():
    what, arg = sys.argv[1], sys.argv[2]
    try:
        out = {"aws": aws, "google": google, "idtoken": idtoken, "pod": pod}[what](arg)
    except Exception as e:  # the hook's failure is the result
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
        sys.exit(2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
