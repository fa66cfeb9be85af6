"""Signed tokens: the key decides the algorithms, and every refusal says what was wrong."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from nexy_stream.auth import Authenticator, AuthError, AuthMethod, Principal
from nexy_stream.auth.signed import JwtKeyError, JwtVerifier, load_jwt_key
from tests.auth_keys import AUDIENCE, ISSUER, Issuer, authenticator, bearer, public_pem


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Issuer:
    return Issuer(tmp_path_factory.mktemp("jwt"))


def refusal(verifier: JwtVerifier, token: str) -> str:
    with pytest.raises(AuthError) as refused:
        verifier.verify(token)
    assert refused.value.code == grpc.StatusCode.UNAUTHENTICATED
    assert token not in str(refused.value)
    return refused.value.message


def test_a_valid_token_names_its_principal_and_the_scope_makes_an_admin(issuer):
    verifier = issuer.verifier()
    assert verifier.verify(issuer.token("carol")) == Principal("carol", False, AuthMethod.JWT)
    admin = issuer.token("ops@example.com", scope="openid nexy:admin profile")
    assert verifier.verify(admin) == Principal("ops@example.com", True, AuthMethod.JWT)
    # Only the exact scope word counts.
    assert not verifier.verify(issuer.token("carol", scope="nexy:administrator")).admin
    assert not verifier.verify(issuer.token("carol", nexy_admin=True)).admin


@pytest.mark.parametrize(
    ("claims", "problem"),
    [
        ({"lifetime_s": -3600}, "expired token: its exp claim has passed"),
        ({"exp": None}, "the token has no exp claim"),
        ({"sub": None}, "the token has no sub claim"),
        ({"aud": "another-service"}, "wrong audience"),
        ({"aud": None}, "the token has no aud claim"),
        ({"iss": "https://elsewhere.test"}, "wrong issuer"),
        ({"nbf": int(time.time()) + 3600}, "token not valid yet"),
        ({"sub": 42}, "sub claim is not a string"),
        ({"sub": "two words"}, "sub claim cannot name a principal"),
        ({"scope": ["nexy:admin"]}, "scope claim is not a space-separated string"),
    ],
)
def test_each_refusal_says_what_was_wrong(issuer, claims, problem):
    assert problem in refusal(issuer.verifier(), issuer.token(**claims))


def test_a_little_clock_skew_is_tolerated(issuer):
    assert issuer.verifier().verify(issuer.token(lifetime_s=-5)).name == "carol"


def test_a_token_of_another_key_or_tampered_with_is_refused(issuer, tmp_path):
    other = Issuer(tmp_path)
    assert "bad signature" in refusal(issuer.verifier(), other.token())
    header, payload, signature = issuer.token("carol").split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = "root"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert "bad signature" in refusal(issuer.verifier(), f"{header}.{forged}.{signature}")
    assert "malformed JWT" in refusal(issuer.verifier(), "a.b.c")


def test_the_token_header_cannot_choose_the_algorithm(issuer):
    verifier = issuer.verifier()
    assert verifier.key.algorithms == ("ES256",)
    claims = {"sub": "root", "aud": AUDIENCE, "iss": ISSUER, "exp": int(time.time()) + 60}
    unsigned = jwt.encode(claims, None, algorithm="none")
    assert "algorithm not allowed" in refusal(verifier, unsigned)
    # The classic confusion: HMAC "signed" with the public key's PEM as the secret.
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=")
    mac = hmac.new(issuer.key_file.read_bytes(), header + b"." + body, hashlib.sha256).digest()
    confused = b".".join([header, body, base64.urlsafe_b64encode(mac).rstrip(b"=")]).decode()
    assert "algorithm not allowed" in refusal(verifier, confused)


def test_each_key_type_allows_its_own_algorithms_only(tmp_path):
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    keys = {
        "rsa.pem": (public_pem(rsa_key), ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")),
        "p384.pem": (public_pem(ec.generate_private_key(ec.SECP384R1())), ("ES384",)),
        "ed.pem": (public_pem(ed25519.Ed25519PrivateKey.generate()), ("EdDSA",)),
        "hs32": (b"s" * 32 + b"\n", ("HS256",)),
        "hs64": (b"s" * 64, ("HS256", "HS384", "HS512")),
    }
    for name, (data, algorithms) in keys.items():
        (tmp_path / name).write_bytes(data)
        assert load_jwt_key(tmp_path / name).algorithms == algorithms, name
    key = load_jwt_key(tmp_path / "rsa.pem")
    verifier = JwtVerifier(key, AUDIENCE)
    claims = {"sub": "dave", "aud": AUDIENCE, "exp": int(time.time()) + 60}
    assert verifier.verify(jwt.encode(claims, rsa_key, algorithm="PS256")).name == "dave"
    secret = JwtVerifier(load_jwt_key(tmp_path / "hs32"), AUDIENCE)
    assert secret.verify(jwt.encode(claims, b"s" * 32, algorithm="HS256")).name == "dave"
    assert "algorithm not allowed" in refusal(
        secret, jwt.encode(claims, b"s" * 32 + b"x" * 32, algorithm="HS512")
    )


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"short secret\n", "an HMAC secret of 12 bytes, under 32"),
        (b"-----BEGIN PRIVATE KEY-----\nMII\n-----END PRIVATE KEY-----\n", "a private key"),
        (b"-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n", "not a PEM"),
    ],
)
def test_a_key_file_that_will_not_do_says_why(tmp_path, data, problem):
    (tmp_path / "key").write_bytes(data)
    with pytest.raises(JwtKeyError, match=problem):
        load_jwt_key(tmp_path / "key")


def test_a_small_rsa_key_is_refused(tmp_path):
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    (tmp_path / "key").write_bytes(public_pem(small))
    with pytest.raises(JwtKeyError, match="1024 bits, under 2048"):
        load_jwt_key(tmp_path / "key")


def test_with_a_token_file_too_jwts_and_opaque_tokens_each_find_their_check(issuer, tmp_path):
    auth, user, _ = authenticator(tmp_path, issuer)
    assert auth.authenticate(bearer(user)).method is AuthMethod.TOKEN
    assert auth.authenticate(bearer(issuer.token("carol"))).method is AuthMethod.JWT
    with pytest.raises(AuthError, match="expired token"):
        auth.authenticate(bearer(issuer.token(lifetime_s=-3600)))
    jwt_only = Authenticator(jwt=issuer.verifier())
    with pytest.raises(AuthError, match="not a JWT"):
        jwt_only.authenticate(bearer(user))
