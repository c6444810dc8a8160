"""Verifying a serving bundle against its signature (`mlci.serving.signing`) before anyone trusts or serves it.

`verify_bundle` checks `<bundle>/model.sig` against a public key or the expected keyless identity (model-signing),
then every file against the signed manifest, and raises VerificationError naming the first file that differs, is
missing or was added. Without a key or identity it checks the files only and says the signature was not checked.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path

from mlci.errors import UserFacingError
from mlci.serving.signing import GITHUB_OIDC_ISSUER, SIGNATURE, hashing_config, key_fingerprint

KEY, SIGSTORE = "key", "sigstore"


class VerificationError(UserFacingError):
    """The bundle is unsigned, its signature does not verify, or a file differs from the signed manifest."""


@dataclass(frozen=True)
class Verification:
    """What a verification established: the files matched; the signature checked (by a key or identity) or not."""

    files: int
    method: str | None = None  # KEY, SIGSTORE, or None: the signature was not checked
    signer: str | None = None  # `key sha256:<hint>` or the keyless certificate's identity

    @property
    def signature_checked(self) -> bool:
        return self.method is not None

    def to_dict(self) -> dict:
        """What `/metadata` answers under `verification`."""
        return {
            "verified": self.signature_checked,
            "signature": "verified" if self.signature_checked else "not checked: no public key or signer identity",
            "method": self.method,
            "signed_by": self.signer,
            "files_checked": self.files,
        }

    def line(self) -> str:
        if self.signature_checked:
            return f"verified: {self.files} files match the manifest signed by {self.signer}"
        return f"{self.files} files match the signed manifest; the signature was not checked (no key or identity)"


def signed_manifest(signature: Path) -> tuple[dict[str, str], frozenset[str]]:
    """The signature's manifest, unverified: ({path: sha256}, the paths it leaves out)."""
    try:
        envelope = json.loads(Path(signature).read_text(encoding="utf-8"))["dsseEnvelope"]
        predicate = json.loads(base64.b64decode(envelope["payload"]))["predicate"]
        digests = {r["name"]: r["digest"] for r in predicate["resources"] if r.get("algorithm") == "sha256"}
        ignored = frozenset(predicate.get("serialization", {}).get("ignore_paths", ()))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise VerificationError(f"{signature}: not a model signature ({type(error).__name__}: {error})") from error
    if len(digests) != len(predicate["resources"]):
        raise VerificationError(f"{signature}: the manifest uses a hash other than sha256; re-sign with `mlci sign`")
    return digests, ignored


def _bundle_files(bundle: Path, ignored: frozenset[str]) -> list[str]:
    files = []
    for path in sorted(bundle.rglob("*")):
        name = path.relative_to(bundle).as_posix()
        if any(name == i or name.startswith(i.rstrip("/") + "/") for i in ignored | {SIGNATURE}):
            continue
        if path.is_symlink() or (path.exists() and not path.is_dir()):
            files.append(name)
    return files


def first_difference(bundle: Path, signature: Path) -> str | None:
    """The first file (in path order) that differs from the signed manifest, is missing or was added; one line."""
    from mlci.serving.bundle import sha256_of

    signed, ignored = signed_manifest(signature)
    present = _bundle_files(bundle, ignored)
    for name in sorted(set(signed) | set(present)):
        if name not in present:
            return f"{bundle}: {name} is signed but missing"
        if name not in signed:
            return f"{bundle}: {name} is not in the signed manifest (added after signing)"
        if (bundle / name).is_symlink():
            return f"{bundle}: {name} is a symlink; the signed manifest holds plain files only"
        found = sha256_of(bundle / name)
        if found != signed[name]:
            return (
                f"{bundle}: {name} differs from the signed manifest (sha256 {found[:12]}…, signed {signed[name][:12]}…)"
            )
    return None


def verify_bundle(
    bundle: Path,
    public_key: Path | None = None,
    identity: str | None = None,
    issuer: str = GITHUB_OIDC_ISSUER,
    offline: bool = False,
) -> Verification:
    """Check `bundle/model.sig` (with `public_key`, or keyless against `identity`), then every file; or raise.

    `identity` may hold `{version}`, filled from the bundle's metadata.json (the tag the release workflow ran on).
    `offline`: check a keyless signature against the Sigstore trust root sigstore ships, not a freshly fetched one.
    """
    bundle = Path(bundle)
    signature = bundle / SIGNATURE
    if not bundle.is_dir():
        raise VerificationError(f"{bundle} not found: the bundle to verify")
    if not signature.is_file():
        raise VerificationError(f"{signature} not found: the bundle is unsigned (sign it with `mlci sign {bundle}`)")
    signed, _ = signed_manifest(signature)
    if identity and "{version}" in identity:
        identity = identity.format(version=bundle_version(bundle))
    if public_key is not None or identity is not None:
        method, signer = _check_signature(bundle, signature, public_key, identity, issuer, offline)
    else:
        method = signer = None
    difference = first_difference(bundle, signature)
    if difference:
        raise VerificationError(difference)
    return Verification(len(signed), method, signer)


def bundle_version(bundle: Path) -> str:
    """The version metadata.json records (the tag a release ran on), for a keyless identity's `@refs/tags/{version}`."""
    from mlci.serving.bundle import BUNDLE_METADATA

    path = Path(bundle) / BUNDLE_METADATA
    try:
        version = json.loads(path.read_text(encoding="utf-8")).get("version")
    except (OSError, ValueError, AttributeError):
        version = None
    if not version:
        raise VerificationError(f"{path}: no version to name the signing tag by: pass the tag (--ref refs/tags/v1.2.0)")
    return str(version)


