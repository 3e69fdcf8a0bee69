import base64

STORAGE_ACCOUNT_FAKE_KEY = base64.b64encode(b"not a real key, the harness supplies one").decode()
