"""The one shim of the hook tests (internal/provider/hooks_test.go) and of make demo's task.

Google's client libraries have no setting for the host of IAM Credentials
(google-auth builds https://iamcredentials.googleapis.com/... from
google.auth.iam._IAM_ENDPOINT and the universe domain) or of tokeninfo.
When AIRFLOWIAM_GOOGLEAPIS_URL is set, this module, imported by Python at
start-up because its directory is on PYTHONPATH, wraps
requests.adapters.HTTPAdapter.send so that a request to https://HOST/PATH
with HOST ending in .googleapis.com goes to AIRFLOWIAM_GOOGLEAPIS_URL/PATH
instead (the fake, which serves every Google API at one base URL). Nothing
else is changed: headers, bodies, the hooks, google-auth and the
connections are untouched, and the metadata server is reached the normal
way, through GCE_METADATA_HOST / GCE_METADATA_IP.
"""

import os

_BASE = os.environ.get("AIRFLOWIAM_GOOGLEAPIS_URL", "").rstrip("/")

if _BASE:
    from urllib.parse import urlsplit

    import requests.adapters

    _send = requests.adapters.HTTPAdapter.send

    def _redirect_googleapis(self, request, *args, **kwargs):
        parts = urlsplit(request.url)
        if parts.scheme == "https" and (parts.hostname or "").endswith(".googleapis.com"):
            request.url = _BASE + parts.path + ("?" + parts.query if parts.query else "")
            request.headers.pop("Host", None)
        return _send(self, request, *args, **kwargs)

    requests.adapters.HTTPAdapter.send = _redirect_googleapis
