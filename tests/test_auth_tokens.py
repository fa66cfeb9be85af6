"""The token file, the bearer header and `nexy-stream auth new-token`, on their own."""

from __future__ import annotations

import hmac
import logging
import stat

import grpc
import pytest

from nexy_stream.auth import (
    Authenticator,
    AuthError,
    AuthMethod,
    Principal,
    TokenFile,
    TokenFileError,
    bearer_token,
)
from nexy_stream.auth.tokens import credential_line, new_token, token_digest
from nexy_stream.cli import main
from tests.auth_keys import bearer, token_file

HASH = "sha256:" + "ab" * 32


def test_a_token_file_lets_in_its_principals_and_no_one_else(tmp_path):
    alice, root = new_token(), new_token()
    path = tmp_path / "tokens"
    path.write_text(
        "# who may call\n"
        "\n"
        f"{credential_line(alice, 'alice', admin=False).strip()}   # her laptop\n"
        f"   {credential_line(root, 'root', admin=True)}"
        f"{HASH.upper().replace('SHA256', 'sha256')}\tbob"  # tabs, upper-case hex, no newline
    )
    tokens = TokenFile(path)
    assert len(tokens) == 3
    assert tokens.lookup(alice) == Principal("alice", admin=False, method=AuthMethod.TOKEN)
    assert tokens.lookup(root) == Principal("root", admin=True, method=AuthMethod.TOKEN)
    assert tokens.lookup(new_token()) is None
    assert tokens.lookup(alice + "x") is None
    assert tokens.lookup("") is None


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{token}  alice", "the first field is not sha256:<64 hex digits>"),
        ("alice  {hash}", "the first field is not sha256:<64 hex digits>"),
        ("sha256:abcd  alice", "the first field is not sha256:<64 hex digits>"),
        ("sha256:" + "zz" * 32 + "  alice", "the first field is not sha256:<64 hex digits>"),
        ("{hash}", "1 fields, expected `sha256:<64 hex digits>  <principal>  [admin]`"),
        ("{hash}  alice  admin  {token}", "4 fields"),
        ("{hash}  alice  {token}", "the third field can only be `admin`"),
        ("{hash}  " + "a" * 129, "a principal name has 1 to 128 characters, not 129"),
        ("{hash}  al\x07ice", "no whitespace, '#' or control characters"),
    ],
)
def test_a_malformed_line_is_named_by_number_and_never_repeated(tmp_path, line, problem):
    token = new_token()
    path = tmp_path / "tokens"
    good = credential_line(new_token(), "first", admin=False)
    path.write_text(good + "# a comment\n" + line.format(token=token, hash=HASH) + "\n")
    with pytest.raises(TokenFileError) as refused:
        TokenFile(path)
    message = str(refused.value)
    assert message.startswith(f"{path} line 3: ")
    assert problem in message
    assert token not in message and "alice" not in message and "ab" * 32 not in message


def test_one_token_for_two_principals_is_refused(tmp_path):
    token = new_token()
    path = tmp_path / "tokens"
    path.write_text(credential_line(token, "alice", False) + credential_line(token, "bob", True))
    with pytest.raises(TokenFileError, match=r"line 2: the same token as line 1"):
        TokenFile(path)


def test_a_file_that_is_not_text_is_refused(tmp_path):
    path = tmp_path / "tokens"
    path.write_bytes(b"\xff\xfe binary")
    with pytest.raises(TokenFileError, match="not UTF-8 text"):
        TokenFile(path)


def test_a_token_is_found_by_its_hash_and_confirmed_in_constant_time(tmp_path, monkeypatch):
    tokens = token_file(tmp_path / "tokens", ("alice", False), ("bob", False), ("root", True))
    store = TokenFile(tmp_path / "tokens")
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr("nexy_stream.auth.tokens.hmac.compare_digest", spy)
    assert store.lookup(tokens[2]) == Principal("root", True, AuthMethod.TOKEN)
    # Only hashes are ever compared (the token itself never is), in constant time.
    assert compared == [(token_digest(tokens[2]), token_digest(tokens[2]))]
    compared.clear()
    assert store.lookup(new_token()) is None
    assert store.lookup(tokens[0][:-1]) is None  # a token less one character is no token
    assert store.lookup(tokens[0]) == Principal("alice", False, AuthMethod.TOKEN)


