# Send a one-time code: the answer carries the otp_id to verify against.
# Standard library only. Needs RELAY_API_KEY in the environment.
import json
import os
import urllib.error
import urllib.request

BASE_URL = "{{BASE_URL}}"


def call(method, url, body=None, auth=True):
    headers = {"Content-Type": "application/json"}
    if auth:
        headers["Authorization"] = f"Bearer {os.environ['RELAY_API_KEY']}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return json.load(res)
    except urllib.error.HTTPError as err:  # errors are JSON too: {"ok": false, "error": {...}}
        return json.load(err)


answer = call(
    "POST",
    BASE_URL + "/v1/otp/send",
    {"to": "+923001234567", "purpose": "login", "locale": "en"},
)
print(json.dumps(answer))
