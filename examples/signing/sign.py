# Signs a POST /typing request (Standard Webhooks). Python 3, standard library only.
import base64, hashlib, hmac, json, secrets, sys, time


def sign_request(key: str, body: bytes, webhook_id: str | None = None, timestamp: int | None = None) -> dict:
    webhook_id = webhook_id or "msg_" + secrets.token_hex(12)
    timestamp = str(timestamp or int(time.time()))
    secret = base64.b64decode(key.removeprefix("whsec_"))
    mac = hmac.new(secret, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": "v1," + base64.b64encode(mac).decode(),
    }


if __name__ == "__main__":  # python3 sign.py KEY ID TIMESTAMP BODY: prints the three headers as JSON
    key, webhook_id, timestamp, body = sys.argv[1:5]
    print(json.dumps(sign_request(key, body.encode(), webhook_id, int(timestamp))))