def test_reload_takes_a_good_file_and_keeps_the_credentials_of_a_bad_one(tmp_path, caplog):
    path = tmp_path / "tokens"
    (alice,) = token_file(path, ("alice", False))
    store = TokenFile(path)
    later = new_token()
    with path.open("a") as out:
        out.write(credential_line(later, "dave", admin=True))
    caplog.set_level(logging.DEBUG)
    assert store.reload()
    assert store.lookup(later) == Principal("dave", True, AuthMethod.TOKEN)

    pasted = new_token()  # a token pasted into the file by mistake
    with path.open("a") as out:
        out.write(f"{pasted}  eve\n")
    caplog.clear()
    assert not store.reload()
    (line,) = caplog.records
    assert line.levelno == logging.ERROR
    assert f"2 credentials kept: {path} line 3:" in line.getMessage()
    assert store.lookup(alice) is not None and store.lookup(later) is not None

    path.unlink()
    caplog.clear()
    assert not store.reload()
    assert [r.getMessage() for r in caplog.records] == [
        f"auth: token file not reloaded, 2 credentials kept: {path}: No such file or directory"
    ]
    assert store.lookup(alice) is not None
    assert pasted not in caplog.text and pasted not in repr(store)


def test_a_token_file_others_may_write_is_warned_about(tmp_path, caplog):
    path = tmp_path / "tokens"
    token_file(path, ("alice", False))
    path.chmod(0o666)
    with caplog.at_level(logging.WARNING):
        TokenFile(path)
    assert "writable by others" in caplog.text


@pytest.mark.parametrize(
    ("metadata", "problem"),
    [
        ((), "no credential: send the metadata `authorization: Bearer <token>`"),
        ((("x-other", "Bearer a"),), "no credential"),
        ((("authorization", "Bearer a"), ("authorization", "Bearer b")), "2 authorization headers"),
        ((("authorization", "{token}"),), "malformed authorization header"),
        ((("authorization", "Basic {token}"),), "malformed authorization header"),
        ((("authorization", "Bearer"),), "malformed authorization header"),
        ((("authorization", "Bearer  "),), "malformed authorization header"),
        ((("authorization", "Bearer {token} {token}"),), "malformed authorization header"),
    ],
)
def test_a_bad_authorization_header_says_what_is_wrong_without_the_token(metadata, problem):
    token = new_token()
    with pytest.raises(AuthError) as refused:
        bearer_token([(key, value.format(token=token)) for key, value in metadata])
    assert refused.value.code == grpc.StatusCode.UNAUTHENTICATED
    assert problem in refused.value.message
    assert token not in str(refused.value)


def test_the_scheme_is_case_insensitive_and_the_token_kept_exact():
    assert bearer_token([("authorization", "bearer nxs_A-b_c")]) == "nxs_A-b_c"


def test_the_authenticator_knows_users_from_admins(tmp_path):
    user, admin = token_file(tmp_path / "tokens", ("alice", False), ("root", True))
    auth = Authenticator(TokenFile(tmp_path / "tokens"))
    assert auth.authenticate(bearer(user)).name == "alice"
    assert auth.authenticate_admin(bearer(admin)).name == "root"
    with pytest.raises(AuthError) as denied:
        auth.authenticate_admin(bearer(user))
    assert denied.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert "'alice' is not an admin" in denied.value.message
    with pytest.raises(AuthError, match="unknown token") as unknown:
        auth.authenticate_admin(bearer(user + "x"))
    assert unknown.value.code == grpc.StatusCode.UNAUTHENTICATED


def test_new_token_round_trip_through_the_command_line(tmp_path, capsys):
    path = tmp_path / "auth" / "tokens"
    path.parent.mkdir()
    assert main(["auth", "new-token", "alice", "--file", str(path)]) == 0
    alice = capsys.readouterr().out.strip()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert main(["auth", "new-token", "root", "--admin", "--file", str(path)]) == 0
    out, err = capsys.readouterr()
    root = out.strip()
    assert "admin credential for 'root'" in err and "SIGHUP" in err
    assert alice.startswith("nxs_") and root.startswith("nxs_") and alice != root
    assert len(alice) >= 4 + 43  # 32 random bytes, base64url
    assert alice not in path.read_text() and root not in path.read_text()
    store = TokenFile(path)
    assert store.lookup(alice) == Principal("alice", False, AuthMethod.TOKEN)
    assert store.lookup(root) == Principal("root", True, AuthMethod.TOKEN)


@pytest.mark.parametrize("name", ["two words", "a#b", "tab\there", ""])
def test_new_token_refuses_a_principal_name_a_token_file_cannot_hold(tmp_path, capsys, name):
    path = tmp_path / "tokens"
    assert main(["auth", "new-token", name, "--file", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "principal name" in err
    assert not path.exists()


def test_new_token_ends_an_unended_last_line_and_refuses_a_broken_file(tmp_path, capsys):
    path = tmp_path / "tokens"
    path.write_text(credential_line(new_token(), "alice", False).strip())  # no final newline
    assert main(["auth", "new-token", "bob", "--file", str(path)]) == 0
    bob = capsys.readouterr().out.strip()
    assert TokenFile(path).lookup(bob) is not None and len(TokenFile(path)) == 2

    path.write_text("not a credential\n")
    assert main(["auth", "new-token", "carol", "--file", str(path)]) == 1
    assert "line 1" in capsys.readouterr().err
    assert path.read_text() == "not a credential\n"
