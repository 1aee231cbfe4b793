"""Keys and tokens for the enhanced authentication tests, with the openssl CLI only (no pip
packages): RSA and EC P-256 key pairs, JWKS documents, JWTs signed RS256/ES256 with
`openssl dgst -sha256 -sign`, and a SCRAM-SHA-256 client (RFC 5802/7677) in the standard library.
"""

import base64
import hashlib
import hmac
import json
import os
import subprocess
import time

K8S_ISSUER = "https://kubernetes.default.svc.cluster.local"


def b64url(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _openssl(*args, input=None):
    r = subprocess.run(["openssl"] + list(args), input=input, capture_output=True, timeout=30)
    if r.returncode != 0:
        raise AssertionError("openssl %s failed: %s" % (" ".join(args), r.stderr.decode(errors="replace")))
    return r.stdout


class KeyPair:
    """A private key file and its public key (PEM file) in `directory`."""

    def __init__(self, directory, name, kind="rsa"):
        self.kind = kind
        self.private = os.path.join(directory, name + ".key")
        self.public = os.path.join(directory, name + ".pub.pem")
        if kind == "rsa":
            _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", self.private)
        else:
            _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", self.private)
        _openssl("pkey", "-in", self.private, "-pubout", "-out", self.public)

    @property
    def alg(self):
        return "RS256" if self.kind == "rsa" else "ES256"

    def jwk(self, kid):
        """The public key as a JWK (RFC 7517/7518)."""
        der = _openssl("pkey", "-pubin", "-in", self.public, "-outform", "DER")
        if self.kind == "ec":
            point = der[-65:]  # SubjectPublicKeyInfo ends with the uncompressed point 04 || X || Y
            assert point[0] == 4
            return {"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "x": b64url(point[1:33]),
                    "y": b64url(point[33:])}
        text = _openssl("rsa", "-pubin", "-in", self.public, "-noout", "-modulus").decode()
        n = bytes.fromhex(text.strip().split("=", 1)[1])
        return {"kty": "RSA", "kid": kid, "use": "sig", "n": b64url(n), "e": b64url(b"\x01\x00\x01")}

    def sign(self, claims, kid=None):
        """A compact JWS of `claims` signed with this key."""
        header = {"alg": self.alg, "typ": "JWT"}
        if kid:
            header["kid"] = kid
        signing_input = b64url(json.dumps(header)) + "." + b64url(json.dumps(claims))
        sig = _openssl("dgst", "-sha256", "-sign", self.private, input=signing_input.encode())
        if self.kind == "ec":
            sig = _der_to_raw(sig)
        return signing_input + "." + b64url(sig)


def _der_to_raw(der):
    """ECDSA-Sig-Value (SEQUENCE { r INTEGER, s INTEGER }) -> R || S, 32 bytes each."""
    assert der[0] == 0x30
    pos = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    out = b""
    for _ in range(2):
        assert der[pos] == 0x02
        n = der[pos + 1]
        value = der[pos + 2:pos + 2 + n].lstrip(b"\x00")
        out += value.rjust(32, b"\x00")
        pos += 2 + n
    return out


def write_jwks(path, jwks):
    with open(path, "w") as f:
        json.dump({"keys": jwks}, f)


def sat_claims(lifetime=3600, audience="aio-internal", subject="system:serviceaccount:factory:sensor",
               issuer=K8S_ISSUER, now=None):
    """The claims of a Kubernetes service account token expiring `lifetime` seconds from now."""
    now = int(time.time()) if now is None else now
    ns, sa = subject.split(":")[2:4] if subject.count(":") >= 3 else ("default", subject)
    return {"iss": issuer, "aud": [audience], "sub": subject, "iat": now, "nbf": now, "exp": now + lifetime,
            "kubernetes.io": {"namespace": ns, "serviceaccount": {"name": sa, "uid": "0d0e-1"}}}


class ScramClient:
    """The client side of SCRAM-SHA-256 (RFC 5802 with SHA-256, RFC 7677)."""

    def __init__(self, user, password, nonce=None):
        self.user = user
        self.password = password
        self.nonce = nonce or b64url(os.urandom(18))
        self.first_bare = "n=%s,r=%s" % (user.replace("=", "=3D").replace(",", "=2C"), self.nonce)
        self.server_signature = None

    def first(self):
        return "n,," + self.first_bare

    def final(self, server_first):
        attrs = dict(a.split("=", 1) for a in server_first.split(","))
        if not attrs["r"].startswith(self.nonce):
            raise AssertionError("server nonce does not extend ours: %r" % server_first)
        salted = hashlib.pbkdf2_hmac("sha256", self.password.encode(), base64.b64decode(attrs["s"]), int(attrs["i"]))
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        stored_key = hashlib.sha256(client_key).digest()
        without_proof = "c=biws,r=" + attrs["r"]
        auth_message = ",".join([self.first_bare, server_first, without_proof]).encode()
        client_signature = hmac.new(stored_key, auth_message, hashlib.sha256).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, client_signature))
        server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        self.server_signature = hmac.new(server_key, auth_message, hashlib.sha256).digest()
        return without_proof + ",p=" + base64.b64encode(proof).decode()

    def verify_server_final(self, server_final):
        return server_final == "v=" + base64.b64encode(self.server_signature).decode()