def sigstore_trust_config(offline: bool, folder: Path) -> Path | None:
    """Sigstore's production trust root as a file: the one sigstore ships (offline), or None (fetched through TUF)."""
    if not offline:
        return None
    import logging

    from sigstore.models import ClientTrustConfig

    path = Path(folder) / "trust_config.json"
    chatter = logging.getLogger("sigstore._internal.tuf")  # warns that offline means offline, each time
    level = chatter.level
    chatter.setLevel(logging.ERROR)
    try:
        # _inner is the protobuf model: sigstore has no public writer for a ClientTrustConfig
        path.write_text(ClientTrustConfig.production(offline=True)._inner.to_json(), encoding="utf-8")
    finally:
        chatter.setLevel(level)
    return path


def _check_signature(
    bundle: Path, signature: Path, public_key: Path | None, identity: str | None, issuer: str, offline: bool
) -> tuple[str, str]:
    """The signature's cryptographic check: (method, signer), or VerificationError saying why it failed."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="mlci-trust-") as folder:
        trust = sigstore_trust_config(offline, Path(folder)) if public_key is None else None
        return _check(bundle, signature, public_key, identity, issuer, trust)


def _check(
    bundle: Path, signature: Path, public_key: Path | None, identity: str | None, issuer: str, trust: Path | None
) -> tuple[str, str]:
    import model_signing

    config = model_signing.verifying.Config().set_hashing_config(hashing_config())
    if public_key is not None:
        if not Path(public_key).is_file():
            raise VerificationError(f"{public_key} not found: the public key to verify with")
        try:
            config = config.use_elliptic_key_verifier(public_key=Path(public_key))
            fingerprint = key_fingerprint(public_key)
        except ValueError as error:
            raise VerificationError(f"{public_key}: not a PEM EC public key ({error})") from error
        method, signer = KEY, f"key {fingerprint}"
    else:
        method, signer = SIGSTORE, identity
    try:
        if public_key is None:  # the verifier loads Sigstore's trust root: through TUF (network) unless `trust`
            config = config.use_sigstore_verifier(identity=identity, oidc_issuer=issuer, trust_config=trust)
        config.verify(bundle, signature)
    except ValueError as error:
        if str(error).startswith("Signature mismatch"):
            return method, signer  # the signature holds; first_difference names the file
        if public_key is not None and "Key mismatch" in str(error):
            raise VerificationError(f"{signature}: signed by another key, not {public_key} ({fingerprint})") from error
        raise VerificationError(f"{signature}: the signature does not verify for {signer}: {error}") from error
    except Exception as error:  # sigstore raises its own VerificationError, protobuf/JSON errors their own
        raise VerificationError(f"{signature}: the signature does not verify for {signer}: {error}") from error
    return method, signer


def _extract_plain_files(tar, folder: Path) -> None:
    """Unpack an archive of plain files and folders only: no absolute or `..` paths, links or devices (tarfile's
    "data" filter, which Python 3.11 before 3.11.4, such as Debian's, does not have)."""
    import tarfile

    for member in tar.getmembers():
        path = Path(member.name)
        if path.is_absolute() or ".." in path.parts or not (member.isfile() or member.isdir()):
            raise tarfile.TarError(f"{member.name}: not a plain file or folder inside the archive")
    if hasattr(tarfile, "data_filter"):
        tar.extractall(folder, filter="data")
    else:
        tar.extractall(folder)  # every member checked above


def verify_archive(
    archive: Path, public_key: Path | None = None, identity: str | None = None, **kwargs
) -> Verification:
    """Verify a released model archive (`model-vX.Y.Z.tar.gz`, the bundle tarred), unpacked in a temporary folder."""
    import tarfile
    import tempfile

    with tempfile.TemporaryDirectory(prefix="mlci-verify-") as folder:
        try:
            with tarfile.open(archive) as tar:
                _extract_plain_files(tar, Path(folder))
        except (OSError, tarfile.TarError) as error:
            raise VerificationError(f"{archive}: not a model archive ({error})") from error
        if not (Path(folder) / SIGNATURE).is_file():
            raise VerificationError(f"{archive} holds no {SIGNATURE}: the release is unsigned")
        try:
            return verify_bundle(Path(folder), public_key, identity, **kwargs)
        except VerificationError as error:  # name the archive, not the temporary folder
            raise VerificationError(str(error).replace(folder, str(archive))) from None


UNSIGNED_ALLOWED = {
    "verified": False,
    "signature": "absent: an unsigned bundle, served because of --allow-unsigned",
    "method": None,
    "signed_by": None,
    "files_checked": 0,
}


def verify_for_serving(
    bundle: Path, public_key: Path | None = None, identity: str | None = None, allow_unsigned: bool = False
) -> dict:
    """The server's check before it loads a bundle: `/metadata`'s `verification`, or VerificationError (refused).

    An unsigned bundle is refused unless `allow_unsigned` (local work); a signed one is always checked, file by file.
    Offline: a serving container may have no network, so a keyless signature is checked against sigstore's own root.
    """
    if allow_unsigned and not (Path(bundle) / SIGNATURE).exists():
        return dict(UNSIGNED_ALLOWED)
    try:
        return verify_bundle(bundle, public_key, identity, offline=True).to_dict()
    except VerificationError as error:
        if (Path(bundle) / SIGNATURE).exists():
            raise VerificationError(f"refusing to serve {bundle}: {error}") from None
        raise VerificationError(
            f"refusing to serve {bundle}: {error}; --allow-unsigned serves it for local work"
        ) from None
