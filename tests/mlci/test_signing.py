"""Signing a serving bundle with a test key and verifying it offline: the untouched bundle verifies; a flipped byte in
any file, a removed file, an added file, a forged manifest or a signature from another key each fail with one line
that names what; `mlci verify` says so and exits 1, for a bundle folder and for a released archive."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import stat
import tarfile
from pathlib import Path

import pytest

from mlci.cli import main
from mlci.serving.signing import (
    SIGNATURE,
    SigningError,
    generate_key_pair,
    github_identity,
    key_fingerprint,
    sign_bundle,
)
from mlci.serving.verify import VerificationError, bundle_version, signed_manifest, verify_archive, verify_bundle

FILES = {
    "model/weights.bin": bytes(range(256)) * 4,
    "model/config.json": b'{"width": 8}\n',
    "schema.yaml": b"path: data/table.csv\n",
    "metadata.json": b'{"version": "v1.2.0"}\n',
}


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    folder = tmp_path_factory.mktemp("keys")
    return {name: generate_key_pair(folder, name) for name in ("release", "other")}


def write_files(folder: Path) -> Path:
    for name, content in FILES.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    return folder


@pytest.fixture
def bundle(tmp_path: Path, keys) -> Path:
    """A bundle of four files, signed with the release key."""
    folder = write_files(tmp_path / "bundle")
    sign_bundle(folder, keys["release"][0])
    return folder


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def flip_one_byte(path: Path) -> bytes:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    return bytes(data)


def failure(bundle: Path, public_key: Path | None) -> str:
    with pytest.raises(VerificationError) as raised:
        verify_bundle(bundle, public_key)
    message = str(raised.value)
    assert "\n" not in message
    return message


# ------------------------------------------------------------------------------------------------------- signing
def test_a_signed_bundle_verifies_with_its_key_and_names_the_signer(bundle: Path, keys) -> None:
    result = verify_bundle(bundle, keys["release"][1])
    fingerprint = key_fingerprint(keys["release"][1])
    assert (result.files, result.method, result.signer) == (4, "key", f"key {fingerprint}")
    assert result.to_dict() == {
        "verified": True,
        "signature": "verified",
        "method": "key",
        "signed_by": f"key {fingerprint}",
        "files_checked": 4,
    }
    hint = json.loads((bundle / SIGNATURE).read_text())["verificationMaterial"]["publicKey"]["hint"]
    assert fingerprint == f"sha256:{hint}"


def test_the_signed_manifest_lists_every_file_but_the_signature_with_its_sha256(bundle: Path) -> None:
    signed, ignored = signed_manifest(bundle / SIGNATURE)
    assert signed == {name: digest(content) for name, content in FILES.items()}
    assert ignored == {SIGNATURE}


def test_the_private_key_is_readable_by_its_owner_only(keys) -> None:
    private, public = keys["release"]
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert public.read_text().startswith("-----BEGIN PUBLIC KEY-----")


def test_keygen_never_overwrites_a_private_key(keys) -> None:
    private, public = keys["release"]
    before = private.read_bytes()
    with pytest.raises(SigningError) as raised:
        generate_key_pair(private.parent, "release")
    assert str(raised.value) == f"{private} exists: keep it (its public key is {public}), or remove it for a new pair"
    assert private.read_bytes() == before


def test_keyless_signing_in_ci_without_an_oidc_token_says_what_the_job_needs(tmp_path: Path, monkeypatch) -> None:
    for name in ("GITHUB_ACTIONS", "ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "GITLAB_CI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(SigningError) as raised:
        sign_bundle(write_files(tmp_path / "b"))
    assert str(raised.value) == (
        "keyless signing in CI needs the job's OIDC token (GitHub Actions: `permissions: id-token: write`); "
        "elsewhere sign with a key: --private-key (`mlci keygen` makes a pair)"
    )
    assert not (tmp_path / "b" / SIGNATURE).exists()


def test_signing_with_a_public_key_instead_of_the_private_one_says_so(tmp_path: Path, keys) -> None:
    public = keys["release"][1]
    with pytest.raises(SigningError, match=rf"^{public}: not an unencrypted PEM EC private key \("):
        sign_bundle(write_files(tmp_path / "b"), public)


def test_signing_a_missing_bundle_or_with_a_missing_key_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(SigningError) as missing:
        sign_bundle(tmp_path / "absent", tmp_path / "key.pem")
    assert str(missing.value) == f"{tmp_path / 'absent'} not found: write the bundle first (`mlci bundle`)"
    with pytest.raises(SigningError) as no_key:
        sign_bundle(write_files(tmp_path / "b"), tmp_path / "key.pem")
    assert str(no_key.value) == (
        f"{tmp_path / 'key.pem'} not found: the private key to sign with (`mlci keygen` makes one)"
    )


# ------------------------------------------------------------------------------------------------------- tampering
@pytest.mark.parametrize("name", sorted(FILES))
def test_one_flipped_byte_in_any_file_fails_naming_that_file(bundle: Path, keys, name: str) -> None:
    changed = flip_one_byte(bundle / name)
    expected = (
        f"{bundle}: {name} differs from the signed manifest "
        f"(sha256 {digest(changed)[:12]}…, signed {digest(FILES[name])[:12]}…)"
    )
    assert failure(bundle, keys["release"][1]) == expected
    assert failure(bundle, None) == expected  # no key: the files are still checked


def test_a_removed_file_fails_naming_it(bundle: Path, keys) -> None:
    (bundle / "model" / "config.json").unlink()
    assert failure(bundle, keys["release"][1]) == f"{bundle}: model/config.json is signed but missing"


@pytest.mark.parametrize("name", ["model/extra.pt", "notes.txt", ".gitignore"])
def test_an_added_file_fails_naming_it(bundle: Path, keys, name: str) -> None:
    (bundle / name).write_bytes(b"added after signing")
    assert (
        failure(bundle, keys["release"][1]) == f"{bundle}: {name} is not in the signed manifest (added after signing)"
    )


def test_a_signature_from_another_key_fails_naming_the_key(tmp_path: Path, keys) -> None:
    folder = write_files(tmp_path / "bundle")
    sign_bundle(folder, keys["other"][0])
    public = keys["release"][1]
    assert failure(folder, public) == (
        f"{folder / SIGNATURE}: signed by another key, not {public} ({key_fingerprint(public)})"
    )


def test_a_manifest_rewritten_to_match_a_changed_file_fails_the_signature(bundle: Path, keys) -> None:
    changed = flip_one_byte(bundle / "model" / "weights.bin")
    signature = json.loads((bundle / SIGNATURE).read_text())
    statement = json.loads(base64.b64decode(signature["dsseEnvelope"]["payload"]))
    for resource in statement["predicate"]["resources"]:
        if resource["name"] == "model/weights.bin":
            resource["digest"] = digest(changed)
    signature["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    (bundle / SIGNATURE).write_text(json.dumps(signature))
    assert verify_bundle(bundle, None).signature_checked is False  # the files alone now match: a key is needed
    message = failure(bundle, keys["release"][1])
    assert message.startswith(f"{bundle / SIGNATURE}: the signature does not verify for key sha256:"), message


def test_an_unsigned_bundle_fails_saying_how_to_sign_it(tmp_path: Path, keys) -> None:
    folder = write_files(tmp_path / "bundle")
    assert failure(folder, keys["release"][1]) == (
        f"{folder / SIGNATURE} not found: the bundle is unsigned (sign it with `mlci sign {folder}`)"
    )


def test_a_signature_that_is_not_one_fails_naming_it(bundle: Path, keys) -> None:
    (bundle / SIGNATURE).write_text("{}")
    assert (
        failure(bundle, keys["release"][1]) == f"{bundle / SIGNATURE}: not a model signature (KeyError: 'dsseEnvelope')"
    )


# ------------------------------------------------------------------------------------------------------- archives
def tar(folder: Path, archive: Path) -> Path:
    with tarfile.open(archive, "w:gz") as out:
        out.add(folder, arcname=".")
    return archive


def test_a_released_archive_verifies_and_a_changed_one_names_the_archive_and_file(bundle, keys, tmp_path) -> None:
    assert verify_archive(tar(bundle, tmp_path / "model-v1.2.0.tar.gz"), keys["release"][1]).files == 4
    changed = flip_one_byte(bundle / "schema.yaml")
    archive = tar(bundle, tmp_path / "changed.tar.gz")
    with pytest.raises(VerificationError) as raised:
        verify_archive(archive, keys["release"][1])
    assert str(raised.value) == (
        f"{archive}: schema.yaml differs from the signed manifest "
        f"(sha256 {digest(changed)[:12]}…, signed {digest(FILES['schema.yaml'])[:12]}…)"
    )
    (bundle / SIGNATURE).unlink()
    unsigned = tar(bundle, tmp_path / "unsigned.tar.gz")
    with pytest.raises(VerificationError, match=r"^.*unsigned\.tar\.gz holds no model\.sig: the release is unsigned$"):
        verify_archive(unsigned, keys["release"][1])


# ------------------------------------------------------------------------------------------------------- keyless
def test_the_keyless_identity_is_the_release_workflow_of_the_repository_at_the_tag(bundle: Path) -> None:
    identity = github_identity("octo/models")
    assert identity == "https://github.com/octo/models/.github/workflows/release.yml@refs/tags/{version}"
    assert identity.format(version=bundle_version(bundle)) == (
        "https://github.com/octo/models/.github/workflows/release.yml@refs/tags/v1.2.0"
    )
    (bundle / "metadata.json").write_text("{}")
    with pytest.raises(VerificationError) as raised:
        bundle_version(bundle)
    assert str(raised.value) == (
        f"{bundle / 'metadata.json'}: no version to name the signing tag by: pass the tag (--ref refs/tags/v1.2.0)"
    )


def test_a_key_signed_bundle_does_not_pass_as_a_keyless_one(bundle: Path) -> None:
    with pytest.raises(VerificationError) as raised:
        verify_bundle(bundle, identity=github_identity("octo/models", "refs/tags/v1.2.0"), offline=True)
    assert str(raised.value).startswith(f"{bundle / SIGNATURE}: the signature does not verify for https://github.com/")


# ------------------------------------------------------------------------------------------------------- the CLI
def test_mlci_verify_exits_0_on_the_signed_bundle_and_1_naming_the_file(bundle, keys, capsys) -> None:
    public = str(keys["release"][1])
    assert main(["verify", str(bundle), "--public-key", public]) == 0
    assert f"{bundle}: verified: 4 files match the manifest signed by key sha256:" in capsys.readouterr().err
    (bundle / "model" / "weights.bin").unlink()
    assert main(["verify", str(bundle), "--public-key", public]) == 1
    assert capsys.readouterr().err.splitlines() == [f"ERROR mlci: {bundle}: model/weights.bin is signed but missing"]


def test_mlci_verify_wants_something_to_check_the_signature_against(bundle, capsys) -> None:
    assert main(["verify", str(bundle)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "ERROR mlci: nothing to check the signature against: pass --public-key KEY, or --repository OWNER/REPO for a "
        "keyless release (--files-only checks the files alone)"
    ]
    assert main(["verify", str(bundle), "--files-only"]) == 0
    assert "the signature was not checked (no key or identity)" in capsys.readouterr().err


def test_mlci_keygen_then_sign_then_verify(tmp_path: Path, capsys) -> None:
    folder = write_files(tmp_path / "bundle")
    assert main(["keygen", "--out", str(tmp_path / "keys")]) == 0
    assert main(["sign", str(folder), "--private-key", str(tmp_path / "keys" / "signing-key.pem")]) == 0
    assert main(["verify", str(folder), "--public-key", str(tmp_path / "keys" / "signing-key.pub")]) == 0
    err = capsys.readouterr().err
    assert f"signed {folder} with {tmp_path / 'keys' / 'signing-key.pem'}: {folder / SIGNATURE}" in err


@pytest.mark.parametrize("member", ["../outside.txt", "/etc/owned.txt", "link"])
def test_an_archive_with_a_path_out_of_its_folder_or_a_link_is_refused_unpacked(bundle, keys, tmp_path, member):
    hostile = tmp_path / "hostile.tar"
    with tarfile.open(tar(bundle, tmp_path / "model-v1.2.0.tar.gz")) as good, tarfile.open(hostile, "w") as out:
        for info in good.getmembers():
            out.addfile(info, good.extractfile(info) if info.isfile() else None)
        extra = tarfile.TarInfo(member)
        if member == "link":
            extra.type, extra.linkname = tarfile.SYMTYPE, "/etc/passwd"
        out.addfile(extra, None if member == "link" else io.BytesIO(b""))
    with pytest.raises(VerificationError) as raised:
        verify_archive(hostile, keys["release"][1])
    assert (
        str(raised.value) == f"{hostile}: not a model archive ({member}: not a plain file or folder inside the archive)"
    )
    assert not (tmp_path / "outside.txt").exists()
